"""The history metrics issue 15 added: read from a real report, absent when not measured,
exported to Prometheus, and usable by trends, KPIs and alert rules.

``tests/data/history_metrics/example-report.json`` is the report of a real run of the bundled
example project (``fwmon example``'s project, ``pytest --fwmon --fwmon-resources``), with the
benchmark's raw samples cut to 20 to keep the file small.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.cli import main
from pytest_fwmon.core.schema import first_error
from pytest_fwmon.dashboard import fmt
from pytest_fwmon.history.metrics import extract, higher_is_better, is_known
from pytest_fwmon.history.prometheus import samples
from tests.test_history_support import make_check, make_report

EXAMPLE = Path(__file__).parent / "data" / "history_metrics" / "example-report.json"

NEW_METRICS = (
    "docs.accuracy_percent",
    "docs.coverage_percent",
    "integration.command_readiness_percent",
    "tests.error_rate",
    "resources.peak_rss_bytes",
    "resources.cpu_seconds",
    "resources.io_read_bytes",
    "resources.io_write_bytes",
    "resources.p95_duration",
    "benchmarks.p95_max",
)


def example() -> dict[str, Any]:
    report: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return report


def check_metrics(report: dict[str, Any], checker: str) -> dict[str, Any]:
    (check,) = [c for c in report["checks"] if c["checker"] == checker]
    figures: dict[str, Any] = check["metrics"]
    return figures


def test_the_example_report_is_a_valid_report() -> None:
    assert first_error("report", example()) is None


def test_new_metrics_from_a_real_report() -> None:
    report = example()
    values = extract(report)
    resources = report["resources"]
    assert len(resources) > 10  # every measured item, fwmon's and the tests'
    assert values["docs.accuracy_percent"] == 100.0
    assert (
        values["docs.accuracy_percent"]
        == check_metrics(report, "docstring-accuracy")["accuracy_percent"]
    )
    assert values["docs.coverage_percent"] == 100.0
    readiness = check_metrics(report, "commands")
    assert (readiness["total"], readiness["ready_share"]) == (1, 100.0)
    assert values["integration.command_readiness_percent"] == 100.0
    assert values["tests.error_rate"] == 0.0  # 4 tests passed
    assert values["resources.peak_rss_bytes"] == max(r["rss_peak"] for r in resources)
    assert values["resources.cpu_seconds"] == pytest.approx(
        math.fsum(r["cpu_user"] + r["cpu_system"] for r in resources)
    )
    assert values["resources.io_read_bytes"] == sum(r["io_read_bytes"] for r in resources)
    assert values["resources.io_write_bytes"] == sum(r["io_write_bytes"] for r in resources)
    summary = report["extensions"]["resources_summary"]
    assert values["resources.p95_duration"] == summary["p95_duration"]
    (bench,) = report["benchmarks"]
    name = bench["name"]
    assert values[f"benchmark.{name}.p95"] == bench["stats"]["p95"]
    assert values[f"benchmark.{name}.ops"] == bench["ops"]
    assert values["benchmarks.p95_max"] == bench["stats"]["p95"]
    assert all(is_known(metric) for metric in values)


def test_error_rate_is_failed_and_errors_over_tests_that_ran() -> None:
    values = extract(make_report(failed=3, errors=1))  # 120 tests
    assert values["tests.error_rate"] == pytest.approx(100 * 4 / 120)


def test_p95_max_is_the_largest_benchmark_p95() -> None:
    values = extract(make_report(benchmarks={"a": (0.004, 250.0), "b": (0.2, 5.0)}))
    assert values["benchmarks.p95_max"] == 0.2


def _accuracy(checked: int, percent: float, outcome: str = "passed") -> dict[str, Any]:
    check = make_check(None, pipeline="docs", checker="docstring-accuracy", outcome=outcome)
    check["metrics"] = {"accuracy_percent": percent, "functions_checked": checked}
    return check


def _resource(**figures: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "nodeid": "tests/test_a.py::test_a",
        "outcome": "passed",
        "wall": 0.5,
        "cpu_user": 0.25,
        "cpu_system": 0.125,
        "rss_start": 1000,
        "rss_end": 3000,
        "rss_peak": 5000,
        "peak_method": "vmhwm",
        "io_read_bytes": 512,
        "io_write_bytes": 1024,
    }
    record.update(figures)
    return record


def _no_tests(report: dict[str, Any]) -> dict[str, Any]:
    report["tests"].update(total=0, passed=0, failed=0, errors=0)
    return report


def _partial(report: dict[str, Any]) -> dict[str, Any]:
    report["run"]["selection"] = {"partial": True, "reasons": ["5 test(s) deselected"]}
    return report


@pytest.mark.parametrize(
    ("report", "absent"),
    [
        pytest.param(
            make_report(),
            tuple(m for m in NEW_METRICS if m != "tests.error_rate"),
            id="nothing-measured",
        ),
        pytest.param(_no_tests(make_report()), ("tests.error_rate",), id="no-test-ran"),
        pytest.param(
            make_report(checks=[_accuracy(0, 100.0)]),
            ("docs.accuracy_percent",),
            id="accuracy-of-no-function",
        ),
        pytest.param(
            make_report(checks=[_accuracy(5, 80.0, outcome="error")]),
            ("docs.accuracy_percent",),
            id="accuracy-check-errored",
        ),
        pytest.param(
            make_report(resources=[_resource(io_read_bytes=None, io_write_bytes=None)]),
            ("resources.io_read_bytes", "resources.io_write_bytes"),
            id="os-without-io-counters",
        ),
        pytest.param(
            _partial(make_report(resources=[_resource()], failed=2)),
            ("resources.peak_rss_bytes", "resources.cpu_seconds", "tests.error_rate"),
            id="partial-run",
        ),
    ],
)
def test_a_figure_the_report_does_not_hold_is_absent_not_zero(
    report: dict[str, Any], absent: tuple[str, ...]
) -> None:
    values = extract(report)
    assert [name for name in absent if name in values] == []


def test_resources_of_a_run_are_peak_and_sums() -> None:
    report = make_report(resources=[_resource(), _resource(rss_peak=None, rss_end=9000)])
    values = extract(report)
    assert values["resources.peak_rss_bytes"] == 9000.0  # rss_end where no peak was read
    assert values["resources.cpu_seconds"] == 0.75
    assert (values["resources.io_read_bytes"], values["resources.io_write_bytes"]) == (
        1024.0,
        2048.0,
    )
    assert extract(make_report(checks=[_accuracy(4, 75.0)]))["docs.accuracy_percent"] == 75.0


@pytest.mark.parametrize(
    ("metric", "higher"),
    [
        pytest.param("docs.accuracy_percent", True, id="accuracy"),
        pytest.param("docs.coverage_percent", True, id="docstring-coverage"),
        pytest.param("integration.command_readiness_percent", True, id="readiness"),
        pytest.param("tests.error_rate", False, id="error-rate"),
        pytest.param("resources.peak_rss_bytes", False, id="rss"),
        pytest.param("resources.cpu_seconds", False, id="cpu"),
        pytest.param("resources.io_write_bytes", False, id="io"),
        pytest.param("resources.p95_duration", False, id="test-p95"),
        pytest.param("benchmarks.p95_max", False, id="p95-max"),
        pytest.param("benchmark.parse.ops", True, id="ops"),
    ],
)
def test_direction_of_each_new_metric(metric: str, higher: bool) -> None:
    assert higher_is_better(metric) is higher


@pytest.mark.parametrize(
    ("metric", "known"),
    [
        pytest.param("pipeline.security.score", True, id="score"),
        pytest.param("pipeline.securty.score", False, id="typo-pipeline"),
        pytest.param("coverage.lines", False, id="typo-coverage"),
        pytest.param("benchmark.test_parse[utf-8].p95", True, id="benchmark-brackets"),
        pytest.param("benchmark.p95", False, id="benchmark-without-name"),
        pytest.param("findings.docs.high", True, id="findings"),
        pytest.param("findings.performance.high", False, id="findings-of-no-finding-pipeline"),
        pytest.param("slo.availability", False, id="slo-is-not-a-history-metric"),
        pytest.param("tests.error_rate", True, id="error-rate"),
    ],
)
def test_namespace(metric: str, known: bool) -> None:
    assert is_known(metric) is known


@pytest.mark.parametrize(
    ("metric", "number", "shown"),
    [
        pytest.param("tests.error_rate", 2.5, "percent", id="error-rate"),
        pytest.param("docs.accuracy_percent", 92.0, "percent", id="accuracy"),
        pytest.param("resources.peak_rss_bytes", 73056256.0, "bytes", id="rss"),
        pytest.param("resources.io_read_bytes", 512.0, "bytes", id="io"),
        pytest.param("resources.cpu_seconds", 1.5, "seconds", id="cpu"),
        pytest.param("resources.p95_duration", 0.8, "seconds", id="test-p95"),
        pytest.param("benchmarks.p95_max", 0.3, "seconds", id="p95-max"),
    ],
)
def test_the_dashboard_shows_each_new_metric_in_its_unit(
    metric: str, number: float, shown: str
) -> None:
    assert fmt.kind(metric) == shown
    formatter = {"percent": fmt.percent, "bytes": fmt.size, "seconds": fmt.duration}[shown]
    assert fmt.value(metric, number) == formatter(number)


def test_new_metrics_are_exported_to_prometheus() -> None:
    got = {
        (name, tuple(sorted(labels.items()))): value
        for name, _, labels, value in samples(example())
    }
    values = extract(example())
    assert got[("fwmon_docs_percent", (("kind", "accuracy"),))] == 100.0
    assert got[("fwmon_docs_percent", (("kind", "coverage"),))] == 100.0
    assert got[("fwmon_command_readiness_percent", ())] == 100.0
    assert got[("fwmon_tests_error_rate_percent", ())] == 0.0
    assert ("fwmon_tests", (("outcome", "error_rate"),)) not in got
    assert got[("fwmon_resources_peak_rss_bytes", ())] == values["resources.peak_rss_bytes"]
    assert got[("fwmon_resources_cpu_seconds", ())] == values["resources.cpu_seconds"]
    assert (
        got[("fwmon_resources_io_bytes", (("direction", "write"),))]
        == values["resources.io_write_bytes"]
    )
    assert got[("fwmon_benchmarks_p95_max_seconds", ())] == values["benchmarks.p95_max"]


def _runs(tmp_path: Path) -> Path:
    """Ten runs whose error rate and documentation accuracy move, as JSONL."""
    lines = []
    for i in range(10):
        report = make_report(f"run-{i:08d}", at=i, failed=i, checks=[_accuracy(10, 100.0 - i)])
        lines.append(json.dumps(report) + "\n")
    path = tmp_path / "runs.jsonl"
    path.write_text("".join(lines))
    return path


def test_new_metrics_are_trendable_kpi_able_and_alertable(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history", "import", str(_runs(project))]) == 0
    capsys.readouterr()
    assert main(["trends", "--metric", "tests.error_rate", "--json"]) == 0
    (trend,) = json.loads(capsys.readouterr().out)
    assert (trend["n"], trend["direction"], trend["verdict"]) == (10, "up", "worse")
    with (project / "pyproject.toml").open("a") as config:
        config.write(
            '[[tool.fwmon.kpis.kpi]]\nname = "errors"\nmetric = "tests.error_rate"\n'
            'op = "lt"\ntarget = 1\n'
            "[tool.fwmon.alerts]\n"
            'disable_builtin = ["SloBurnRate", "BenchmarkP95ChangePoint", '
            '"CoverageBelowTarget"]\n'
            '[[tool.fwmon.alerts.rules]]\nname = "DocsInaccurate"\nseverity = "high"\n'
            'metric = "docs.accuracy_percent"\nop = "lt"\nthreshold = 95\n'
        )
    assert main(["kpis", "--json"]) == 0
    (kpi,) = json.loads(capsys.readouterr().out)
    assert (kpi["value"], kpi["status"], kpi["trend"]) == (
        pytest.approx(100 * 9 / 120),
        "missed",
        "up",
    )
    assert main(["alerts", "evaluate", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    firing = {(t["alertname"], t["labels"].get("metric"), t["to"]) for t in summary["transitions"]}
    assert ("DocsInaccurate", "docs.accuracy_percent", "firing") in firing  # 91 % < 95 %
