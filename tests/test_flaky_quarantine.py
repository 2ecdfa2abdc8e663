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
from tests.test_gate_cli import git, make_repo
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


# -- the file itself: what is refused, what is written, how growth reads ----------------------


def _entry(nodeid: str = "t.py::a", expires: str = "2026-12-03", **extra: str) -> quarantine.Entry:
    return quarantine.Entry(nodeid, "alice", "flaky", expires, **extra)


def _parse(text: str) -> list[quarantine.Entry]:
    return quarantine.parse(text.encode(), "q.toml")


FULL = """\
[[quarantine]]
nodeid = "t.py::a"
owner = "alice"
reason = "races"
expires = 2026-12-31
issue = "https://x.invalid/1"
added = "2026-12-01"
"""


def test_every_field_reads_back_and_toml_dates_are_accepted() -> None:
    assert _parse(FULL) == [
        quarantine.Entry(
            "t.py::a", "alice", "races", "2026-12-31", "https://x.invalid/1", "2026-12-01"
        )
    ]
    assert _parse("version = 1\n") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("version = 2\n", "q.toml: version must be 1, got 2", id="version"),
        pytest.param(
            'quarantine = "x"\n',
            "q.toml: quarantine must be an array of tables ([[quarantine]])",
            id="not-a-table-array",
        ),
        pytest.param(
            "quarantine = [1]\n",
            "q.toml: quarantine must be an array of tables ([[quarantine]])",
            id="not-tables",
        ),
        pytest.param(
            FULL + 'colour = "red"\n',
            "q.toml entry 1: unknown key 'colour'; valid keys: "
            "['added', 'expires', 'issue', 'nodeid', 'owner', 'reason']",
            id="unknown-key",
        ),
        pytest.param(
            FULL.replace('owner = "alice"', 'owner = "  "'),
            "q.toml entry 1: owner is required (a quarantine needs an owner and expiry)",
            id="blank-owner",
        ),
        pytest.param(
            FULL.replace('reason = "races"\n', ""),
            "q.toml entry 1: reason is required (a quarantine needs an owner and expiry)",
            id="no-reason",
        ),
        pytest.param(
            FULL.replace('nodeid = "t.py::a"', "nodeid = 3"),
            "q.toml entry 1: nodeid is required (a quarantine needs an owner and expiry)",
            id="nodeid-number",
        ),
        pytest.param(
            FULL.replace('owner = "alice"', "owner = 2026-01-01"),
            "q.toml entry 1: owner must be text",
            id="owner-date",
        ),
        pytest.param(
            FULL.replace('nodeid = "t.py::a"', "nodeid = 2026-01-01"),
            "q.toml entry 1: nodeid must be text",
            id="nodeid-date",
        ),
        pytest.param(
            FULL.replace('reason = "races"', "reason = 2026-01-01"),
            "q.toml entry 1: reason must be text",
            id="reason-date",
        ),
        pytest.param(
            FULL.replace('issue = "https://x.invalid/1"', "issue = 17"),
            "q.toml entry 1: issue must be text",
            id="issue-number",
        ),
        pytest.param(
            FULL.replace("expires = 2026-12-31", 'expires = "31.12.2026"'),
            "q.toml entry 1: expires must be a date YYYY-MM-DD, got '31.12.2026'",
            id="expires-format",
        ),
        pytest.param(
            FULL.replace("expires = 2026-12-31", 'expires = "2026-02-30"'),
            "q.toml entry 1: expires is not a real date: '2026-02-30'",
            id="expires-not-real",
        ),
        pytest.param(
            FULL.replace('added = "2026-12-01"', "added = 5"),
            "q.toml entry 1: added must be a date YYYY-MM-DD, got 5",
            id="added-number",
        ),
        pytest.param(
            FULL + "\n" + FULL.replace("races", "other"),
            "q.toml: t.py::a is quarantined twice",
            id="twice",
        ),
        pytest.param(
            FULL + "\n" + FULL.replace("t.py::a", "t.py::b").replace("alice", ""),
            "q.toml entry 2: owner is required (a quarantine needs an owner and expiry)",
            id="second-entry-numbered",
        ),
    ],
)
def test_a_bad_quarantine_file_is_one_line_naming_the_entry(text: str, message: str) -> None:
    with pytest.raises(quarantine.ConfigError) as refused:
        _parse(text)
    assert refused.value.message == message


def test_dump_writes_a_sorted_file_that_reads_back(tmp_path: Path) -> None:
    entries = [
        quarantine.Entry("t.py::b", "bob", 'say "hi" ü', "2027-01-01", added="2026-12-01"),
        _entry("t.py::a", issue="I-1"),
    ]
    path = quarantine.save(tmp_path, entries)
    assert path == tmp_path / "fwmon-quarantine.toml"
    assert path.read_text(encoding="utf-8") == (
        "# Quarantined flaky tests: they run, but their failures do not fail the run.\n"
        "# Reviewed like the policy; an expired entry blocks the gate (fwmon flaky --help).\n"
        "version = 1\n"
        "\n"
        "[[quarantine]]\n"
        'nodeid = "t.py::a"\n'
        'owner = "alice"\n'
        'reason = "flaky"\n'
        'expires = "2026-12-03"\n'
        'issue = "I-1"\n'
        "\n"
        "[[quarantine]]\n"
        'nodeid = "t.py::b"\n'
        'owner = "bob"\n'
        'reason = "say \\"hi\\" ü"\n'
        'expires = "2027-01-01"\n'
        'added = "2026-12-01"\n'
    )
    assert quarantine.load(tmp_path) == sorted(entries, key=lambda e: e.nodeid)


def test_load_without_a_file_is_empty_and_an_unreadable_one_is_one_line(tmp_path: Path) -> None:
    assert quarantine.load(tmp_path) == []
    (tmp_path / quarantine.FILENAME).mkdir()
    with pytest.raises(quarantine.ConfigError) as refused:
        quarantine.load(tmp_path)
    assert refused.value.message == f"cannot read {tmp_path / quarantine.FILENAME}: Is a directory"


def test_an_entry_expires_the_day_after_its_date() -> None:
    entries = [_entry("t.py::a", "2026-12-02"), _entry("t.py::b", "2026-12-03")]
    assert not entries[1].expired(TODAY)
    assert entries[0].expired(TODAY)
    assert quarantine.expired(entries, TODAY) == [entries[0]]
    assert quarantine.expired(entries, TODAY + dt.timedelta(days=1)) == entries


def test_growth_names_new_and_extended_entries_only() -> None:
    before = [_entry("t.py::a", "2026-12-03"), _entry("t.py::b", "2026-12-03")]
    after = [
        _entry("t.py::c", "2027-01-01"),
        _entry("t.py::b", "2026-12-01"),  # shortened
        _entry("t.py::a", "2026-12-04"),
    ]
    assert quarantine.growth(before, after) == [
        "t.py::a quarantine extended from 2026-12-03 to 2026-12-04 (fwmon-quarantine.toml)",
        "t.py::c quarantined until 2027-01-01 (fwmon-quarantine.toml)",
    ]
    assert quarantine.growth(after, after) == []
    assert quarantine.growth(before, before[1:]) == []  # a released entry is no growth


def test_errors_name_the_file_they_are_in(tmp_path: Path) -> None:
    with pytest.raises(quarantine.ConfigError) as refused:
        quarantine.parse(b"version = ", "q.toml")
    assert refused.value.message.startswith("q.toml is not valid TOML: ")
    (tmp_path / quarantine.FILENAME).write_text("version = 2\n", encoding="utf-8")
    with pytest.raises(quarantine.ConfigError) as refused:
        quarantine.load(tmp_path)
    assert refused.value.message == "fwmon-quarantine.toml: version must be 1, got 2"


def test_growth_since_names_the_base_commit_of_a_bad_file(tmp_path: Path) -> None:
    make_repo(
        tmp_path, {quarantine.FILENAME: "version = 3\n"}, {quarantine.FILENAME: "version = 1\n"}
    )
    base = git(tmp_path, "rev-parse", "main").strip()
    with pytest.raises(quarantine.ConfigError) as refused:
        quarantine.growth_since(tmp_path, base)
    assert (
        refused.value.message == f"fwmon-quarantine.toml at {base[:12]}: version must be 1, got 3"
    )
    (tmp_path / quarantine.FILENAME).write_text(ENTRY.format(expires="2099-01-01"), "utf-8")
    new = "tests/test_x.py::test_flaky quarantined until 2099-01-01 (fwmon-quarantine.toml)"
    assert quarantine.growth_since(tmp_path, git(tmp_path, "rev-parse", "HEAD").strip()) == [new]
