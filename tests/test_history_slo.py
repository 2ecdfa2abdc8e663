"""SLA figures against hand-computed values on the documented fixture sequence."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.core.errors import ConfigError
from pytest_fwmon.history import open_store
from pytest_fwmon.history.slo import SloResult, SloTargets, compute
from tests.test_history_support import T0, make_report

FIXTURE = Path(__file__).parent / "data" / "history_slo" / "sequence.json"
HOUR = 3600.0


@dataclass
class Run:
    run_id: str
    ts: float
    green: bool
    gate_passed: bool | None


def fixture() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text())
    return data


def fixture_runs() -> list[Run]:
    return [
        Run(r["id"], T0.timestamp() + r["hour"] * HOUR, r["green"], r["gate"])
        for r in fixture()["runs"]
    ]


def check_hand_computed(result: SloResult) -> None:
    """The worked example of docs/reference/trends-and-slo.md, figure by figure."""
    t0 = T0.timestamp()
    assert (result.runs, result.green_runs, result.red_runs) == (10, 7, 3)
    assert result.availability_runs == pytest.approx(70.0)  # 7 / 10
    # green intervals: 0-1, 1-2, 5-6, 6-8, 9-10, 10-12 = 8 h of 12 h
    assert result.green_seconds == 8 * HOUR and result.red_seconds == 4 * HOUR
    assert result.availability_time == pytest.approx(100 * 8 / 12)
    # incidents: opened at 2 (last green 1) closed at 5; opened at 8 (last green 6) closed at 9
    assert [
        (i.opened_ts - t0, i.closed_ts - t0, i.last_green_ts - t0, i.red_runs)  # type: ignore[operator]
        for i in result.incidents
    ] == [(2 * HOUR, 5 * HOUR, 1 * HOUR, 2), (8 * HOUR, 9 * HOUR, 6 * HOUR, 1)]
    assert result.incident_open is False
    assert result.mttr_seconds == pytest.approx(2 * HOUR)  # (3 h + 1 h) / 2
    assert result.mttd_seconds == pytest.approx(1.5 * HOUR)  # (1 h + 2 h) / 2
    assert result.mtbf_seconds == pytest.approx(4 * HOUR)  # 8 h green / 2 incidents
    assert result.gate_pass_rate == pytest.approx(50.0)  # 2 of 4 verdicts passed
    assert result.budget_allowed_runs == pytest.approx(1.0)  # (1 - 0.90) * 10
    assert result.budget_used == pytest.approx(300.0)  # 3 red / 1 allowed
    assert result.budget_remaining == pytest.approx(-200.0)
    burns = {b.window: (b.runs, b.red, b.rate, b.ok) for b in result.burn_rates}
    assert burns[4] == (4, 1, pytest.approx(2.5), False)  # (1/4) / 0.1
    assert burns[10] == (10, 3, pytest.approx(3.0), True)  # (3/10) / 0.1
    verdicts = {c.name: c.ok for c in result.compliance}
    assert verdicts == {
        "availability": False,
        "error_budget_remaining": False,
        "availability_time": False,
        "mttr_hours": False,
        "mtbf_hours": True,
        "mttd_hours": True,
        "gate_pass_rate": True,
        "burn_rate.4": False,
        "burn_rate.10": True,
    }
    assert result.compliant is False


def test_hand_computed_figures() -> None:
    targets = SloTargets.from_config(fixture()["targets"])
    result = compute(list(reversed(fixture_runs())), targets)
    check_hand_computed(result)
    data = result.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["incidents"][0]["repair_seconds"] == 3 * HOUR
    assert result.figure("mttr_hours") == pytest.approx(2.0)
    assert result.figure("burn_rate.4") == pytest.approx(2.5)


def test_hand_computed_figures_from_store(tmp_path: Path) -> None:
    """The same sequence stored as reports: green comes from tests/pipelines/gate verdicts."""
    with open_store(None, tmp_path) as store:
        for run in fixture()["runs"]:
            failed = 0 if run["green"] else 1
            store.add_run(make_report(run["id"], at=run["hour"], failed=failed, gate=run["gate"]))
        store.add_run(make_report("run-dev00001", at=4, branch="dev", failed=1))
        result = compute(
            store.list_runs(branch="main"), SloTargets.from_config(fixture()["targets"])
        )
    check_hand_computed(result)


def test_open_incident_and_leading_red_runs() -> None:
    runs = [
        Run("a", 0, False, None),  # red before any green: no incident
        Run("b", HOUR, True, None),
        Run("c", 2 * HOUR, False, None),
        Run("d", 4 * HOUR, False, None),
    ]
    result = compute(runs, SloTargets(min_runs=4))
    [incident] = result.incidents
    assert (incident.opened_run, incident.closed_run, incident.red_runs) == ("c", None, 2)
    assert result.incident_open is True
    assert result.mttr_seconds is None
    assert result.mttd_seconds == HOUR
    assert result.mtbf_seconds == HOUR  # one green hour, one incident
    assert {c.name: c.ok for c in result.compliance}["availability"] is False


def test_no_runs() -> None:
    result = compute([], SloTargets())
    assert result.availability_runs is None and result.budget_used is None
    # no runs, no verdict: neither "compliant" nor "breached"
    assert result.compliant is None and result.verdict == "insufficient"
    assert result.insufficient == "insufficient data: 0 runs, 20 needed"
    json.dumps(result.to_dict(), allow_nan=False)


def test_window_runs_keeps_newest() -> None:
    targets = SloTargets.from_config({"window_runs": 3})
    result = compute(fixture_runs(), targets)
    assert result.runs == 3 and result.availability_runs == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        pytest.param(
            {"taget": 99},
            "unknown key [tool.fwmon.slo] taget; valid keys: branch, "
            "burn_windows, max_burn_rates, max_mttd_hours, max_mttr_hours, "
            "min_availability_time, min_gate_pass_rate, min_mtbf_hours, min_runs, target, "
            "window_runs",
            id="unknown-key",
        ),
        pytest.param(
            {"target": 100},
            "[tool.fwmon.slo] target must be between 0 and 100 (exclusive), got 100.0",
            id="target-100",
        ),
        pytest.param(
            {"max_mttr_hours": "1h"},
            "[tool.fwmon.slo] max_mttr_hours must be a number >= 0, got '1h'",
            id="not-a-number",
        ),
        pytest.param(
            {"burn_windows": [5]},
            "[tool.fwmon.slo] burn_windows and max_burn_rates must have the same length (1 != 2)",
            id="burn-length",
        ),
        pytest.param(
            {"burn_windows": [0, 5]},
            "[tool.fwmon.slo] burn_windows must be a list of whole numbers > 0",
            id="burn-zero",
        ),
        pytest.param(
            {"window_runs": -1},
            "[tool.fwmon.slo] window_runs must be a whole number >= 0, got -1",
            id="window",
        ),
        pytest.param(
            {"min_runs": 0},
            "[tool.fwmon.slo] min_runs must be a whole number >= 1, got 0",
            id="min-runs",
        ),
    ],
)
def test_bad_targets(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        SloTargets.from_config(section)
    assert info.value.message == message
