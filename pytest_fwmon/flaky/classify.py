"""Which tests are flaky, from the ``test_results`` of the runs in the history store.

A test is **flaky** when either

* it has both outcomes on one commit: a passing and a failing attempt, within one run
  (pytest-rerunfailures) or across runs (CI re-runs of a job, repeated runs), or
* its *flip rate* over the last :data:`WINDOW` runs of a branch is above :data:`THRESHOLD`:
  the share of consecutive run pairs (oldest first) whose final outcomes differ, counted only
  when the branch has at least :data:`MIN_RUNS` runs of the test.

A test that fails on every run it is in never has both outcomes and is *broken*, never listed.
Outcomes other than passed, failed and error (skipped, xfailed, xpassed) are ignored, except
for a quarantined test (``quarantined: true``), whose xfailed is a failure and xpassed a pass.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

#: Runs of a branch the flip rate looks at (the newest).
WINDOW: Final = 30
#: A flip rate above this makes a test flaky.
THRESHOLD: Final = 0.1
#: Fewer runs of a test on a branch than this give no flip rate.
MIN_RUNS: Final = 5

_PASS: Final = frozenset({"passed"})
_FAIL: Final = frozenset({"failed", "error"})


@dataclass(frozen=True)
class TestRun:
    """One test in one stored run."""

    run_id: str
    ts: float
    branch: str | None
    sha: str | None
    #: Final outcome: True passed, False failed.
    passed: bool
    #: Some attempt failed and some attempt passed in this run.
    mixed: bool


@dataclass
class Flaky:
    """A flaky test and its evidence."""

    nodeid: str
    flip_rate: float
    runs: list[str] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)
    first_seen: float = 0.0
    last_seen: float = 0.0
    reasons: list[str] = field(default_factory=list)


#: What a quarantined test's outcomes stand for (it runs as a non-strict xfail).
_QUARANTINED: Final = {"xfailed": "failed", "xpassed": "passed"}


def _outcome(record: Mapping[str, Any], outcome: Any) -> Any:
    """Return ``outcome`` of ``record``, a quarantined xfail read as the failure it hides."""
    return _QUARANTINED.get(outcome, outcome) if record.get("quarantined") else outcome


def _attempt_kinds(record: Mapping[str, Any]) -> tuple[bool, bool]:
    """Return (some attempt passed, some attempt failed) of one ``test_results`` record."""
    outcomes = {_outcome(record, a.get("outcome")) for a in record.get("attempts") or []}
    outcomes.add(_outcome(record, record.get("outcome")))
    return bool(outcomes & _PASS), bool(outcomes & _FAIL)


def ever_failed(record: Mapping[str, Any]) -> bool:
    """Return True when some attempt of one ``test_results`` record failed (a flaky candidate)."""
    return _attempt_kinds(record)[1]


def runs_of(report: Mapping[str, Any], ts: float) -> Iterator[tuple[str, TestRun]]:
    """Yield ``(nodeid, TestRun)`` for each passing or failing test of one report."""
    run = report.get("run") or {}
    git = run.get("git") or {}
    for record in report.get("test_results") or []:
        final = _outcome(record, record.get("outcome"))
        if final not in _PASS | _FAIL:
            continue
        some_pass, some_fail = _attempt_kinds(record)
        yield (
            str(record.get("nodeid")),
            TestRun(
                run_id=str(run.get("id")),
                ts=ts,
                branch=git.get("branch"),
                sha=git.get("sha"),
                passed=final in _PASS,
                mixed=some_pass and some_fail,
            ),
        )


def gather(reports: Iterable[tuple[str, float, str]]) -> dict[str, list[TestRun]]:
    """Group the tests of stored reports (``(run_id, ts, JSON)``, oldest first) by node id."""
    tests: dict[str, list[TestRun]] = {}
    for _run_id, ts, text in reports:
        report = json.loads(text)
        for nodeid, run in runs_of(report, ts):
            tests.setdefault(nodeid, []).append(run)
    return tests


def _same_commit(runs: list[TestRun]) -> dict[str, list[TestRun]]:
    """Return the commits where the test both passed and failed, with their runs."""
    by_sha: dict[str, list[TestRun]] = {}
    for run in runs:
        if run.sha:
            by_sha.setdefault(run.sha, []).append(run)
    mixed = {}
    for sha, group in by_sha.items():
        outcomes = {r.passed for r in group}
        if len(outcomes) == 2 or any(r.mixed for r in group):
            mixed[sha] = group
    return mixed


def flip_rate(runs: list[TestRun], window: int = WINDOW) -> float | None:
    """Return the flip rate of the newest ``window`` runs (None below :data:`MIN_RUNS`)."""
    recent = runs[-window:]
    if len(recent) < max(MIN_RUNS, 2):
        return None
    flips = sum(a.passed != b.passed for a, b in itertools.pairwise(recent))
    return flips / (len(recent) - 1)


def _branch_rates(runs: list[TestRun], window: int) -> dict[str, float]:
    """Return the flip rate of the test on each branch that has enough runs."""
    by_branch: dict[str, list[TestRun]] = {}
    for run in runs:
        by_branch.setdefault(run.branch or "(no branch)", []).append(run)
    rates = {}
    for branch, group in by_branch.items():
        rate = flip_rate(group, window)
        if rate is not None:
            rates[branch] = rate
    return rates


def judge(
    nodeid: str, runs: list[TestRun], window: int = WINDOW, threshold: float = THRESHOLD
) -> Flaky | None:
    """Return the evidence that ``nodeid`` is flaky, or None when it is not."""
    mixed = _same_commit(runs)
    rates = _branch_rates(runs, window)
    flipping = {b: r for b, r in rates.items() if r > threshold}
    if not mixed and not flipping:
        return None
    evidence = [r for r in runs if not r.passed or r.mixed]
    times = [r.ts for r in evidence]
    return Flaky(
        nodeid=nodeid,
        flip_rate=round(max(rates.values(), default=0.0), 4),
        runs=[r.run_id for r in evidence],
        commits=sorted(mixed),
        first_seen=min(times),
        last_seen=max(times),
        reasons=_reasons(mixed, flipping),
    )


def _reasons(mixed: Mapping[str, Any], flipping: Mapping[str, float]) -> list[str]:
    """Return why a test is flaky, one phrase per commit or branch."""
    reasons = [f"both outcomes on commit {sha[:12]}" for sha in sorted(mixed)]
    return reasons + [f"flip rate {r:.2f} on branch {b}" for b, r in sorted(flipping.items())]


def classify(
    tests: Mapping[str, list[TestRun]], window: int = WINDOW, threshold: float = THRESHOLD
) -> list[Flaky]:
    """Return every flaky test of ``tests`` (from :func:`gather`), sorted by node id."""
    found = (judge(nodeid, runs, window, threshold) for nodeid, runs in sorted(tests.items()))
    return [f for f in found if f is not None]
