"""The alert engine: lifecycle, escalation, silences, inhibition, grouping, dedup, notification.

Alertmanager's model, counted in runs. One evaluation handles one run (its repo and branch);
its clock is the run's ``run.finished`` time, so re-running an evaluation gives the same
answer and a synthetic history behaves like a real one.

Lifecycle (per alert, identified by the fingerprint of its labels ``alertname repo branch
severity metric`` + the rule's labels):

* condition true: absent/resolved -> **pending** (``active_runs = 1``); pending -> **firing**
  once ``active_runs >= for_runs`` (``for_runs = 1`` fires on the first run);
* condition false: pending -> forgotten; firing -> **resolved** after ``resolve_after_runs``
  consecutive false runs (until then it stays firing);
* no data (metric absent, no gate verdict): unchanged.

Escalation: a firing alert moves one level up (low -> medium -> high -> critical) when it has
been firing for ``escalate_after_runs`` more runs, or ``escalate_after`` seconds, since it
fired or last escalated. Its ``severity`` label (as sent) and therefore its route change; its
identity (fingerprint of the rule's labels) does not. The annotation ``escalated_from`` names
the rule's level.

Notification, per group = (route of the alert's current severity, values of ``group_by``
labels), group key ``{}/{severity="high"}:{branch="main", repo="demo"}``; only groups holding
an alert of the evaluated repo and branch are looked at. Alerts muted by an active silence or
inhibited by a firing source alert are left out. For each receiver of the route, with the
notification log entry (what it was last told):

1. nothing (firing or resolved) to tell -> nothing, log unchanged;
2. no entry -> notify when something fires;
3. the last notification was undelivered -> notify again;
4. a firing alert it was not told about -> notify;
5. nothing firing any more -> log it; a message with the resolved alerts goes to receivers in
   the route's ``send_resolved``;
6. receivers in ``send_resolved`` with newly resolved alerts -> notify;
7. otherwise notify again once ``repeat_interval`` has passed since the last notification.

Deduplication: the evaluation runs in one store transaction (``BEGIN IMMEDIATE`` on SQLite,
plus an advisory lock on PostgreSQL); the evaluation key (run id + gate verdict) is a primary
key, so a second runner evaluating the same run does nothing; and every notification row has
UNIQUE (group key, receiver, change key) where the change key hashes what changes (firing and
resolved sets, reason, the notification it follows), so one change is notified once. Runs
older than the newest run evaluated on the same repo and branch are recorded and skipped.

Deliveries run after the transaction commits (no lock is held while a receiver answers), and
their results are written back: ``sent`` or ``undelivered`` with the error.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

from ..core.errors import FwmonError, StoreError
from ..history.metrics import extract, gate_verdict
from ..history.store import Store, iso_to_ts, ts_to_iso
from .conditions import RuleResult, RunContext, evaluate_rule
from .delivery import DeliveryResult, Job, deliver
from .evaluation import Evaluation
from .response import ensure_response
from .settings import AlertSettings
from .state import dumps, ensure
from .summary import EvaluationSummary, NotificationOutcome, Transition

#: PostgreSQL advisory lock key serialising alert evaluations ("fwmon" + 7).
PG_ALERT_LOCK: Final = 0x66776D6F6E07

#: Branch label of runs without a branch (detached HEAD).
NO_BRANCH: Final = "detached"


def _runner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _lock(store: Store) -> None:
    if store.dialect == "postgresql":
        store.query("SELECT pg_advisory_xact_lock(?)", (PG_ALERT_LOCK,))


#: Attempts of an evaluation that the database aborted to resolve a conflict.
RETRIES: Final = 5
_T = TypeVar("_T")


def _retrying(work: Callable[[], _T]) -> _T:
    """Run a store transaction, retrying it at most :data:`RETRIES` times.

    It runs again when PostgreSQL aborted it to break a deadlock or a serialization conflict
    (``StoreError.retryable``), as PostgreSQL advises.
    """
    for attempt in range(1, RETRIES + 1):
        try:
            return work()
        except StoreError as exc:
            if not exc.retryable or attempt == RETRIES:
                raise
            time.sleep(0.02 * attempt)
    raise AssertionError("unreachable: the last attempt returns or raises")


def _record(
    store: Store, results: Sequence[DeliveryResult], jobs: Sequence[Job], now: float
) -> None:
    """Record the delivery outcomes in one transaction.

    It may meet another runner's evaluation on the same alert rows, so it is retried like the
    evaluation.
    """
    _retrying(lambda: _record_once(store, results, jobs, now))


def _record_once(
    store: Store, results: Sequence[DeliveryResult], jobs: Sequence[Job], now: float
) -> None:
    by_id = {job.id: job for job in jobs}
    with store.transaction():
        for result in results:
            job = by_id[result.id]
            store.execute(
                "UPDATE fwmon_alert_notifications SET status = ?, attempts = ?, error = ?, "
                "log = ?, sent_at = ? WHERE id = ?",
                (
                    result.status,
                    result.attempts,
                    result.error,
                    dumps(result.log),
                    time.time() if result.status == "sent" else None,
                    result.id,
                ),
            )
            if result.status == "sent":
                ids = str(
                    store.query(
                        "SELECT fingerprints FROM fwmon_alert_notifications WHERE id = ?",
                        (result.id,),
                    )[0][0]
                ).split()
                store.executemany(
                    "UPDATE fwmon_alert_state SET last_notified = ? WHERE fingerprint = ?",
                    [(now, fp) for fp in ids],
                )
                if "fwmonEvent" not in job.payload:  # an acknowledge delivers no group state
                    _supersede(store, str(job.payload["groupKey"]), result.receiver, result.id)
                    _supersede_carried(store, result.receiver, result.id, set(ids))
            else:
                store.execute(
                    "UPDATE fwmon_alert_groups SET delivered = 0 WHERE group_key = ? AND "
                    "receiver = ? AND notification_id = ?",
                    (job.payload["groupKey"], result.receiver, result.id),
                )


def _supersede(store: Store, group_key: str, receiver: str, sent_id: str) -> None:
    """Mark the receiver's earlier undelivered notifications of the group ``superseded``.

    The notification ``sent_id`` was delivered and told the receiver the group's current
    state, so what the failed ones carried has arrived: they no longer count as undelivered.
    """
    store.execute(
        "UPDATE fwmon_alert_notifications SET status = ? WHERE group_key = ? AND receiver = ? "
        "AND status = ? AND id <> ? AND created <= (SELECT created FROM "
        "fwmon_alert_notifications WHERE id = ?)",
        ("superseded", group_key, receiver, "undelivered", sent_id, sent_id),
    )


def _supersede_carried(store: Store, receiver: str, sent_id: str, carried: set[str]) -> None:
    """Mark ``superseded`` the receiver's earlier undelivered notifications it has now been told.

    Those are the ones of any group whose every alert the delivered notification ``sent_id``
    carried.
    An alert that escalates moves to its new level's group; a notification of its old group
    that failed would otherwise stay undelivered for good (nothing is left in that group to
    send again), although the receiver has now been told of every alert it carried.
    """
    rows = store.query(
        "SELECT id, fingerprints FROM fwmon_alert_notifications WHERE receiver = ? AND "
        "status = ? AND id <> ? AND created <= (SELECT created FROM "
        "fwmon_alert_notifications WHERE id = ?)",
        (receiver, "undelivered", sent_id, sent_id),
    )
    told = [str(i) for i, fps in rows if set(str(fps).split()) <= carried]
    store.executemany(
        "UPDATE fwmon_alert_notifications SET status = ? WHERE id = ? AND status = ?",
        [("superseded", i, "undelivered") for i in told],
    )


def _claim(store: Store, summary: EvaluationSummary, eval_key: str, ts: float, runner: str) -> bool:
    """Record this evaluation in its transaction; False (and why, in the summary) to skip it."""
    repo, branch = summary.repo, summary.branch
    inserted = store.execute(
        "INSERT INTO fwmon_alert_evaluations (eval_key, run_id, repo, branch, ts, "
        "evaluated_at, runner, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (eval_key) DO NOTHING",
        (eval_key, summary.run_id, repo, branch, ts, time.time(), runner, "evaluated"),
    )
    if inserted == 0:
        summary.skipped = "already evaluated (by this or another runner); nothing to do"
        return False
    newer = store.query(
        "SELECT MAX(ts) FROM fwmon_alert_evaluations WHERE repo = ? AND branch = ? "
        "AND outcome = ? AND run_id <> ?",
        (repo, branch, "evaluated", summary.run_id),
    )[0][0]
    if newer is not None and float(newer) > ts:
        store.execute(
            "UPDATE fwmon_alert_evaluations SET outcome = ? WHERE eval_key = ?",
            ("older", eval_key),
        )
        summary.skipped = (
            f"older than run evaluated on {repo} {branch} at "
            f"{ts_to_iso(float(newer))}; alert state only moves forward"
        )
        return False
    return True


def _attempt(
    store: Store,
    settings: AlertSettings,
    context: RunContext,
    summary: EvaluationSummary,
    results: Sequence[RuleResult],
    *,
    run: Mapping[str, Any],
    now: float,
    eval_key: str,
    runner: str,
) -> Evaluation | None:
    """Run one evaluation transaction; None when this run is not to be evaluated."""
    summary.skipped = None
    git = run.get("git") or {}
    ci = run.get("ci") or {}
    evaluation = Evaluation(
        store,
        settings,
        context,
        repo=summary.repo,
        branch=summary.branch,
        now=now,
        run_url=str(ci.get("run_url") or ""),
        sha=str(git.get("sha") or ""),
    )
    with store.transaction():
        _lock(store)
        if not _claim(store, summary, eval_key, context.ts, runner):
            return None
        evaluation.apply(results)
        evaluation.plan()
    return evaluation


def _outcome(evaluation: Evaluation, result: DeliveryResult) -> NotificationOutcome:
    """Return what the summary reports of one delivered (or undelivered) notification."""
    job_reason, status, count = evaluation.planned[result.id]
    job = next(j for j in evaluation.jobs if j.id == result.id)
    return NotificationOutcome(
        id=result.id,
        receiver=result.receiver,
        group_key=str(job.payload["groupKey"]),
        reason=job_reason,
        status=status,
        delivery=result.status,
        alerts=count,
        attempts=result.attempts,
        error=result.error,
    )


def _notify(
    store: Store,
    evaluation: Evaluation,
    settings: AlertSettings,
    summary: EvaluationSummary,
    *,
    root: Path,
    environ: Mapping[str, str] | None,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> None:
    """Deliver the planned notifications, record their outcomes, and add them to the summary."""
    env = os.environ if environ is None else environ
    delivery_started = clock()
    outcomes = deliver(
        evaluation.jobs,
        settings.channels,
        environ=env,
        root=root,
        timeout=settings.delivery_timeout,
        max_attempts=settings.max_attempts,
        backoff=settings.backoff,
        sleep=sleep,
        clock=clock,
    )
    summary.delivery_seconds = clock() - delivery_started
    if outcomes:
        _record(store, outcomes, evaluation.jobs, evaluation.now)
    summary.notifications.extend(_outcome(evaluation, result) for result in outcomes)


def _state_counts(store: Store, repo: str, branch: str) -> dict[str, int]:
    """Return the number of alerts of the repo and branch in each state."""
    rows = store.query(
        "SELECT state, COUNT(*) FROM fwmon_alert_state WHERE repo = ? AND branch = ? "
        "GROUP BY state",
        (repo, branch),
    )
    return {str(r[0]): int(r[1]) for r in rows}


def _new_summary(run: Mapping[str, Any], settings: AlertSettings) -> EvaluationSummary:
    """Return the summary to fill for a run: its id, repo, branch and the settings' notes."""
    git = run.get("git") or {}
    branch = str(git.get("branch") or NO_BRANCH)
    repo = settings.repo or str(run.get("project") or "")
    summary = EvaluationSummary(run_id=str(run["id"]), repo=repo, branch=branch)
    summary.notes.extend(settings.notes)
    return summary


def _run_context(
    report: Mapping[str, Any],
    run_id: str,
    slo_section: Mapping[str, Any] | None,
    verdict: bool | None,
    root: Path,
) -> RunContext:
    """Return what the conditions read of the run: its time, branch, values and verdict."""
    run = report["run"]
    git = run.get("git") or {}
    return RunContext(
        run_id=run_id,
        ts=iso_to_ts(str(run["started"])),
        branch=git.get("branch"),
        values=extract(report),
        gate_passed=verdict,
        slo_section=dict(slo_section or {}),
        report=report,
        root=root,
    )


def evaluate_run(
    store: Store,
    report: Mapping[str, Any],
    settings: AlertSettings,
    *,
    root: Path,
    slo_section: Mapping[str, Any] | None = None,
    gate_passed: bool | None = None,
    environ: Mapping[str, str] | None = None,
    runner: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> EvaluationSummary:
    """Evaluate the rules on one run, update the alert state and notify (module docstring).

    ``gate_passed`` overrides the verdict recorded in the report. Raises FwmonError
    (ConfigError, StoreError) for configuration and store problems; delivery problems are
    recorded in the result and the store, never raised.
    """
    started = clock()
    run = report["run"]
    summary = _new_summary(run, settings)
    if not settings.enabled:
        summary.skipped = "alerts are disabled ([tool.fwmon.alerts] enabled = false)"
        return summary
    now = iso_to_ts(str(run["finished"]))
    verdict = gate_passed if gate_passed is not None else gate_verdict(report)
    context = _run_context(report, summary.run_id, slo_section, verdict, root)
    ensure(store)
    ensure_response(store)
    results = [evaluate_rule(rule, context, store) for rule in settings.rules]
    eval_key = f"{summary.run_id}|gate={'none' if verdict is None else int(verdict)}"
    who = runner or _runner()
    evaluation = _retrying(
        lambda: _attempt(
            store,
            settings,
            context,
            summary,
            results,
            run=run,
            now=now,
            eval_key=eval_key,
            runner=who,
        )
    )
    if evaluation is None:
        summary.seconds = clock() - started
        return summary
    summary.evaluated = True
    summary.transitions = evaluation.transitions
    _notify(
        store,
        evaluation,
        settings,
        summary,
        root=root,
        environ=environ,
        sleep=sleep,
        clock=clock,
    )
    summary.counts = _state_counts(store, summary.repo, summary.branch)
    summary.seconds = clock() - started
    return summary


def evaluate_after_run(
    store: Store,
    report: Mapping[str, Any],
    config_raw_section: Mapping[str, Any] | None,
    *,
    root: Path,
    slo_section: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> EvaluationSummary:
    """Evaluate alerts after ``pytest --fwmon --fwmon-alerts`` stored the run in the history.

    Never raises for delivery problems (they are recorded as undelivered) and returns within
    ``delivery_timeout`` seconds of delivery work (plus the evaluation itself). Configuration
    or store problems do not raise either: they come back as ``summary.error`` (one line), so
    the test run is never failed by alerting. ``slo_section`` is the run configuration's
    ``[tool.fwmon.slo]`` table, for SLO conditions.
    """
    run = report.get("run") if isinstance(report, Mapping) else None
    run = run if isinstance(run, Mapping) else {}
    git = run.get("git") if isinstance(run.get("git"), Mapping) else {}
    summary = EvaluationSummary(
        run_id=str(run.get("id", "?")),
        repo=str(run.get("project", "")),
        branch=str((git or {}).get("branch") or NO_BRANCH),
    )
    try:
        settings = AlertSettings.from_config(config_raw_section or {})
        return evaluate_run(
            store,
            report,
            settings,
            root=root,
            slo_section=slo_section or {},
            environ=environ,
        )
    except FwmonError as exc:
        summary.error = exc.one_line()
        return summary


__all__ = [
    "NO_BRANCH",
    "PG_ALERT_LOCK",
    "EvaluationSummary",
    "NotificationOutcome",
    "Transition",
    "evaluate_after_run",
    "evaluate_run",
]
