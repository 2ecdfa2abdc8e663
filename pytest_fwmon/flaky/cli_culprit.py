"""``fwmon culprit [--branch B] [--json] [--bisect]`` (docs/how-to/flaky-tests.md).

Exit codes: 0 done (also when the branch is green); 1 ``--bisect`` could not name a commit;
2 usage error; 4 history store error.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from ..core.environment import git_info
from ..core.errors import ConfigError
from ..history.cliutil import Context, add_store, print_json
from . import culprit


def _reports(context: Context, branch: str) -> list[dict[str, Any]]:
    """Return the stored reports of ``branch``, oldest first."""
    with context.open(readonly=True) as store:
        texts = store.iter_reports_text()
        reports = [json.loads(text) for _run_id, _ts, text in texts]
    return [r for r in reports if ((r.get("run") or {}).get("git") or {}).get("branch") == branch]


def cmd_culprit(args: argparse.Namespace) -> int:
    """Name the last green and first red run of a branch; with ``--bisect``, the commit."""
    context = Context(args)
    branch = args.branch or git_info(context.root).get("branch")
    if not branch:
        raise ConfigError("no --branch given and the current folder is not on a git branch")
    found = culprit.find(_reports(context, branch), branch)
    if args.bisect and found.first_red is not None:
        good = (found.last_green or {}).get("sha")
        bad = found.first_red.get("sha")
        if not good or not bad:
            raise culprit.CulpritError("--bisect needs a last green and a first red commit")
        found.first_bad_commit, found.test_runs = culprit.bisect(
            context.root, good, bad, found.failing
        )
    if args.json:
        print_json(asdict(found))
    else:
        _print(found)
    return 0


def _print(found: culprit.Culprit) -> None:
    """Write what ``fwmon culprit`` found as text."""
    out = sys.stdout
    if found.first_red is None:
        out.write(f"branch {found.branch} is green (or has no runs)\n")
        return
    green = found.last_green or {}
    out.write(f"last green: run {green.get('run_id')} at {green.get('sha')}\n")
    out.write(f"first red:  run {found.first_red['run_id']} at {found.first_red['sha']}\n")
    for nodeid in found.failing:
        out.write(f"  turned red: {nodeid}\n")
    if found.first_bad_commit:
        out.write(f"first bad commit: {found.first_bad_commit} ({found.test_runs} test runs)\n")


def register(subparsers: Any) -> None:
    """Add ``culprit``."""
    p = subparsers.add_parser(
        "culprit",
        help="the last green and first red run of a branch, and the commit that broke it",
        description="Name the last green and the first red run of a branch from the history; "
        "--bisect runs git bisect in a temporary worktree to name the first bad commit.",
    )
    p.add_argument("--branch", default=None, help="the branch (default: the current one)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--bisect",
        action="store_true",
        help="run git bisect between the two commits, with only the tests that turned red",
    )
    add_store(p)
    p.set_defaults(func=cmd_culprit)
