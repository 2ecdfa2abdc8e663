"""``fwmon flaky list | quarantine | release`` (docs/how-to/flaky-tests.md).

Exit codes: 0 done; 2 usage or configuration error (a quarantine without owner or expiry, a
bad date, a malformed ``fwmon-quarantine.toml``); 4 history store error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from ..core.argtypes import number, positive_int
from ..core.errors import ConfigError
from ..gate import quarantine
from ..history.cliutil import Context, add_store, print_json, print_table
from . import classify, view
from .cli_culprit import register as register_culprit

#: A quarantined test is released after passing this many runs in a row.
RELEASE_RUNS = 20


def _history(args: argparse.Namespace, context: Context) -> dict[str, list[classify.TestRun]]:
    """Return the tests of every stored run (of ``--branch`` when given), by node id."""
    with context.open(readonly=True) as store:
        tests = classify.gather(store.iter_reports_text())
    branch = getattr(args, "branch", None)
    if branch:
        tests = {n: [r for r in runs if r.branch == branch] for n, runs in tests.items()}
    return tests


def flaky_records(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Return the ``fwmon flaky list --json`` objects."""
    context = Context(args)
    entries = quarantine.load(context.root)
    found = classify.classify(_history(args, context), args.window, args.threshold)
    return view.records(found, entries)


def cmd_list(args: argparse.Namespace) -> int:
    """``fwmon flaky list``: every flaky test with its evidence."""
    records = flaky_records(args)
    if args.json:
        print_json(records)
        return 0
    if not records:
        sys.stdout.write("no flaky tests in the history\n")
        return 0
    rows = [["test", "flip rate", "runs", "commits", "first seen", "last seen", "quarantined"]]
    for r in records:
        status = f"until {r['quarantine_expires']}" if r["quarantined"] else "no"
        rows.append(
            [
                r["nodeid"],
                f"{r['flip_rate']:.2f}",
                str(len(r["runs"])),
                str(len(r["commits"])),
                r["first_seen"],
                r["last_seen"],
                status,
            ]
        )
    print_table(rows, sys.stdout)
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    """``fwmon flaky quarantine NODEID``: add or extend an entry of the quarantine file."""
    context = Context(args)
    today = dt.datetime.now(dt.UTC).date()
    entry = quarantine.make_entry(
        {
            "nodeid": args.nodeid,
            "owner": args.owner or "",
            "reason": args.reason or "",
            "expires": args.expires or "",
            "issue": args.issue,
            "added": today.isoformat(),
        },
        "fwmon flaky quarantine",
    )
    if entry.expired(today):
        raise ConfigError(f"--expires {entry.expires} is in the past")
    entries = [e for e in quarantine.load(context.root) if e.nodeid != entry.nodeid]
    path = quarantine.save(context.root, [*entries, entry])
    sys.stdout.write(f"quarantined {entry.nodeid} until {entry.expires} in {path.name}\n")
    return 0


def releasable(
    entries: list[quarantine.Entry], tests: dict[str, list[classify.TestRun]], runs: int
) -> list[str]:
    """Return the quarantined node ids whose last ``runs`` runs all passed, every attempt."""
    released = []
    for entry in entries:
        recent = tests.get(entry.nodeid, [])[-runs:]
        if len(recent) == runs and all(r.passed and not r.mixed for r in recent):
            released.append(entry.nodeid)
    return released


def cmd_release(args: argparse.Namespace) -> int:
    """``fwmon flaky release``: remove entries (``--auto``: those that passed K runs)."""
    context = Context(args)
    entries = quarantine.load(context.root)
    if args.auto:
        names = set(releasable(entries, _history(args, context), args.runs))
    else:
        names = set(args.nodeids)
    if not names:
        sys.stdout.write("nothing to release\n")
        return 0
    unknown = names - {e.nodeid for e in entries}
    if unknown:
        raise ConfigError(f"{sorted(unknown)[0]} is not in {quarantine.FILENAME}")
    quarantine.save(context.root, [e for e in entries if e.nodeid not in names])
    for name in sorted(names):
        sys.stdout.write(f"released {name}\n")
    return 0


def _add_list(sub: Any) -> None:
    """Add ``flaky list``."""
    p = sub.add_parser("list", help="flaky tests from the history, with their evidence")
    p.add_argument("--json", action="store_true", help="a JSON list of objects")
    p.add_argument("--branch", default=None, help="only runs of this branch")
    p.add_argument(
        "--window",
        type=positive_int,
        default=classify.WINDOW,
        metavar="N",
        help=f"runs of a branch the flip rate looks at (default {classify.WINDOW})",
    )
    p.add_argument(
        "--threshold",
        type=number(above=0.0, below=1.0),
        default=classify.THRESHOLD,
        metavar="RATE",
        help=f"a flip rate above this is flaky (default {classify.THRESHOLD})",
    )
    add_store(p)
    p.set_defaults(func=cmd_list)


def _add_quarantine(sub: Any) -> None:
    """Add ``flaky quarantine`` and ``flaky release``."""
    p = sub.add_parser("quarantine", help=f"add a test to {quarantine.FILENAME}")
    p.add_argument("nodeid", metavar="NODEID", help="the test's pytest node id")
    p.add_argument("--owner", default=None, help="who fixes it (required)")
    p.add_argument("--reason", default=None, help="why it is quarantined (required)")
    p.add_argument("--expires", default=None, metavar="YYYY-MM-DD", help="required")
    p.add_argument("--issue", default=None, metavar="URL", help="the tracking issue")
    add_store(p)
    p.set_defaults(func=cmd_quarantine)
    p = sub.add_parser("release", help=f"remove tests from {quarantine.FILENAME}")
    p.add_argument("nodeids", nargs="*", metavar="NODEID", help="tests to release")
    p.add_argument(
        "--auto", action="store_true", help="release the tests that passed their last K runs"
    )
    p.add_argument(
        "--runs",
        type=positive_int,
        default=RELEASE_RUNS,
        metavar="K",
        help=f"runs in a row a test must pass for --auto (default {RELEASE_RUNS})",
    )
    p.add_argument("--branch", default=None, help="only runs of this branch count")
    add_store(p)
    p.set_defaults(func=cmd_release)


def register(subparsers: Any) -> None:
    """Add ``flaky`` with its actions."""
    flaky = subparsers.add_parser(
        "flaky",
        help="flaky tests: list them from the history, quarantine and release them",
        description="Flaky tests from the history store, and the quarantine file "
        f"{quarantine.FILENAME} (docs/how-to/flaky-tests.md).",
    )
    sub = flaky.add_subparsers(dest="flaky_command", metavar="ACTION", required=True)
    _add_list(sub)
    _add_quarantine(sub)
    register_culprit(subparsers)
