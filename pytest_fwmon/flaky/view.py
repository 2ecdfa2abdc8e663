"""The flaky tests and the quarantine as data: ``fwmon flaky list --json`` and the dashboard.

:func:`records` gives the objects of ``fwmon flaky list --json``; :func:`overview` adds the
quarantine entries with their expiry, for the dashboard's flaky page and ``/api/v1/flaky``
(:func:`page_data`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..core.errors import FwmonError
from ..gate import quarantine
from ..gate.quarantine import Entry
from . import classify


def gather(
    runs: Iterable[tuple[float, Mapping[str, Any]]],
    into: dict[str, list[classify.TestRun]] | None = None,
) -> dict[str, list[classify.TestRun]]:
    """Add the tests of ``(ts, report)`` pairs (oldest first) to ``into``, by node id."""
    tests: dict[str, list[classify.TestRun]] = {} if into is None else into
    for ts, report in runs:
        for nodeid, run in classify.runs_of(report, ts):
            tests.setdefault(nodeid, []).append(run)
    return tests


def iso(ts: float) -> str:
    """Return Unix seconds as an ISO 8601 UTC time."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


def records(found: Iterable[classify.Flaky], entries: Sequence[Entry]) -> list[dict[str, Any]]:
    """Return one ``fwmon flaky list --json`` object per flaky test."""
    by_id = {e.nodeid: e for e in entries}
    return [
        {
            "nodeid": f.nodeid,
            "flip_rate": f.flip_rate,
            "runs": f.runs,
            "commits": f.commits,
            "first_seen": iso(f.first_seen),
            "last_seen": iso(f.last_seen),
            "quarantined": f.nodeid in by_id,
            "quarantine_expires": by_id[f.nodeid].expires if f.nodeid in by_id else None,
            "reasons": f.reasons,
        }
        for f in found
    ]


def entry_record(entry: Entry, today: dt.date, flaky: bool) -> dict[str, Any]:
    """Return a quarantine entry with its days left (negative: expired) and expiry state."""
    days = (dt.date.fromisoformat(entry.expires) - today).days
    return {
        "nodeid": entry.nodeid,
        "owner": entry.owner,
        "reason": entry.reason,
        "expires": entry.expires,
        "issue": entry.issue,
        "added": entry.added,
        "days_left": days,
        "expired": days < 0,
        "flaky": flaky,
    }


def overview(
    tests: Mapping[str, list[classify.TestRun]],
    entries: Sequence[Entry],
    today: dt.date,
    window: int = classify.WINDOW,
    threshold: float = classify.THRESHOLD,
) -> dict[str, Any]:
    """Return the flaky tests and the quarantine entries (``/api/v1/flaky``)."""
    flaky = records(classify.classify(tests, window, threshold), entries)
    listed = {r["nodeid"] for r in flaky}
    return {
        "window": window,
        "threshold": threshold,
        "today": today.isoformat(),
        "tests": flaky,
        "quarantine": [
            entry_record(e, today, e.nodeid in listed)
            for e in sorted(entries, key=lambda e: e.nodeid)
        ],
    }


def page_data(
    tests: Mapping[str, list[classify.TestRun]], root: Path | None, today: dt.date
) -> dict[str, Any]:
    """Return :func:`overview` with the quarantine of ``root`` and a ``note``.

    ``note`` says why the quarantine is not shown (a malformed ``fwmon-quarantine.toml``);
    without a root there is no quarantine to show.
    """
    note = None
    try:
        entries = quarantine.load(root) if root is not None else []
    except FwmonError as exc:
        entries, note = [], exc.one_line()
    return {**overview(tests, entries, today), "note": note}
