"""Implementation tracking: which improvement opportunities were done, and what they yielded.

``track_run(store, report)`` is called once a run has been added to the store: by the plugin
at the end of ``pytest --fwmon``, by ``fwmon alerts evaluate --report`` and by ``fwmon history
import`` for the newest imported run of each branch (:class:`Newest`: a bulk import is
compared once, so what the imported runs fixed is attributed to the newest of them).
``implemented(store, branch=None)`` lists the outcomes (``fwmon improve --done``, the
dashboard). Standard library only.

Definitions
-----------
*Open opportunity*: one of :func:`pytest_fwmon.history.improve.opportunities` (``slow_tests``
= 5) of a tracked run on a branch, kept by its stable id (:func:`.improve.opportunity_id`)
with the run it was first and last seen in. Runs without a branch are tracked together under
the branch ``""``.

When a run is tracked, every open opportunity of its branch that the run no longer lists is
checked against the run's own data; it is **implemented** in that run when its cause is gone:

* ``file`` / ``rule`` / ``complexity``: the pipeline ran (status ``pass`` or ``fail``), the
  checks that could hold the findings ran (outcome ``passed`` or ``failed``: of that file, or
  for a rule all of the pipeline's) and no finding of that file / rule / function remains (a
  suppressed or waived finding counts as remaining: accepted is not fixed). A file that has
  no check at all any more is implemented with the note *the file is no longer checked
  (deleted, renamed or excluded)*.
* ``slow-test``: the run timed the test, and its wall time is at most
  :data:`.evidence.SLOW_TEST_DONE` (80 %) of the time when it was last listed.
* ``benchmark``: the run measured the benchmark, and its P95 won back at least
  :data:`.evidence.BENCHMARK_DONE` (half) of the rise: ``p95 <= before + 0.5 * (after - before)``.

No data is not a fix: a pipeline that did not run, a test not timed or a benchmark not
measured leave the opportunity open, and so does an opportunity that dropped out of the list
while its findings remain (a rule now in one file only). A partial run (``run.completed``
false) is not compared. A run older than the newest tracked run of its branch is not
compared either (an import out of order cannot tell what came first). An implemented
opportunity that a later run lists again is **reopened**; its outcome row keeps the run that
reopened it.

*Predicted gain*: the opportunity's impact when it was last listed (score points, % of suite
duration or % of P95). *Realised gain*, in the same unit, from the figure before (the run that
last listed it) and after (the run that implemented it): score points: pipeline score after
minus before, both re-scored from the checks as the impact is
(:func:`.improve.pipeline_score`), so other changes to that pipeline in between count too;
slow test: ``100 * (wall before - wall after) / suite duration before``; benchmark:
``100 * (P95 before - P95 after) / P95 before the rise``.

Migration: the tables are created on the first tracked run (``store.ensure_tables``), so a
store written before them keeps its runs. When a branch has no tracked run yet, the newest
stored run before the tracked one is taken as its starting point (its opportunities are
opened first), so the first run after an upgrade is already compared.

Tables (``tables.improvements`` = :data:`TABLES_VERSION`; versions: 1. first release):

``fwmon_improvement_runs``
    a row per tracked run (run id, branch, time): a run is tracked once.
``fwmon_improvements``
    a row per (branch, opportunity id): state ``open`` or ``implemented``, kind, pipeline,
    subject, title, predicted gain and unit, the figure before and the details when last
    listed, first and last run and time it was listed, times reopened.
``fwmon_improvement_outcomes``
    a row per implementation (branch, id, run): commit sha, time, predicted and realised gain,
    figure before and after, note, and the run that reopened it (if any).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from ..core.errors import FwmonError, StoreError
from .evidence import (
    BENCHMARK_DONE,
    SLOW_TEST_DONE,
    Done,
    OpenRecord,
    evidence,
    figure_before,
    figure_name,
)
from .improve import Opportunity, opportunities
from .store import Store, iso_to_ts, ts_to_iso

#: Version of the improvement tables (see the module docstring).
TABLES_VERSION: Final = 1
#: Slow tests considered by tracking (the default of ``fwmon improve``).
SLOW_TESTS: Final = 5
#: Key of the PostgreSQL advisory lock (with the branch's hash) that serialises tracking.
_PG_LOCK: Final = 0x66776D69  # "fwmi"
#: Outcomes named one by one after a run (the rest are counted).
_SHOWN: Final = 5

DDL: Final = (
    """CREATE TABLE IF NOT EXISTS fwmon_improvement_runs (
        run_id TEXT PRIMARY KEY,
        branch TEXT NOT NULL,
        ts DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS fwmon_improvement_runs_branch ON fwmon_improvement_runs "
    "(branch, ts)",
    """CREATE TABLE IF NOT EXISTS fwmon_improvements (
        branch TEXT NOT NULL,
        opp_id TEXT NOT NULL,
        state TEXT NOT NULL,
        kind TEXT NOT NULL,
        pipeline TEXT,
        subject TEXT NOT NULL,
        title TEXT NOT NULL,
        predicted DOUBLE PRECISION NOT NULL,
        unit TEXT NOT NULL,
        figure_before DOUBLE PRECISION,
        details TEXT NOT NULL,
        first_run TEXT NOT NULL,
        first_ts DOUBLE PRECISION NOT NULL,
        last_run TEXT NOT NULL,
        last_ts DOUBLE PRECISION NOT NULL,
        reopened INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (branch, opp_id)
    )""",
    """CREATE TABLE IF NOT EXISTS fwmon_improvement_outcomes (
        branch TEXT NOT NULL,
        opp_id TEXT NOT NULL,
        run_id TEXT NOT NULL,
        sha TEXT,
        ts DOUBLE PRECISION NOT NULL,
        kind TEXT NOT NULL,
        pipeline TEXT,
        subject TEXT NOT NULL,
        title TEXT NOT NULL,
        predicted DOUBLE PRECISION NOT NULL,
        unit TEXT NOT NULL,
        figure TEXT NOT NULL,
        before DOUBLE PRECISION,
        after DOUBLE PRECISION,
        realised DOUBLE PRECISION,
        note TEXT NOT NULL,
        first_run TEXT NOT NULL,
        reopened_run TEXT,
        PRIMARY KEY (branch, opp_id, run_id)
    )""",
    "CREATE INDEX IF NOT EXISTS fwmon_improvement_outcomes_ts ON fwmon_improvement_outcomes "
    "(branch, ts)",
)

_OPEN_COLUMNS: Final = (
    "opp_id, state, kind, pipeline, subject, title, predicted, unit, figure_before, details, "
    "first_run, last_run, reopened"
)
_INSERT_OPEN: Final = (
    "INSERT INTO fwmon_improvements (branch, opp_id, state, kind, pipeline, subject, title, "
    "predicted, unit, figure_before, details, first_run, first_ts, last_run, last_ts) "
    "VALUES (?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (branch, opp_id) DO NOTHING"
)
_UPDATE_SEEN: Final = (
    "UPDATE fwmon_improvements SET state = 'open', reopened = reopened + ?, title = ?, "
    "predicted = ?, figure_before = ?, details = ?, last_run = ?, last_ts = ? "
    "WHERE branch = ? AND opp_id = ?"
)
_OUTCOME_COLUMNS: Final = (
    "branch, opp_id, run_id, sha, ts, kind, pipeline, subject, title, predicted, unit, figure, "
    "before, after, realised, note, first_run, reopened_run"
)
_INSERT_OUTCOME: Final = (
    f"INSERT INTO fwmon_improvement_outcomes ({_OUTCOME_COLUMNS}) "  # nosec B608 # fixed text, bound values
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL) "
    "ON CONFLICT (branch, opp_id, run_id) DO NOTHING"
)
_INSERT_RUN: Final = (
    "INSERT INTO fwmon_improvement_runs (run_id, branch, ts) VALUES (?, ?, ?) "
    "ON CONFLICT (run_id) DO NOTHING"
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One implemented opportunity: where it was done, what was predicted and realised."""

    #: Stable opportunity id, and the branch it was tracked on ("" for none).
    id: str
    branch: str
    #: What it was (as ``fwmon improve`` listed it).
    kind: str
    pipeline: str | None
    subject: str
    title: str
    #: Run, commit and time (Unix seconds and ISO) where it was implemented.
    run_id: str
    sha: str | None
    ts: float
    implemented_at: str
    #: Predicted gain (the impact when last listed) and realised gain, in ``unit``.
    predicted: float
    realised: float | None
    unit: str
    #: The figure compared ("security score", "wall time (s)", "P95 (s)"), before and after.
    figure: str
    before: float | None
    after: float | None
    #: Why it counts as done when it is not plain (a file no longer checked).
    note: str
    #: Run that first listed it, and the run that listed it again (None while it stays done).
    first_run: str
    reopened_run: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass(slots=True)
class TrackResult:
    """What tracking one run did."""

    run_id: str
    branch: str
    #: False when the run was not compared (see ``reason``).
    compared: bool
    reason: str = ""
    implemented: list[Outcome] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)
    opened: int = 0

    def lines(self) -> list[str]:
        """Return the terminal lines after a run: one per implemented opportunity (a few)."""
        out = []
        for outcome in self.implemented[:_SHOWN]:
            out.append(
                f"fwmon: improvement {outcome.id} implemented: {outcome.title} "
                f"(predicted {_gain(outcome.predicted)}, realised {_gain(outcome.realised)} "
                f"{outcome.unit})"
            )
        if len(self.implemented) > _SHOWN:
            out.append(
                f"fwmon: and {len(self.implemented) - _SHOWN} more improvement(s) implemented "
                "(fwmon improve --done)"
            )
        return out


def _gain(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}"


@dataclass(frozen=True, slots=True)
class _Run:
    run_id: str
    ts: float
    branch: str
    sha: str | None


def _run(report: Mapping[str, Any]) -> _Run:
    run = report["run"]
    git = run.get("git") or {}
    return _Run(str(run["id"]), iso_to_ts(run["started"]), git.get("branch") or "", git.get("sha"))


# -- storage --------------------------------------------------------------------------------


def _load(store: Store, branch: str) -> dict[str, OpenRecord]:
    sql = f"SELECT {_OPEN_COLUMNS} FROM fwmon_improvements WHERE branch = ?"  # nosec B608 # fixed text, bound values
    out = {}
    for row in store.query(sql, (branch,)):
        rec = OpenRecord(
            str(row[0]), str(row[1]), str(row[2]), row[3], str(row[4]), str(row[5]),
            float(row[6]), str(row[7]), None if row[8] is None else float(row[8]),
            json.loads(row[9]), str(row[10]), str(row[11]), int(row[12]),
        )  # fmt: skip
        out[rec.id] = rec
    return out


def _open_row(run: _Run, opp: Opportunity) -> tuple[Any, ...]:
    return (
        run.branch, opp.id, opp.kind, opp.pipeline, opp.subject, opp.title, opp.impact,
        opp.impact_unit, figure_before(opp), json.dumps(opp.details, sort_keys=True),
        run.run_id, run.ts, run.run_id, run.ts,
    )  # fmt: skip


def _seen_row(run: _Run, opp: Opportunity, reopened: bool) -> tuple[Any, ...]:
    return (
        int(reopened), opp.title, opp.impact, figure_before(opp),
        json.dumps(opp.details, sort_keys=True), run.run_id, run.ts, run.branch, opp.id,
    )  # fmt: skip


def _implement(store: Store, run: _Run, rec: OpenRecord, done: Done) -> Outcome:
    """Record ``rec`` as implemented in ``run``; return the outcome."""
    after, realised, note = done
    outcome = Outcome(
        id=rec.id, branch=run.branch, kind=rec.kind, pipeline=rec.pipeline,
        subject=rec.subject, title=rec.title, run_id=run.run_id, sha=run.sha, ts=run.ts,
        implemented_at=ts_to_iso(run.ts), predicted=rec.predicted, realised=realised,
        unit=rec.unit, figure=figure_name(rec.kind, rec.pipeline), before=rec.figure_before,
        after=after, note=note, first_run=rec.first_run, reopened_run=None,
    )  # fmt: skip
    store.execute(
        _INSERT_OUTCOME,
        (
            run.branch, rec.id, run.run_id, run.sha, run.ts, rec.kind, rec.pipeline,
            rec.subject, rec.title, rec.predicted, rec.unit, outcome.figure,
            rec.figure_before, after, realised, note, rec.first_run,
        ),
    )  # fmt: skip
    store.execute(
        "UPDATE fwmon_improvements SET state = 'implemented' WHERE branch = ? AND opp_id = ?",
        (run.branch, rec.id),
    )
    return outcome


def _reopen(store: Store, run: _Run, opp_ids: Sequence[str]) -> None:
    """Mark the outcomes of implemented opportunities listed again as reopened by ``run``."""
    store.executemany(
        "UPDATE fwmon_improvement_outcomes SET reopened_run = ? "
        "WHERE branch = ? AND opp_id = ? AND reopened_run IS NULL",
        [(run.run_id, run.branch, opp_id) for opp_id in opp_ids],
    )


def _close(
    store: Store,
    run: _Run,
    report: Mapping[str, Any],
    records: Mapping[str, OpenRecord],
    listed: set[str],
) -> list[Outcome]:
    """Record the open opportunities that ``report`` no longer lists and shows done."""
    out = []
    for rec in records.values():
        done = None if rec.state != "open" or rec.id in listed else evidence(rec, report)
        if done is not None:
            out.append(_implement(store, run, rec, done))
    return out


def _apply(
    store: Store, run: _Run, report: Mapping[str, Any], found: Sequence[Opportunity]
) -> TrackResult:
    """Compare the open opportunities of the branch with ``found`` and the run's data."""
    records = _load(store, run.branch)
    result = TrackResult(run.run_id, run.branch, compared=True)
    result.implemented = _close(store, run, report, records, {o.id for o in found})
    new = [o for o in found if o.id not in records]
    seen = [o for o in found if o.id in records]
    result.reopened = [o.id for o in seen if records[o.id].state != "open"]
    _reopen(store, run, result.reopened)
    result.opened = len(new)
    store.executemany(_INSERT_OPEN, [_open_row(run, o) for o in new])
    store.executemany(_UPDATE_SEEN, [_seen_row(run, o, o.id in result.reopened) for o in seen])
    return result


def _previous_run(store: Store, run: _Run) -> dict[str, Any] | None:
    """Return the newest stored report on the run's branch before it (the starting point)."""
    branch = "(branch IS NULL OR branch = '')" if not run.branch else "branch = ?"
    params: list[Any] = [] if not run.branch else [run.branch]
    rows = store.query(
        f"SELECT report FROM fwmon_runs WHERE {branch} AND ts < ? "  # nosec B608 # fixed text, bound values
        "ORDER BY ts DESC, run_id DESC LIMIT 1",
        (*params, run.ts),
    )
    return json.loads(rows[0][0]) if rows else None


def _newest_tracked(store: Store, branch: str) -> float | None:
    rows = store.query("SELECT MAX(ts) FROM fwmon_improvement_runs WHERE branch = ?", (branch,))
    return None if not rows or rows[0][0] is None else float(rows[0][0])


def _skip(store: Store, run: _Run, report: Mapping[str, Any]) -> str:
    """Return why ``run`` is not compared ("" when it is)."""
    if not report["run"].get("completed", True):
        return "a partial run is not compared"
    if store.query("SELECT 1 FROM fwmon_improvement_runs WHERE run_id = ?", (run.run_id,)):
        return "already tracked"
    newest = _newest_tracked(store, run.branch)
    if newest is not None and newest > run.ts:
        return "older than the newest tracked run of its branch"
    return ""


def _lock(store: Store, branch: str) -> None:
    """Inside the transaction: one tracker per branch at a time (SQLite: BEGIN IMMEDIATE)."""
    if store.dialect == "postgresql":
        store.execute("SELECT pg_advisory_xact_lock(?, hashtext(?))", (_PG_LOCK, branch))


def track_run(
    store: Store, report: Mapping[str, Any], *, slow_tests: int = SLOW_TESTS
) -> TrackResult:
    """Track the opportunities of a stored run: record the ones it implemented (see module)."""
    store.ensure_tables("improvements", TABLES_VERSION, DDL)
    run = _run(report)
    reason = _skip(store, run, report)
    if reason:
        return TrackResult(run.run_id, run.branch, False, reason)
    start = None if _newest_tracked(store, run.branch) is not None else _previous_run(store, run)
    branch = run.branch or None
    seed = [] if start is None else opportunities(start, store=store, branch=branch)
    found = opportunities(report, store=store, branch=branch, slow_tests=slow_tests)
    with store.transaction():
        _lock(store, run.branch)
        reason = _skip(store, run, report)  # again, now that no other tracker runs
        if reason:
            return TrackResult(run.run_id, run.branch, False, reason)
        fresh = _newest_tracked(store, run.branch) is None
        store.execute(_INSERT_RUN, (run.run_id, run.branch, run.ts))
        if start is not None and fresh:
            first = _run(start)
            store.execute(_INSERT_RUN, (first.run_id, first.branch, first.ts))
            store.executemany(_INSERT_OPEN, [_open_row(first, o) for o in seed])
        return _apply(store, run, report, found)


def track_after_run(store: Store, report: Mapping[str, Any]) -> list[str]:
    """Track a run just recorded; return the lines to show (a store problem is one line)."""
    try:
        return track_run(store, report).lines()
    except FwmonError as exc:
        return [f"fwmon: improvements were not tracked: {exc.one_line()}"]


class Newest:
    """The newest report of each branch among many (``fwmon history import`` tracks those)."""

    def __init__(self) -> None:
        """Start with none."""
        self.reports: dict[str, tuple[float, Mapping[str, Any]]] = {}

    def add(self, report: Mapping[str, Any]) -> None:
        """Keep ``report`` when it is the newest of its branch so far."""
        run = _run(report)
        if run.branch not in self.reports or self.reports[run.branch][0] < run.ts:
            self.reports[run.branch] = (run.ts, report)

    def track(self, store: Store) -> list[str]:
        """Track the newest report of each branch; return the lines to show."""
        lines = []
        for _, report in sorted(self.reports.values(), key=lambda item: item[0]):
            lines.extend(track_after_run(store, report))
        return lines


def implemented(store: Store, branch: str | None = None) -> list[Outcome]:
    """Return the implemented opportunities, newest first (of ``branch`` when given)."""
    rows = store.query("SELECT value FROM fwmon_meta WHERE key = ?", ("tables.improvements",))
    if not rows:
        return []
    if str(rows[0][0]) != str(TABLES_VERSION):
        raise StoreError(
            f"history store {store.location} has improvements tables of version {rows[0][0]}; "
            f"this fwmon reads version {TABLES_VERSION}",
            hint="use the fwmon version that created them",
        )
    sql = f"SELECT {_OUTCOME_COLUMNS} FROM fwmon_improvement_outcomes"  # nosec B608 # fixed text, bound values
    params: tuple[Any, ...] = ()
    if branch is not None:
        sql, params = sql + " WHERE branch = ?", (branch,)
    out = []
    for r in store.query(sql + " ORDER BY ts DESC, title, opp_id", params):
        out.append(
            Outcome(
                id=str(r[1]), branch=str(r[0]), kind=str(r[5]), pipeline=r[6],
                subject=str(r[7]), title=str(r[8]), run_id=str(r[2]), sha=r[3],
                ts=float(r[4]), implemented_at=ts_to_iso(float(r[4])), predicted=float(r[9]),
                realised=r[14], unit=str(r[10]), figure=str(r[11]), before=r[12], after=r[13],
                note=str(r[15]), first_run=str(r[16]), reopened_run=r[17],
            )
        )  # fmt: skip
    return out


def outcomes(store: Store | None, branch: str | None, limit: int = 50) -> dict[str, Any]:
    """Return ``{"implemented": [Outcome.to_dict()]}``, newest first (none without a store)."""
    found = [] if store is None else implemented(store, branch)[:limit]
    return {"implemented": [o.to_dict() for o in found]}


__all__ = [
    "BENCHMARK_DONE",
    "SLOW_TEST_DONE",
    "TABLES_VERSION",
    "Newest",
    "Outcome",
    "TrackResult",
    "implemented",
    "outcomes",
    "track_after_run",
    "track_run",
]
