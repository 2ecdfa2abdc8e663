"""Times in the history store: Unix seconds, ISO 8601 text and ``--since`` ages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from ..core.errors import ConfigError

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
_AGE_UNITS: Final = {"m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}


def _parse_text(value: str, now: float | None) -> float | None:
    """Return Unix seconds of an age like ``"30d"`` or of ISO text, or None for neither."""
    match = _AGE.match(value)
    if match:
        base = datetime.now(UTC).timestamp() if now is None else now
        return base - float(match.group(1)) * _AGE_UNITS[match.group(2)]
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_time(value: Any, *, now: float | None = None, what: str = "--since") -> float | None:
    """Unix seconds from ``None``, a number, a ``datetime``, ISO text or an age like ``"30d"``.

    Ages count back from ``now`` (default: the current time). Raises ConfigError otherwise.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ConfigError(f"{what} must be a time, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.timestamp()
    parsed = _parse_text(value, now) if isinstance(value, str) else None
    if parsed is not None:
        return parsed
    raise ConfigError(
        f"{what} {value!r} is not a time; use an age like 30d, 12h, 2w, 90m "
        "or a date like 2024-05-01 or 2024-05-01T12:00:00Z"
    )


parse_since = parse_time


def iso_to_ts(text: str) -> float:
    """Unix seconds of an ISO 8601 time (``Z`` or an offset; naive means UTC)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def ts_to_iso(ts: float) -> str:
    """ISO 8601 UTC text (``Z``, whole seconds) of Unix seconds."""
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=round(ts))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
