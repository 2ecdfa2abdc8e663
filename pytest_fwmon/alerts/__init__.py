"""Alerts: rules on report metrics, trends, SLO burn rates and the gate verdict.

They follow Alertmanager's noise model (pending/firing/resolved counted in runs, grouping,
repeat interval, inhibition, silences, deduplication across runners, escalation) and notify by
webhook (Alertmanager v4 payload), Slack, email and file.

Entry points:

* :func:`evaluate_after_run` — what ``pytest --fwmon --fwmon-alerts`` calls once the run is in
  the history store; never raises, never fails the test run;
* :func:`evaluate_run` — one evaluation with validated :class:`AlertSettings`;
* :func:`list_alerts` — the alert state as :class:`AlertView` objects (dashboard, CLI);
* :mod:`.cli` — ``fwmon alerts evaluate|list|silence|unsilence``.

The reference is docs/reference/alerts.md.
"""

from __future__ import annotations

from .engine import EvaluationSummary, evaluate_after_run, evaluate_run
from .fingerprint import fingerprint, labels_to_signature
from .settings import AlertSettings
from .state import AlertView, list_alerts

__all__ = [
    "AlertSettings",
    "AlertView",
    "EvaluationSummary",
    "evaluate_after_run",
    "evaluate_run",
    "fingerprint",
    "labels_to_signature",
    "list_alerts",
]
