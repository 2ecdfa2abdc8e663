"""Acceptance 2: fingerprints survive line shifts, duplicates are counted; baselines, waivers."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_fwmon.core.errors import ConfigError
from pytest_fwmon.core.model import Finding, assign_fingerprints
from pytest_fwmon.gate import cli, run_gate
from pytest_fwmon.gate.baseline import (
    build_baseline,
    classify,
    dumps_baseline,
    parse_baseline,
)
from tests.test_gate_support import POLICY_NEW_HIGH, baseline_of, finding, make_report

DATA = Path(__file__).parent / "data" / "gate_shift"
BANDIT = Path(sys.executable).with_name("bandit")
TODAY = dt.date(2024, 6, 1)


def bandit_findings(root: Path, relpath: str) -> list[dict[str, Any]]:
    """Run the real bandit on one file and turn its JSON into fingerprinted findings."""
    done = subprocess.run(
        [str(BANDIT), "-q", "-f", "json", relpath],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    results = json.loads(done.stdout)["results"]
    findings = [
        Finding(
            fingerprint="",
            pipeline="security",
            checker="bandit",
            rule=r["test_id"],
            severity=r["issue_severity"].lower(),
            confidence=r["issue_confidence"].lower(),
            path=relpath,
            line=r["line_number"],
            end_line=max(r["line_range"]),
            col=r["col_offset"] + 1,
            message=r["issue_text"],
            cwe=r["issue_cwe"]["id"],
            rule_name=r["test_name"],
            help_url=r["more_info"],
        )
        for r in results
    ]
    lines = (root / relpath).read_text(encoding="utf-8").splitlines()
    assign_fingerprints(findings, lines)
    return [f.to_dict() for f in findings]


@pytest.fixture
def shifted(tmp_path: Path) -> dict[str, Path]:
    """Reports of the fixture before and after: code inserted above, a duplicate added."""
    paths = {}
    for name in ("before", "after"):
        root = tmp_path / name
        shutil.copytree(DATA / name, root)
        findings = bandit_findings(root, "app.py")
        report = make_report(findings)
        paths[name] = root / "report.json"
        paths[name].write_text(json.dumps(report), encoding="utf-8")
    (tmp_path / "policy.toml").write_text(POLICY_NEW_HIGH, encoding="utf-8")
    paths["policy"] = tmp_path / "policy.toml"
    paths["baseline"] = tmp_path / "fwmon-baseline.json"
    return paths


def test_fingerprint_survives_code_inserted_above_and_duplicate_is_new(
    shifted: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    before = json.loads(shifted["before"].read_text())["checks"][0]["findings"]
    after = json.loads(shifted["after"].read_text())["checks"][0]["findings"]
    b602_before = [f for f in before if f["rule"] == "B602"]
    b602_after = [f for f in after if f["rule"] == "B602"]
    assert [f["line"] for f in b602_before] == [8]
    assert [f["line"] for f in b602_after] == [16, 21]
    # the moved finding keeps its fingerprint; the identical copy gets another one
    assert b602_after[0]["fingerprint"] == b602_before[0]["fingerprint"]
    assert b602_after[1]["fingerprint"] != b602_before[0]["fingerprint"]

    root = shifted["baseline"].parent
    args = ["write", str(shifted["before"]), "--baseline", str(shifted["baseline"])]
    assert _baseline_cli(args) == 0
    capsys.readouterr()
    result = run_gate(
        shifted["after"], shifted["policy"], shifted["baseline"], root=root, today=TODAY
    )
    c = result.classification
    assert [(f["rule"], f["line"]) for f in c.baselined] == [("B404", 3), ("B602", 16)]
    assert [(f["rule"], f["line"]) for f in c.new] == [("B602", 21)]
    assert result.verdict == "blocked"
    assert result.reasons == [
        "condition no-new-high failed: findings.high_or_worse (new) is 1, must be le 0"
    ]


def test_bandit_own_baseline_loses_the_duplicate(shifted: dict[str, Path]) -> None:
    """Measured: ``bandit -b`` reports nothing for the second identical B602."""
    before, after = shifted["before"].parent, shifted["after"].parent
    base = before / "bandit-baseline.json"
    subprocess.run(
        [str(BANDIT), "-q", "-f", "json", "-o", str(base), "app.py"], cwd=before, check=False
    )
    done = subprocess.run(
        [str(BANDIT), "-q", "-f", "json", "-b", str(base), "app.py"],
        cwd=after,
        capture_output=True,
        text=True,
        check=False,
    )
    results = json.loads(done.stdout)["results"]
    assert [r["test_id"] for r in results if r["test_id"] == "B602"] == []
    assert done.returncode == 0  # bandit passes; fwmon's gate blocks the same change


def _baseline_cli(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="fwmon")
    cli.register(parser.add_subparsers())
    args = parser.parse_args(["baseline", *argv])
    return int(args.func(args))


def test_duplicates_are_counted() -> None:
    one = finding("B602", "a.py", 3)
    copy = dict(one)  # same fingerprint twice (e.g. a whole-file finding reported twice)
    baseline = parse_baseline(json.dumps(baseline_of([one])).encode(), "b.json")
    c = classify([dict(one), copy], baseline, TODAY)
    assert len(c.baselined) == 1
    assert len(c.new) == 1
    doc = build_baseline([one, copy], tool="t", generated="g")
    assert doc["entries"][0]["count"] == 2
    c = classify([dict(one), dict(one)], parse_baseline(dumps_baseline(doc).encode(), "b"), TODAY)
    assert (len(c.baselined), len(c.new), c.stale) == (2, 0, 0)
    c = classify([dict(one)], parse_baseline(dumps_baseline(doc).encode(), "b"), TODAY)
    assert c.stale_entries == [(one["fingerprint"], 1, doc["entries"][0])]


def test_waivers_expire_and_go_stale() -> None:
    a = finding("B602", "pkg/a.py", 3)
    b = finding("D103", "legacy/old.py", 9, pipeline="docs", checker="pydocstyle")
    waivers = [
        {"fingerprint": a["fingerprint"], "reason": "r", "owner": "o", "expires": "2024-06-01"},
        {
            "rule": "D103",
            "path": "legacy/*.py",
            "reason": "r",
            "owner": "o",
            "expires": "2024-05-31",
        },
        {"rule": "B101", "path": "*", "reason": "r", "owner": "o", "expires": "2099-01-01"},
    ]
    baseline = parse_baseline(json.dumps(baseline_of([], waivers)).encode(), "b")
    c = classify([dict(a), dict(b)], baseline, TODAY)
    assert [f["rule"] for f in c.waived] == ["B602"]  # valid through its expiry day
    assert [f["rule"] for f in c.new] == ["D103"]  # expired the day before
    assert [(w.index, n) for w, n in c.expired_waivers] == [(1, 1)]
    assert [w.index for w in c.stale_waivers] == [2]
    assert c.waived_by[a["fingerprint"]].owner == "o"
    c = classify([dict(a), dict(b)], baseline, TODAY + dt.timedelta(days=1))
    assert [f["rule"] for f in c.new] == ["B602", "D103"]


def test_suppressed_findings_stay_suppressed_and_statuses_are_rejudged() -> None:
    s = finding("B602", "a.py", 3, status="suppressed")
    old = finding("B603", "a.py", 4, status="baselined")  # the plugin's word is not final
    c = classify([s, old], None, TODAY)
    assert c.suppressed == [s]
    assert c.new == [old]
    assert old["status"] == "new"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        pytest.param(b"\xff\xfe", "not valid JSON", id="bytes"),
        pytest.param(b"[]", "the top level must be a JSON object", id="array"),
        pytest.param(b'{"schema_version": 2}', "schema_version is 2", id="version"),
        pytest.param(b'{"schema_version": true}', "schema_version is True", id="bool-version"),
        pytest.param(b'{"schema_version": 1, "x": 1}', "unknown key 'x'", id="key"),
        pytest.param(
            b'{"schema_version": 1, "entries": [{"fingerprint": "short"}]}',
            "entries[0]: fingerprint must be a string of 8+ characters",
            id="short-fingerprint",
        ),
        pytest.param(
            b'{"schema_version": 1, "entries": [{"fingerprint": "abcdefgh", "count": 0}]}',
            "entries[0]: count must be a whole number of at least 1",
            id="count",
        ),
        pytest.param(
            b'{"schema_version": 1, "entries": [{"fingerprint": "abcdefgh", "line": true}]}',
            "entries[0]: line must be a whole number >= 0",
            id="line",
        ),
        pytest.param(
            b'{"schema_version": 1, "entries": [{"fingerprint": "abcdefgh", "rule": 1}]}',
            "entries[0]: rule must be a string",
            id="rule",
        ),
        pytest.param(
            b'{"schema_version": 1, "waivers": [{"rule": "B1", "reason": "r", "owner": "o",'
            b' "expires": "2024-01-01"}]}',
            "waivers[0]: give a fingerprint, or both rule and path",
            id="waiver-target",
        ),
        pytest.param(
            b'{"schema_version": 1, "waivers": [{"fingerprint": "abcdefgh", "reason": "r",'
            b' "owner": "o", "expires": "soon"}]}',
            "waivers[0]: expires must be a date like 2025-12-31, got 'soon'",
            id="waiver-date",
        ),
        pytest.param(
            b'{"schema_version": 1, "waivers": [{"fingerprint": "abcdefgh", "reason": " ",'
            b' "owner": "o", "expires": "2024-01-01"}]}',
            "waivers[0]: reason must be a non-empty string",
            id="waiver-reason",
        ),
    ],
)
def test_invalid_baselines(document: bytes, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_baseline(document, "b.json")
    assert info.value.message.startswith("baseline b.json: ")
    assert message in info.value.message


def test_baseline_write_prune_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = finding("B602", "a.py", 3)
    b = finding("B603", "a.py", 7)
    report = tmp_path / "report.json"
    report.write_text(json.dumps(make_report([dict(a), dict(b)])), encoding="utf-8")
    base = tmp_path / "fwmon-baseline.json"
    assert _baseline_cli(["write", str(report), "--baseline", str(base)]) == 0
    assert capsys.readouterr().out == f"fwmon baseline: wrote {base}: 2 entries, 0 waivers\n"
    written = json.loads(base.read_text())
    assert [e["rule"] for e in written["entries"]] == ["B602", "B603"]
    assert len(base.read_text().splitlines()) == 10  # one line per entry, reviewable diffs
    assert base.stat().st_mode & 0o044  # readable by others, like any committed file
    assert _baseline_cli(["check", str(report), "--baseline", str(base)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "fwmon baseline: ok"
    # b gets fixed, c appears: check reports the stale entry, prune drops it and adds nothing
    c = finding("B604", "a.py", 9)
    report.write_text(json.dumps(make_report([dict(a), dict(c)])), encoding="utf-8")
    assert _baseline_cli(["check", str(report), "--baseline", str(base)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert f"stale: entry {b['fingerprint']} (B603 a.py:7) matches nothing" in out
    assert out[-1] == (
        "fwmon baseline: 1 problem; drop stale items with `fwmon baseline write --prune`, "
        "renew or remove expired waivers"
    )
    assert _baseline_cli(["write", str(report), "--baseline", str(base), "--prune"]) == 0
    assert capsys.readouterr().out == (
        f"fwmon baseline: wrote {base}: 1 entries, 0 waivers; dropped 1 stale; "
        "1 new findings not added (--prune)\n"
    )
    assert [e["rule"] for e in json.loads(base.read_text())["entries"]] == ["B602"]


def test_baseline_write_keeps_waivers(tmp_path: Path) -> None:
    a = finding("B602", "a.py", 3)
    report = tmp_path / "report.json"
    report.write_text(json.dumps(make_report([dict(a)])), encoding="utf-8")
    base = tmp_path / "b.json"
    waiver = {
        "fingerprint": a["fingerprint"],
        "reason": "vendored",
        "owner": "ops",
        "expires": "2099-12-31",
    }
    base.write_text(json.dumps(baseline_of([], [waiver])), encoding="utf-8")
    assert _baseline_cli(["write", str(report), "--baseline", str(base)]) == 0
    written = json.loads(base.read_text())
    assert written["waivers"] == [waiver]
    assert written["entries"] == []  # the waived finding is not baselined as well


def test_prune_needs_a_baseline(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text(json.dumps(make_report([])), encoding="utf-8")
    with pytest.raises(ConfigError, match="--prune needs an existing baseline"):
        _baseline_cli(["write", str(report), "--baseline", str(tmp_path / "no.json"), "--prune"])


_STATUSES = ["new", "baselined", "waived", "suppressed"]


@settings(max_examples=300, deadline=None)
@given(
    statuses=st.lists(st.sampled_from(_STATUSES), max_size=30),
    prints=st.lists(st.sampled_from(["a" * 8, "b" * 8, "c" * 8]), min_size=30, max_size=30),
    counts=st.dictionaries(st.sampled_from(["a" * 8, "b" * 8, "d" * 8]), st.integers(1, 3)),
)
def test_classify_without_waivers_matches_the_general_path(
    statuses: list[str], prints: list[str], counts: dict[str, int]
) -> None:
    """The no-waiver shortcut of classify() sorts and counts exactly like the general loop.

    The general loop runs when any waiver exists: an expired waiver that matches nothing
    leaves every finding's status as it would be without it.
    """
    entries = [{"fingerprint": fp, "count": n} for fp, n in counts.items()]
    never = {"fingerprint": "z" * 8, "reason": "r", "owner": "o", "expires": "2000-01-01"}

    def run(waivers: list[dict[str, Any]]) -> tuple[Any, ...]:
        document = {"schema_version": 1, "entries": entries, "waivers": waivers}
        baseline = parse_baseline(json.dumps(document).encode(), "b")
        found = [
            {"fingerprint": fp, "status": status, "rule": "R", "path": "p"}
            for status, fp in zip(statuses, prints, strict=False)
        ]
        result = classify(found, baseline, TODAY)
        return (
            [f["status"] for f in found],
            [[f["fingerprint"] for f in group] for group in (result.new, result.baselined)],
            len(result.suppressed),
            sorted(result.stale_entries, key=lambda e: e[0]),
        )

    assert run([]) == run([never])
