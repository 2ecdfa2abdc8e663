"""What a rule's condition reads of a run (:class:`RunContext`) and gives back (:class:`Instance`).

Shared by :mod:`pytest_fwmon.alerts.conditions` and :mod:`pytest_fwmon.alerts.testconds`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(slots=True)
class Instance:
    """One alert a rule produced on a run."""

    #: Labels beyond the base ones (``metric``).
    labels: dict[str, str]
    #: The condition holds on this run.
    active: bool
    #: The figure compared (None when there is none, e.g. the gate).
    value: float | None
    #: Extra template values (threshold, before, after, magnitude, change, op).
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunContext:
    """What a condition needs to know about the run."""

    run_id: str
    ts: float
    branch: str | None
    values: Mapping[str, float]
    #: The gate verdict (True passed, False blocked, None unknown).
    gate_passed: bool | None
    #: ``[tool.fwmon.slo]`` as written.
    slo_section: Mapping[str, Any]
    #: The run's report (its ``test_results`` and ``tests``).
    report: Mapping[str, Any] = field(default_factory=dict)
    #: The project root (where ``fwmon-quarantine.toml`` is); None when unknown.
    root: Path | None = None


__all__ = ["Instance", "RunContext"]
