"""Which runs a figure is over: the branch resolution every surface shares.

Resolution order (:func:`resolve_branch`), first that applies:

1. an explicit branch (``--branch B``; ``--branch ''`` means every branch);
2. the configured one: ``[tool.fwmon.kpis] branch`` (KPIs and trends), ``[tool.fwmon.slo]
   branch`` (all three); ``""`` means every branch. A configured branch is used even when it
   has no runs: the figures then say ``insufficient data: 0 runs``;
3. no run has a branch (a project without git, or runs recorded before one existed): every
   run, and the figures say ``figures over all N runs: no branch recorded``;
4. the repository's default branch, when the store has runs on it: GitLab's
   ``CI_DEFAULT_BRANCH``, else ``git symbolic-ref refs/remotes/origin/HEAD``
   (:func:`~pytest_fwmon.core.environment.default_branch`);
5. ``main``, then ``master``, when the store has runs on it;
6. the branch with the most runs (ties: the alphabetically first), said in the note.

Runs get their branch when recorded from git, or on a CI's detached checkout from the CI's
own variables (:func:`~pytest_fwmon.core.environment.ci_branch`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from ..core.environment import default_branch
from ..core.errors import ConfigError
from .store import RunInfo

#: Branch names tried, in order, after the repository's default branch.
CONVENTIONAL: Final = ("main", "master")


class RunSource(Protocol):
    """What the figures read: a history store or a dashboard source."""

    def list_runs(
        self, branch: str | None = ..., since: Any = ..., limit: int | None = ...
    ) -> list[RunInfo]:
        """Return the runs of ``branch`` (None: every run), oldest first."""
        ...

    def count_runs(self, branch: str | None = ...) -> int:
        """Return the number of runs of ``branch`` (None: every run)."""
        ...

    def series(
        self, metric: str, branch: str | None = ..., since: Any = ..., limit: int | None = ...
    ) -> list[tuple[float, str, float]]:
        """Return ``(ts, run_id, value)`` of ``metric``, oldest first."""
        ...

    def metrics(self) -> list[str]:
        """Return the stored metric names."""
        ...


@dataclass(frozen=True, slots=True)
class Scope:
    """The runs a figure is over."""

    #: Branch, or None for every run.
    branch: str | None
    #: Which rule of the resolution order chose it (option, config, no-branch, default,
    #: conventional, most-runs, empty).
    rule: str
    #: What the output says about it, or None when the branch speaks for itself.
    note: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def _branch_counts(source: Any) -> dict[str, int]:
    """Return the runs per recorded branch (runs without a branch are left out)."""
    branches = getattr(source, "branches", None)
    if callable(branches):
        return {b: source.count_runs(b) for b in branches()}
    counts: dict[str, int] = {}
    for run in source.list_runs(None):
        if run.branch:
            counts[run.branch] = counts.get(run.branch, 0) + 1
    return counts


def configured_branch(*sections: Mapping[str, Any]) -> str | None:
    """Return the first ``branch`` set in ``sections`` (None when none sets it)."""
    for section in sections:
        if "branch" in section:
            branch = section["branch"]
            if not isinstance(branch, str):
                raise ConfigError(f"branch must be a string, got {branch!r}")
            return branch
    return None


def resolve_branch(
    source: RunSource,
    explicit: str | None = None,
    configured: str | None = None,
    *,
    root: Path | None = None,
) -> Scope:
    """Return the branch the figures are over (the resolution order of the module docstring)."""
    if explicit is not None:
        return Scope(explicit or None, "option", None)
    if configured is not None:
        return Scope(configured or None, "config", None)
    counts = _branch_counts(source)
    if not counts:
        total = source.count_runs(None)
        note = f"figures over all {total} runs: no branch recorded" if total else None
        return Scope(None, "no-branch" if total else "empty", note)
    return _recorded_branch(counts, default_branch(root) if root is not None else None)


def _recorded_branch(counts: Mapping[str, int], default: str | None) -> Scope:
    """Return the repository's default, ``main``/``master``, or the branch with most runs."""
    if default and counts.get(default):
        return Scope(default, "default", None)
    for name in CONVENTIONAL:
        if counts.get(name):
            return Scope(name, "conventional", None)
    most, runs = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[0]
    note = (
        f"branch {most}: the branch with the most runs ({runs}); "
        "set [tool.fwmon.slo] branch to choose another"
    )
    return Scope(most, "most-runs", note)


def kpi_scope(
    source: RunSource,
    kpis_section: Mapping[str, Any],
    slo_section: Mapping[str, Any],
    *,
    branch: str | None = None,
    root: Path | None = None,
) -> Scope:
    """Return the branch of the KPIs and trends: the KPI, then the SLO configuration."""
    configured = configured_branch(kpis_section, slo_section)
    return resolve_branch(source, branch, configured, root=root)


__all__ = ["CONVENTIONAL", "RunSource", "Scope", "configured_branch", "kpi_scope", "resolve_branch"]
