"""Attempt-level truth: pytest-rerunfailures' attempts in the report, flaky counted (issue 17)."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_fwmon.gate.metrics import Metrics
from tests.reportcheck import read_report
from tests.test_gate_support import make_report

MODES = [pytest.param([], id="serial"), pytest.param(["-n", "2"], id="xdist")]
BASE = ["--fwmon", "--fwmon-pipelines", "docs", "--fwmon-no-history", "-p", "no:cacheprovider"]

#: One test that fails on its first attempt only, one that always fails, one that passes.
TESTS = """
from pathlib import Path

MARK = Path(__file__).with_name("first-attempt-done")


def test_once_then_ok():
    if not MARK.exists():
        MARK.write_text("x")
        raise AssertionError("first attempt fails")


def test_always_fails():
    assert False


def test_fine():
    pass
"""


def _results(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["nodeid"]: r for r in report["test_results"]}


@pytest.mark.parametrize("mode", MODES)
def test_every_attempt_is_in_the_report_and_flaky_is_counted(
    pytester: pytest.Pytester, mode: list[str]
) -> None:
    pytester.makepyfile(test_mix=TESTS)
    result = pytester.runpytest_subprocess(*BASE, "--fwmon-reruns", "2", *mode)
    result.stdout.fnmatch_lines(
        ["*fwmon: 1 flaky test(s)*", "*FLAKY test_mix.py::test_once_then_ok (passed on attempt 2)*"]
    )
    report = read_report(pytester.path / ".fwmon" / "report.json")
    tests = report["tests"]
    assert (tests["total"], tests["passed"], tests["flaky"], tests["failed"]) == (3, 1, 1, 1)
    results = _results(report)
    flaky = results["test_mix.py::test_once_then_ok"]
    assert flaky["flaky"] is True
    assert [a["outcome"] for a in flaky["attempts"]] == ["failed", "passed"]
    broken = results["test_mix.py::test_always_fails"]
    assert broken["flaky"] is False
    assert [a["outcome"] for a in broken["attempts"]] == ["failed"] * 3
    assert [a["outcome"] for a in results["test_mix.py::test_fine"]["attempts"]] == ["passed"]
    assert Metrics(report, {}).value("tests.flaky") == (1, "")


def test_without_reruns_a_failure_is_a_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mix=TESTS)
    result = pytester.runpytest_subprocess(*BASE)
    assert result.parseoutcomes()["failed"] == 2
    assert "flaky" not in result.stdout.str()
    report = read_report(pytester.path / ".fwmon" / "report.json")
    assert report["tests"]["flaky"] == 0
    assert not any(r["flaky"] for r in report["test_results"])


def test_rerunfailures_own_option_works_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mix=TESTS)
    pytester.runpytest_subprocess(*BASE, "--reruns", "1")
    report = read_report(pytester.path / ".fwmon" / "report.json")
    assert report["tests"]["flaky"] == 1


def test_an_old_report_has_no_flaky_metric_and_reads_as_zero() -> None:
    report = make_report(
        [],
        tests={
            "total": 2,
            "passed": 2,
            "failed": 0,
            "errors": 0,
            "skipped": 0,
            "xfailed": 0,
            "xpassed": 0,
            "duration": 1.0,
        },
    )
    assert "flaky" not in report["tests"]  # a valid report of a version before the field
    assert Metrics(report, {}).value("tests.flaky") == (0, "")
