"""Issue 22: what one gate evaluation hands back, field by field.

gate-result.json (``GateResult.to_dict``) names the report, its run and commit, the diff and
every pipeline's status; stale baseline items and expired waivers are listed and explained;
the policy guard names what it compared the policy with (the default preset when the merge
base had no policy); required pipelines that did not run are exit 3 with their reason; dates
are UTC whatever the machine's time zone. Each assertion here is on a value a user reads.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.core.errors import ReportError
from pytest_fwmon.gate import evaluate, run_gate
from pytest_fwmon.gate.baseline import parse_baseline
from pytest_fwmon.gate.evaluate import resolve_baseline
from pytest_fwmon.gate.policy import parse_policy
from tests.test_gate_cli import git, make_repo
from tests.test_gate_support import (
    POLICY_NEW_HIGH,
    baseline_of,
    finding,
    make_report,
    time_zone,
    write_json,
)

HIGH = finding("B602", "app.py", 5)
LOW = finding("B101", "app.py", 9, severity="low", message="assert used")
DAY = dt.date(2024, 6, 1)
#: Conditions on the counters of the baseline, the waivers and the quarantine (warn only).
COUNTERS = """
[[conditions]]
id = "stale"
metric = "baseline.stale"
op = "le"
threshold = 0
level = "warn"

[[conditions]]
id = "expired"
metric = "waivers.expired"
op = "le"
threshold = 0
level = "warn"

[[conditions]]
id = "quarantine"
metric = "quarantine.expired"
op = "le"
threshold = 0
level = "warn"
"""


def _policy(text: str = POLICY_NEW_HIGH) -> Any:
    return parse_policy(text.encode(), "policy.toml")


def _baseline(entries: list[dict[str, Any]], waivers: list[dict[str, Any]] = ()) -> Any:  # type: ignore[assignment]
    document = {"schema_version": 1, "entries": entries, "waivers": list(waivers)}
    return parse_baseline(json.dumps(document).encode(), "base.json")


def _waiver(rule: str, path: str, expires: str = "2099-01-01") -> dict[str, str]:
    return {"rule": rule, "path": path, "reason": "r", "owner": "o", "expires": expires}


def _head_report(root: Path, *findings: dict[str, Any], sha: str | None = None) -> Path:
    """A report of ``root``'s HEAD (or of ``sha``) in .fwmon/, which git ignores."""
    report = make_report([dict(f) for f in findings])
    report["run"]["git"]["sha"] = sha or git(root, "rev-parse", "HEAD").strip()
    (root / ".fwmon").mkdir(exist_ok=True)
    return write_json(root / ".fwmon" / "report.json", report)


# --- gate-result.json -----------------------------------------------------------------------


def test_result_names_the_report_run_commit_and_every_pipeline(tmp_path: Path) -> None:
    report = make_report(
        [dict(HIGH)], statuses={"docs": "error", "integration": "not-run", "quality": "fail"}
    )
    write_json(tmp_path / "report.json", report)
    (tmp_path / "policy.toml").write_text(POLICY_NEW_HIGH, encoding="utf-8")
    result = run_gate("report.json", "policy.toml", root=tmp_path, today=DAY)  # not the cwd
    document = result.to_dict()
    assert document["report"] == {
        "path": "report.json",
        "run_id": "run-0001-abcdef",
        "git_sha": "0" * 40,
    }
    assert document["pipelines"] == {
        "security": "pass",
        "docs": "error",
        "quality": "fail",
        "performance": "pass",
        "integration": "not-run",
    }
    assert (document["base_ref"], document["merge_base"], document["diff"]) == (None, None, None)
    # provenance notes outside a work tree are kept next to the gate's own notes
    assert document["notes"] == [
        f"report commit not checked: {tmp_path} is not a git work tree (or git is missing)"
    ]


def test_without_a_root_the_report_and_policy_are_read_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_json(tmp_path / "report.json", make_report([dict(LOW)]))
    (tmp_path / "policy.toml").write_text(POLICY_NEW_HIGH, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = run_gate("report.json", "policy.toml")
    assert (result.verdict, result.to_dict()["report"]["path"]) == ("pass", "report.json")


def test_result_with_a_base_ref_names_it_the_merge_base_and_the_diff(tmp_path: Path) -> None:
    make_repo(
        tmp_path,
        {"policy.toml": POLICY_NEW_HIGH, "app.py": "x = 1\n", ".gitignore": ".fwmon/\n"},
        {"app.py": "x = 1\ny = 2\nz = 3\n", "new.py": "a = 1\nb = 2\n"},
    )
    report = _head_report(tmp_path, HIGH)
    result = run_gate(report, "policy.toml", None, "main", root=tmp_path)
    document = result.to_dict()
    assert document["base_ref"] == "main"
    assert document["merge_base"] == git(tmp_path, "rev-parse", "main").strip()
    assert document["diff"] == {"files": 2, "lines": 4}
    assert document["report"]["path"] == str(report)
    assert (
        "policy guard: compared policy.toml with policy.toml at the merge base"
        in (document["notes"])
    )


def test_result_lists_stale_entries_and_waivers_and_expired_waivers() -> None:
    bare = {"fingerprint": "f" * 16}  # rule, path and line are optional in a baseline
    known = baseline_of([LOW])["entries"][0] | {"count": 2}
    waivers = [_waiver("B101", "app.py", "2024-05-31"), _waiver("E999", "*")]
    baseline = _baseline([bare, known], waivers)
    report = make_report([dict(LOW), finding("B101", "app.py", 12, severity="low")])
    result = evaluate(report, _policy(POLICY_NEW_HIGH + COUNTERS), baseline, today=DAY)
    document = result.to_dict()
    assert document["stale"] == [
        {"kind": "entry", "fingerprint": "f" * 16, "count": 1, "rule": "", "path": ""},
        {"kind": "entry", "fingerprint": LOW["fingerprint"], "count": 1, "rule": "B101",
         "path": "app.py"},
        {"kind": "waiver", "index": 1, "label": "waiver 1 (E999 in *, owner o)"},
    ]  # fmt: skip
    assert document["expired_waivers"] == [
        {
            "rule": "B101",
            "path": "app.py",
            "reason": "r",
            "owner": "o",
            "expires": "2024-05-31",
            "index": 0,
            "findings": 2,
        }
    ]
    assert (
        "waiver 0 (B101 in app.py, owner o) expired on 2024-05-31; its 2 findings count again"
        in (document["warnings"])
    )
    actual = {c["id"]: c["actual"] for c in document["conditions"]}
    assert (actual["stale"], actual["expired"], actual["quarantine"]) == (3, 1, 0)


# --- stale baselines ------------------------------------------------------------------------


def _entry(index: int) -> dict[str, Any]:
    return {"fingerprint": f"{index:016d}", "rule": f"R{index}", "path": "a.py", "line": index}


def _stale_message(entries: list[dict[str, Any]], waivers: int, fail_on_stale: bool) -> str:
    baseline = _baseline(entries, [_waiver(f"W{i}", "*") for i in range(waivers)])
    policy = _policy(("fail_on_stale = true\n" if fail_on_stale else "") + POLICY_NEW_HIGH)
    result = evaluate(make_report(), policy, baseline, today=DAY)
    assert result.verdict == ("blocked" if fail_on_stale else "pass")
    return (result.reasons if fail_on_stale else result.warnings)[-1]


PRUNE = "drop them with `fwmon baseline write --prune`"


@pytest.mark.parametrize(
    ("entries", "waivers", "fail_on_stale", "message"),
    [
        pytest.param(
            [_entry(1)], 0, False, f"1 baseline item matches nothing (entry R1 a.py:1); {PRUNE}",
            id="one-warns",
        ),
        pytest.param(
            [{"fingerprint": "f" * 16, "count": 2}, _entry(2)],
            1,
            True,
            "fail_on_stale: 3 baseline items match nothing "
            f"(entry ? ?:? x2, entry R2 a.py:2, waiver 0 (W0 in *, owner o)); {PRUNE}",
            id="unnamed-counted-and-a-waiver-block",
        ),
        pytest.param(
            [_entry(i) for i in range(1, 6)],
            1,
            True,
            "fail_on_stale: 6 baseline items match nothing (entry R1 a.py:1, entry R2 a.py:2, "
            f"entry R3 a.py:3, entry R4 a.py:4, entry R5 a.py:5 and 1 more); {PRUNE}",
            id="five-entries-then-the-waiver-is-counted",
        ),
        pytest.param(
            [_entry(i) for i in range(1, 7)],
            0,
            True,
            "fail_on_stale: 6 baseline items match nothing (entry R1 a.py:1, entry R2 a.py:2, "
            f"entry R3 a.py:3, entry R4 a.py:4, entry R5 a.py:5 and 1 more); {PRUNE}",
            id="at-most-five-entries",
        ),
        pytest.param(
            [_entry(1)],
            6,
            True,
            "fail_on_stale: 7 baseline items match nothing (entry R1 a.py:1, "
            "waiver 0 (W0 in *, owner o), waiver 1 (W1 in *, owner o), "
            f"waiver 2 (W2 in *, owner o), waiver 3 (W3 in *, owner o) and 2 more); {PRUNE}",
            id="waivers-fill-up-to-five",
        ),
    ],
)  # fmt: skip
def test_stale_items_are_named_up_to_five(
    entries: list[dict[str, Any]], waivers: int, fail_on_stale: bool, message: str
) -> None:
    assert _stale_message(entries, waivers, fail_on_stale) == message


# --- required pipelines, policy changes, exemptions -----------------------------------------


@pytest.mark.parametrize(
    ("status", "reason", "message"),
    [
        ("skipped", "no Python files", "(status skipped: no Python files)"),
        ("not-run", None, "(status not-run)"),
    ],
)
def test_a_required_pipeline_that_did_not_run_is_a_report_error(
    status: str, reason: str | None, message: str
) -> None:
    report = make_report(statuses={"security": status})
    report["pipelines"]["security"]["reason"] = reason
    with pytest.raises(ReportError) as caught:
        evaluate(report, _policy(), None, report_path="out/r.json")
    assert caught.value.message == f"report out/r.json lacks required pipeline security {message}"


def test_a_required_pipeline_that_errored_blocks() -> None:
    result = evaluate(make_report(statuses={"security": "error"}), _policy(), None)
    assert result.reasons == [
        "required pipeline security errored",
        "condition no-new-high failed: metric findings.high_or_worse not in report (pipeline "
        "security errored, so findings are incomplete)",
    ]


def test_policy_changes_block_unless_allowed() -> None:
    report = make_report()
    blocked = evaluate(report, _policy(), None, policy_changes=["a relaxed", "b removed"])
    assert blocked.reasons == [
        "policy weakened: a relaxed; b removed (a reviewer can accept it with "
        "--allow-policy-change)"
    ]
    allowed = evaluate(
        report, _policy(), None, policy_changes=["a relaxed", "b removed"], allow_policy_change=True
    )
    assert (allowed.verdict, allowed.policy_changes) == ("pass", ["a relaxed", "b removed"])
    assert allowed.notes == [
        "policy weakened, allowed by --allow-policy-change: a relaxed; b removed"
    ]


def test_an_exemption_for_another_condition_does_not_stop_the_search() -> None:
    policy = _policy(
        POLICY_NEW_HIGH
        + '\n[[conditions]]\nid = "few"\nmetric = "findings.total"\nop = "le"\nthreshold = 9\n'
        + '\n[[exemptions]]\nid = "other"\nconditions = ["few"]\nmetric = "findings.total"\n'
        'op = "ge"\nthreshold = 0\nreason = "r1"\n'
        '\n[[exemptions]]\nid = "mine"\nconditions = ["no-new-high"]\nmetric = "tests.failed"\n'
        'op = "le"\nthreshold = 0\nreason = "r2"\n'
    )
    result = evaluate(make_report([dict(HIGH)]), policy, None)
    assert [(r.condition.id, r.verdict, r.exemption) for r in result.conditions] == [
        ("no-new-high", "exempt", "mine"),
        ("few", "exempt", "other"),
    ]
    assert result.verdict == "pass"


# --- the diff --------------------------------------------------------------------------------


def test_a_new_finding_is_in_the_diff_when_one_of_its_lines_changed() -> None:
    findings = [
        finding("R1", "app.py", 5),  # line 6 changed, not 5
        finding("R2", "app.py", 10),  # nor 10
        finding("R3", "app.py", 1),
        finding("R4", "app.py", 4, end_line=7),  # spans line 6
        finding("R5", "other.py", 6),  # a file the change did not touch
        finding("R6", "whole.py", 0, end_line=0),  # about the whole file, which changed
    ]
    result = evaluate(
        make_report(findings), _policy(), None, changed={"app.py": {6}, "whole.py": {3}}
    )
    assert sorted(f["rule"] for f in result.diff_findings) == ["R4", "R6"]
    assert result.counts()["diff"] == 2


# --- baselines and commits ------------------------------------------------------------------


def test_the_default_baseline_is_found_at_the_root_and_a_given_one_relative_to_it(
    tmp_path: Path,
) -> None:
    write_json(tmp_path / "fwmon-baseline.json", baseline_of([LOW]))
    (tmp_path / "sub").mkdir()
    write_json(tmp_path / "sub" / "b.json", baseline_of([HIGH]))
    found = resolve_baseline(None, tmp_path)
    assert found is not None and list(found.entries) == [LOW["fingerprint"]]
    assert resolve_baseline(None, tmp_path, use_default=False) is None
    given = resolve_baseline("sub/b.json", tmp_path)  # relative to the root, not to the cwd
    assert given is not None and list(given.entries) == [HIGH["fingerprint"]]
    write_json(tmp_path / "report.json", make_report([dict(LOW), dict(HIGH)]))
    (tmp_path / "policy.toml").write_text(POLICY_NEW_HIGH, encoding="utf-8")
    result = run_gate("report.json", "policy.toml", root=tmp_path, today=DAY)
    assert result.counts()["baselined"] == 1
    assert result.to_dict()["baseline"] == found.source


def test_a_report_of_another_commit_is_refused_or_judged_with_a_note(tmp_path: Path) -> None:
    make_repo(tmp_path, {"policy.toml": POLICY_NEW_HIGH, ".gitignore": ".fwmon/\n"}, {})
    head = git(tmp_path, "rev-parse", "HEAD").strip()
    report = _head_report(tmp_path, LOW, sha="a" * 40)
    problem = (
        f"report {report} was written at commit aaaaaaaaaaaa, but {tmp_path} is at {head[:12]}"
    )
    with pytest.raises(ReportError) as caught:
        run_gate(report, "policy.toml", root=tmp_path)
    assert caught.value.message == f"{problem}: it is not this commit's report"
    result = run_gate(report, "policy.toml", root=tmp_path, allow_other_commit=True)
    assert result.notes == [f"{problem}; judged anyway (--allow-other-commit)"]


def test_today_decides_waivers_and_quarantine_expiry(tmp_path: Path) -> None:
    write_json(tmp_path / "report.json", make_report([dict(HIGH)]))
    (tmp_path / "policy.toml").write_text(POLICY_NEW_HIGH + COUNTERS, encoding="utf-8")
    waiver = _waiver("B602", "app.py", "2024-05-31")
    write_json(tmp_path / "fwmon-baseline.json", baseline_of([], [waiver]))
    (tmp_path / "fwmon-quarantine.toml").write_text(
        'version = 1\n[[quarantine]]\nnodeid = "tests/t.py::test_a"\nowner = "o"\n'
        'reason = "r"\nexpires = "2024-05-31"\n',
        encoding="utf-8",
    )
    held = run_gate("report.json", "policy.toml", root=tmp_path, today=dt.date(2024, 5, 31))
    assert (held.verdict, held.counts()["waived"]) == ("pass", 1)
    late = run_gate("report.json", "policy.toml", root=tmp_path, today=DAY)
    assert (late.verdict, late.counts()["new"]) == ("blocked", 1)
    assert "quarantine of tests/t.py::test_a expired on 2024-05-31 (owner o)" in late.notes
    assert {c.condition.id: c.actual for c in late.conditions}["quarantine"] == 1


# --- UTC ------------------------------------------------------------------------------------


def test_dates_are_utc_whatever_the_machines_time_zone(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    # a zone whose date is not today's UTC date: 14 h ahead after noon UTC, else 12 h behind
    zone, shift = ("UTC-14", 1) if now.hour >= 12 else ("UTC+12", -1)
    expires = now.date() if shift == 1 else now.date() - dt.timedelta(days=1)
    write_json(tmp_path / "report.json", make_report([dict(HIGH)]))
    (tmp_path / "policy.toml").write_text(POLICY_NEW_HIGH + COUNTERS, encoding="utf-8")
    waiver = _waiver("B602", "app.py", expires.isoformat())
    write_json(tmp_path / "fwmon-baseline.json", baseline_of([], [waiver]))
    (tmp_path / "fwmon-quarantine.toml").write_text(
        'version = 1\n[[quarantine]]\nnodeid = "tests/t.py::test_a"\nowner = "o"\n'
        f'reason = "r"\nexpires = "{expires.isoformat()}"\n',
        encoding="utf-8",
    )
    expected = run_gate("report.json", "policy.toml", root=tmp_path, today=now.date())
    local = now.date() + dt.timedelta(days=shift)
    other = run_gate("report.json", "policy.toml", root=tmp_path, today=local)
    assert other.counts() != expected.counts()  # the two dates disagree about the waiver
    with time_zone(zone):
        result = run_gate("report.json", "policy.toml", root=tmp_path)
        direct = evaluate(result.report, result.policy, parse_baseline(
            (tmp_path / "fwmon-baseline.json").read_bytes(), "b"))  # fmt: skip
    assert result.counts() == direct.counts() == expected.counts()
    assert result.notes == expected.notes  # the quarantine entry expired by the UTC date only
    generated = dt.datetime.strptime(result.generated, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert abs(generated - now) < dt.timedelta(hours=1)  # UTC, not the zone's clock


# --- the policy guard -----------------------------------------------------------------------

GATE_TABLE = "[tool.fwmon.gate]\n" + POLICY_NEW_HIGH.replace(
    "[[conditions]]", "[[tool.fwmon.gate.conditions]]"
)
PROJECT = "[project]\nname = 'x'\n"
WEAKER = "condition no-new-high relaxed from le 0 to le 5"


def _guarded(
    root: Path, base: dict[str, str], head: dict[str, str], policy: str | None = None
) -> tuple[Any, str]:
    """Gate ``head`` against ``base`` (main); the result and the merge base's short sha."""
    make_repo(root, {"app.py": "x = 1\n", ".gitignore": ".fwmon/\n", **base}, head)
    result = run_gate(_head_report(root, LOW), policy, None, "main", root=root)
    return result, git(root, "rev-parse", "main").strip()[:12]


def _unreadable(result: Any) -> str:
    assert result.verdict == "blocked"
    (reason,) = result.reasons
    prefix = "policy weakened: the policy at the merge base cannot be read ("
    assert reason.startswith(prefix), reason
    return reason.removeprefix(prefix)


@pytest.mark.parametrize("base", [{}, {"pyproject.toml": PROJECT}], ids=["none", "no-table"])
def test_without_a_policy_at_the_merge_base_the_default_preset_is_the_one_before(
    tmp_path: Path, base: dict[str, str]
) -> None:
    result, _ = _guarded(tmp_path, base, {"pyproject.toml": PROJECT + GATE_TABLE})
    assert (
        f"policy guard: compared {tmp_path / 'pyproject.toml'} [tool.fwmon.gate] with the "
        "default preset (no [tool.fwmon.gate] at the merge base)"
    ) in result.notes
    # the project's new policy drops most of what the default preset enforced
    assert result.verdict == "blocked"
    assert "condition tests-pass removed" in result.policy_changes


def test_the_project_policy_is_compared_with_the_project_policy_at_the_merge_base(
    tmp_path: Path,
) -> None:
    weaker = PROJECT + GATE_TABLE.replace("threshold = 0", "threshold = 5")
    result, base = _guarded(
        tmp_path, {"pyproject.toml": PROJECT + GATE_TABLE}, {"pyproject.toml": weaker}
    )
    assert (
        f"policy guard: compared {tmp_path / 'pyproject.toml'} [tool.fwmon.gate] with "
        f"pyproject.toml [tool.fwmon.gate] at {base}"
    ) in result.notes
    assert result.policy_changes == [WEAKER]


def test_a_pyproject_given_as_the_policy_is_compared_at_its_gate_table(tmp_path: Path) -> None:
    weaker = PROJECT + GATE_TABLE.replace("threshold = 0", "threshold = 5")
    result, _ = _guarded(
        tmp_path, {"pyproject.toml": PROJECT + GATE_TABLE}, {"pyproject.toml": weaker},
        "pyproject.toml",
    )  # fmt: skip
    assert (
        "policy guard: compared pyproject.toml [tool.fwmon.gate] with pyproject.toml "
        "[tool.fwmon.gate] at the merge base"
    ) in result.notes
    assert result.policy_changes == [WEAKER]


def test_a_policy_file_that_cannot_be_read_at_the_merge_base_is_a_change(tmp_path: Path) -> None:
    result, base = _guarded(
        tmp_path, {"policy.toml": "this is = = not toml"}, {"policy.toml": POLICY_NEW_HIGH},
        "policy.toml",
    )  # fmt: skip
    assert _unreadable(result).startswith(f"policy.toml at {base} is not valid TOML: ")
    assert not any(n.startswith("policy guard:") for n in result.notes)


@pytest.mark.parametrize(
    ("pyproject", "message"),
    [
        ("[tool.fwmon\n", "pyproject.toml [tool.fwmon.gate] at {base} is not valid TOML: "),
        (
            PROJECT + "[tool.fwmon.gate]\nrequired_pipelines = 'security'\n",
            "policy pyproject.toml [tool.fwmon.gate] at {base}: required_pipelines must be a list",
        ),
    ],
    ids=["not-toml", "invalid-table"],
)
def test_a_project_policy_that_cannot_be_read_at_the_merge_base_is_a_change(
    tmp_path: Path, pyproject: str, message: str
) -> None:
    result, base = _guarded(
        tmp_path, {"pyproject.toml": pyproject}, {"pyproject.toml": PROJECT + GATE_TABLE}
    )
    assert _unreadable(result).startswith(message.format(base=base))
