"""The metric namespace of the history store, and the values one report gives it.

Standard library only. The names follow the gate's namespace (``pytest_fwmon.gate.metrics``)
where both know a figure, so a gate condition, a trend, a KPI and an alert rule all say
``pipeline.security.score`` for the same number. Every value is a float; a figure the report
does not hold (coverage not measured, a pipeline that did not run) is simply absent, never 0.

==================================  ========================================================
name                                value
==================================  ========================================================
``pipeline.<pipeline>.score``       pipeline score 0-100 (pipelines that ran: pass or fail)
``pipeline.<pipeline>.passed``      1 when the pipeline's status is ``pass``, else 0
                                    (pipelines that were selected)
``findings.total``                  findings of every finding pipeline that ran, in-code
                                    suppressions excluded (absent when one errored)
``findings.<severity>``             the same, one severity
``findings.<pipeline>.total``       findings of one pipeline (security, docs, quality)
``findings.<pipeline>.<severity>``  the same, one severity
``coverage.line_percent``           line coverage, percent
``coverage.branch_percent``         branch coverage, percent
``coverage.percent``                coverage.py's own total (lines and branches), percent
``coverage.diff_percent``           coverage of the changed lines (with a diff base)
``tests.total`` ``tests.passed``    the ordinary tests summary (absent when no tests ran,
``tests.failed`` ``tests.errors``   except ``tests.total``)
``tests.skipped``
``tests.duration``                  suite duration, seconds
``run.duration``                    the whole ``pytest --fwmon`` run, seconds
``checks.errors``                   fwmon items whose checker errored
``benchmarks.total``                number of benchmark entries
``benchmark.<name>.<stat>``         every numeric field of a benchmark's ``stats`` object
                                    (``n min max mean stddev p50 p90 p95 p99 p999 iqr``,
                                    seconds) and its ``ops`` (operations per second) and
                                    ``mem_peak_bytes``, e.g. ``benchmark.test_parse.p95``
``gate.passed``                     1 when the gate passed, 0 when it blocked (only when a
                                    gate verdict was recorded with the run)
==================================  ========================================================

Severities are ``critical high medium low info``; pipelines ``security docs quality
performance integration``. A benchmark's ``<name>`` is its ``name`` field verbatim (it may hold
dots or brackets: the statistic is always the part after the last dot).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from ..core.model import PIPELINES, SEVERITIES

#: Pipelines whose checks produce findings.
FINDING_PIPELINES: Final = ("security", "docs", "quality")

#: Statuses that mean a pipeline's data is complete enough to record.
RAN: Final = frozenset({"pass", "fail"})

#: Metrics where a larger value is better (used for KPI arrows and trend verdicts).
HIGHER_IS_BETTER_SUFFIXES: Final = (".score", ".passed", "_percent", ".ops")

#: Numeric fields of a ``benchmarks[]`` entry recorded next to those of its ``stats``.
BENCHMARK_TOP_LEVEL: Final = ("ops", "mem_peak_bytes")

#: One line describing the namespace, for error messages.
METRICS_HELP: Final = (
    "pipeline.<pipeline>.score|passed, findings.total, findings.<severity>, "
    "findings.<pipeline>.total|<severity>, coverage.line_percent|branch_percent|percent|"
    "diff_percent, "
    "tests.total|passed|failed|errors|skipped|duration, run.duration, checks.errors, "
    "benchmarks.total, benchmark.<name>.<stat> (p95, ops, ...), gate.passed"
)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int beyond the float range
        return None
    return number if math.isfinite(number) else None


def gate_verdict(report: Mapping[str, Any]) -> bool | None:
    """Return the gate verdict recorded with a report, or None.

    A verdict is recorded as ``report["extensions"]["gate"]``: an object with a boolean
    ``passed`` or a ``verdict`` of ``"pass"``/``"blocked"`` (as ``gate-result.json`` has it).
    """
    extensions = report.get("extensions")
    gate = extensions.get("gate") if isinstance(extensions, dict) else None
    if not isinstance(gate, dict):
        return None
    passed = gate.get("passed")
    if isinstance(passed, bool):
        return passed
    verdict = gate.get("verdict")
    if verdict in ("pass", "passed"):
        return True
    if verdict in ("blocked", "fail", "failed"):
        return False
    return None


def _pipelines_pass(report: Mapping[str, Any]) -> bool:
    """Return True when every selected pipeline of ``report`` has status ``pass``."""
    pipelines = report.get("pipelines") or {}
    selected = (report.get("run") or {}).get("selected_pipelines") or []
    for name in selected:
        data = pipelines.get(name)
        if not isinstance(data, dict) or data.get("status") != "pass":
            return False
    return True


def is_green(report: Mapping[str, Any]) -> bool:
    """Whether a run counts as green (up) for SLO figures.

    The recorded gate verdict when there is one; otherwise no failed and no errored tests,
    and every selected pipeline has status ``pass``.
    """
    verdict = gate_verdict(report)
    if verdict is not None:
        return verdict
    tests = report.get("tests") or {}
    if tests.get("failed", 0) or tests.get("errors", 0):
        return False
    return _pipelines_pass(report)


def is_partial(report: Mapping[str, Any]) -> bool:
    """Whether the run did not run the whole ordinary suite (``run.selection.partial``)."""
    selection = (report.get("run") or {}).get("selection")
    return isinstance(selection, Mapping) and selection.get("partial") is True


def _put(out: dict[str, float], name: str, raw: Any) -> None:
    """Store ``raw`` as metric ``name`` when it is a finite number."""
    value = _number(raw)
    if value is not None:
        out[name] = value


def _finding_counts(out: dict[str, float], pipeline: str, data: Mapping[str, Any]) -> None:
    """Record the per-severity and total findings of one finding pipeline."""
    counts = data.get("counts") or {}
    total = 0.0
    for severity in SEVERITIES:
        count = _number(counts.get(severity)) or 0.0
        out[f"findings.{pipeline}.{severity}"] = count
        total += count
    out[f"findings.{pipeline}.total"] = total


def _one_pipeline(out: dict[str, float], pipeline: str, data: Any, selected: bool) -> None:
    """Record the ``pipeline.*`` and ``findings.<pipeline>.*`` metrics of one pipeline."""
    if not isinstance(data, dict):
        return
    status = data.get("status")
    if selected or status in RAN:
        out[f"pipeline.{pipeline}.passed"] = 1.0 if status == "pass" else 0.0
    if status not in RAN:
        return
    _put(out, f"pipeline.{pipeline}.score", data.get("score"))
    if pipeline in FINDING_PIPELINES:
        _finding_counts(out, pipeline, data)


def _pipeline_metrics(out: dict[str, float], report: Mapping[str, Any]) -> None:
    """Record ``pipeline.*`` and ``findings.<pipeline>.*`` metrics."""
    pipelines: Mapping[str, Any] = report.get("pipelines") or {}
    selected = set((report.get("run") or {}).get("selected_pipelines") or ())
    for pipeline in PIPELINES:
        _one_pipeline(out, pipeline, pipelines.get(pipeline), pipeline in selected)


def _summed_pipelines(report: Mapping[str, Any]) -> list[str]:
    """Return the finding pipelines that ran, or none when one of them errored."""
    pipelines: Mapping[str, Any] = report.get("pipelines") or {}
    statuses = {p: (pipelines.get(p) or {}).get("status") for p in FINDING_PIPELINES}
    if any(s == "error" for s in statuses.values()):
        return []
    return [p for p in FINDING_PIPELINES if statuses[p] in RAN]


def _finding_totals(out: dict[str, float], report: Mapping[str, Any]) -> None:
    """Record ``findings.total`` and ``findings.<severity>`` over the pipelines that ran."""
    ran = _summed_pipelines(report)
    if not ran:
        return
    for severity in SEVERITIES:
        out[f"findings.{severity}"] = sum(out[f"findings.{p}.{severity}"] for p in ran)
    out["findings.total"] = sum(out[f"findings.{p}.total"] for p in ran)


def _coverage_metrics(out: dict[str, float], coverage: Any) -> None:
    """Record ``coverage.*`` metrics from a report's ``coverage`` object."""
    if not isinstance(coverage, dict):
        return
    for key in ("percent", "line_percent", "branch_percent"):
        _put(out, f"coverage.{key}", coverage.get(key))
    diff = coverage.get("diff")
    if isinstance(diff, dict):
        _put(out, "coverage.diff_percent", diff.get("percent"))


def _tests_metrics(out: dict[str, float], tests: Any) -> None:
    """Record ``tests.*`` metrics from a report's ``tests`` summary."""
    if not isinstance(tests, dict):
        return
    tests_total = _number(tests.get("total"))
    if tests_total is not None:
        out["tests.total"] = tests_total
    if not tests_total:
        return
    for key in ("passed", "failed", "errors", "skipped", "duration"):
        _put(out, f"tests.{key}", tests.get(key))


def _checks_metrics(out: dict[str, float], checks: Any) -> None:
    """Record ``checks.errors``: the fwmon items whose checker errored."""
    if isinstance(checks, list):
        out["checks.errors"] = float(
            sum(1 for c in checks if isinstance(c, dict) and c.get("outcome") == "error")
        )


def _benchmark_entry(out: dict[str, float], bench: Any) -> None:
    """Record ``benchmark.<name>.<stat>`` for one ``benchmarks[]`` entry."""
    if not isinstance(bench, dict) or not isinstance(bench.get("name"), str):
        return
    stats = bench.get("stats")
    figures = dict(stats) if isinstance(stats, dict) else {}
    for key in BENCHMARK_TOP_LEVEL:
        if key in bench:
            figures[key] = bench[key]
    for key, raw in figures.items():
        if isinstance(key, str) and "." not in key:
            _put(out, f"benchmark.{bench['name']}.{key}", raw)


def _benchmark_metrics(out: dict[str, float], benchmarks: Any) -> None:
    """Record ``benchmarks.total`` and every benchmark's statistics."""
    if not isinstance(benchmarks, list):
        return
    out["benchmarks.total"] = float(len(benchmarks))
    for bench in benchmarks:
        _benchmark_entry(out, bench)


def extract(report: Mapping[str, Any], *, partial_metrics: bool = False) -> dict[str, float]:
    """Every metric one report gives, name -> value (see the table in the module docstring).

    A partial run (:func:`is_partial`: deselected tests, an early stop...) gives no
    ``tests.*`` and ``coverage.*`` metrics unless ``partial_metrics`` (``[tool.fwmon.history]
    partial_metrics = true``): its few tests and their coverage are not the suite's figures,
    and trends, KPIs and SLOs would read them as a fall.
    """
    out: dict[str, float] = {}
    whole = partial_metrics or not is_partial(report)
    _pipeline_metrics(out, report)
    _finding_totals(out, report)
    if whole:
        _coverage_metrics(out, report.get("coverage"))
        _tests_metrics(out, report.get("tests"))
    _put(out, "run.duration", (report.get("run") or {}).get("duration"))
    _checks_metrics(out, report.get("checks"))
    _benchmark_metrics(out, report.get("benchmarks"))
    verdict = gate_verdict(report)
    if verdict is not None:
        out["gate.passed"] = 1.0 if verdict else 0.0
    return out


def higher_is_better(metric: str) -> bool:
    """Return True when a rise of ``metric`` is an improvement (scores, coverage, throughput)."""
    return metric.endswith(HIGHER_IS_BETTER_SUFFIXES)


__all__ = [
    "FINDING_PIPELINES",
    "METRICS_HELP",
    "extract",
    "gate_verdict",
    "higher_is_better",
    "is_green",
]
