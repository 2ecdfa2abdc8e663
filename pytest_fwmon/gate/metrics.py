"""The metric namespace conditions are written in, and the values a report gives them.

Standard library only. Names (documented in docs/reference/policy.md)::

    findings.total | findings.<severity> | findings.<severity>_or_worse
    findings.<pipeline>.total | findings.<pipeline>.<severity> | ..._or_worse
    pipeline.<pipeline>.score | .status | .failed | .errors | .items
    coverage.line_percent | coverage.branch_percent | coverage.diff_percent
    tests.total | tests.passed | tests.failed | tests.errors | tests.skipped | tests.exitstatus
    tests.flaky
    benchmarks.total | benchmarks.regressions | benchmarks.failed
    integration.total | integration.failed
    checks.errors | baseline.stale | waivers.expired | quarantine.expired
    diff.changed_lines | diff.changed_files

``findings.*`` metrics count findings in a *scope*: ``overall`` (every finding except in-code
suppressions), ``new`` (not baselined, not waived) or ``diff`` (new and on a line changed since
the merge base). Every other metric only has the ``overall`` scope.

A metric whose data the report does not hold (coverage not measured, a pipeline that did not
run or errored, no tests ran, no ``--base-ref``) is *missing*: :meth:`Metrics.value` returns
``None`` and a reason, and the condition blocks unless it says ``missing = "pass"``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from operator import itemgetter
from typing import Any, Final

from ..core.model import PIPELINES, SEVERITIES

#: Scopes a findings metric can be counted in, from widest to narrowest.
SCOPES: Final = ("overall", "new", "diff")

#: Pipelines whose checks produce findings.
FINDING_PIPELINES: Final = ("security", "docs", "quality")

#: Pipeline statuses that mean the pipeline's data is complete enough to judge.
RAN: Final = frozenset({"pass", "fail"})
#: (pipeline, severity) of a finding, read in C: the gate counts 50,000 findings this way.
_PIPELINE_SEVERITY: Final = itemgetter("pipeline", "severity")

_FINDING_FAMILIES: Final = (
    "total",
    *SEVERITIES,
    *(f"{s}_or_worse" for s in SEVERITIES[1:-1]),
)
_PIPELINE_FIELDS: Final = ("score", "status", "failed", "errors", "items")
_FIXED: Final = (
    "coverage.line_percent",
    "coverage.branch_percent",
    "coverage.diff_percent",
    "tests.total",
    "tests.passed",
    "tests.failed",
    "tests.errors",
    "tests.skipped",
    "tests.flaky",
    "tests.exitstatus",
    "benchmarks.total",
    "benchmarks.regressions",
    "benchmarks.failed",
    "integration.total",
    "integration.failed",
    "checks.errors",
    "baseline.stale",
    "waivers.expired",
    "quarantine.expired",
    "diff.changed_lines",
    "diff.changed_files",
)


def _all_metrics() -> frozenset[str]:
    names = set(_FIXED)
    for family in _FINDING_FAMILIES:
        names.add(f"findings.{family}")
        for pipeline in PIPELINES:
            names.add(f"findings.{pipeline}.{family}")
    for pipeline in PIPELINES:
        for name in _PIPELINE_FIELDS:
            names.add(f"pipeline.{pipeline}.{name}")
    return frozenset(names)


#: Every valid metric name.
METRICS: Final = _all_metrics()

#: The namespace as one line, for error messages.
METRICS_HELP: Final = (
    "findings.total, findings.<severity>, findings.<severity>_or_worse, "
    "findings.<pipeline>.<total|severity|severity_or_worse>, "
    "pipeline.<pipeline>.<score|status|failed|errors|items>, "
    + ", ".join(_FIXED)
    + f" (severity: {'|'.join(SEVERITIES)}; pipeline: {'|'.join(PIPELINES)})"
)


def is_findings_metric(name: str) -> bool:
    """Return whether ``name`` is a ``findings.*`` metric, the kind a scope applies to."""
    return name.startswith("findings.")


def is_text_metric(name: str) -> bool:
    """Return whether ``name``'s value is a word (a pipeline status), compared with ``eq``."""
    return name.startswith("pipeline.") and name.endswith(".status")


def _family_counts(counts: Mapping[str, int], family: str) -> int:
    if family == "total":
        return sum(counts.values())
    if family.endswith("_or_worse"):
        worst = SEVERITIES.index(family[: -len("_or_worse")])
        return sum(counts[s] for s in SEVERITIES[: worst + 1])
    return counts[family]


class Metrics:
    """Values of every metric for one report, one classification and one diff."""

    def __init__(
        self,
        report: Mapping[str, Any],
        scoped: Mapping[str, Iterable[Mapping[str, Any]]],
        *,
        stale: int = 0,
        expired: int = 0,
        changed: Mapping[str, set[int]] | None = None,
        quarantine_expired: int = 0,
    ) -> None:
        """``scoped`` maps each of :data:`SCOPES` to its findings (dicts as in the report)."""
        self.report = report
        self.pipelines: Mapping[str, Any] = report["pipelines"]  # the schema requires it
        #: (scope, pipeline, severity) -> number of findings.
        self.counts: Counter[tuple[str, str, str]] = Counter()
        for scope, findings in scoped.items():
            per = Counter(map(_PIPELINE_SEVERITY, findings))
            for (pipeline, severity), n in per.items():
                self.counts[(scope, pipeline, severity)] = n
        self.stale = stale
        self.expired = expired
        self.changed = changed
        self.quarantine_expired = quarantine_expired

    def _status(self, pipeline: str) -> str:
        data = self.pipelines.get(pipeline)
        status: str = data["status"] if isinstance(data, dict) else "not-run"
        return status

    def _not_ran(self, pipeline: str) -> str | None:
        status = self._status(pipeline)
        if status in RAN:
            return None
        if status == "error":
            return f"pipeline {pipeline} errored"
        return f"pipeline {pipeline} did not run (status {status})"

    def value(self, name: str, scope: str = "overall") -> tuple[float | str | None, str]:
        """``(value, "")`` or ``(None, reason it is missing)``; ``name`` must be in METRICS."""
        head, _, rest = name.partition(".")
        if head == "findings":
            return self._findings(rest, scope)
        if head == "pipeline":
            pipeline, _, field = rest.partition(".")
            return self._pipeline(pipeline, field)
        return getattr(self, "_" + head)(rest)  # type: ignore[no-any-return]

    def _findings(self, rest: str, scope: str) -> tuple[float | str | None, str]:
        """Count findings of a family in ``scope`` (diff without a diff counts new ones)."""
        pipeline, _, family = rest.rpartition(".")
        pipelines, reason = self._finding_pipelines(pipeline)
        if pipelines is None:
            return None, reason
        if scope == "diff" and self.changed is None:
            scope = "new"
        return _family_counts(self._counts(scope, pipelines), family), ""

    def _finding_pipelines(self, pipeline: str) -> tuple[list[str] | None, str]:
        """Return the pipelines a findings metric counts, or None and why they are incomplete."""
        if pipeline:
            reason = self._not_ran(pipeline)
            if reason is not None:
                return None, reason
            return [pipeline], ""
        errored = [p for p in FINDING_PIPELINES if self._status(p) == "error"]
        if errored:
            return None, f"pipeline {', '.join(errored)} errored, so findings are incomplete"
        pipelines = [p for p in PIPELINES if self._status(p) in RAN]
        if not any(p in FINDING_PIPELINES for p in pipelines):
            return None, "no finding pipeline (security, docs, quality) ran"
        return pipelines, ""

    def _counts(self, scope: str, pipelines: list[str]) -> dict[str, int]:
        counts = dict.fromkeys(SEVERITIES, 0)
        for (s, pipeline, severity), n in self.counts.items():
            if s == scope and pipeline in pipelines:
                counts[severity] += n
        return counts

    def _pipeline(self, pipeline: str, field: str) -> tuple[float | str | None, str]:
        if field == "status":
            return self._status(pipeline), ""
        reason = self._not_ran(pipeline)
        if reason is not None:
            return None, reason
        value = self.pipelines[pipeline][field]
        if value is None:
            return None, f"pipeline {pipeline} has no {field}"
        return value, ""

    def _coverage(self, field: str) -> tuple[float | str | None, str]:
        coverage = self.report.get("coverage")
        if not isinstance(coverage, dict):
            return None, "coverage was not measured"
        if field == "diff_percent":
            diff = coverage.get("diff")
            if not isinstance(diff, dict):
                return None, "coverage has no diff coverage (pytest --fwmon-diff-base REF)"
            value = diff.get("percent")
        else:
            value = coverage.get(field)
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None, f"coverage has no {field}"
        return value, ""

    def _tests(self, field: str) -> tuple[float | str | None, str]:
        tests = self.report["tests"]
        if field == "exitstatus":
            status = tests.get("exitstatus")
            if status is None:
                return None, f"pytest's exit status is not known ({tests.get('exitstatus_note')})"
            return status, ""
        if field != "total" and not tests.get("total"):
            return None, "no tests ran (tests.total is 0)"
        return tests.get(field, 0), ""

    def _benchmarks(self, field: str) -> tuple[float | str | None, str]:
        reason = self._not_ran("performance")
        if reason is not None:
            return None, reason
        benchmarks = [b for b in self.report["benchmarks"] if isinstance(b, dict)]  # required
        if field == "total":
            return len(benchmarks), ""
        if field == "regressions":
            return sum(_is_regression(b) for b in benchmarks), ""
        data = self.pipelines["performance"]
        return data["failed"] + data["errors"], ""

    def _integration(self, field: str) -> tuple[float | str | None, str]:
        reason = self._not_ran("integration")
        if reason is not None:
            return None, reason
        data = self.pipelines["integration"]
        if field == "total":
            return data["items"], ""
        return data["failed"] + data["errors"], ""

    def _checks(self, field: str) -> tuple[float | str | None, str]:
        return sum(1 for c in self.report["checks"] if c["outcome"] == "error"), ""

    def _baseline(self, field: str) -> tuple[float | str | None, str]:
        return self.stale, ""

    def _waivers(self, field: str) -> tuple[float | str | None, str]:
        return self.expired, ""

    def _quarantine(self, field: str) -> tuple[float | str | None, str]:
        return self.quarantine_expired, ""

    def _diff(self, field: str) -> tuple[float | str | None, str]:
        if self.changed is None:
            return None, "no --base-ref was given, so there is no diff"
        if field == "changed_files":
            return len(self.changed), ""
        return sum(len(lines) for lines in self.changed.values()), ""


def _is_regression(benchmark: Mapping[str, Any]) -> bool:
    """Return whether the perf pipeline found ``benchmark`` slower than its baseline."""
    baseline = benchmark.get("baseline")
    return isinstance(baseline, dict) and baseline.get("status") == "regression"
