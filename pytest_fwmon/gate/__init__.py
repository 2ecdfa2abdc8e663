"""The merge gate: a report, a policy and a baseline in; a verdict and its outputs out.

Standard library only (plus fwmon's own ``model``, ``schema``, ``report`` and ``errors``), so
``python -m pytest_fwmon.gate`` runs in a CI job that installed nothing else.
"""

from __future__ import annotations

from .evaluate import ConditionResult, GateResult, evaluate, read_report, run_gate

__all__ = ["ConditionResult", "GateResult", "evaluate", "read_report", "run_gate"]
