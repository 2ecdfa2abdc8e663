"""The dashboard's alert response figures: MTTA/MTTR per severity over the trends window.

Read through :func:`pytest_fwmon.alerts.incidents.window_figures` when this fwmon has it;
nothing is computed here.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from ..core.errors import FwmonError
from ..history.store import Store


def response_figures(
    store: Store,
    alerts_section: Mapping[str, Any],
    *,
    window: str,
    since: float | None,
    branch: str | None,
    now: float,
) -> dict[str, Any] | None:
    """Return the response figures (None: alerts not available; ``reason`` on an error)."""
    try:
        module = importlib.import_module("pytest_fwmon.alerts.incidents")
    except ImportError:
        return None
    try:
        result: dict[str, Any] = module.window_figures(
            store, alerts_section, window=window, since=since, branch=branch, now=now
        )
    except FwmonError as exc:
        return {"reason": exc.one_line()}
    return result


__all__ = ["response_figures"]
