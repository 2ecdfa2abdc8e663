"""One alert evaluation's working state: lifecycle, escalation, silences, grouping, the plan.

The model is described in :mod:`pytest_fwmon.alerts.engine`; :class:`Evaluation` runs inside
the evaluation's store transaction and plans the notifications that are delivered after it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..history.store import Store
from .conditions import Instance, RuleResult, RunContext, render
from .delivery import Job
from .fingerprint import fingerprint, label_set_string
from .matchers import matches_all
from .notifylog import (
    LogEntry,
    change_key,
    changes_only,
    needs_update,
    queue_notification,
    to_send,
    visible_members,
)
from .payload import build_payload, iso_or_zero
from .response import Ack, load_acks, record_episodes
from .rules import LEVELS, Condition, InhibitRule, Route, Rule
from .settings import AlertSettings
from .state import AlertRow, Silence, load_alerts, load_silences, save_alerts
from .summary import Transition


def escalated(level: str) -> str:
    """Return the level one step more severe than ``level`` (critical stays critical)."""
    index = LEVELS.index(level)
    return LEVELS[max(0, index - 1)]


def _value_of(instance: Instance | None, row: AlertRow | None) -> float | None:
    """Return the condition value of this run, else the alert's last one."""
    if instance is not None:
        return instance.value
    return row.value if row else None


def _inhibits(
    rule: InhibitRule, source: AlertRow, row: AlertRow, labels: Mapping[str, str]
) -> bool:
    """Tell whether the firing alert ``source`` inhibits ``row`` (labels) under ``rule``."""
    if source.fingerprint == row.fingerprint:
        return False
    source_labels = source.sent_labels()
    return matches_all(rule.source, source_labels) and all(
        source_labels.get(k, "") == labels.get(k, "") for k in rule.equal
    )


@dataclass(slots=True)
class _Changes:
    """The alerts one evaluation changed, and the fingerprints of those it forgets."""

    changed: dict[str, AlertRow] = field(default_factory=dict)
    forgotten: list[str] = field(default_factory=list)


class Evaluation:
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
        """Prepare to evaluate alerts against ``store`` with ``settings``."""
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
        self._acks: dict[str, Ack] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def identity(self, rule: Rule, instance: Instance) -> dict[str, str]:
        """Return the labels that identify an alert of ``rule`` (its fingerprint's input)."""
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
        """Return the rule's summary and description rendered for ``row``."""
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
        """Move every alert of the repo and branch through its lifecycle for ``results``."""
        existing = {
            r.fingerprint: r
            for r in load_alerts(self.store, "repo = ? AND branch = ?", (self.repo, self.branch))
        }
        changes = _Changes()
        seen, with_data = self._apply_results(results, existing, changes)
        self._apply_unseen(existing, seen, with_data, changes)
        for row in changes.changed.values():
            self.escalate(row)
        if changes.forgotten:
            self.store.executemany(
                "DELETE FROM fwmon_alert_state WHERE fingerprint = ?",
                [(f,) for f in changes.forgotten],
            )
        save_alerts(self.store, changes.changed.values())
        record_episodes(self.store, changes.changed.values())

    def _record(
        self, fp: str, row: AlertRow | None, updated: AlertRow | None, changes: _Changes
    ) -> None:
        """Keep the updated alert, or forget ``row`` when the step dropped it."""
        if updated is not None:
            changes.changed[fp] = updated
        elif row is not None:
            changes.forgotten.append(fp)
            self._transition(row, "forgotten")

    def _apply_results(
        self, results: Sequence[RuleResult], existing: Mapping[str, AlertRow], changes: _Changes
    ) -> tuple[set[str], set[str]]:
        """Step the alerts the results hold; return their fingerprints and rules with data."""
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
                self._record(fp, row, self.step(rule, row, fp, labels, instance), changes)
        return seen, with_data

    def _untouched(self, fp: str, row: AlertRow, seen: set[str]) -> bool:
        """Tell whether an alert the results did not hold is left as it is (no step)."""
        return fp in seen or row.last_run_id == self.run.run_id or row.state == "resolved"

    def _apply_unseen(
        self,
        existing: Mapping[str, AlertRow],
        seen: set[str],
        with_data: set[str],
        changes: _Changes,
    ) -> None:
        """Step the open alerts that this run's results no longer hold (they turn inactive)."""
        for fp, row in existing.items():
            if self._untouched(fp, row, seen):
                continue
            known = self.rules.get(row.rule)
            if known is not None and known.name not in with_data:
                continue  # no data for its rule on this run: unchanged
            # a rule removed from the configuration resolves its alerts
            rule = known or Rule(row.rule, row.base_severity, Condition("gate"))
            self._record(fp, row, self.step(rule, row, fp, row.labels, None), changes)

    def _new_row(
        self, rule: Rule, fp: str, labels: Mapping[str, str], value: float | None
    ) -> AlertRow:
        """Return a new pending alert of ``rule``."""
        return AlertRow(
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

    def _reopen(self, row: AlertRow) -> None:
        """Make a resolved alert pending again, at its rule's level."""
        row.state = "pending"
        row.active_runs = 0
        row.pending_since = self.now
        row.since = self.now
        row.severity = row.base_severity
        row.escalated_at = None
        row.starts_at = None
        row.ends_at = None

    def _step_active(self, rule: Rule, row: AlertRow) -> None:
        """Count an active run: a pending alert fires after ``for_runs`` of them."""
        if row.state == "resolved":
            self._reopen(row)
        row.active_runs += 1
        row.inactive_runs = 0
        if row.state != "pending":
            row.firing_runs += 1
            return
        if row.active_runs == 1 and rule.for_runs > 1:
            self._transition(row, "pending")
        if row.active_runs >= rule.for_runs:
            self._fire(row)

    def _step_inactive(self, rule: Rule, row: AlertRow) -> None:
        """Count an inactive run: a firing alert resolves after ``resolve_after_runs``."""
        if row.state != "firing":
            return
        row.active_runs = 0
        row.inactive_runs += 1
        row.firing_runs += 1
        if row.inactive_runs >= rule.resolve_after_runs:
            row.state = "resolved"
            row.ends_at = self.now
            row.since = self.now
            self._transition(row, "resolved")

    def step(
        self,
        rule: Rule,
        row: AlertRow | None,
        fp: str,
        labels: Mapping[str, str],
        instance: Instance | None,
    ) -> AlertRow | None:
        """Return the alert after this run; None when a pending alert is forgotten."""
        active = instance is not None and instance.active
        value = _value_of(instance, row)
        if row is None:
            if not active:
                return None
            row = self._new_row(rule, fp, labels, value)
        row.value = value
        row.last_run_id = self.run.run_id
        row.generator_url = self.run_url or row.generator_url
        if active:
            self._step_active(rule, row)
        elif row.state == "pending":
            return None
        else:
            self._step_inactive(rule, row)
        row.annotations = self.annotations(rule, row, instance)
        return row

    def escalate(self, row: AlertRow) -> None:
        """Raise a firing alert one level when its escalation time or run count is reached."""
        if row.state != "firing" or row.severity == LEVELS[0] or row.firing_runs == 0:
            return
        rule = self.rules.get(row.rule)
        if rule is None:
            return
        if not self._escalation_due(rule, row) and not self._response_missed(row):
            return
        row.severity = escalated(row.severity)
        row.escalated_at = self.now
        row.firing_runs = 0
        row.annotations = {**row.annotations, "escalated_from": row.base_severity}
        self._transition(row, "escalated")

    def _escalation_due(self, rule: Rule, row: AlertRow) -> bool:
        """Tell whether a firing alert reached its rule's escalation run count or time."""
        since = row.escalated_at if row.escalated_at is not None else row.starts_at
        by_runs = rule.escalate_after_runs > 0 and row.firing_runs >= rule.escalate_after_runs
        by_time = (
            rule.escalate_after > 0
            and since is not None
            and self.now - since >= rule.escalate_after
        )
        return by_runs or by_time

    def acknowledged(self, row: AlertRow) -> bool:
        """Tell whether an acknowledgement in force covers ``row`` now."""
        if self._acks is None:
            self._acks = load_acks(self.store)
        ack = self._acks.get(row.fingerprint)
        return ack is not None and ack.covers(row.state, row.starts_at, self.now)

    def _response_missed(self, row: AlertRow) -> bool:
        """Tell whether a firing alert went unacknowledged past its level's response time."""
        if not self.settings.escalate_unacknowledged:
            return False
        within = self.settings.respond_within.get(row.severity)
        since = row.escalated_at if row.escalated_at is not None else row.starts_at
        if within is None or since is None or self.now - since < within:
            return False
        return not self.acknowledged(row)

    # -- notification ---------------------------------------------------------------------

    def _entries(self) -> dict[tuple[str, str], LogEntry]:
        rows = self.store.query(
            "SELECT group_key, receiver, firing, resolved, notified_ts, notification_id, "
            "delivered FROM fwmon_alert_groups"
        )
        return {
            (str(r[0]), str(r[1])): LogEntry(
                frozenset(str(r[2]).split()),
                frozenset(str(r[3]).split()),
                float(r[4]),
                str(r[5]),
                bool(r[6]),
            )
            for r in rows
        }

    def _muted(self, rows: Sequence[AlertRow], silences: Sequence[Silence]) -> set[str]:
        """Return the fingerprints of the alerts a silence or an inhibit rule mutes now."""
        firing = [r for r in rows if r.state == "firing"]
        muted: set[str] = set()
        for row in rows:
            labels = row.sent_labels()
            silenced = any(s.mutes(labels, self.now) for s in silences)
            if silenced or self._inhibited(row, labels, firing):
                muted.add(row.fingerprint)
        return muted

    def _inhibited(
        self, row: AlertRow, labels: Mapping[str, str], firing: Sequence[AlertRow]
    ) -> bool:
        """Tell whether an inhibit rule mutes ``row`` because of another firing alert."""
        for rule in self.settings.inhibit:
            if not matches_all(rule.target, labels):
                continue
            if any(_inhibits(rule, source, row, labels) for source in firing):
                return True
        return False

    def group_of(self, row: AlertRow) -> tuple[Route, dict[str, str], str]:
        """(route, group labels, group key) of ``row`` under its current severity."""
        route = self.settings.routes.get(row.severity) or Route(row.severity, (), frozenset())
        labels = row.sent_labels()
        group_labels = {k: labels[k] for k in self.settings.group_by if k in labels}
        return route, group_labels, f"{route.key}:{label_set_string(group_labels)}"

    def _candidates(self, entries: Mapping[tuple[str, str], LogEntry]) -> list[AlertRow]:
        """Return the firing alerts, and the resolved ones a receiver was told were firing."""
        told = set().union(*(e.firing for e in entries.values())) if entries else set()
        rows = load_alerts(self.store, "state = ?", ("firing",))
        rows += [
            r for r in load_alerts(self.store, "state = ?", ("resolved",)) if r.fingerprint in told
        ]
        return rows

    def plan(self) -> None:
        """Plan the notifications of every group holding an alert of this repo and branch."""
        entries = self._entries()
        rows = self._candidates(entries)
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
        entries: Mapping[tuple[str, str], LogEntry],
    ) -> None:
        """Plan one receiver's notification for one group, if it needs one."""
        entry = entries.get((key, receiver))
        visible, firing, resolved = visible_members(members, muted, entry)
        if not firing and not resolved:
            return
        paging = self.settings.channels[receiver].type == "pagerduty"
        send_resolved = paging or receiver in route.send_resolved
        reason = needs_update(
            entry, firing, resolved, send_resolved, self.settings.repeat_interval, self.now
        )
        if reason is None or (reason == "repeat" and self._all_acknowledged(visible, firing)):
            return
        sent = to_send(visible, firing, resolved, send_resolved)
        if paging:
            sent = changes_only(sent, entry)
        change = change_key(firing, resolved, reason, entry)
        notification_id = uuid.uuid4().hex
        if sent and not self._queue(
            key, receiver, group_labels, sent, change, notification_id, reason
        ):
            return  # another runner notified this very change
        self._log_group(key, receiver, firing, resolved, notification_id)

    def _all_acknowledged(self, visible: Sequence[AlertRow], firing: frozenset[str]) -> bool:
        """Tell whether every firing alert of a group is acknowledged (no repeat is due)."""
        return all(self.acknowledged(m) for m in visible if m.fingerprint in firing)

    def _queue(
        self,
        key: str,
        receiver: str,
        group_labels: Mapping[str, str],
        sent: Sequence[AlertRow],
        change: str,
        notification_id: str,
        reason: str,
    ) -> bool:
        """Queue the notification of ``sent``; False when this change was queued already."""
        channel = self.settings.channels[receiver].type
        payload = build_payload(
            receiver=receiver,
            group_key=key,
            group_labels=group_labels,
            alerts=[self.alert_json(m) for m in sent],
            external_url=self.settings.external_url,
        )
        if channel == "pagerduty":
            payload["fwmonRun"] = self.run.run_id
        inserted = queue_notification(
            self.store,
            notification_id=notification_id,
            key=(key, receiver, change),
            channel=channel,
            run_id=self.run.run_id,
            created=self.now,
            reason=reason,
            fingerprints=" ".join(sorted(m.fingerprint for m in sent)),
            payload=payload,
        )
        if not inserted:
            return False
        self.jobs.append(Job(notification_id, receiver, payload))
        self.planned[notification_id] = (reason, str(payload["status"]), len(sent))
        return True

    def _log_group(
        self,
        key: str,
        receiver: str,
        firing: frozenset[str],
        resolved: frozenset[str],
        notification_id: str,
    ) -> None:
        """Record in the notification log what the receiver has now been told of the group."""
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
        """``row`` as an alert of the Alertmanager v4 webhook payload."""
        return alert_json(row)


def alert_json(row: AlertRow) -> dict[str, Any]:
    """``row`` as an alert of the Alertmanager v4 webhook payload."""
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
