"""Report provenance (docs/reference/gate.md): the gate judges only a completed run's report of
the commit checked out, and says so when it cannot check, with exact messages and hints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.core.errors import ReportError
from pytest_fwmon.gate.provenance import check_provenance, head_commit
from tests.test_gate_cli import git
from tests.test_gate_support import make_report

OTHER_COMMIT_HINT = (
    "re-run `pytest --fwmon` at this commit, or pass --allow-other-commit to judge it anyway"
)


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str]:
    """A git work tree with one commit, and that commit."""
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "one")
    return tmp_path, git(tmp_path, "rev-parse", "HEAD").strip()


def _report(sha: str | None, **tests: Any) -> dict[str, Any]:
    report = make_report()
    report["run"]["git"]["sha"] = sha
    report["tests"].update(tests)
    return report


def test_head_commit_is_the_checked_out_commit(repo: tuple[Path, str]) -> None:
    root, sha = repo
    assert head_commit(root) == sha
    assert len(sha) == 40
    assert head_commit(root / "missing") is None  # git cannot even start there


def test_head_commit_of_a_repository_without_commits_is_none(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    assert head_commit(tmp_path) is None


def test_head_commit_without_git_on_path_is_none(
    repo: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(repo[0] / "no-bin"))
    assert head_commit(repo[0]) is None


def test_the_report_of_this_commit_has_no_notes(repo: tuple[Path, str]) -> None:
    root, sha = repo
    assert check_provenance(_report(sha), "r.json", root) == []


def test_a_report_of_another_commit_is_refused_with_both_commits(repo: tuple[Path, str]) -> None:
    root, sha = repo
    other = "f" * 40
    with pytest.raises(ReportError) as refused:
        check_provenance(_report(other), "r.json", root)
    assert refused.value.message == (
        f"report r.json was written at commit {other[:12]}, but {root} is at {sha[:12]}: "
        "it is not this commit's report"
    )
    assert refused.value.hint == OTHER_COMMIT_HINT
    assert refused.value.exit_code == 3


def test_a_report_with_no_commit_is_refused_in_a_work_tree(repo: tuple[Path, str]) -> None:
    root, sha = repo
    with pytest.raises(ReportError) as refused:
        check_provenance(_report(None), "r.json", root)
    assert refused.value.message == (
        f"report r.json records no commit, but {root} is at {sha[:12]}: "
        "it is not this commit's report"
    )
    assert refused.value.hint == OTHER_COMMIT_HINT


def test_allow_other_commit_judges_it_with_a_note(repo: tuple[Path, str]) -> None:
    root, sha = repo
    report = _report("e" * 40)
    report["run"]["git"]["dirty"] = True
    assert check_provenance(report, "r.json", root, allow_other_commit=True) == [
        f"report r.json was written at commit {'e' * 12}, but {root} is at {sha[:12]}; "
        "judged anyway (--allow-other-commit)",
        "the report's work tree had uncommitted changes to tracked files",
    ]


def test_a_report_without_git_data_outside_a_work_tree_is_noted(tmp_path: Path) -> None:
    report = make_report()
    report["run"]["git"] = None
    assert check_provenance(report, "r.json", tmp_path) == [
        f"report commit not checked: {tmp_path} is not a git work tree (or git is missing)"
    ]


@pytest.mark.parametrize(
    ("tests", "notes"),
    [
        pytest.param({"exitstatus": 0, "exitstatus_note": "ignored"}, [], id="0"),
        pytest.param(
            {"exitstatus": 1, "exitstatus_note": None}, ["pytest exited with status 1"], id="1"
        ),
        pytest.param(
            {"exitstatus": 4, "exitstatus_note": "UsageError"},
            ["pytest exited with status 4 (UsageError)"],
            id="4-with-note",
        ),
        pytest.param(
            {"exitstatus": None, "exitstatus_note": "unknown: Boom"},
            ["pytest's exit status is not known: unknown: Boom"],
            id="unknown",
        ),
    ],
)
def test_pytest_exit_status_is_noted_unless_0(
    repo: tuple[Path, str], tests: dict[str, Any], notes: list[str]
) -> None:
    root, sha = repo
    assert check_provenance(_report(sha, **tests), "r.json", root) == notes


@pytest.mark.parametrize(
    ("run", "message", "hint"),
    [
        pytest.param(
            {"completed": False, "stopped": "stopped after 1 failure (-x)"},
            "report r.json is from a run that did not complete: stopped after 1 failure (-x)",
            "run `pytest --fwmon` to the end: a partial run cannot be judged",
            id="stopped",
        ),
        pytest.param(
            {"completed": False, "stopped": None},
            "report r.json is from a run that did not complete: no reason recorded",
            "run `pytest --fwmon` to the end: a partial run cannot be judged",
            id="no-reason",
        ),
        pytest.param(
            {"completed": None},
            "report r.json does not say whether its run completed "
            "(schema_version 1, written by an older fwmon)",
            "re-run `pytest --fwmon` with this fwmon",
            id="version-1",
        ),
    ],
)
def test_a_run_that_did_not_complete_is_refused_before_the_commit(
    repo: tuple[Path, str], run: dict[str, Any], message: str, hint: str
) -> None:
    root = repo[0]
    report = _report("0" * 40)  # another commit too: completion is checked first
    report["run"].update(run)
    with pytest.raises(ReportError) as refused:
        check_provenance(report, "r.json", root)
    assert (refused.value.message, refused.value.hint) == (message, hint)
