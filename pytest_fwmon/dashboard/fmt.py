"""Numbers, times and units formatted for people: ``1.2 ms``, ``98.4 %``, ``3 days ago``.

Standard library only. Every function returns plain text (not escaped: the caller escapes).
Non-finite numbers and ``None`` become an em dash (:data:`MISSING`).

Rules:

* durations (seconds in) pick ``ns``, ``µs``, ``ms``, ``s``, then ``min s``, ``h min`` and
  ``d h``; three significant digits at most: ``1.2 ms``, ``12.3 ms``, ``123 ms``
  (:func:`pytest_fwmon.core.timefmt.duration`, which the terminal commands use too);
* percentages have one decimal and a space before the sign: ``98.4 %``;
* counts have thousands separators: ``10,000``;
* throughput: ``350 ops/s``, ``1.2 k ops/s``, ``2.5 M ops/s``; memory: ``1.2 MiB``;
* ages count from ``now`` (default: the current time): ``just now``, ``5 minutes ago``,
  ``1 hour ago``, ``3 days ago``, ``2 months ago``, ``in 3 days``;
* dates: ``2024-03-01 14:05 UTC``.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any, Final

from ..core import timefmt

#: What a missing value shows as.
MISSING: Final = "—"


def _finite(value: float | int | None) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def duration(seconds: float | int | None) -> str:
    """``1.2 ms``, ``3.4 s``, ``2 min 5 s``, ``1 h 20 min``, ``3 d 4 h`` (:mod:`..core.timefmt`)."""
    return timefmt.duration(_finite(seconds), MISSING)


def percent(value: float | int | None, digits: int = 1) -> str:
    """``98.4 %``."""
    number = _finite(value)
    return MISSING if number is None else f"{number:.{digits}f} %"


def score(value: float | int | None) -> str:
    """Return a 0-100 score: ``92.5``, ``100``."""
    number = _finite(value)
    if number is None:
        return MISSING
    return f"{number:.1f}".removesuffix(".0")


def count(value: float | int | None) -> str:
    """``10,000``; a fractional value keeps one decimal."""
    number = _finite(value)
    if number is None:
        return MISSING
    if number.is_integer():
        return f"{int(number):,}"
    return f"{number:,.1f}"


def rate(ops: float | int | None) -> str:
    """Throughput: ``350 ops/s``, ``1.2 k ops/s``, ``2.5 M ops/s``."""
    number = _finite(ops)
    if number is None:
        return MISSING
    for scale, prefix in ((1e9, "G "), (1e6, "M "), (1e3, "k ")):
        if abs(number) >= scale:
            return f"{timefmt.sig(number / scale)} {prefix}ops/s"
    return f"{timefmt.sig(number)} ops/s"


def size(value: float | int | None) -> str:
    """Bytes in binary units: ``512 B``, ``1.2 MiB``."""
    number = _finite(value)
    if number is None:
        return MISSING
    for scale, unit in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if abs(number) >= scale:
            return f"{timefmt.sig(number / scale)} {unit}"
    return f"{number:.0f} B"


def _plural(number: int, unit: str) -> str:
    return f"{number} {unit}" if number == 1 else f"{number} {unit}s"


def ago(ts: float | None, now: float | None = None) -> str:
    """``just now``, ``5 minutes ago``, ``3 days ago``, ``in 2 hours``."""
    if ts is None or not math.isfinite(ts):
        return MISSING
    current = time.time() if now is None else now
    delta = current - ts
    future = delta < 0
    delta = abs(delta)
    if delta < 45:
        return "just now"
    for limit, scale, unit in (
        (3600, 60, "minute"),
        (86400, 3600, "hour"),
        (30 * 86400, 86400, "day"),
        (365 * 86400, 30 * 86400, "month"),
        (math.inf, 365 * 86400, "year"),
    ):
        if delta < limit:
            text = _plural(max(1, round(delta / scale)), unit)
            return f"in {text}" if future else f"{text} ago"
    raise AssertionError("unreachable")  # pragma: no cover


def date(ts: float | None, *, seconds: bool = False) -> str:
    """``2024-03-01 14:05 UTC``."""
    if ts is None or not math.isfinite(ts):
        return MISSING
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def iso(ts: float) -> str:
    """ISO 8601 UTC for ``<time datetime=...>``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def kind(metric: str) -> str:
    """How a metric's values are shown: score, percent, seconds, ops, bytes or count."""
    last = metric.rsplit(".", 1)[-1]
    if last == "score":
        return "score"
    if last.endswith("_percent") or last in ("availability", "pass_rate", "error_rate"):
        return "percent"
    if last == "ops":
        return "ops"
    if last.endswith("_bytes"):
        return "bytes"
    if metric.startswith("benchmark.") and last != "n":
        return "seconds"
    if last in ("duration", "p95_duration", "p95_max") or last.endswith("_seconds"):
        return "seconds"
    return "count"


#: Axis label of each kind.
UNITS: Final = {
    "score": "score (0-100)",
    "percent": "percent",
    "seconds": "time",
    "ops": "operations per second",
    "bytes": "bytes",
    "count": "count",
}


def value(metric: str, number: float | int | None) -> str:
    """Return a metric's value with the unit its name implies (see :func:`kind`)."""
    shown = kind(metric)
    if shown == "score":
        return score(number)
    if shown == "percent":
        return percent(number)
    if shown == "seconds":
        return duration(number)
    if shown == "ops":
        return rate(number)
    if shown == "bytes":
        return size(number)
    return count(number)


def general(value: Any) -> str:
    """Return a number to four significant digits (``%.4g``), :data:`MISSING` for non-numbers."""
    return MISSING if not isinstance(value, int | float) else f"{value:.4g}"


__all__ = [
    "MISSING",
    "UNITS",
    "ago",
    "count",
    "date",
    "duration",
    "general",
    "iso",
    "kind",
    "percent",
    "rate",
    "score",
    "size",
    "value",
]
