"""Prometheus gauges of one run, for the textfile collector or a Pushgateway.

Needs the ``prometheus`` extra (``pip install 'pytest-fwmon[prometheus]'``, prometheus-client);
without it a clear error names the extra. Every gauge carries the labels ``project`` and
``branch`` (``""`` when detached). Gauges (values from :mod:`pytest_fwmon.history.metrics`):

======================================  =============================  ======================
gauge                                   extra labels                   value
======================================  =============================  ======================
``fwmon_run_info``                      ``run_id``, ``sha``            1
``fwmon_run_timestamp_seconds``                                        run start, Unix time
``fwmon_run_duration_seconds``                                         ``run.duration``
``fwmon_run_green``                                                    1 green, 0 red
``fwmon_gate_passed``                                                  1/0 (with a verdict)
``fwmon_pipeline_score``                ``pipeline``                   0-100
``fwmon_pipeline_passed``               ``pipeline``                   1 status pass, else 0
``fwmon_findings``                      ``pipeline``, ``severity``     count
``fwmon_coverage_percent``              ``kind`` (line, branch,        percent
                                        total, diff)
``fwmon_tests``                         ``outcome`` (total, passed,    count
                                        failed, errors, skipped)
``fwmon_tests_duration_seconds``                                       suite duration
``fwmon_tests_error_rate_percent``                                     ``tests.error_rate``
``fwmon_docs_percent``                  ``kind`` (accuracy, coverage)  ``docs.*_percent``
``fwmon_command_readiness_percent``                                    ``integration.command_
                                                                       readiness_percent``
``fwmon_resources_peak_rss_bytes``                                     ``resources.*`` of the
``fwmon_resources_cpu_seconds``                                        same name
``fwmon_resources_io_bytes``            ``direction`` (read, write)    ``resources.io_*``
``fwmon_resources_p95_duration_seconds``                               per-test P95
``fwmon_benchmark_p95_seconds``         ``benchmark``                  P95
``fwmon_benchmark_ops_per_second``      ``benchmark``                  throughput
``fwmon_benchmarks_p95_max_seconds``                                   ``benchmarks.p95_max``
======================================  =============================  ======================

Not exported, deliberately: the totals ``findings.total``, ``findings.<severity>`` and
``findings.<pipeline>.total`` (sums of ``fwmon_findings``, which PromQL's ``sum`` gives),
``benchmarks.total``, ``checks.errors`` and the benchmark statistics other than P95 and ops.

With ``fwmon export prometheus --slo`` the SLO and KPI figures follow, computed by
:mod:`pytest_fwmon.history.figures` exactly as ``fwmon slo``/``fwmon kpis`` and the dashboard
compute them (same branch resolution, minimum sample); they carry the extra label
``figures_branch`` (the branch the figures are over, ``""`` for every run). A figure withheld
for want of runs has no sample (Prometheus' "absent"), ``fwmon_slo_sufficient_data`` says 0:

======================================  =============================  ======================
``fwmon_slo_runs``                                                     runs the figures use
``fwmon_slo_sufficient_data``                                          1 at/above min_runs
``fwmon_slo_availability_percent``                                     green / runs
``fwmon_slo_gate_pass_rate_percent``                                   passed / verdicts
``fwmon_slo_rate_interval_percent``     ``rate``, ``bound`` (low,      95 % Wilson bounds
                                        high)
``fwmon_slo_error_budget_remaining_percent``                           remaining budget
``fwmon_slo_burn_rate``                 ``window``                     burn rate
``fwmon_slo_compliant``                                                1/0 (with a verdict)
``fwmon_kpi_value``                     ``kpi``, ``metric``            KPI value
``fwmon_kpi_achievement_percent``       ``kpi``, ``metric``            achievement
``fwmon_kpi_met``                       ``kpi``, ``metric``            1/0 (with a verdict)
======================================  =============================  ======================

``write_textfile(report, path)`` writes atomically (prometheus-client writes a temp file and
renames it), so node_exporter never reads half a file. ``push(report, url, job="fwmon")``
replaces the group ``job/<job>/branch/<branch>/project/<project>`` on the Pushgateway (HTTP PUT;
``branch`` is ``detached`` without one); there ``project`` and ``branch`` come from that grouping
key instead of the gauges' own labels.
Failures raise :class:`~pytest_fwmon.core.errors.FwmonError` (exit 2) with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from ..core.errors import FwmonError
from .metrics import extract, is_green

Sample = tuple[str, str, dict[str, str], float]

_COVERAGE: Final = {
    "coverage.line_percent": "line",
    "coverage.branch_percent": "branch",
    "coverage.percent": "total",
    "coverage.diff_percent": "diff",
}


def _client() -> Any:
    try:
        import prometheus_client
    except ImportError:
        raise FwmonError(
            "Prometheus export needs prometheus-client",
            hint="pip install 'pytest-fwmon[prometheus]'",
        ) from None
    return prometheus_client


def samples(report: Mapping[str, Any]) -> list[tuple[str, str, dict[str, str], float]]:
    """(gauge, help, labels without project/branch, value) for every gauge of a report."""
    run = report.get("run") or {}
    values = extract(report)
    out: list[tuple[str, str, dict[str, str], float]] = [
        (
            "fwmon_run_info",
            "Run identity",
            {"run_id": str(run.get("id", "")), "sha": str((run.get("git") or {}).get("sha") or "")},
            1.0,
        ),
        (
            "fwmon_run_green",
            "1 when the run is green for SLO purposes",
            {},
            float(is_green(report)),
        ),
    ]
    started = run.get("started")
    if isinstance(started, str):
        from .store import iso_to_ts

        out.append(("fwmon_run_timestamp_seconds", "Start of the run", {}, iso_to_ts(started)))
    for name, value in sorted(values.items()):
        gauge = _gauge(name)
        if gauge is not None:
            out.append((*gauge, value))
    return out


_Gauge = tuple[str, str, dict[str, str]]

#: Metrics with a gauge of their own (no labels, or fixed ones).
_FIXED: Final[dict[str, _Gauge]] = {
    "run.duration": ("fwmon_run_duration_seconds", "Duration of the run", {}),
    "gate.passed": ("fwmon_gate_passed", "1 when the gate passed", {}),
    "tests.error_rate": (
        "fwmon_tests_error_rate_percent",
        "Failed and errored tests over the tests that ran, percent",
        {},
    ),
    "docs.accuracy_percent": ("fwmon_docs_percent", "Documentation figures", {"kind": "accuracy"}),
    "docs.coverage_percent": ("fwmon_docs_percent", "Documentation figures", {"kind": "coverage"}),
    "integration.command_readiness_percent": (
        "fwmon_command_readiness_percent",
        "Console scripts that are ready, percent",
        {},
    ),
    "resources.peak_rss_bytes": (
        "fwmon_resources_peak_rss_bytes",
        "Highest resident set size of any test",
        {},
    ),
    "resources.cpu_seconds": ("fwmon_resources_cpu_seconds", "CPU seconds of the tests", {}),
    "resources.io_read_bytes": (
        "fwmon_resources_io_bytes",
        "Storage bytes the tests read or wrote",
        {"direction": "read"},
    ),
    "resources.io_write_bytes": (
        "fwmon_resources_io_bytes",
        "Storage bytes the tests read or wrote",
        {"direction": "write"},
    ),
    "resources.p95_duration": (
        "fwmon_resources_p95_duration_seconds",
        "P95 of the per-test durations",
        {},
    ),
    "benchmarks.p95_max": (
        "fwmon_benchmarks_p95_max_seconds",
        "Largest benchmark P95 of the run",
        {},
    ),
}


def _pipeline_gauge(name: str, parts: list[str]) -> _Gauge | None:
    """Return the gauge of ``pipeline.<pipeline>.score|passed``."""
    if parts[2] == "score":
        return ("fwmon_pipeline_score", "Pipeline score 0-100", {"pipeline": parts[1]})
    if parts[2] == "passed":
        return ("fwmon_pipeline_passed", "1 when the pipeline passed", {"pipeline": parts[1]})
    return None


def _findings_gauge(name: str, parts: list[str]) -> _Gauge | None:
    """Return the gauge of ``findings.<pipeline>.<severity>`` (totals have none)."""
    if len(parts) != 3 or parts[2] == "total":
        return None
    labels = {"pipeline": parts[1], "severity": parts[2]}
    return ("fwmon_findings", "Findings by pipeline and severity", labels)


def _coverage_gauge(name: str, parts: list[str]) -> _Gauge | None:
    """Return the gauge of a ``coverage.*`` percentage."""
    if name not in _COVERAGE:
        return None
    return ("fwmon_coverage_percent", "Test coverage", {"kind": _COVERAGE[name]})


def _tests_gauge(name: str, parts: list[str]) -> _Gauge:
    """Return the gauge of a ``tests.*`` figure: the suite duration or a count by outcome."""
    if parts[1] == "duration":
        return ("fwmon_tests_duration_seconds", "Duration of the test suite", {})
    return ("fwmon_tests", "Tests by outcome", {"outcome": parts[1]})


def _benchmark_gauge(name: str, parts: list[str]) -> _Gauge | None:
    """Return the gauge of ``benchmark.<name>.p95|ops`` (other statistics have none)."""
    stat = parts[-1]
    if stat not in ("p95", "ops"):
        return None
    labels = {"benchmark": name[len("benchmark.") : -len(stat) - 1]}
    if stat == "p95":
        return ("fwmon_benchmark_p95_seconds", "Benchmark P95 latency", labels)
    return ("fwmon_benchmark_ops_per_second", "Benchmark throughput", labels)


#: Gauge builders by the first part of a metric name.
_BY_PREFIX: Final[dict[str, Callable[[str, list[str]], _Gauge | None]]] = {
    "pipeline": _pipeline_gauge,
    "findings": _findings_gauge,
    "coverage": _coverage_gauge,
    "tests": _tests_gauge,
    "benchmark": _benchmark_gauge,
}


def _gauge(name: str) -> _Gauge | None:
    """Return (gauge, help, labels) of one history metric, or None when it is not exported."""
    if name in _FIXED:
        gauge, text, labels = _FIXED[name]
        return gauge, text, dict(labels)
    parts = name.split(".")
    builder = _BY_PREFIX.get(parts[0])
    return None if builder is None else builder(name, parts)


def _rate_samples(result: Any, scope: dict[str, str]) -> list[Sample]:
    """Return the availability and gate pass rate gauges with their Wilson bounds."""
    out: list[Sample] = []
    for rate, gauge, text in (
        (result.availability, "fwmon_slo_availability_percent", "Green runs of runs"),
        (result.gate_pass, "fwmon_slo_gate_pass_rate_percent", "Passed gate verdicts"),
    ):
        if rate.percent is None:
            continue
        out.append((gauge, text, dict(scope), rate.percent))
        name = "availability" if "availability" in gauge else "gate_pass_rate"
        for bound in ("low", "high"):
            labels = {**scope, "rate": name, "bound": bound}
            value = getattr(rate, bound)
            out.append(("fwmon_slo_rate_interval_percent", "95 % Wilson bound", labels, value))
    return out


def figure_samples(result: Any, kpis: Sequence[Any]) -> list[Sample]:
    """(gauge, help, labels, value) of the SLO result and KPIs (see the module docstring)."""
    scope = {"figures_branch": result.branch or ""}
    out: list[Sample] = [
        ("fwmon_slo_runs", "Runs the SLO figures use", dict(scope), float(result.runs)),
        (
            "fwmon_slo_sufficient_data",
            "1 when the runs reach the minimum sample",
            dict(scope),
            float(result.insufficient is None),
        ),
        *_rate_samples(result, scope),
    ]
    if result.budget_remaining is not None:
        out.append(
            (
                "fwmon_slo_error_budget_remaining_percent",
                "Error budget left",
                dict(scope),
                result.budget_remaining,
            )
        )
    for burn in result.burn_rates:
        if burn.rate is not None:
            labels = {**scope, "window": str(burn.window)}
            out.append(("fwmon_slo_burn_rate", "Error budget burn rate", labels, burn.rate))
    if result.compliant is not None:
        compliant = float(result.compliant)
        out.append(("fwmon_slo_compliant", "1 when compliant", dict(scope), compliant))
    for kpi in kpis:
        labels = {**scope, "kpi": kpi.name, "metric": kpi.metric}
        for gauge, text, value in (
            ("fwmon_kpi_value", "KPI value", kpi.value),
            ("fwmon_kpi_achievement_percent", "KPI achievement", kpi.achievement),
            ("fwmon_kpi_met", "1 when the KPI meets its target", kpi.met),
        ):
            if value is not None:
                out.append((gauge, text, dict(labels), float(value)))
    return out


def registry(
    report: Mapping[str, Any], *, common_labels: bool = True, extra: Sequence[Sample] = ()
) -> Any:
    """Return a prometheus-client CollectorRegistry holding the gauges of ``report``.

    ``common_labels=False`` leaves out ``project`` and ``branch`` (a push's grouping key
    adds them).
    """
    client = _client()
    run = report.get("run") or {}
    common = (
        {
            "project": str(run.get("project", "")),
            "branch": str((run.get("git") or {}).get("branch") or ""),
        }
        if common_labels
        else {}
    )
    reg = client.CollectorRegistry()
    gauges: dict[str, Any] = {}
    for name, help_text, labels, value in [*samples(report), *extra]:
        if name not in gauges:
            gauges[name] = client.Gauge(name, help_text, [*common, *labels], registry=reg)
        gauge = gauges[name]
        (gauge.labels(**common, **labels) if common or labels else gauge).set(value)
    return reg


def write_textfile(report: Mapping[str, Any], path: Path, extra: Sequence[Sample] = ()) -> None:
    """Write the gauges (and ``extra`` samples) for node_exporter's textfile collector."""
    client = _client()
    reg = registry(report, extra=extra)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        client.write_to_textfile(str(path), reg)
    except OSError as exc:
        raise FwmonError(
            f"cannot write Prometheus textfile {path}: {exc.strerror or exc}"
        ) from None


def push(
    report: Mapping[str, Any],
    url: str,
    *,
    job: str = "fwmon",
    timeout: float = 10,
    extra: Sequence[Sample] = (),
) -> None:
    """Replace this project's and branch's group on a Pushgateway with the run's gauges."""
    client = _client()
    run = report.get("run") or {}
    grouping = {
        "project": str(run.get("project", "")) or "unknown",
        "branch": str((run.get("git") or {}).get("branch") or "") or "detached",
    }
    reg = registry(report, common_labels=False, extra=extra)
    try:
        client.push_to_gateway(url, job=job, registry=reg, grouping_key=grouping, timeout=timeout)
    except OSError as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        raise FwmonError(f"cannot push to Pushgateway {url}: {reason}") from None


__all__ = ["figure_samples", "push", "registry", "samples", "write_textfile"]
