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
``tests.error_rate``                failed + errors over the tests that ran (passed + failed
                                    + errors), in percent 0-100 (lower is better; the same
                                    figure as ``resources_summary.error_rate``, a fraction);
                                    absent when none ran
``docs.accuracy_percent``           documentation accuracy: the ``docstring-accuracy`` check's
                                    ``accuracy_percent`` (functions whose documented
                                    parameters match the signature); absent when the check
                                    did not run or checked no function
``docs.coverage_percent``           docstring coverage: the ``docstring-coverage`` check's
                                    ``coverage_percent``; absent when it checked nothing
``integration.command_readiness_percent``
                                    command readiness: the ``commands`` check's
                                    ``ready_share``, percent of console/GUI scripts scoring
                                    at least its ``ready_percent``; absent without commands
``resources.peak_rss_bytes``        with ``--fwmon-resources``, over every ``resources[]``
                                    record: the highest ``rss_peak`` (or ``rss_end``)
``resources.cpu_seconds``           the sum of ``cpu_user + cpu_system``
``resources.io_read_bytes``         the sums of ``io_read_bytes`` / ``io_write_bytes``
``resources.io_write_bytes``        (absent where the OS gives none)
``resources.p95_duration``          ``resources_summary.p95_duration``: P95 of the per-test
                                    durations, seconds
``run.duration``                    the whole ``pytest --fwmon`` run, seconds
``checks.errors``                   fwmon items whose checker errored
``benchmarks.total``                number of benchmark entries
``benchmarks.p95_max``              the largest ``p95`` of the run's benchmarks, seconds
                                    (the response time of the perf tests; absent without one)
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

``tests.*``, ``coverage.*`` and ``resources.*`` are left out for a partial run (see
:func:`extract`).

**Unknown metrics.** :func:`is_known` says whether a name belongs to this namespace (a fixed
pattern per row above, so it works before any run is stored). A KPI, an alert rule or a trend
query naming a metric outside it is a configuration error (exit 2) whose message,
:func:`unknown_metric_message`, lists the stored metrics and the namespace. A name inside the
namespace that no run has recorded yet (``benchmark.parse.p95`` before the first benchmark) is
valid: a KPI shows it as *not measured*, an alert rule has no data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..core.model import PIPELINES, SEVERITIES

#: Pipelines whose checks produce findings.
FINDING_PIPELINES: Final = ("security", "docs", "quality")

#: Statuses that mean a pipeline's data is complete enough to record.
RAN: Final = frozenset({"pass", "fail"})

#: Metrics where a larger value is better (used for KPI arrows and trend verdicts).
HIGHER_IS_BETTER_SUFFIXES: Final = (".score", ".passed", "_percent", ".ops")

#: Checks of the report whose ``metrics`` give a history metric: (checker, key) -> metric.
CHECK_METRICS: Final = {
    ("docstring-accuracy", "accuracy_percent"): "docs.accuracy_percent",
    ("docstring-coverage", "coverage_percent"): "docs.coverage_percent",
    ("commands", "ready_share"): "integration.command_readiness_percent",
}

#: The metric of each check above only counts when the check looked at something.
_CHECK_DENOMINATORS: Final = {
    "docstring-accuracy": "functions_checked",
    "docstring-coverage": "total",
    "commands": "total",
}

#: Numeric fields of a ``benchmarks[]`` entry recorded next to those of its ``stats``.
BENCHMARK_TOP_LEVEL: Final = ("ops", "mem_peak_bytes")

#: One line describing the namespace, for error messages.
METRICS_HELP: Final = (
    "pipeline.<pipeline>.score|passed, findings.total, findings.<severity>, "
    "findings.<pipeline>.total|<severity>, coverage.line_percent|branch_percent|percent|"
    "diff_percent, "
    "tests.total|passed|failed|errors|skipped|duration|error_rate, run.duration, "
    "checks.errors, docs.accuracy_percent|coverage_percent, "
    "integration.command_readiness_percent, "
    "resources.peak_rss_bytes|cpu_seconds|io_read_bytes|io_write_bytes|p95_duration, "
    "benchmarks.total|p95_max, benchmark.<name>.<stat> (p95, ops, ...), gate.passed"
)

_ONE_OF = "|".join
#: The namespace as patterns, one per row of the table in the module docstring.
_NAMESPACE: Final = re.compile(
    "|".join(
        (
            rf"pipeline\.(?:{_ONE_OF(PIPELINES)})\.(?:score|passed)",
            rf"findings\.(?:total|{_ONE_OF(SEVERITIES)})",
            rf"findings\.(?:{_ONE_OF(FINDING_PIPELINES)})\.(?:total|{_ONE_OF(SEVERITIES)})",
            r"coverage\.(?:line_percent|branch_percent|percent|diff_percent)",
            r"tests\.(?:total|passed|failed|errors|skipped|duration|error_rate)",
            r"run\.duration|checks\.errors|gate\.passed|benchmarks\.(?:total|p95_max)",
            r"docs\.(?:accuracy_percent|coverage_percent)",
            r"integration\.command_readiness_percent",
            r"resources\.(?:peak_rss_bytes|cpu_seconds|io_read_bytes|io_write_bytes"
            r"|p95_duration)",
            r"benchmark\..+\.[A-Za-z_][A-Za-z0-9_]*",
        )
    )
)

#: Stored metrics an error message lists at most.
LISTED: Final = 20


def is_known(metric: str) -> bool:
    """Return whether ``metric`` belongs to the namespace (stored yet or not)."""
    return _NAMESPACE.fullmatch(metric) is not None


def stored_list(stored: Sequence[str]) -> str:
    """Return ``stored metrics: a, b, ...`` for an error message (at most :data:`LISTED`)."""
    if not stored:
        return "stored metrics: none yet"
    more = f" ... ({len(stored)} in all)" if len(stored) > LISTED else ""
    return "stored metrics: " + ", ".join(stored[:LISTED]) + more


def unknown_metric_message(metric: str, stored: Sequence[str] | None, where: str = "") -> str:
    """Return the one message for a metric outside the namespace (KPIs, alerts, trends).

    ``unknown metric 'X'; stored metrics: a, b, c; metric names: <the namespace>``; without
    a store to read (``stored=None``) the stored part is left out.
    """
    head = f"{where} " if where else ""
    listed = "" if stored is None else f"{stored_list(stored)}; "
    return f"{head}unknown metric {metric!r}; {listed}metric names: {METRICS_HELP}"


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
    _tests_error_rate(out, tests)


def _checks_metrics(out: dict[str, float], checks: Any) -> None:
    """Record ``checks.errors`` and the figures of :data:`CHECK_METRICS`."""
    if not isinstance(checks, list):
        return
    out["checks.errors"] = float(
        sum(1 for c in checks if isinstance(c, dict) and c.get("outcome") == "error")
    )
    for check in checks:
        if isinstance(check, dict) and check.get("outcome") in ("passed", "failed"):
            _check_figures(out, check)


def _check_figures(out: dict[str, float], check: Mapping[str, Any]) -> None:
    """Record the :data:`CHECK_METRICS` of one check that ran and looked at something."""
    checker = check.get("checker")
    figures = check.get("metrics")
    if checker not in _CHECK_DENOMINATORS or not isinstance(figures, dict):
        return
    if not _number(figures.get(_CHECK_DENOMINATORS[checker])):
        return
    for (name, key), metric in CHECK_METRICS.items():
        if name == checker:
            _put(out, metric, figures.get(key))


def _tests_error_rate(out: dict[str, float], tests: Mapping[str, Any]) -> None:
    """Record ``tests.error_rate``: failed + errors over passed + failed + errors, percent."""
    counts = [_number(tests.get(key)) or 0.0 for key in ("passed", "failed", "errors")]
    ran = sum(counts)
    if ran > 0:
        out["tests.error_rate"] = 100.0 * (counts[1] + counts[2]) / ran


def _resource_sum(records: Sequence[Mapping[str, Any]], *keys: str) -> float | None:
    """Return the sum of ``keys`` over ``records``, None when no record holds any of them."""
    values = [_number(r.get(key)) for r in records for key in keys]
    present = [v for v in values if v is not None]
    return math.fsum(present) if present else None


def _resource_records(out: dict[str, float], records: Sequence[Mapping[str, Any]]) -> None:
    """Record the peak RSS, CPU seconds and I/O bytes over ``resources[]`` records."""
    peaks = [_number(r.get("rss_peak")) or _number(r.get("rss_end")) or 0.0 for r in records]
    if max(peaks, default=0.0) > 0:
        out["resources.peak_rss_bytes"] = max(peaks)
    sums = {
        "resources.cpu_seconds": _resource_sum(records, "cpu_user", "cpu_system"),
        "resources.io_read_bytes": _resource_sum(records, "io_read_bytes"),
        "resources.io_write_bytes": _resource_sum(records, "io_write_bytes"),
    }
    for name, value in sums.items():
        _put(out, name, value)


def _resources_metrics(out: dict[str, float], report: Mapping[str, Any]) -> None:
    """Record ``resources.*`` from ``resources[]`` and the resources summary."""
    raw = report.get("resources")
    if isinstance(raw, list):
        _resource_records(out, [r for r in raw if isinstance(r, dict)])
    extensions = report.get("extensions")
    summary = extensions.get("resources_summary") if isinstance(extensions, dict) else None
    if isinstance(summary, dict):
        _put(out, "resources.p95_duration", summary.get("p95_duration"))


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
    p95s = [
        out[f"benchmark.{b['name']}.p95"]
        for b in benchmarks
        if isinstance(b, dict) and f"benchmark.{b.get('name')}.p95" in out
    ]
    if p95s:
        out["benchmarks.p95_max"] = max(p95s)


def extract(report: Mapping[str, Any], *, partial_metrics: bool = False) -> dict[str, float]:
    """Every metric one report gives, name -> value (see the table in the module docstring).

    A partial run (:func:`is_partial`: deselected tests, an early stop...) gives no
    ``tests.*``, ``coverage.*`` and ``resources.*`` metrics unless ``partial_metrics``
    (``[tool.fwmon.history] partial_metrics = true``): its few tests, their coverage and
    their resources are not the suite's figures, and trends, KPIs and SLOs would read them as
    a fall.
    """
    out: dict[str, float] = {}
    whole = partial_metrics or not is_partial(report)
    _pipeline_metrics(out, report)
    _finding_totals(out, report)
    if whole:
        _coverage_metrics(out, report.get("coverage"))
        _tests_metrics(out, report.get("tests"))
        _resources_metrics(out, report)
    _put(out, "run.duration", (report.get("run") or {}).get("duration"))
    _checks_metrics(out, report.get("checks"))
    _benchmark_metrics(out, report.get("benchmarks"))
    verdict = gate_verdict(report)
    if verdict is not None:
        out["gate.passed"] = 1.0 if verdict else 0.0
    return out


def higher_is_better(metric: str) -> bool:
    """Return True when a rise of ``metric`` is an improvement (scores, coverage, throughput).

    ``tests.error_rate`` (no ``_percent`` suffix) and every ``resources.*`` figure are
    lower-is-better.
    """
    return metric.endswith(HIGHER_IS_BETTER_SUFFIXES)


__all__ = [
    "FINDING_PIPELINES",
    "METRICS_HELP",
    "extract",
    "gate_verdict",
    "higher_is_better",
    "is_green",
    "is_known",
    "stored_list",
    "unknown_metric_message",
]
