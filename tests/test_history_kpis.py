"""KPIs (issue 15): the default set, ``not measured`` without data, and a KPI or alert rule on
a metric that does not exist as a configuration error (exit 2) in the CLI and the dashboard."""

from __future__ import annotations

import http.client
import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.cli import main
from pytest_fwmon.dashboard.data import Dashboard
from pytest_fwmon.dashboard.server import make_server
from pytest_fwmon.dashboard.sources import open_source
from pytest_fwmon.history.kpis import achievement
from pytest_fwmon.history.metrics import METRICS_HELP
from tests.test_history_support import make_check, make_report


def accuracy_check(percent: float) -> dict[str, Any]:
    check = make_check(None, pipeline="docs", checker="docstring-accuracy")
    check["metrics"] = {"accuracy_percent": percent, "functions_checked": 25}
    return check


def history(project: Path, capsys: pytest.CaptureFixture[str], *, perf: bool = True) -> None:
    """40 runs on main: one blocked gate (run 30), security rising, docs accuracy 92 %."""
    reports = [
        make_report(
            f"run-{i:08d}",
            at=i,
            security=80.0 + 0.5 * i,
            gate=i != 30,
            checks=[accuracy_check(92.0)],
            benchmarks={"parse": (0.3, 4.0), "load": (0.01, 100.0)} if perf else None,
        )
        for i in range(40)
    ]
    (project / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in reports))
    assert main(["history", "import", "in.jsonl"]) == 0
    capsys.readouterr()


def kpis_json(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    assert main(["kpis", "--json"]) == 0
    return {k["name"]: k for k in json.loads(capsys.readouterr().out)}


def test_default_kpi_set(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history(project, capsys)
    got = kpis_json(capsys)
    assert list(got) == [
        "framework response time",
        "security score",
        "quality-gate pass rate",
        "availability",
        "documentation accuracy",
    ]
    figures = {
        name: (k["metric"], k["op"], k["target"], k["value"], k["status"])
        for name, k in got.items()
    }
    assert figures == {
        "framework response time": ("benchmarks.p95_max", "lt", 0.5, 0.3, "met"),
        "security score": ("pipeline.security.score", "gt", 90.0, 99.5, "met"),
        "quality-gate pass rate": ("slo.gate_pass_rate", "gt", 98.0, 97.5, "missed"),
        "availability": ("slo.availability", "gt", 99.99, 97.5, "missed"),
        "documentation accuracy": ("docs.accuracy_percent", "gt", 90.0, 92.0, "met"),
    }
    assert got["framework response time"]["achievement"] == pytest.approx(100 * 0.5 / 0.3)
    assert got["documentation accuracy"]["achievement"] == pytest.approx(100 * 92 / 90)
    assert (got["security score"]["trend"], got["security score"]["better"]) == ("up", True)
    assert got["documentation accuracy"]["trend"] == "flat"
    assert all(k["trend"] is not None for k in got.values())


def test_without_perf_tests_response_time_is_not_measured(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history(project, capsys, perf=False)
    response = kpis_json(capsys)["framework response time"]
    assert (response["status"], response["value"], response["met"], response["achievement"]) == (
        "not measured",
        None,
        None,
        None,
    )
    assert main(["kpis"]) == 0
    (row,) = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("framework")]
    assert "not measured" in row and "NO" not in row
    assert main(["dashboard", "build", "-o", "site"]) == 0
    page = (project / "site" / "index.html").read_text()
    (cells,) = re.findall(r"<tr><td>framework response time</td>(.*?)</tr>", page)
    assert "not measured" in cells and "missed" not in cells
    assert api_kpis(project)["framework response time"] == response


def api_kpis(project: Path) -> dict[str, dict[str, Any]]:
    """``GET /api/v1/kpis`` of a real dashboard server on the project's history."""
    srv = make_server(Dashboard(open_source(project)), port=0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        host, port = srv.socket.getsockname()[:2]
        conn = http.client.HTTPConnection(host, port, timeout=30)
        conn.request("GET", "/api/v1/kpis")
        body = json.loads(conn.getresponse().read())
        conn.close()
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)
        srv.app.dash.close()
    return {k["name"]: k for k in body["kpis"]}


KPI_TYPO = (
    '[[tool.fwmon.kpis.kpi]]\nname = "lines"\nmetric = "coverage.lines"\nop = "gt"\ntarget = 80\n'
)


def test_kpi_on_an_unknown_metric_is_a_configuration_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history(project, capsys)
    with (project / "pyproject.toml").open("a") as config:
        config.write(KPI_TYPO)
    assert main(["kpis"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(
        "fwmon: error: [tool.fwmon.kpis] kpi #1 unknown metric 'coverage.lines'; "
        "stored metrics: benchmark.load.iqr, "
    )
    assert " ... (" in err and " in all); metric names: " + METRICS_HELP in err
    assert "\n" not in err
    assert main(["dashboard", "build", "-o", "site"]) == 2
    assert capsys.readouterr().err.strip() == err
    assert not (project / "site" / "index.html").exists()


def test_kpi_on_a_known_metric_without_values_is_not_measured(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history(project, capsys)
    with (project / "pyproject.toml").open("a") as config:
        config.write(
            '[[tool.fwmon.kpis.kpi]]\nname = "readiness"\n'
            'metric = "integration.command_readiness_percent"\nop = "ge"\ntarget = 80\n'
        )
    assert kpis_json(capsys)["readiness"]["status"] == "not measured"


def test_alert_rule_on_an_unknown_metric_is_a_configuration_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history(project, capsys)
    with (project / "pyproject.toml").open("a") as config:
        config.write(
            '[[tool.fwmon.alerts.rules]]\nname = "Lines"\nseverity = "high"\n'
            'metric = "coverage.lines"\nop = "lt"\nthreshold = 80\n'
        )
    assert main(["alerts", "evaluate"]) == 2
    assert capsys.readouterr().err.strip() == (
        "fwmon: error: [[tool.fwmon.alerts.rules]] 'Lines' metric: unknown metric "
        f"'coverage.lines'; metric names: {METRICS_HELP}"
    )


@pytest.mark.parametrize(
    ("value", "op", "target", "expected"),
    [
        (95.0, "gt", 90.0, 95.0 / 90.0 * 100),
        (0.25, "lt", 0.5, 200.0),
        (4.3e-7, "lt", 0.5, 1000.0),  # 0.43 µs against 500 ms: capped, not 116,279,070 %
        (0.05, "le", 0.5, 1000.0),  # exactly ten times better: the cap itself
        (1e6, "ge", 1.0, 1000.0),
        (0.0, "lt", 0.5, None),
        (0.0, "gt", 0.0, 100.0),
    ],
)
def test_achievement_is_capped_at_ten_times_the_target(
    value: float, op: str, target: float, expected: float | None
) -> None:
    got = achievement(value, op, target)
    assert got == (None if expected is None else pytest.approx(expected))
