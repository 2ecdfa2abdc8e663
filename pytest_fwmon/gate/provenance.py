"""Whether a report is the one to judge: its run completed, at the commit being judged.

Standard library only. ``pytest --fwmon`` moves the previous report aside when a run starts and
writes the new one when the run has ended (docs/reference/report.md), so a run that crashes
leaves no report. What the gate still checks here, before any condition (docs/reference/gate.md,
"Report provenance"):

1. ``run.completed`` is true: a run that was interrupted, stopped early (``-x``, ``--maxfail``)
   or hit an internal error judged only part of the code. Version 1 reports (``completed``
   null) do not say. Either way: :class:`ReportError`, exit 3.
2. ``run.git.sha`` is the commit checked out at the gate's root (``git rev-parse HEAD``): a
   report of another commit, or one with no commit when the root has one, is exit 3 unless
   ``allow_other_commit``. A root that is not a git work tree has nothing to compare with,
   which the result notes.

pytest's exit status (``tests.exitstatus``, null when unknown) is not judged here: the policy
does, with the ``tests.exitstatus`` metric; the result notes a status that is not 0.
"""

from __future__ import annotations

import subprocess  # nosec B404 # runs git with a fixed argument list, no shell
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core.errors import ReportError

#: Hint of every commit refusal.
_OTHER_COMMIT_HINT = (
    "re-run `pytest --fwmon` at this commit, or pass --allow-other-commit to judge it anyway"
)


def head_commit(root: Path) -> str | None:
    """Return the commit checked out at ``root``, or None (not a git work tree, or no git)."""
    try:
        proc = subprocess.run(  # nosec B603 B607 # git from PATH, as the user runs it
            ["git", "rev-parse", "--verify", "-q", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = proc.stdout.strip()
    return sha if proc.returncode == 0 and sha else None


def check_provenance(
    report: Mapping[str, Any],
    report_path: str,
    root: Path,
    *,
    allow_other_commit: bool = False,
) -> list[str]:
    """Raise :class:`ReportError` for a report the gate must not judge; else the notes."""
    run = report["run"]
    completed = run.get("completed")
    if completed is None:
        raise ReportError(
            f"report {report_path} does not say whether its run completed "
            "(schema_version 1, written by an older fwmon)",
            hint="re-run `pytest --fwmon` with this fwmon",
        )
    if completed is not True:
        raise ReportError(
            f"report {report_path} is from a run that did not complete: "
            f"{run.get('stopped') or 'no reason recorded'}",
            hint="run `pytest --fwmon` to the end: a partial run cannot be judged",
        )
    notes = _commit_notes(run.get("git") or {}, report_path, root, allow_other_commit)
    tests = report["tests"]
    status = tests.get("exitstatus")
    if status is None:
        notes.append(f"pytest's exit status is not known: {tests.get('exitstatus_note')}")
    elif status != 0:
        notes.append(f"pytest exited with status {status}" + _note(tests))
    return notes


def _note(tests: Mapping[str, Any]) -> str:
    note = tests.get("exitstatus_note")
    return f" ({note})" if note else ""


def _commit_notes(
    git: Mapping[str, Any], report_path: str, root: Path, allow_other_commit: bool
) -> list[str]:
    sha = git.get("sha")
    head = head_commit(root)
    if head is None:
        return [f"report commit not checked: {root} is not a git work tree (or git is missing)"]
    notes = []
    if sha != head:
        where = f"was written at commit {sha[:12]}" if isinstance(sha, str) else "records no commit"
        problem = f"report {report_path} {where}, but {root} is at {head[:12]}"
        if not allow_other_commit:
            raise ReportError(f"{problem}: it is not this commit's report", hint=_OTHER_COMMIT_HINT)
        notes.append(f"{problem}; judged anyway (--allow-other-commit)")
    if git.get("dirty"):
        notes.append("the report's work tree had uncommitted changes to tracked files")
    return notes


__all__ = ["check_provenance", "head_commit"]
