"""The dashboard's JSON bodies: compact, sorted, NaN and infinities as null."""

from __future__ import annotations

import json
import math
from typing import Any


def _finite(data: Any) -> Any:
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(v) for v in data]
    return data


def dumps(data: Any) -> bytes:
    """Compact, sorted JSON bytes (API bodies; stable, so ETags are stable; NaN -> null)."""
    return json.dumps(
        _finite(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


__all__ = ["dumps"]
