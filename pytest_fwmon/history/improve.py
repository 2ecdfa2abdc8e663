"""Improvement opportunities ranked by return on investment. Standard library only.

``opportunities(report, *, store=None, branch=None, slow_tests=5) -> list[Opportunity]``,
best ROI first. ``ROI = impact / effort``.

Kinds and their **impact** (points):

* ``file``: the findings of one pipeline in one file; ``rule``: the findings of one rule in one
  pipeline across two or more files; ``complexity``: one function over the complexity limit
  (quality rule ``CPX101``). Impact is the exact score gain: the pipeline is re-scored with
  :func:`pytest_fwmon.core.scoring.summarise_pipelines` on the report's own checks without those
  findings, minus its score with them (the plugin computes scores the same way).
* ``slow-test``: one of the ``slow_tests`` slowest tests of ``report.resources`` (wall time);
  impact = its share of the suite's duration in percent (1 point = 1 % of ``tests.duration``).
* ``benchmark``: a benchmark whose P95 rose at the newest change point of its history
  (``benchmark.<name>.p95`` in the store), or, without a store, one the perf pipeline flagged as
  a regression against its baseline; impact = the rise in percent of P95.

**Effort** (hours, estimated)::

    findings groups   0.25 * files + 0.10 * findings + 0.02 * flagged lines
                      + 0.25 * (complexity - limit) for each function over the limit
    slow test         1.0
    benchmark         2.0

where the flagged lines of a finding are ``end_line - line + 1`` (1 for a whole-file finding).
Only opportunities with a positive impact are listed.

**Identity.** Each opportunity has a ``subject`` (what it is about: the file path for ``file``,
the rule id for ``rule``, ``path::function`` for ``complexity``, the test node id for
``slow-test``, the benchmark name for ``benchmark``) and an ``id``: the first 12 hex digits of
SHA-256 over ``kind``, ``pipeline`` and ``subject`` (:func:`opportunity_id`). Line numbers,
counts and scores are left out, so the same opportunity keeps its id from run to run while
the code around it moves; :mod:`.tracking` follows it over the runs by that id.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Protocol

from ..core.model import CheckResult, Finding
from ..core.scoring import summarise_pipelines
from .changepoint import change_points
from .metrics import FINDING_PIPELINES, RAN

#: Effort model (hours), see the module docstring.
EFFORT_PER_FILE: Final = 0.25
EFFORT_PER_FINDING: Final = 0.10
EFFORT_PER_LINE: Final = 0.02
EFFORT_PER_COMPLEXITY_POINT: Final = 0.25
EFFORT_SLOW_TEST: Final = 1.0
EFFORT_BENCHMARK: Final = 2.0

#: Rule of a function above the complexity limit (pytest_fwmon.checks.complexity).
COMPLEXITY_RULE: Final = "CPX101"
_COMPLEXITY = re.compile(r"complexity (\d+)\b.*?\blimit (\d+)")


class SeriesSource(Protocol):
    """What the benchmark opportunities need from a store."""

    def series(
        self, metric: str, branch: str | None = ..., since: Any = ..., limit: int | None = ...
    ) -> list[tuple[float, str, float]]: ...


@dataclass(frozen=True, slots=True)
class Opportunity:
    """One thing worth fixing, with what it gains and costs."""

    #: file | rule | complexity | slow-test | benchmark.
    kind: str
    #: One line saying what to do.
    title: str
    #: Pipeline it improves (None for tests).
    pipeline: str | None
    #: Gain, in ``impact_unit``.
    impact: float
    #: "score points" | "% of suite duration" | "% of P95".
    impact_unit: str
    #: Estimated hours.
    effort: float
    #: impact / effort.
    roi: float
    #: Findings fixed, and their flagged lines.
    findings: int = 0
    lines: int = 0
    #: Files and rules involved.
    paths: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    #: Kind-specific figures.
    details: dict[str, Any] = field(default_factory=dict)
    #: What it is about (path, rule, path::function, node id or benchmark name).
    subject: str = ""

    @property
    def id(self) -> str:
        """Stable id: :func:`opportunity_id` of kind, pipeline and subject."""
        return opportunity_id(self.kind, self.pipeline, self.subject)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (with ``id``)."""
        return {"id": self.id, **asdict(self)}


def opportunity_id(kind: str, pipeline: str | None, subject: str) -> str:
    """Return the stable id of an opportunity: 12 hex digits of SHA-256 over what it is about."""
    text = "\x1f".join((kind, pipeline or "", subject))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def function_subject(path: str, message: str) -> str:
    """Return ``path::function`` of a complexity finding (its message names the function)."""
    return f"{path}::{message.split(' has ')[0]}"


def _lines(finding: Finding) -> int:
    return max(finding.end_line - finding.line + 1, 1) if finding.line > 0 else 1


def findings_effort(findings: Sequence[Finding]) -> float:
    """Estimated hours to fix a group of findings (see the module docstring)."""
    files = len({f.path for f in findings})
    lines = sum(_lines(f) for f in findings)
    effort = EFFORT_PER_FILE * files + EFFORT_PER_FINDING * len(findings) + EFFORT_PER_LINE * lines
    for finding in findings:
        if finding.rule == COMPLEXITY_RULE:
            match = _COMPLEXITY.search(finding.message)
            if match:
                effort += EFFORT_PER_COMPLEXITY_POINT * max(
                    int(match.group(1)) - int(match.group(2)), 0
                )
    return effort


def _score(checks: Sequence[CheckResult], pipeline: str) -> float | None:
    score: float | None = summarise_pipelines(checks, [pipeline])[pipeline]["score"]
    return score


def _without(checks: Sequence[CheckResult], drop: set[int]) -> list[CheckResult]:
    out = []
    for check in checks:
        kept = [f for f in check.findings if id(f) not in drop]
        if len(kept) == len(check.findings):
            out.append(check)
        else:
            out.append(
                CheckResult(
                    nodeid=check.nodeid,
                    pipeline=check.pipeline,
                    checker=check.checker,
                    outcome=check.outcome,
                    path=check.path,
                    cached=check.cached,
                    duration=check.duration,
                    findings=kept,
                    reason=check.reason,
                    loc=check.loc,
                    metrics=check.metrics,
                )
            )
    return out


#: One finding group: kind, title, subject, findings, details.
_Group = tuple[str, str, str, list[Finding], dict[str, Any]]


def _finding_groups(pipeline: str, findings: Sequence[Finding]) -> Iterable[_Group]:
    by_path: dict[str, list[Finding]] = defaultdict(list)
    by_rule: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_path[finding.path].append(finding)
        by_rule[finding.rule].append(finding)
    for path, group in sorted(by_path.items()):
        share = 100.0 * len(group) / len(findings)
        title = f"fix the {len(group)} {pipeline} finding(s) in {path} ({share:.0f} % of them)"
        yield "file", title, path, group, {"share_percent": share}
    for rule, group in sorted(by_rule.items()):
        files = {f.path for f in group}
        if len(files) > 1:
            title = f"fix {pipeline} rule {rule} in {len(files)} files ({len(group)} findings)"
            yield "rule", title, rule, group, {}
    for finding in findings:
        if finding.rule == COMPLEXITY_RULE:
            match = _COMPLEXITY.search(finding.message)
            details = (
                {"complexity": int(match.group(1)), "limit": int(match.group(2))} if match else {}
            )
            title = f"simplify {finding.message.split(' has ')[0]} at {finding.path}:{finding.line}"
            yield (
                "complexity",
                title,
                function_subject(finding.path, finding.message),
                [finding],
                details,
            )


def _group_opportunity(
    pipeline: str,
    own: list[CheckResult],
    base: float,
    group_info: _Group,
) -> Opportunity | None:
    """Return the opportunity of fixing one finding group, or None when it gains nothing."""
    kind, title, subject, group, details = group_info
    after = _score(_without(own, {id(f) for f in group}), pipeline)
    if after is None or after <= base:
        return None
    impact = round(after - base, 1)
    effort = round(findings_effort(group), 2)
    return Opportunity(
        kind=kind,
        title=title,
        pipeline=pipeline,
        impact=impact,
        impact_unit="score points",
        effort=effort,
        roi=impact / effort,
        findings=len(group),
        lines=sum(_lines(f) for f in group),
        paths=sorted({f.path for f in group}),
        rules=sorted({f.rule for f in group}),
        details={"score": base, "score_after": after, **details},
        subject=subject,
    )


def pipeline_score(report: Mapping[str, Any], pipeline: str) -> float | None:
    """Return the score of ``pipeline`` re-computed from the report's checks (as the impacts)."""
    checks = [CheckResult.from_dict(c) for c in report.get("checks") or ()]
    return _score([c for c in checks if c.pipeline == pipeline], pipeline)


def _pipeline_opportunities(pipeline: str, checks: list[CheckResult]) -> list[Opportunity]:
    """Return the score opportunities of one finding pipeline that ran."""
    own = [c for c in checks if c.pipeline == pipeline]
    base = _score(own, pipeline)
    if base is None:
        return []
    findings = [f for c in own for f in c.findings if f.status != "suppressed"]
    out: list[Opportunity] = []
    for group_info in _finding_groups(pipeline, findings):
        found = _group_opportunity(pipeline, own, base, group_info)
        if found is not None:
            out.append(found)
    return out


def _score_opportunities(report: Mapping[str, Any]) -> list[Opportunity]:
    """Return the score opportunities of every finding pipeline that ran."""
    checks = [CheckResult.from_dict(c) for c in report.get("checks") or ()]
    pipelines = report.get("pipelines") or {}
    out: list[Opportunity] = []
    for pipeline in FINDING_PIPELINES:
        if (pipelines.get(pipeline) or {}).get("status") in RAN:
            out.extend(_pipeline_opportunities(pipeline, checks))
    return out


def _timed(entry: Any) -> bool:
    """Return True when a ``resources[]`` entry has a positive numeric ``wall`` time."""
    return (
        isinstance(entry, dict) and isinstance(entry.get("wall"), int | float) and entry["wall"] > 0
    )


def _slow_test(entry: Mapping[str, Any], suite: float) -> Opportunity:
    """Return the opportunity of speeding up one test that took ``entry["wall"]`` seconds."""
    share = 100.0 * entry["wall"] / suite
    return Opportunity(
        kind="slow-test",
        title=f"speed up {entry['nodeid']} ({entry['wall']:.2f} s, {share:.1f} % of the suite)",
        pipeline=None,
        impact=round(share, 1),
        impact_unit="% of suite duration",
        effort=EFFORT_SLOW_TEST,
        roi=share / EFFORT_SLOW_TEST,
        paths=[entry["nodeid"].split("::", 1)[0]],
        details={"nodeid": entry["nodeid"], "wall": entry["wall"], "suite": suite},
        subject=entry["nodeid"],
    )


def _slow_tests(report: Mapping[str, Any], count: int) -> list[Opportunity]:
    """Return the ``count`` slowest tests as opportunities, slowest first."""
    suite = (report.get("tests") or {}).get("duration") or 0.0
    resources = [r for r in report.get("resources") or () if _timed(r)]
    if suite <= 0 or not resources:
        return []
    slowest = sorted(resources, key=lambda r: (-r["wall"], r["nodeid"]))[:count]
    return [_slow_test(entry, suite) for entry in slowest]


def _history_rise(
    store: SeriesSource, name: str, branch: str | None, details: dict[str, Any]
) -> float | None:
    """Return the P95 rise in percent at the newest upward change point of the history."""
    points = store.series(f"benchmark.{name}.p95", branch=branch, limit=1000)
    cps = change_points([p[2] for p in points])
    if not cps or cps[-1].magnitude <= 0:
        return None
    cp = cps[-1]
    details.update(run_id=points[cp.index][1], before=cp.before, after=cp.after, p=cp.p)
    return 100.0 * cp.magnitude


def _baseline_rise(bench: Mapping[str, Any], details: dict[str, Any]) -> float | None:
    """Return the P95 rise in percent of a benchmark its baseline flags as a regression."""
    baseline = bench.get("baseline") or {}
    ratio = baseline.get("ratio")
    if baseline.get("status") != "regression" or not isinstance(ratio, int | float):
        return None
    details.update(ratio=ratio, source=baseline.get("source"))
    return 100.0 * (ratio - 1.0)


def _benchmark(bench: Any, store: SeriesSource | None, branch: str | None) -> Opportunity | None:
    """Return the opportunity of winning back one benchmark's P95 rise, or None."""
    if not isinstance(bench, dict) or not isinstance(bench.get("name"), str):
        return None
    name = bench["name"]
    details: dict[str, Any] = {"benchmark": name, "nodeid": bench.get("nodeid")}
    if store is not None:
        rise = _history_rise(store, name, branch, details)
    else:
        rise = _baseline_rise(bench, details)
    if rise is None or rise <= 0:
        return None
    where = f" since run {details['run_id']}" if "run_id" in details else ""
    return Opportunity(
        kind="benchmark",
        title=f"win back the {rise:.0f} % P95 rise of benchmark {name}{where}",
        pipeline="performance",
        impact=round(rise, 1),
        impact_unit="% of P95",
        effort=EFFORT_BENCHMARK,
        roi=rise / EFFORT_BENCHMARK,
        paths=[str(bench.get("nodeid", "")).split("::", 1)[0]],
        details=details,
        subject=name,
    )


def _benchmarks(
    report: Mapping[str, Any], store: SeriesSource | None, branch: str | None
) -> list[Opportunity]:
    """Return the benchmark opportunities of ``report`` (history or baseline regressions)."""
    out = []
    for bench in report.get("benchmarks") or ():
        found = _benchmark(bench, store, branch)
        if found is not None:
            out.append(found)
    return out


def opportunities(
    report: Mapping[str, Any],
    *,
    store: SeriesSource | None = None,
    branch: str | None = None,
    slow_tests: int = 5,
) -> list[Opportunity]:
    """Every opportunity of ``report`` (and its history), best ROI first."""
    found = _score_opportunities(report) + _slow_tests(report, slow_tests)
    found += _benchmarks(report, store, branch)
    found.sort(key=lambda o: (-o.roi, -o.impact, o.title))
    return found


__all__ = [
    "COMPLEXITY_RULE",
    "Opportunity",
    "findings_effort",
    "function_subject",
    "opportunities",
    "opportunity_id",
    "pipeline_score",
]
