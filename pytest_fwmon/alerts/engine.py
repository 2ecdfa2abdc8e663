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

import hashlib
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

from ..core.errors import FwmonError, StoreError
from ..history.metrics import extract, gate_verdict
from ..history.store import Store, iso_to_ts, ts_to_iso
from .conditions import Instance, RuleResult, RunContext, evaluate_rule, render
from .delivery import DeliveryResult, Job, deliver
from .fingerprint import fingerprint, label_set_string
from .payload import build_payload, iso_or_zero
from .rules import LEVELS, AlertSettings, Condition, Route, Rule, matches_all
from .state import AlertRow, Silence, dumps, ensure, load_alerts, load_silences, save_alerts

#: PostgreSQL advisory lock key serialising alert evaluations ("fwmon" + 7).
PG_ALERT_LOCK: Final = 0x66776D6F6E07

#: Branch label of runs without a branch (detached HEAD).
NO_BRANCH: Final = "detached"


@dataclass(frozen=True, slots=True)
class Transition:
    """An alert changing state on this run."""

    fingerprint: str
    alertname: str
    labels: dict[str, str]
    #: ``pending`` ``firing`` ``resolved`` ``forgotten`` or ``escalated``.
    to: str
    #: For ``escalated``: the new level.
    severity: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class NotificationOutcome:
    """One notification of this evaluation and what became of it."""

    id: str
    receiver: str
    group_key: str
    #: first | new | resolved | repeat | retry.
    reason: str
    #: firing | resolved (the payload's status).
    status: str
    #: sent | undelivered.
    delivery: str
    alerts: int
    attempts: int
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass(slots=True)
class EvaluationSummary:
    """What one evaluation did (``fwmon alerts evaluate --json`` prints ``to_dict()``)."""

    run_id: str
    repo: str
    branch: str
    #: False when nothing was done (already evaluated, older run, alerts disabled, error).
    evaluated: bool = False
    #: Why nothing was done.
    skipped: str | None = None
    #: One line when configuration or the store failed (only from evaluate_after_run).
    error: str | None = None
    transitions: list[Transition] = field(default_factory=list)
    notifications: list[NotificationOutcome] = field(default_factory=list)
    #: Alerts of this repo and branch per state after the evaluation.
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: Seconds the evaluation took, and of them the deliveries.
    seconds: float = 0.0
    delivery_seconds: float = 0.0

    @property
    def undelivered(self) -> int:
        """Notifications that stayed undelivered."""
        return sum(1 for n in self.notifications if n.delivery != "sent")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "run_id": self.run_id,
            "repo": self.repo,
            "branch": self.branch,
            "evaluated": self.evaluated,
            "skipped": self.skipped,
            "error": self.error,
            "transitions": [t.to_dict() for t in self.transitions],
            "notifications": [n.to_dict() for n in self.notifications],
            "counts": dict(self.counts),
            "undelivered": self.undelivered,
            "notes": list(self.notes),
            "seconds": self.seconds,
            "delivery_seconds": self.delivery_seconds,
        }

    def lines(self) -> list[str]:
        """Human lines (the CLI prints them; the plugin shows them in the terminal summary)."""
        head = f"fwmon alerts: run {self.run_id} ({self.repo} {self.branch})"
        if self.error:
            return [f"{head}: not evaluated: {self.error}"]
        if not self.evaluated:
            return [f"{head}: {self.skipped}"]
        counts = ", ".join(f"{self.counts.get(s, 0)} {s}" for s in ("firing", "pending"))
        out = [f"{head}: {counts}"]
        for t in self.transitions:
            extra = f" to {t.severity}" if t.to == "escalated" else ""
            out.append(f"  {t.alertname} {t.fingerprint}: {t.to}{extra}")
        for n in self.notifications:
            line = f"  notified {n.receiver} ({n.reason}, {n.status}, {n.alerts} alert(s)): "
            line += n.delivery if n.error is None else f"{n.delivery}: {n.error}"
            out.append(line)
        out.extend(f"  note: {note}" for note in self.notes)
        return out


# -- helpers ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    firing: frozenset[str]
    resolved: frozenset[str]
    notified_ts: float
    notification_id: str
    delivered: bool


def _runner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _escalate(level: str) -> str:
    index = LEVELS.index(level)
    return LEVELS[max(0, index - 1)]


def _lock(store: Store) -> None:
    if store.dialect == "postgresql":
        store.query("SELECT pg_advisory_xact_lock(?)", (PG_ALERT_LOCK,))


def needs_update(
    entry: _Entry | None,
    firing: frozenset[str],
    resolved: frozenset[str],
    send_resolved: bool,
    repeat: float,
    now: float,
) -> str | None:
    """Alertmanager's dedup decision; the reason to notify, or None (module docstring)."""
    if entry is None:
        return "first" if firing else None
    if not entry.delivered:
        return "retry"
    if not firing <= entry.firing:
        return "first" if not entry.firing else "new"
    if not firing:
        return "resolved" if entry.firing else None
    if send_resolved and not resolved <= entry.resolved:
        return "resolved"
    if now - entry.notified_ts >= repeat:
        return "repeat"
    return None


class _Evaluation:
    """One evaluation's working state (inside the transaction)."""

    def __init__(
        self,
        store: Store,
        settings: AlertSettings,
        run: RunContext,
        *,
        repo: str,
        branch: str,
        now: float,
        run_url: str,
        sha: str,
    ) -> None:
        self.store = store
        self.settings = settings
        self.run = run
        self.repo = repo
        self.branch = branch
        self.now = now
        self.run_url = run_url
        self.sha = sha
        self.rules = {r.name: r for r in settings.rules}
        self.transitions: list[Transition] = []
        self.jobs: list[Job] = []
        self.planned: dict[str, tuple[str, str, int]] = {}

    # -- lifecycle ------------------------------------------------------------------------

    def identity(self, rule: Rule, instance: Instance) -> dict[str, str]:
        labels = {
            **rule.labels,
            **instance.labels,
            "alertname": rule.name,
            "repo": self.repo,
            "branch": self.branch,
            "severity": rule.severity,
        }
        return labels

    def annotations(self, rule: Rule, row: AlertRow, instance: Instance | None) -> dict[str, str]:
        context: dict[str, Any] = {
            **row.labels,
            "alertname": rule.name,
            "severity": row.severity,
            "repo": self.repo,
            "branch": self.branch,
            "metric": row.labels.get("metric"),
            "value": row.value,
            "run_id": self.run.run_id,
            "run_url": self.run_url,
            "sha": self.sha,
        }
        if instance is not None:
            context.update(instance.context)
        out = {"summary": render(rule.summary, context).strip()}
        description = render(rule.description, context).strip()
        if description:
            out["description"] = description
        if row.severity != row.base_severity:
            out["escalated_from"] = row.base_severity
        return out

    def _transition(self, row: AlertRow, to: str) -> None:
        self.transitions.append(
            Transition(row.fingerprint, row.rule, row.sent_labels(), to, row.severity)
        )

    def _fire(self, row: AlertRow) -> None:
        row.state = "firing"
        row.starts_at = self.now
        row.ends_at = None
        row.since = self.now
        row.firing_runs = 0
        row.inactive_runs = 0
        self._transition(row, "firing")

    def apply(self, results: Sequence[RuleResult]) -> None:
        existing = {
            r.fingerprint: r
            for r in load_alerts(self.store, "repo = ? AND branch = ?", (self.repo, self.branch))
        }
        changed: dict[str, AlertRow] = {}
        forgotten: list[str] = []
        seen: set[str] = set()
        with_data: set[str] = set()
        for result in results:
            if result.instances is None:
                continue
            with_data.add(result.rule.name)
            for instance in result.instances:
                rule = result.rule
                labels = self.identity(rule, instance)
                fp = fingerprint(labels)
                seen.add(fp)
                row = existing.get(fp)
                if row is not None and row.last_run_id == self.run.run_id:
                    continue  # this run already counted for it (re-evaluation with a verdict)
                updated = self.step(rule, row, fp, labels, instance)
                if updated is None:
                    if row is not None:
                        forgotten.append(fp)
                        self._transition(row, "forgotten")
                    continue
                changed[fp] = updated
        for fp, row in existing.items():
            if fp in seen or row.last_run_id == self.run.run_id or row.state == "resolved":
                continue
            known = self.rules.get(row.rule)
            if known is not None and known.name not in with_data:
                continue  # no data for its rule on this run: unchanged
            # a rule removed from the configuration resolves its alerts
            rule = known or Rule(row.rule, row.base_severity, Condition("gate"))
            updated = self.step(rule, row, fp, row.labels, None)
            if updated is None:
                forgotten.append(fp)
                self._transition(row, "forgotten")
            else:
                changed[fp] = updated
        for row in changed.values():
            self.escalate(row)
        if forgotten:
            self.store.executemany(
                "DELETE FROM fwmon_alert_state WHERE fingerprint = ?", [(f,) for f in forgotten]
            )
        save_alerts(self.store, changed.values())

    def step(
        self,
        rule: Rule,
        row: AlertRow | None,
        fp: str,
        labels: Mapping[str, str],
        instance: Instance | None,
    ) -> AlertRow | None:
        """The alert after this run; None when a pending alert is forgotten."""
        active = instance is not None and instance.active
        value = instance.value if instance is not None else (row.value if row else None)
        if row is None:
            if not active:
                return None
            row = AlertRow(
                fingerprint=fp,
                rule=rule.name,
                repo=self.repo,
                branch=self.branch,
                labels=dict(labels),
                annotations={},
                state="pending",
                base_severity=rule.severity,
                severity=rule.severity,
                value=value,
                active_runs=0,
                inactive_runs=0,
                firing_runs=0,
                pending_since=self.now,
                starts_at=None,
                ends_at=None,
                escalated_at=None,
                since=self.now,
                last_run_id=self.run.run_id,
                last_notified=None,
                generator_url=self.run_url,
            )
        row.value = value
        row.last_run_id = self.run.run_id
        row.generator_url = self.run_url or row.generator_url
        if active:
            if row.state == "resolved":
                row.state = "pending"
                row.active_runs = 0
                row.pending_since = self.now
                row.since = self.now
                row.severity = row.base_severity
                row.escalated_at = None
                row.starts_at = None
                row.ends_at = None
            row.active_runs += 1
            row.inactive_runs = 0
            if row.state == "pending":
                if row.active_runs == 1 and rule.for_runs > 1:
                    self._transition(row, "pending")
                if row.active_runs >= rule.for_runs:
                    self._fire(row)
            else:
                row.firing_runs += 1
        else:
            if row.state == "pending":
                return None
            if row.state == "firing":
                row.active_runs = 0
                row.inactive_runs += 1
                row.firing_runs += 1
                if row.inactive_runs >= rule.resolve_after_runs:
                    row.state = "resolved"
                    row.ends_at = self.now
                    row.since = self.now
                    self._transition(row, "resolved")
        row.annotations = self.annotations(rule, row, instance)
        return row

    def escalate(self, row: AlertRow) -> None:
        if row.state != "firing" or row.severity == LEVELS[0] or row.firing_runs == 0:
            return
        rule = self.rules.get(row.rule)
        if rule is None:
            return
        since = row.escalated_at if row.escalated_at is not None else row.starts_at
        by_runs = rule.escalate_after_runs > 0 and row.firing_runs >= rule.escalate_after_runs
        by_time = (
            rule.escalate_after > 0
            and since is not None
            and self.now - since >= rule.escalate_after
        )
        if not (by_runs or by_time):
            return
        row.severity = _escalate(row.severity)
        row.escalated_at = self.now
        row.firing_runs = 0
        row.annotations = {**row.annotations, "escalated_from": row.base_severity}
        self._transition(row, "escalated")

    # -- notification ---------------------------------------------------------------------

    def _entries(self) -> dict[tuple[str, str], _Entry]:
        rows = self.store.query(
            "SELECT group_key, receiver, firing, resolved, notified_ts, notification_id, "
            "delivered FROM fwmon_alert_groups"
        )
        return {
            (str(r[0]), str(r[1])): _Entry(
                frozenset(str(r[2]).split()),
                frozenset(str(r[3]).split()),
                float(r[4]),
                str(r[5]),
                bool(r[6]),
            )
            for r in rows
        }

    def _muted(self, rows: Sequence[AlertRow], silences: Sequence[Silence]) -> set[str]:
        firing = [r for r in rows if r.state == "firing"]
        muted: set[str] = set()
        for row in rows:
            labels = row.sent_labels()
            if any(s.mutes(labels, self.now) for s in silences):
                muted.add(row.fingerprint)
                continue
            for rule in self.settings.inhibit:
                if not matches_all(rule.target, labels):
                    continue
                for source in firing:
                    if source.fingerprint == row.fingerprint:
                        continue
                    source_labels = source.sent_labels()
                    if matches_all(rule.source, source_labels) and all(
                        source_labels.get(k, "") == labels.get(k, "") for k in rule.equal
                    ):
                        muted.add(row.fingerprint)
                        break
                if row.fingerprint in muted:
                    break
        return muted

    def group_of(self, row: AlertRow) -> tuple[Route, dict[str, str], str]:
        route = self.settings.routes.get(row.severity) or Route(row.severity, (), frozenset())
        labels = row.sent_labels()
        group_labels = {k: labels[k] for k in self.settings.group_by if k in labels}
        return route, group_labels, f"{route.key}:{label_set_string(group_labels)}"

    def plan(self) -> None:
        entries = self._entries()
        told = set().union(*(e.firing for e in entries.values())) if entries else set()
        rows = load_alerts(self.store, "state = ?", ("firing",))
        rows += [
            r for r in load_alerts(self.store, "state = ?", ("resolved",)) if r.fingerprint in told
        ]
        silences = load_silences(self.store)
        muted = self._muted(rows, silences)
        groups: dict[str, tuple[Route, dict[str, str], list[AlertRow]]] = {}
        for row in rows:
            route, group_labels, key = self.group_of(row)
            groups.setdefault(key, (route, group_labels, []))[2].append(row)
        for key in sorted(groups):
            route, group_labels, members = groups[key]
            if not any(m.repo == self.repo and m.branch == self.branch for m in members):
                continue
            for receiver in route.receivers:
                self.plan_group(key, route, receiver, group_labels, members, muted, entries)

    def plan_group(
        self,
        key: str,
        route: Route,
        receiver: str,
        group_labels: Mapping[str, str],
        members: Sequence[AlertRow],
        muted: set[str],
        entries: Mapping[tuple[str, str], _Entry],
    ) -> None:
        entry = entries.get((key, receiver))
        visible = [m for m in members if m.fingerprint not in muted]
        firing = frozenset(m.fingerprint for m in visible if m.state == "firing")
        resolved = frozenset(
            m.fingerprint
            for m in visible
            if m.state == "resolved" and entry is not None and m.fingerprint in entry.firing
        )
        if not firing and not resolved:
            return
        send_resolved = receiver in route.send_resolved
        reason = needs_update(
            entry, firing, resolved, send_resolved, self.settings.repeat_interval, self.now
        )
        if reason is None:
            return
        sent = [m for m in visible if m.fingerprint in firing]
        if send_resolved:
            sent += [m for m in visible if m.fingerprint in resolved]
        change = hashlib.sha256(
            dumps(
                [
                    sorted(firing),
                    sorted(resolved),
                    reason,
                    entry.notification_id if entry else "",
                ]
            ).encode()
        ).hexdigest()[:32]
        notification_id = uuid.uuid4().hex
        if sent:
            channel = self.settings.channels[receiver].type
            payload = build_payload(
                receiver=receiver,
                group_key=key,
                group_labels=group_labels,
                alerts=[self.alert_json(m) for m in sent],
                external_url=self.settings.external_url,
            )
            inserted = self.store.execute(
                "INSERT INTO fwmon_alert_notifications (id, group_key, receiver, change_key, "
                "channel, run_id, created, reason, status, fingerprints, attempts, error, log, "
                "sent_at, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, ?, NULL, ?) "
                "ON CONFLICT (group_key, receiver, change_key) DO NOTHING",
                (
                    notification_id,
                    key,
                    receiver,
                    change,
                    channel,
                    self.run.run_id,
                    self.now,
                    reason,
                    "queued",
                    " ".join(sorted(m.fingerprint for m in sent)),
                    "[]",
                    dumps(payload),
                ),
            )
            if inserted == 0:
                return  # another runner notified this very change
            self.jobs.append(Job(notification_id, receiver, payload))
            self.planned[notification_id] = (reason, str(payload["status"]), len(sent))
        self.store.execute(
            "INSERT INTO fwmon_alert_groups (group_key, receiver, firing, resolved, notified_ts, "
            "notification_id, delivered) VALUES (?, ?, ?, ?, ?, ?, 1) "
            "ON CONFLICT (group_key, receiver) DO UPDATE SET firing = excluded.firing, "
            "resolved = excluded.resolved, notified_ts = excluded.notified_ts, "
            "notification_id = excluded.notification_id, delivered = 1",
            (
                key,
                receiver,
                " ".join(sorted(firing)),
                " ".join(sorted(resolved)),
                self.now,
                notification_id,
            ),
        )

    def alert_json(self, row: AlertRow) -> dict[str, Any]:
        labels = row.sent_labels()
        return {
            "status": "firing" if row.state == "firing" else "resolved",
            "labels": dict(sorted(labels.items())),
            "annotations": dict(sorted(row.annotations.items())),
            "startsAt": iso_or_zero(row.starts_at),
            "endsAt": iso_or_zero(row.ends_at if row.state == "resolved" else None),
            "generatorURL": row.generator_url,
            "fingerprint": fingerprint(labels),
        }


#: Attempts of an evaluation that the database aborted to resolve a conflict.
RETRIES: Final = 5
_T = TypeVar("_T")


def _retrying(work: Callable[[], _T]) -> _T:
    """Run a store transaction, again when PostgreSQL aborted it to break a deadlock or a
    serialization conflict (``StoreError.retryable``), as PostgreSQL advises; at most
    :data:`RETRIES` times."""
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
    """Record the delivery outcomes (one transaction; it may meet another runner's evaluation
    on the same alert rows, so it is retried like the evaluation)."""
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
            else:
                store.execute(
                    "UPDATE fwmon_alert_groups SET delivered = 0 WHERE group_key = ? AND "
                    "receiver = ? AND notification_id = ?",
                    (job.payload["groupKey"], result.receiver, result.id),
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
    git = run.get("git") or {}
    branch = str(git.get("branch") or NO_BRANCH)
    repo = settings.repo or str(run.get("project") or "")
    summary = EvaluationSummary(run_id=str(run["id"]), repo=repo, branch=branch)
    summary.notes.extend(settings.notes)
    if not settings.enabled:
        summary.skipped = "alerts are disabled ([tool.fwmon.alerts] enabled = false)"
        return summary
    now = iso_to_ts(str(run["finished"]))
    verdict = gate_passed if gate_passed is not None else gate_verdict(report)
    context = RunContext(
        run_id=summary.run_id,
        ts=iso_to_ts(str(run["started"])),
        branch=git.get("branch"),
        values=extract(report),
        gate_passed=verdict,
        slo_section=dict(slo_section or {}),
    )
    ensure(store)
    results = [evaluate_rule(rule, context, store) for rule in settings.rules]
    eval_key = f"{summary.run_id}|gate={'none' if verdict is None else int(verdict)}"
    ci = run.get("ci") or {}

    def attempt() -> _Evaluation | None:
        """One evaluation transaction; None when this run is not to be evaluated."""
        summary.skipped = None
        evaluation = _Evaluation(
            store,
            settings,
            context,
            repo=repo,
            branch=branch,
            now=now,
            run_url=str(ci.get("run_url") or ""),
            sha=str(git.get("sha") or ""),
        )
        with store.transaction():
            _lock(store)
            inserted = store.execute(
                "INSERT INTO fwmon_alert_evaluations (eval_key, run_id, repo, branch, ts, "
                "evaluated_at, runner, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (eval_key) DO NOTHING",
                (
                    eval_key,
                    summary.run_id,
                    repo,
                    branch,
                    context.ts,
                    time.time(),
                    runner or _runner(),
                    "evaluated",
                ),
            )
            if inserted == 0:
                summary.skipped = "already evaluated (by this or another runner); nothing to do"
                return None
            newer = store.query(
                "SELECT MAX(ts) FROM fwmon_alert_evaluations WHERE repo = ? AND branch = ? "
                "AND outcome = ? AND run_id <> ?",
                (repo, branch, "evaluated", summary.run_id),
            )[0][0]
            if newer is not None and float(newer) > context.ts:
                store.execute(
                    "UPDATE fwmon_alert_evaluations SET outcome = ? WHERE eval_key = ?",
                    ("older", eval_key),
                )
                summary.skipped = (
                    f"older than run evaluated on {repo} {branch} at "
                    f"{ts_to_iso(float(newer))}; alert state only moves forward"
                )
                return None
            evaluation.apply(results)
            evaluation.plan()
        return evaluation

    evaluation = _retrying(attempt)
    if evaluation is None:
        summary.seconds = clock() - started
        return summary
    summary.evaluated = True
    summary.transitions = evaluation.transitions
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
        _record(store, outcomes, evaluation.jobs, now)
    for result in outcomes:
        job_reason, status, count = evaluation.planned[result.id]
        job = next(j for j in evaluation.jobs if j.id == result.id)
        summary.notifications.append(
            NotificationOutcome(
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
        )
    rows = store.query(
        "SELECT state, COUNT(*) FROM fwmon_alert_state WHERE repo = ? AND branch = ? "
        "GROUP BY state",
        (repo, branch),
    )
    summary.counts = {str(r[0]): int(r[1]) for r in rows}
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
    """What ``pytest --fwmon --fwmon-alerts`` calls once the run is stored in the history.

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
    "needs_update",
]
