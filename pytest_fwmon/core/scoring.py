"""Pipeline scores and statuses: deterministic, documented in docs/reference/scores.md.

Standard library only, so the gate and ``fwmon improve`` (which re-scores a report without a
group of findings) compute exactly what the plugin wrote.

Finding-based pipelines (security, docs, quality)::

    weighted = sum(WEIGHTS[f.severity] for f in findings if f.status != "suppressed")
    density  = weighted / max(kloc, 1.0)          # weighted findings per 1000 lines
    score    = 100 * 0.5 ** (density / HALF_LIFE[pipeline])

so a pipeline with ``HALF_LIFE`` weighted points per thousand lines scores 50, twice that 25.
Outcome-based pipelines (performance, integration)::

    score = 100 * passed / (passed + failed + error)

Scores are rounded to one decimal. No measurement, no score: a pipeline that did not run
(``not-run``) or whose items were all skipped (``skipped``, e.g. under pytest-benchmark's
``--benchmark-only``) has score ``None``, and so does any pipeline with nothing to score.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from .model import PIPELINES, SEVERITIES, CheckResult, Finding, empty_counts

#: Weight of one finding of each severity.
WEIGHTS: Final = {"critical": 10.0, "high": 5.0, "medium": 2.0, "low": 1.0, "info": 0.0}

#: Weighted findings per 1000 lines at which a pipeline scores 50.
HALF_LIFE: Final = {"security": 5.0, "docs": 25.0, "quality": 10.0}

#: Pipelines scored by the share of items that passed.
OUTCOME_SCORED: Final = frozenset({"performance", "integration"})


def density_score(pipeline: str, findings: Iterable[Finding], loc: int) -> float:
    """Score of a finding-based pipeline from its findings and the lines it covered."""
    weighted = sum(WEIGHTS[f.severity] for f in findings if f.status != "suppressed")
    density = weighted / max(loc / 1000.0, 1.0)
    score: float = 100.0 * 0.5 ** (density / HALF_LIFE.get(pipeline, 10.0))
    return round(score, 1)


def outcome_score(outcomes: Iterable[str]) -> float | None:
    """Share of passed items among those that ran, in percent."""
    ran = [o for o in outcomes if o in ("passed", "failed", "error")]
    if not ran:
        return None
    return round(100.0 * sum(o == "passed" for o in ran) / len(ran), 1)


def pipeline_status(outcomes: list[str], selected: bool) -> str:
    """Return a pipeline's status (pass, fail, error, skipped, not-run) from its items.

    An errored item makes the pipeline "error" (never a pass); a failed one makes it "fail";
    a selected pipeline with no items, or with only not-run items, is "not-run".
    """
    if not selected or not outcomes or all(o == "not-run" for o in outcomes):
        return "not-run"
    if "error" in outcomes:
        return "error"
    if "failed" in outcomes:
        return "fail"
    if "not-run" in outcomes:
        return "error"
    if all(o == "skipped" for o in outcomes):
        return "skipped"
    return "pass"


def _counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Return the number of findings per severity, suppressed ones left out."""
    counts = empty_counts()
    for f in findings:
        if f.status != "suppressed":
            counts[f.severity] += 1
    return counts


def _score(
    pipeline: str, status: str, outcomes: list[str], findings: list[Finding], loc: int
) -> float | None:
    """Return the pipeline's score: none when skipped or not run, else by outcomes or density."""
    if status in ("not-run", "skipped"):
        return None
    if pipeline in OUTCOME_SCORED:
        return outcome_score(outcomes)
    return density_score(pipeline, findings, loc)


def _pipeline_summary(
    pipeline: str, items: list[CheckResult], outcomes: list[str], selected: bool
) -> dict[str, Any]:
    """Return one pipeline's entry of :func:`summarise_pipelines`."""
    findings = [f for c in items for f in c.findings]
    # a file is counted once even when several checkers looked at it
    loc = sum({c.path: c.loc for c in items if c.path is not None}.values())
    status = pipeline_status(outcomes, selected)
    summary: dict[str, Any] = {
        "status": status,
        "score": _score(pipeline, status, outcomes, findings, loc),
        "items": len(outcomes),
        "passed": outcomes.count("passed"),
        "failed": outcomes.count("failed"),
        "errors": outcomes.count("error"),
        "skipped": outcomes.count("skipped") + outcomes.count("not-run"),
        "cached": sum(c.cached for c in items),
        "loc": loc,
        "counts": _counts(findings),
    }
    if status == "skipped":
        summary["reason"] = skip_reason(items)
    return summary


def summarise_pipelines(
    checks: Iterable[CheckResult],
    selected: Iterable[str],
    extra_outcomes: Mapping[str, list[str]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Summarise each pipeline for the report: status, score, item and finding counts.

    ``extra_outcomes`` adds outcomes of items that are not CheckResults (perf tests).
    """
    selected_set = set(selected)
    by_pipeline: dict[str, list[CheckResult]] = {p: [] for p in PIPELINES}
    for check in checks:
        by_pipeline.setdefault(check.pipeline, []).append(check)
    extra = extra_outcomes or {}
    summary: dict[str, dict[str, Any]] = {}
    for pipeline, items in by_pipeline.items():
        outcomes = [c.outcome for c in items] + list(extra.get(pipeline, []))
        summary[pipeline] = _pipeline_summary(pipeline, items, outcomes, pipeline in selected_set)
    return summary


def skip_reason(items: Iterable[CheckResult]) -> str | None:
    """Why a pipeline's items were skipped: the reason they share, else the first one."""
    reasons = [_one_line(c.reason) for c in items if c.outcome == "skipped" and c.reason]
    if not reasons:
        return None
    first = reasons[0]
    return first if all(r == first for r in reasons) else f"{first} (and other reasons)"


def _one_line(text: str) -> str:
    """The last line of a skip's text without pytest's ``Skipped: `` prefix."""
    line = text.strip().splitlines()[-1] if text.strip() else text
    return line.removeprefix("Skipped: ").strip()


__all__ = [
    "HALF_LIFE",
    "SEVERITIES",
    "WEIGHTS",
    "density_score",
    "outcome_score",
    "pipeline_status",
    "skip_reason",
    "summarise_pipelines",
]
