"""``fwmon culprit``: last green, first red, and ``--bisect`` on a generated history (issue 17)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon import cli
from pytest_fwmon.flaky import culprit
from pytest_fwmon.history.connect import open_store
from tests.test_gate_cli import git
from tests.test_gate_support import make_report

COMMITS = 64
BROKEN_AT = 41
NODEID = "test_calc.py::test_value"


def _history(root: Path) -> list[str]:
    """Make 64 commits on main; commit ``BROKEN_AT`` breaks ``NODEID``; return the shas."""
    git(root, "init", "-q", "-b", "main")
    (root / "test_calc.py").write_text(
        "from calc import VALUE\n\n\ndef test_value():\n    assert VALUE == 1\n\n\n"
        "def test_other():\n    pass\n",
        encoding="utf-8",
    )
    shas = []
    for n in range(COMMITS):
        value = 2 if n >= BROKEN_AT else 1
        (root / "calc.py").write_text(f"VALUE = {value}\nSTEP = {n}\n", encoding="utf-8")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", f"step {n}")
        shas.append(git(root, "rev-parse", "HEAD").strip())
    return shas


def _run(n: int, sha: str, outcome: str) -> dict[str, Any]:
    report = make_report()
    report["run"].update(
        id=f"run-{n:04d}",
        started=f"2026-11-{n:02d}T10:00:00Z",
        finished=f"2026-11-{n:02d}T10:00:05Z",
        git={"sha": sha, "branch": "main", "dirty": False},
    )
    report["test_results"] = [
        {"nodeid": nodeid, "outcome": o, "flaky": False, "attempts": []}
        for nodeid, o in ((NODEID, outcome), ("test_calc.py::test_other", "passed"))
    ]
    return report


def _state(root: Path) -> tuple[str, ...]:
    """What must not change: HEAD, branch, status, index, worktrees, bisect refs."""
    return (
        git(root, "rev-parse", "HEAD"),
        git(root, "symbolic-ref", "HEAD"),
        git(root, "status", "--porcelain", "--untracked-files=all"),
        git(root, "ls-files", "--stage"),
        git(root, "diff"),
        git(root, "worktree", "list", "--porcelain"),
        git(root, "for-each-ref", "refs/bisect"),
    )


def test_bisect_finds_the_breaking_commit_of_64_in_at_most_7_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "history.db"  # outside the repository: only git's state is compared
    tmp_path = tmp_path / "repo"
    tmp_path.mkdir()
    shas = _history(tmp_path)
    with open_store(str(store), tmp_path, create=True) as s:
        for n, (sha, outcome) in enumerate([(shas[0], "passed"), (shas[-1], "failed")], 1):
            assert s.add_run(_run(n, sha, outcome))
    (tmp_path / "calc.py").write_text("VALUE = 3  # uncommitted\n", encoding="utf-8")
    (tmp_path / "scratch.txt").write_text("untracked\n", encoding="utf-8")
    git(tmp_path, "add", "scratch.txt")  # staged: the index must survive too
    before = _state(tmp_path)
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    args = ["culprit", "--branch", "main", "--json", "--bisect", "--store", str(store)]
    assert cli.main(args) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["last_green"]["sha"] == shas[0]
    assert found["first_red"]["sha"] == shas[-1]
    assert found["failing"] == [NODEID]
    assert found["first_bad_commit"] == shas[BROKEN_AT]
    assert 1 <= found["test_runs"] <= 7
    assert _state(tmp_path) == before
    assert (tmp_path / "calc.py").read_text(encoding="utf-8") == "VALUE = 3  # uncommitted\n"


def test_a_green_branch_has_no_first_red() -> None:
    found = culprit.find([_run(1, "a" * 40, "passed"), _run(2, "b" * 40, "passed")], "main")
    assert found.first_red is None and found.failing == []


def test_the_red_streak_starts_after_the_last_green_run() -> None:
    runs = [
        _run(1, "a" * 40, "failed"),
        _run(2, "b" * 40, "passed"),
        _run(3, "c" * 40, "failed"),
        _run(4, "d" * 40, "failed"),
    ]
    found = culprit.find(runs, "main")
    assert found.last_green is not None and found.last_green["sha"] == "b" * 40
    assert found.first_red is not None and found.first_red["sha"] == "c" * 40
    assert found.failing == [NODEID]


def test_a_quarantined_failure_does_not_make_a_run_red() -> None:
    report = _run(1, "a" * 40, "failed")
    report["test_results"][0]["quarantined"] = True
    assert not culprit.is_red(report)
