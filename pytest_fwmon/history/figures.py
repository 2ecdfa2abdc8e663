"""The one computation of every operations figure: SLO, KPIs and trends over the same runs.

``fwmon slo``, ``fwmon kpis``, ``fwmon trends``, ``fwmon export prometheus --slo``, the
dashboard pages and ``/api/v1/slo``, ``/api/v1/kpis`` all call these functions with the same
defaults (branch resolution of :mod:`.scope`, window, minimum sample of :mod:`.slo`), so the
same store gives the same numbers on every surface.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError
from .kpis import Kpi, evaluate
from .scope import RunSource, Scope, configured_branch, kpi_scope, resolve_branch
from .slo import SloResult, SloTargets, compute
from .trends import SERIES_WINDOW, TrendResult, analyse


def slo_figures(
    source: RunSource,
    slo_section: Mapping[str, Any],
    *,
    branch: str | None = None,
    since: Any = None,
    target: float | None = None,
    root: Path | None = None,
) -> SloResult:
    """Return the SLA figures of the resolved branch (``--since``/``--target`` applied)."""
    targets = SloTargets.from_config(slo_section)
    if target is not None:
        if not 0 < target < 100:
            raise ConfigError(f"--target must be between 0 and 100, got {target:g}")
        targets = replace(targets, target=target)
    scope = resolve_branch(source, branch, configured_branch(slo_section), root=root)
    result = compute(source.list_runs(scope.branch, since), replace(targets, branch=scope.branch))
    result.note = scope.note
    return result


def kpi_figures(
    source: RunSource,
    kpis_section: Mapping[str, Any],
    slo_section: Mapping[str, Any],
    *,
    branch: str | None = None,
    root: Path | None = None,
) -> tuple[list[Kpi], Scope]:
    """Return every KPI over the resolved branch, and that branch."""
    scope = kpi_scope(source, kpis_section, slo_section, branch=branch, root=root)
    return evaluate(source, kpis_section, slo_section, scope=scope), scope  # type: ignore[arg-type]


def trend_figures(
    source: RunSource,
    names: Sequence[str],
    kpis_section: Mapping[str, Any],
    slo_section: Mapping[str, Any],
    *,
    branch: str | None = None,
    since: Any = None,
    last: int | None = None,
    targets: Mapping[str, float] | None = None,
    root: Path | None = None,
) -> tuple[list[TrendResult], Scope]:
    """Return the trend of each metric of ``names`` over the resolved branch, and that branch."""
    scope = kpi_scope(source, kpis_section, slo_section, branch=branch, root=root)
    limit = SERIES_WINDOW if last is None else last
    results = [
        analyse(
            source.series(name, branch=scope.branch, since=since, limit=limit),
            metric=name,
            target=(targets or {}).get(name),
        )
        for name in names
    ]
    return results, scope


__all__ = ["Scope", "kpi_figures", "kpi_scope", "resolve_branch", "slo_figures", "trend_figures"]
