"""argparse ``type=`` converters shared by fwmon's command-line tools (standard library only).

One wording for all of them: ``argument --rounds: must be at least 1, got '0'``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def whole(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """Return a converter to a whole number from ``minimum`` to ``maximum`` (inclusive)."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text!r}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}, got {text!r}")
        return value

    return convert


def number(above: float | None = None, below: float | None = None) -> Callable[[str], float]:
    """Return a converter to a finite number within the given bounds.

    The number must be strictly greater than ``above`` and strictly less than ``below``
    when they are given.
    """

    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if above is not None and below is not None and not above < value < below:
            raise argparse.ArgumentTypeError(
                f"must be between {above:g} and {below:g} (exclusive), got {text!r}"
            )
        if above is not None and not value > above:
            raise argparse.ArgumentTypeError(f"must be greater than {above:g}, got {text!r}")
        if below is not None and not value < below:
            raise argparse.ArgumentTypeError(f"must be less than {below:g}, got {text!r}")
        return value

    return convert


#: A whole number of at least 1 (counts, limits, repetitions).
positive_int = whole(1)


_port_range = whole(0, 65535)


def port(text: str) -> int:
    """Convert ``text`` to a TCP port number (0: any free port)."""
    try:
        return _port_range(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"must be a port number (0-65535), got {text!r}") from None


_RETAIN_UNITS = {"d": 1, "w": 7}


def retain_days(text: str) -> int:
    """Convert a retention such as ``90d`` or ``12w`` (``0d``: keep for ever) to days."""
    unit = _RETAIN_UNITS.get(text[-1:].lower())
    digits = text[:-1]
    if unit is None or not digits.isdigit() or len(digits) > 6:
        raise argparse.ArgumentTypeError(f"must be days or weeks such as 90d or 12w, got {text!r}")
    return int(digits) * unit
