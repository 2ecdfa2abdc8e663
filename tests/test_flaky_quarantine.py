"""Quarantine with an expiry, auto-release and the policy guard (issue 17, part 3)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon import cli
from pytest_fwmon.gate import quarantine, run_gate
from pytest_fwmon.history.connect import open_store
from tests.reportcheck import read_report
from tests.test_gate_cli import make_repo
from tests.test_gate_support import make_report

BASE = ["--fwmon", "--fwmon-pipelines", "docs", "--fwmon-no-history", "-p", "no:cacheprovider"]
ENTRY = """version = 1

[[quarantine]]
nodeid = "tests/test_x.py::test_flaky"
owner = "alice"
reason = "races the clock"
expires = "{expires}"
"""
TODAY = dt.date(2026, 12, 3)


def test_an_entry_without_owner_or_expiry_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    no_owner = ["flaky", "quarantine", "t.py::t", "--reason", "r", "--expires", "2099-01-01"]
    no_expiry = ["flaky", "quarantine", "t.py::t", "--reason", "r", "--owner", "bob"]
    assert cli.main(no_owner) == 2
    assert cli.main(no_expiry) == 2
    err = capsys.readouterr().err
    assert "owner is required" in err and "expires is required" in err
    assert "Traceback" not in err
    assert not (tmp_path / quarantine.FILENAME).exists()


def test_quarantine_writes_a_reviewed_file_that_reads_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["flaky", "quarantine", "t.py::test_a", "--owner", "bob", "--reason", 'a "b"']
    assert cli.main([*args, "--expires", "2099-01-31", "--issue", "https://x.invalid/1"]) == 0
    (entry,) = quarantine.load(tmp_path)
    assert (entry.nodeid, entry.owner, entry.reason, entry.expires) == (
        "t.py::test_a",
        "bob",
        'a "b"',
        "2099-01-31",
    )
    assert entry.issue == "https://x.invalid/1"
    assert cli.main([*args, "--expires", "2000-01-01"]) == 2  # in the past


def test_quarantined_tests_run_as_non_strict_xfails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_q="def test_bad():\n    assert False\n\ndef test_good():\n    pass\n")
    (pytester.path / quarantine.FILENAME).write_text(
        ENTRY.replace("tests/test_x.py::test_flaky", "test_q.py::test_bad").format(
            expires="2099-01-01"
        )
        + ENTRY.replace("tests/test_x.py::test_flaky", "test_q.py::test_good")
        .format(expires="2099-01-01")
        .replace("version = 1\n", ""),
        encoding="utf-8",
    )
    result = pytester.runpytest_subprocess(*BASE, "-rxX")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*XFAIL*test_bad*fwmon quarantine: races the clock*"])
    outcomes = result.parseoutcomes()
    assert (outcomes.get("xfailed"), outcomes.get("xpassed")) == (1, 1)
    report = read_report(pytester.path / ".fwmon" / "report.json")
    records = {r["nodeid"]: r for r in report["test_results"]}
    assert records["test_q.py::test_bad"]["quarantined"] is True
    assert records["test_q.py::test_bad"]["outcome"] == "xfailed"


def _gate_root(tmp_path: Path, expires: str) -> Path:
    (tmp_path / "report.json").write_text(json.dumps(make_report()), encoding="utf-8")
    (tmp_path / quarantine.FILENAME).write_text(ENTRY.format(expires=expires), encoding="utf-8")
    return tmp_path


def test_an_expired_entry_blocks_the_gate(tmp_path: Path) -> None:
    root = _gate_root(tmp_path, "2026-12-02")
    result = run_gate(root / "report.json", "default", root=root, today=TODAY)
    assert result.verdict == "blocked"
    assert any("no-expired-quarantine" in r for r in result.reasons)
    assert any("expired on 2026-12-02 (owner alice)" in n for n in result.notes)


def test_an_entry_expiring_today_does_not_block(tmp_path: Path) -> None:
    root = _gate_root(tmp_path, "2026-12-03")
    result = run_gate(root / "report.json", "default", root=root, today=TODAY)
    assert not any("quarantine" in r for r in result.reasons)


def _store_with(path: Path, outcomes: list[str]) -> Path:
    store_path = path / "history.db"
    with open_store(str(store_path), path, create=True) as s:
        for i, outcome in enumerate(outcomes):
            report = make_report()
            report["run"]["id"] = f"run-{i:04d}"
            report["run"]["started"] = f"2026-11-{1 + i:02d}T10:00:00Z"
            report["run"]["finished"] = f"2026-11-{1 + i:02d}T10:00:05Z"
            report["test_results"] = [
                {
                    "nodeid": "tests/test_x.py::test_flaky",
                    "outcome": outcome,
                    "flaky": False,
                    "quarantined": True,
                    "attempts": [{"outcome": outcome, "when": "call", "duration": 0.1}],
                }
            ]
            assert s.add_run(report)
    return store_path


@pytest.mark.parametrize(
    ("outcomes", "released"),
    [
        pytest.param(["xfailed"] + ["xpassed"] * 20, True, id="passed-last-20"),
        pytest.param(["xpassed"] * 19, False, id="only-19-runs"),
        pytest.param(["xpassed"] * 10 + ["xfailed"] + ["xpassed"] * 9, False, id="failed-in-20"),
    ],
)
def test_release_auto_removes_tests_that_passed_their_last_20_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, outcomes: list[str], released: bool
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / quarantine.FILENAME).write_text(ENTRY.format(expires="2099-01-01"), "utf-8")
    store = _store_with(tmp_path, outcomes)
    assert cli.main(["flaky", "release", "--auto", "--store", str(store)]) == 0
    assert (quarantine.load(tmp_path) == []) is released


@pytest.mark.parametrize(
    ("before", "after", "blocked"),
    [
        pytest.param(None, "2099-01-01", True, id="new-entry"),
        pytest.param("2099-01-01", "2099-06-01", True, id="extended"),
        pytest.param("2099-06-01", "2099-01-01", False, id="shortened"),
        pytest.param("2099-01-01", "2099-01-01", False, id="unchanged"),
    ],
)
def test_the_policy_guard_blocks_quarantine_growth(
    tmp_path: Path, before: str | None, after: str, blocked: bool
) -> None:
    base: dict[str, Any] = {"README": "x"}
    if before is not None:
        base[quarantine.FILENAME] = ENTRY.format(expires=before)
    head = {quarantine.FILENAME: ENTRY.format(expires=after), "report.json": make_report()}
    make_repo(tmp_path, base, head)
    result = run_gate(
        tmp_path / "report.json",
        "default",
        base_ref="main",
        root=tmp_path,
        today=TODAY,
        allow_other_commit=True,
    )
    grew = any("quarantine" in r and "policy weakened" in r for r in result.reasons)
    assert grew is blocked
    allowed = run_gate(
        tmp_path / "report.json",
        "default",
        base_ref="main",
        root=tmp_path,
        today=TODAY,
        allow_other_commit=True,
        allow_policy_change=True,
    )
    assert not any("policy weakened" in r for r in allowed.reasons)
