"""Per-test durations from the history store, for balancing shards (``--fwmon-shard I/N``).

A test's duration in one run is what pytest-split stores in ``.test_durations``: the sum of
the durations of every phase (setup, call and teardown) of every attempt. A report records it
as ``test_results[].duration``; a report written before that field existed gives the sum of
its attempts' durations (the phase that settled each attempt: the call phase of a test that
ran), so older runs still count. The balancing duration of a test is the median of its
durations over the newest :data:`RUNS` runs of the branch that contain it; a branch without
runs uses the newest runs of any branch (a new branch is balanced by its base's history).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from typing import Any, Final

#: Newest runs of the branch whose durations are looked at.
RUNS: Final = 10


def record_duration(record: Mapping[str, Any]) -> float | None:
    """Return one ``test_results`` record's duration in its run, None when it has none."""
    value = record.get("duration")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    attempts = [a.get("duration") for a in record.get("attempts") or []]
    numbers = [float(a) for a in attempts if isinstance(a, int | float)]
    return sum(numbers) if numbers else None


def median_durations(reports: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Return each test's median duration over ``reports`` (the runs that contain it)."""
    seen: dict[str, list[float]] = {}
    for report in reports:
        for record in report.get("test_results") or []:
            duration = record_duration(record)
            if duration is not None and duration >= 0:
                seen.setdefault(str(record.get("nodeid")), []).append(duration)
    return {nodeid: statistics.median(values) for nodeid, values in sorted(seen.items())}


def history_durations(store: Any, branch: str | None, runs: int = RUNS) -> dict[str, float]:
    """Return the median durations of the newest ``runs`` runs of ``branch`` in ``store``."""
    reports = store.recent_reports(branch, runs) if branch else []
    if not reports:
        reports = store.recent_reports(None, runs)
    return median_durations(reports)
