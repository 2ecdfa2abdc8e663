"""``fwmon alerts ack`` / ``unack``: acknowledge a firing alert, and tell the pagers.

:func:`acknowledge` runs in one store transaction under the evaluation lock (``BEGIN
IMMEDIATE`` on SQLite, the advisory lock on PostgreSQL): it records the acknowledgement of the
alert's current firing episode, unless one is in force already (then it changes nothing), and
queues one ``acknowledge`` notification for each PagerDuty receiver that was told the alert is
firing. Those rows have the UNIQUE (group key, receiver, change key) of every notification,
the change key hashing (acknowledge, fingerprint, episode), so two runners acknowledging at
once send exactly one ``acknowledge`` event. Deliveries run after the commit, with the
channels' retries, and are recorded like an evaluation's.

An ``acknowledge`` that stayed undelivered is sent again by the next ``fwmon alerts ack`` of
the alert (which otherwise changes nothing). An acknowledged alert gets no repeat
notifications until it resolves or its acknowledgement expires (``ack_expires``), and does
not escalate for missing its response time.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError
from ..history.store import Store, ts_to_iso
from .delivery import DeliveryResult, Job, deliver
from .engine import _lock, _record, _retrying
from .evaluation import alert_json
from .notifylog import queue_notification
from .payload import build_payload
from .response import (
    Ack,
    end_ack,
    ensure_response,
    load_acks,
    no_such_alert,
    record_ack,
    save_ack,
)
from .settings import AlertSettings
from .state import AlertRow, dumps, ensure, load_alerts


@dataclass(slots=True)
class AckResult:
    """What ``fwmon alerts ack`` did."""

    fingerprint: str
    alertname: str
    #: The acknowledgement in force after the command.
    ack: Ack
    #: False when it was acknowledged already (nothing changed; only an ``acknowledge`` left
    #: undelivered before is sent again).
    recorded: bool
    #: The pager ``acknowledge`` deliveries this command made.
    deliveries: list[DeliveryResult] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Return the text report (one line each)."""
        who = f"{self.ack.by} at {ts_to_iso(self.ack.at)}"
        done = "acknowledged" if self.recorded else "already acknowledged"
        out = [f"{self.alertname} {self.fingerprint} {done} by {who}"]
        for result in self.deliveries:
            state = "sent" if result.status == "sent" else f"undelivered: {result.error}"
            out.append(f"  pager {result.receiver} acknowledge: {state}")
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "fingerprint": self.fingerprint,
            "alertname": self.alertname,
            "acknowledged": self.ack.to_dict(),
            "recorded": self.recorded,
            "deliveries": [d.to_dict() for d in self.deliveries],
        }


def find_firing(store: Store, name: str) -> AlertRow:
    """Return the firing alert whose fingerprint or alert name is ``name`` (ConfigError else)."""
    firing = load_alerts(store, "state = ?", ("firing",))
    exact = [r for r in firing if r.fingerprint == name]
    by_name = [r for r in firing if r.rule == name]
    found = exact or by_name
    if not found:
        raise no_such_alert(name, [f"{r.rule} {r.fingerprint}" for r in firing])
    if len(found) > 1:
        raise ConfigError(
            f"{len(found)} firing alerts are named {name!r}: "
            + ", ".join(r.fingerprint for r in found)
            + "; give the fingerprint"
        )
    return found[0]


def _pager_receivers(store: Store, settings: AlertSettings, fp: str) -> list[tuple[str, str]]:
    """Return (group key, receiver) of the PagerDuty receivers told that ``fp`` fires."""
    rows = store.query("SELECT group_key, receiver, firing FROM fwmon_alert_groups")
    out = []
    for key, receiver, firing in rows:
        config = settings.channels.get(str(receiver))
        if config is not None and config.type == "pagerduty" and fp in str(firing).split():
            out.append((str(key), str(receiver)))
    return sorted(out)


def _queue_ack(store: Store, settings: AlertSettings, row: AlertRow, now: float) -> list[Job]:
    """Queue one ``acknowledge`` notification per pager told of ``row``; return the new ones."""
    jobs = []
    change = hashlib.sha256(
        dumps(["acknowledge", row.fingerprint, row.starts_at]).encode()
    ).hexdigest()[:32]
    for key, receiver in _pager_receivers(store, settings, row.fingerprint):
        payload = build_payload(
            receiver=receiver,
            group_key=key,
            group_labels={},
            alerts=[alert_json(row)],
            external_url=settings.external_url,
        )
        payload["fwmonEvent"] = "acknowledge"
        payload["fwmonRun"] = row.last_run_id
        notification_id = uuid.uuid4().hex
        inserted = queue_notification(
            store,
            notification_id=notification_id,
            key=(key, receiver, change),
            channel="pagerduty",
            run_id=row.last_run_id,
            created=now,
            reason="acknowledge",
            fingerprints=row.fingerprint,
            payload=payload,
        )
        if inserted:
            jobs.append(Job(notification_id, receiver, payload))
    return jobs


def _claim_undelivered(store: Store, fp: str) -> list[Job]:
    """Return the alert's undelivered ``acknowledge`` notifications, claimed to send again.

    Each is set back to ``queued`` only if it still is ``undelivered``, so of two runners
    repeating ``fwmon alerts ack`` at once one sends it.
    """
    rows = store.query(
        "SELECT id, receiver, payload FROM fwmon_alert_notifications WHERE reason = ? AND "
        "status = ? AND fingerprints = ?",
        ("acknowledge", "undelivered", fp),
    )
    jobs = []
    for notification_id, receiver, payload in rows:
        claimed = store.execute(
            "UPDATE fwmon_alert_notifications SET status = ? WHERE id = ? AND status = ?",
            ("queued", notification_id, "undelivered"),
        )
        if claimed:
            jobs.append(Job(str(notification_id), str(receiver), json.loads(str(payload))))
    return jobs


def _ack_once(
    store: Store, settings: AlertSettings, name: str, by: str, note: str, now: float
) -> tuple[AckResult, list[Job]]:
    """Record the acknowledgement and queue the pager events, in one locked transaction."""
    with store.transaction():
        _lock(store)
        row = find_firing(store, name)
        held = load_acks(store).get(row.fingerprint)
        if held is not None and held.covers(row.state, row.starts_at, now):
            retried = _claim_undelivered(store, row.fingerprint)
            return AckResult(row.fingerprint, row.rule, held, recorded=False), retried
        expires = now + settings.ack_expires if settings.ack_expires > 0 else None
        ack = Ack(row.fingerprint, row.starts_at, by, note, now, expires)
        save_ack(store, ack)
        record_ack(store, ack)
        jobs = _queue_ack(store, settings, row, now)
        return AckResult(row.fingerprint, row.rule, ack, recorded=True), jobs


def acknowledge(
    store: Store,
    settings: AlertSettings,
    name: str,
    *,
    by: str,
    note: str = "",
    root: Path,
    environ: Mapping[str, str],
    now: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> AckResult:
    """Acknowledge the firing alert ``name`` (fingerprint or alert name) and tell the pagers.

    ``now`` is the acknowledgement time (default: the wall clock). Raises ConfigError when no
    single firing alert matches.
    """
    at = time.time() if now is None else now
    ensure(store)
    ensure_response(store)
    result, jobs = _retrying(lambda: _ack_once(store, settings, name, by, note, at))
    if jobs:
        result.deliveries = deliver(
            jobs,
            settings.channels,
            environ=environ,
            root=root,
            timeout=settings.delivery_timeout,
            max_attempts=settings.max_attempts,
            backoff=settings.backoff,
            sleep=sleep,
        )
        _record(store, result.deliveries, jobs, at)
    return result


def unacknowledge(store: Store, name: str, *, now: float | None = None) -> AlertRow:
    """Withdraw the acknowledgement of the firing alert ``name``; ConfigError when it has none."""
    at = time.time() if now is None else now
    ensure(store)
    ensure_response(store)
    with store.transaction():
        _lock(store)
        row = find_firing(store, name)
        held = load_acks(store).get(row.fingerprint)
        if held is None or not held.covers(row.state, row.starts_at, at):
            raise ConfigError(f"{row.rule} {row.fingerprint} is not acknowledged")
        end_ack(store, row.fingerprint, at)
    return row


def acked_fingerprints(acks: Mapping[str, Ack], rows: Sequence[AlertRow], now: float) -> set[str]:
    """Return the fingerprints of ``rows`` an acknowledgement in force covers at ``now``."""
    return {
        r.fingerprint
        for r in rows
        if r.fingerprint in acks and acks[r.fingerprint].covers(r.state, r.starts_at, now)
    }


__all__ = ["AckResult", "acked_fingerprints", "acknowledge", "find_firing", "unacknowledge"]
