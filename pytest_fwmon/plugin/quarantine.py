"""Quarantined tests (``fwmon-quarantine.toml``) run as non-strict xfails.

At collection each quarantined test gets ``pytest.mark.xfail(strict=False)`` through
pytest's public ``item.add_marker``: it still runs, a failure shows as ``xfailed`` and a pass as
``xpassed``, and neither fails the run. The report's ``test_results`` records flag them with
``quarantined: true``.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from ..gate.quarantine import Entry


def reason(entry: Entry) -> str:
    """Return the xfail reason pytest shows for a quarantined test."""
    issue = f", {entry.issue}" if entry.issue else ""
    return f"fwmon quarantine: {entry.reason} (owner {entry.owner}, until {entry.expires}{issue})"


def mark(items: Iterable[pytest.Item], entries: Iterable[Entry]) -> list[str]:
    """Mark the quarantined ``items`` as non-strict xfails; return their node ids."""
    by_id = {e.nodeid: e for e in entries}
    marked = []
    for item in items:
        entry = by_id.get(item.nodeid)
        if entry is not None:
            item.add_marker(pytest.mark.xfail(strict=False, reason=reason(entry)))
            marked.append(item.nodeid)
    return marked
