"""Incident figures from responses: time to acknowledge and to resolve, per severity.

Read from ``fwmon_alert_episodes`` (:mod:`.response`): one row per firing episode of an alert,
counted at the level it fired at (its rule's severity; an escalation does not move it).

* ``alerts``: episodes that started in the window;
* ``acknowledged`` / ``mtta_seconds``: those acknowledged, and the mean of (first
  acknowledgement - ``starts_at``);
* ``resolved`` / ``mttr_seconds``: those resolved, and the mean of (``ends_at`` - ``starts_at``);
* ``missed``: acknowledged later than the level's ``respond_within``, or not acknowledged and
  firing (until it resolved, or until now) for longer than that;
* ``respond_within_seconds``: the target used.

Means are None when there is no sample; every figure comes with its sample size. ``starts_at``
and ``ends_at`` are on the run clock (the finish time of the runs that fired and resolved the
alert); acknowledgement times are when ``fwmon alerts ack`` ran.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

from ..history.store import Store, ts_to_iso
from .response import DEFAULT_RESPOND_WITHIN, has_response_tables, parse_response
from .rules import SECTION

#: Levels reported, most severe first.
LEVELS: Final = tuple(DEFAULT_RESPOND_WITHIN)


@dataclass(frozen=True, slots=True)
class SeverityFigures:
    """The response figures of one severity."""

    severity: str
    alerts: int
    acknowledged: int
    mtta_seconds: float | None
    resolved: int
    mttr_seconds: float | None
    missed: int
    respond_within_seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def _mean(values: Sequence[float]) -> float | None:
    """Return the mean, or None for no values."""
    return sum(values) / len(values) if values else None


def _missed(
    starts: float, acked: float | None, resolved: float | None, within: float, now: float
) -> bool:
    """Tell whether an episode missed its response time (see the module docstring)."""
    if acked is not None:
        return acked - starts > within
    return (resolved if resolved is not None else now) - starts > within


def _figures(
    level: str, rows: Sequence[Sequence[Any]], within: float, now: float
) -> SeverityFigures:
    """Return the figures of one level from its episode rows (starts, acked, resolved)."""
    acks = [float(r[1]) - float(r[0]) for r in rows if r[1] is not None]
    repairs = [float(r[2]) - float(r[0]) for r in rows if r[2] is not None]
    missed = sum(
        1
        for r in rows
        if _missed(
            float(r[0]),
            None if r[1] is None else float(r[1]),
            None if r[2] is None else float(r[2]),
            within,
            now,
        )
    )
    return SeverityFigures(
        severity=level,
        alerts=len(rows),
        acknowledged=len(acks),
        mtta_seconds=_mean(acks),
        resolved=len(repairs),
        mttr_seconds=_mean(repairs),
        missed=missed,
        respond_within_seconds=within,
    )


def _in_window(row: Sequence[Any], since: float | None, branch: str | None) -> bool:
    """Tell whether an episode row (severity, starts, acked, resolved, branch) is counted."""
    return (since is None or float(row[1]) >= since) and (branch is None or row[4] == branch)


def response_figures(
    store: Store,
    respond_within: Mapping[str, float] | None = None,
    *,
    since: float | None = None,
    branch: str | None = None,
    now: float | None = None,
) -> list[SeverityFigures]:
    """Return the figures per severity of the episodes that started since ``since``.

    ``branch`` limits them to one branch; empty figures on a store without response tables.
    """
    within = {**DEFAULT_RESPOND_WITHIN, **(respond_within or {})}
    at = time.time() if now is None else now
    rows: list[Sequence[Any]] = []
    if has_response_tables(store):
        sql = "SELECT severity, starts_at, acked_at, resolved_at, branch FROM fwmon_alert_episodes"
        rows = list(store.query(sql))
    chosen = [r for r in rows if _in_window(r, since, branch)]
    return [
        _figures(level, [r[1:4] for r in chosen if r[0] == level], within[level], at)
        for level in LEVELS
    ]


def window_figures(
    store: Store,
    alerts_section: Mapping[str, Any] | None,
    *,
    window: str,
    since: float | None,
    branch: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """Return the JSON the dashboard, its API and ``fwmon slo --json`` show.

    ``{"window", "since", "branch", "by_severity": [SeverityFigures...]}``; the response
    times come from ``[tool.fwmon.alerts] respond_within`` (ConfigError when invalid).
    """
    within = parse_response(alerts_section or {}, SECTION).get("respond_within")
    figures = response_figures(store, within, since=since, branch=branch, now=now)
    return {
        "window": window,
        "since": None if since is None else ts_to_iso(since),
        "branch": branch,
        "by_severity": [f.to_dict() for f in figures],
    }


__all__ = ["LEVELS", "SeverityFigures", "response_figures", "window_figures"]
