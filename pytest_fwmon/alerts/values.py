"""Small parsers of ``[tool.fwmon.alerts]`` values: durations, tables, numbers, names.

Each raises :class:`~pytest_fwmon.core.errors.ConfigError` saying where the value is and what
is expected. Standard library only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..core.errors import ConfigError

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS: Final = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def _finite(value: float) -> bool:
    """Return whether ``value`` is finite; an int beyond the float range is not."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _short(value: Any) -> str:
    """Return ``repr(value)``, cut to 40 characters (a 400-digit number is not a message)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


def parse_duration(value: Any, what: str) -> float:
    """Seconds from ``"90s" "30m" "4h" "2d" "1w"``, a number of seconds, or ``""``/0 (off)."""
    if isinstance(value, bool):
        raise ConfigError(f"{what} must be a duration like 30m, 4h, 2d, got {value!r}")
    if isinstance(value, int | float):
        if not _finite(value) or value < 0:
            raise ConfigError(f"{what} must be a duration >= 0, got {_short(value)}")
        return float(value)
    if isinstance(value, str):
        if value.strip() in ("", "0"):
            return 0.0
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNITS[match.group(2)]
    raise ConfigError(f"{what} must be a duration like 90s, 30m, 4h, 2d or 1w, got {value!r}")


def format_duration(seconds: float) -> str:
    """``4h``, ``90m``, ``45s``: the largest unit that divides ``seconds``."""
    if seconds <= 0:
        return "0"
    for unit in ("w", "d", "h", "m"):
        size = _UNITS[unit]
        if seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def check_keys(table: Mapping[str, Any], valid: Sequence[str], where: str) -> None:
    """Raise ConfigError naming the valid keys when ``table`` has a key not in ``valid``."""
    for key in table:
        if key not in valid:
            raise ConfigError(f"unknown key {where} {key}; valid keys: {', '.join(sorted(valid))}")


def as_table(value: Any, where: str) -> Mapping[str, Any]:
    """``value`` when it is a table, else ConfigError."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a table, got {value!r}")
    return value


def whole(value: Any, where: str, minimum: int) -> int:
    """``value`` when it is a whole number >= ``minimum``, else ConfigError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{where} must be a whole number >= {minimum}, got {value!r}")
    return value


def number(value: Any, where: str, minimum: float | None = None) -> float:
    """``value`` as a finite float (>= ``minimum`` when given), else ConfigError."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        raise ConfigError(f"{where} must be a number, got {_short(value)}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{where} must be a number >= {minimum:g}, got {value!r}")
    return float(value)


def text(value: Any, where: str, *, empty: bool = True) -> str:
    """``value`` when it is a string (non-empty unless ``empty``), else ConfigError."""
    if not isinstance(value, str) or (not empty and not value):
        raise ConfigError(f"{where} must be a {'' if empty else 'non-empty '}string, got {value!r}")
    return value


def strings(value: Any, where: str) -> tuple[str, ...]:
    """``value`` as a tuple when it is a list of strings, else ConfigError."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings, got {value!r}")
    return tuple(value)


def env_name(value: Any, where: str) -> str:
    """Return an environment variable name (secrets are only ever read from the environment)."""
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        raise ConfigError(
            f"{where} must name an environment variable (like FWMON_SLACK_URL), got {value!r}; "
            "secrets are read from the environment, never from the file"
        )
    return value


# -- rules --------------------------------------------------------------------------------
