"""Durations for people, in the unit that fits: ``1.2 ms``, ``14.8 s``, ``2 min 5 s``, ``3 d 4 h``.

Standard library only; the one formatter of durations for the terminal (``fwmon slo``,
``fwmon alerts``) and the dashboard, so both print the same text for the same figure.

Rules (seconds in): below a minute ``ns``, ``µs``, ``ms`` or ``s`` with three significant
digits at most; below an hour whole minutes and seconds; below a day whole hours and minutes;
from a day on whole days and hours. A value is rounded before its unit is picked, so 59.97 s
is ``1 min``, never ``60 s``. ``None`` and non-finite numbers give ``missing``.
"""

from __future__ import annotations

import math
from typing import Final

_TIME_UNITS: Final = ((1e-9, "ns"), (1e-6, "µs"), (1e-3, "ms"), (1.0, "s"))
DAY: Final = 86400.0


def sig(value: float) -> str:
    """Three significant digits at most, no trailing zeros beyond one decimal."""
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}".removesuffix(".0")
    return f"{value:.2f}".rstrip("0").rstrip(".") if magnitude < 1 else f"{value:.1f}"


def _sub_minute(value: float) -> str:
    """Return a positive duration below a minute in ns, µs, ms or s."""
    units = _TIME_UNITS[::-1]  # s, ms, µs, ns
    for index, (scale, unit) in enumerate(units):
        if value >= scale or scale == 1e-9:
            if round(value / scale, 1) >= 1000 and index:  # 999.99 µs shows as 1 ms
                scale, unit = units[index - 1]
            return f"{sig(value / scale)} {unit}"
    return f"{sig(value)} s"  # pragma: no cover - the loop always returns


def _pair(value: float, big: float, big_unit: str, small: float, small_unit: str) -> str:
    """Return ``value`` in whole ``big`` units and the whole ``small`` units left over."""
    whole, rest = divmod(round(value / small), round(big / small))
    return f"{whole} {big_unit} {rest} {small_unit}" if rest else f"{whole} {big_unit}"


def duration(seconds: float | None, missing: str = "—") -> str:
    """``1.2 ms``, ``3.4 s``, ``2 min 5 s``, ``1 h 20 min``, ``3 d 4 h``."""
    if seconds is None or isinstance(seconds, bool) or not math.isfinite(float(seconds)):
        return missing
    value = float(seconds)
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value == 0:
        return "0 s"
    if float(f"{value:.1f}") < 60:
        return sign + _sub_minute(value)
    if round(value) < 3600:
        return sign + _pair(value, 60.0, "min", 1.0, "s")
    if round(value / 60) < 24 * 60:
        return sign + _pair(value, 3600.0, "h", 60.0, "min")
    return sign + _pair(value, DAY, "d", 3600.0, "h")


__all__ = ["duration", "sig"]
