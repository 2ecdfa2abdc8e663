"""The dashboard's alert figures: counts by severity, and MTTA/MTTR per severity over the window.

Read through :func:`pytest_fwmon.alerts.incidents.window_figures` when this fwmon has it;
nothing is computed here.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from ..core.errors import FwmonError
from ..core.model import SEVERITIES
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


def alerts_brief(alerts: Mapping[str, Any]) -> dict[str, Any]:
    """Return the summary's view of the alerts: available, active count, counts by severity."""
    return {
        "available": alerts["available"],
        "active": sum(alerts["by_severity"].values()),
        "by_severity": alerts["by_severity"],
        "silenced": alerts.get("silenced", 0),
    }


def zero_severities() -> dict[str, int]:
    """Return a zero count per alert severity (every severity but info), in severity order."""
    return {s: 0 for s in SEVERITIES if s != "info"}


def firing_by_severity(alerts: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Count the firing alerts per severity (the alert's own, else its severity label).

    Silenced alerts are not counted: nobody is to respond to them (``silenced`` counts them).
    """
    by_severity = zero_severities()
    for alert in alerts:
        severity = alert.get("severity") or (alert.get("labels") or {}).get("severity")
        if alert.get("silenced"):
            continue
        if alert.get("state", "firing") == "firing" and severity in by_severity:
            by_severity[severity] += 1
    return by_severity


__all__ = ["alerts_brief", "firing_by_severity", "response_figures", "zero_severities"]
