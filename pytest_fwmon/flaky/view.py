"""The flaky tests and the quarantine as data: ``fwmon flaky list --json`` and the dashboard.

:func:`records` gives the objects of ``fwmon flaky list --json``; :func:`overview` adds the
quarantine entries with their expiry, for the dashboard's flaky page and ``/api/v1/flaky``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..gate.quarantine import Entry
from . import classify


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
