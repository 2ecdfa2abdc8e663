"""Which commit broke a branch: the last green and first red run, then ``git bisect run``.

A run is *red* when an ordinary test failed or errored (a quarantined test never makes it
red); runs without ``test_results`` are judged by ``tests.failed`` and ``tests.errors``. The
red streak is the newest runs of the branch that are all red; its first run is ``first_red``
and the run before it ``last_green``. The *failing* tests are those that fail in
``first_red`` and did not fail in ``last_green``.

``--bisect`` checks ``first_red``'s commit out in a temporary, detached git worktree (the
user's working tree, index and ``HEAD`` are never touched; bisect refs are per worktree) and
runs ``git bisect run`` there between the two commits with only the failing tests. Each step
runs ``python -m pytest`` on those tests: exit 0 is good, 1 is bad, anything else (no such
test yet, a collection error) is ``skip`` (125).
"""

from __future__ import annotations

import os
import subprocess  # nosec B404 # git and pytest, with argument lists, no shell
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ..core.errors import FwmonError

_FAIL: Final = frozenset({"failed", "error"})

#: The script ``git bisect run`` calls: count the run, run pytest, map its exit status.
_STEP: Final = """import subprocess, sys
with open(sys.argv[1], "a", encoding="utf-8") as counter:
    counter.write("run\\n")
code = subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "-p", "no:randomly", *sys.argv[2:]])
sys.exit({0: 0, 1: 1}.get(code, 125))
"""


class CulpritError(FwmonError):
    """git bisect could not run or did not name a commit (exit 1)."""

    exit_code = 1


@dataclass
class Culprit:
    """What ``fwmon culprit`` found."""

    branch: str | None
    last_green: dict[str, Any] | None
    first_red: dict[str, Any] | None
    failing: list[str] = field(default_factory=list)
    first_bad_commit: str | None = None
    test_runs: int | None = None


def failing_tests(report: Mapping[str, Any]) -> set[str]:
    """Return the node ids of the tests that failed in ``report`` (quarantined ones excluded)."""
    return {
        str(r.get("nodeid"))
        for r in report.get("test_results") or []
        if r.get("outcome") in _FAIL and not r.get("quarantined")
    }


def is_red(report: Mapping[str, Any]) -> bool:
    """Return True when an ordinary test failed or errored in ``report``."""
    if "test_results" in report:
        return bool(failing_tests(report))
    tests = report.get("tests") or {}
    return bool(tests.get("failed") or tests.get("errors"))


def _summary(report: Mapping[str, Any]) -> dict[str, Any]:
    """Return the run fields ``fwmon culprit`` shows."""
    run = report.get("run") or {}
    git = run.get("git") or {}
    return {"run_id": run.get("id"), "sha": git.get("sha"), "started": run.get("started")}


def find(reports: Sequence[Mapping[str, Any]], branch: str | None) -> Culprit:
    """Find the last green and first red run among ``reports`` (one branch, oldest first)."""
    start = len(reports)
    while start > 0 and is_red(reports[start - 1]):
        start -= 1
    if start == len(reports):
        return Culprit(branch, _summary(reports[-1]) if reports else None, None)
    first_red = reports[start]
    last_green = reports[start - 1] if start > 0 else None
    before = failing_tests(last_green) if last_green is not None else set()
    return Culprit(
        branch,
        _summary(last_green) if last_green is not None else None,
        _summary(first_red),
        sorted(failing_tests(first_red) - before),
    )


def _git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd``; a failure is a CulpritError with git's message."""
    done = subprocess.run(  # nosec B603 B607 # git from PATH, argument list
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        message = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise CulpritError(f"git {args[0]}: {message}")
    return done.stdout


def bisect(root: Path, good: str, bad: str, tests: Sequence[str]) -> tuple[str, int]:
    """Run ``git bisect run`` on ``tests`` between ``good`` and ``bad`` in a temporary worktree.

    Return the first bad commit and how many test runs it took.
    """
    if not tests:
        raise CulpritError("no test turned red between the two runs: nothing to bisect")
    with tempfile.TemporaryDirectory(prefix="fwmon-bisect-") as tmp:
        tree = Path(tmp) / "tree"
        counter = Path(tmp) / "runs"
        step = Path(tmp) / "step.py"
        step.write_text(_STEP, encoding="utf-8")
        _git(root, "worktree", "add", "--detach", "--quiet", str(tree), bad)
        try:
            return _bisect_in(tree, good, bad, [str(step), str(counter), *tests]), _count(counter)
        finally:
            _git(root, "worktree", "remove", "--force", str(tree))


def _bisect_in(tree: Path, good: str, bad: str, step: list[str]) -> str:
    """Run the bisection in ``tree``; return the first bad commit."""
    _git(tree, "bisect", "start", bad, good)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        done = subprocess.run(  # nosec B603 B607 # git from PATH, argument list
            ["git", "bisect", "run", sys.executable, *step],
            cwd=tree,
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        if done.returncode != 0:
            raise CulpritError(f"git bisect run failed: {done.stdout.strip()[-300:]}")
        return _git(tree, "rev-parse", "refs/bisect/bad").strip()
    finally:
        _git(tree, "bisect", "reset")


def _count(counter: Path) -> int:
    """Return how many test runs the bisection made."""
    try:
        return len(counter.read_text(encoding="utf-8").splitlines())
    except FileNotFoundError:
        return 0
