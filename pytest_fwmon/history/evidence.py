"""When an open improvement opportunity counts as implemented, from one run's own data.

:func:`evidence` answers for :mod:`.tracking` (whose docstring gives the rules in full): a
finding group is done when its pipeline ran, every check that could hold its findings ran
(outcome ``passed`` or ``failed``), and none of its findings (of any status) remain; a
slow test when the run timed it at :data:`SLOW_TEST_DONE` of its old time or less; a benchmark
when its P95 won back :data:`BENCHMARK_DONE` of its rise. Anything not measured is not done.
Standard library only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from .improve import COMPLEXITY_RULE, Opportunity, function_subject, pipeline_score
from .metrics import RAN

#: A slow test is implemented at or below this share of its wall time when last listed.
SLOW_TEST_DONE: Final = 0.8
#: A benchmark is implemented when it won back at least this share of its P95 rise.
BENCHMARK_DONE: Final = 0.5


@dataclass(frozen=True, slots=True)
class OpenRecord:
    """An open (or implemented) opportunity as tracking keeps it (``fwmon_improvements``)."""

    id: str
    state: str
    kind: str
    pipeline: str | None
    subject: str
    title: str
    predicted: float
    unit: str
    figure_before: float | None
    details: dict[str, Any]
    first_run: str
    last_run: str
    reopened: int


def figure_before(opp: Opportunity) -> float | None:
    """Return the figure an outcome is measured against, as the opportunity was listed."""
    key = {"slow-test": "wall", "benchmark": "after"}.get(opp.kind, "score")
    value = opp.details.get(key)
    return float(value) if isinstance(value, int | float) else None


def figure_name(kind: str, pipeline: str | None) -> str:
    """Return what the before and after figures of an outcome are."""
    return {"slow-test": "wall time (s)", "benchmark": "P95 (s)"}.get(kind, f"{pipeline} score")


#: Note of an opportunity implemented because its file has no check any more.
_NOT_CHECKED: Final = "the file is no longer checked (deleted, renamed or excluded)"

#: (after, realised, note) of an implemented opportunity.
Done = tuple[float | None, float | None, str]


def _checks(report: Mapping[str, Any], pipeline: str) -> list[Mapping[str, Any]]:
    return [c for c in report.get("checks") or () if c.get("pipeline") == pipeline]


def _finding_matches(rec: OpenRecord, finding: Mapping[str, Any]) -> bool:
    """Return True when ``finding`` belongs to the open opportunity ``rec``."""
    if rec.kind == "file":
        return finding.get("path") == rec.subject
    if rec.kind == "rule":
        return finding.get("rule") == rec.subject
    if finding.get("rule") != COMPLEXITY_RULE:
        return False
    path, message = str(finding.get("path")), str(finding.get("message", ""))
    return function_subject(path, message) == rec.subject


def _remaining(rec: OpenRecord, checks: Sequence[Mapping[str, Any]]) -> bool:
    """Return True when a finding of ``rec`` (any status) is still in ``checks``."""
    return any(_finding_matches(rec, f) for c in checks for f in c.get("findings") or ())


#: Check outcomes that mean the checker looked at the file (``error``, ``skipped``: it did not).
_LOOKED: Final = frozenset({"passed", "failed"})


def _unchecked(rec: OpenRecord, checks: Sequence[Mapping[str, Any]]) -> bool | None:
    """Return None when a check that could hold the findings did not run, else "no check".

    "No check" (True): the file of a file or function opportunity has no check at all any
    more (deleted, renamed or excluded).
    """
    if rec.kind == "rule":
        return None if any(c.get("outcome") not in _LOOKED for c in checks) else False
    path = rec.subject if rec.kind == "file" else rec.subject.split("::", 1)[0]
    own = [c for c in checks if c.get("path") == path]
    if any(c.get("outcome") not in _LOOKED for c in own):
        return None
    return not own


def _findings_gone(rec: OpenRecord, report: Mapping[str, Any]) -> Done | None:
    """Return the outcome when the pipeline ran and none of the findings remain, else None."""
    pipeline = rec.pipeline or ""
    status = ((report.get("pipelines") or {}).get(pipeline) or {}).get("status")
    checks = _checks(report, pipeline)
    if status not in RAN or _remaining(rec, checks):
        return None
    unchecked = _unchecked(rec, checks)
    if unchecked is None:
        return None
    after, before = pipeline_score(report, pipeline), rec.figure_before
    realised = None if after is None or before is None else round(after - before, 1)
    return after, realised, _NOT_CHECKED if unchecked else ""


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _measured(entries: Any, key: str, name: str, figure: Callable[[Any], Any]) -> float | None:
    """Return ``figure(entry)`` of the first entry whose ``key`` is ``name``, or None."""
    for entry in entries or ():
        if isinstance(entry, dict) and entry.get(key) == name:
            return _number(figure(entry))
    return None


def _slow_test_done(rec: OpenRecord, report: Mapping[str, Any]) -> Done | None:
    """Return the outcome when the test was timed at most SLOW_TEST_DONE of its old time."""
    after = _measured(report.get("resources"), "nodeid", rec.subject, lambda r: r.get("wall"))
    before, suite = rec.figure_before, _number(rec.details.get("suite"))
    if after is None or before is None or not suite or after > SLOW_TEST_DONE * before:
        return None
    return after, round(100.0 * (before - after) / suite, 1), ""


def _benchmark_done(rec: OpenRecord, report: Mapping[str, Any]) -> Done | None:
    """Return the outcome when the benchmark won back at least BENCHMARK_DONE of its rise."""
    after = _measured(
        report.get("benchmarks"), "name", rec.subject, lambda b: (b.get("stats") or {}).get("p95")
    )
    low, high = _number(rec.details.get("before")), rec.figure_before
    if after is None or low is None or high is None or low <= 0:
        return None
    if after > low + BENCHMARK_DONE * (high - low):
        return None
    return after, round(100.0 * (high - after) / low, 1), ""


def evidence(rec: OpenRecord, report: Mapping[str, Any]) -> Done | None:
    """Return (after, realised, note) when ``report`` shows the opportunity done, else None."""
    if rec.kind == "slow-test":
        return _slow_test_done(rec, report)
    if rec.kind == "benchmark":
        return _benchmark_done(rec, report)
    return _findings_gone(rec, report)


__all__ = [
    "BENCHMARK_DONE",
    "SLOW_TEST_DONE",
    "Done",
    "OpenRecord",
    "evidence",
    "figure_before",
    "figure_name",
]
