"""The notification log: what each receiver was told of each group, and when to tell it again.

:func:`needs_update` is Alertmanager's dedup decision (the model is described in
:mod:`pytest_fwmon.alerts.engine`); :class:`~.evaluation.Evaluation` plans with these helpers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..history.store import Store
from .state import AlertRow, dumps


@dataclass(frozen=True, slots=True)
class LogEntry:
    """What a receiver was last told about a group (the notification log)."""

    firing: frozenset[str]
    resolved: frozenset[str]
    notified_ts: float
    notification_id: str
    delivered: bool


def needs_update(
    entry: LogEntry | None,
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
    return _change_reason(entry, firing, resolved, send_resolved, repeat, now)


def _change_reason(
    entry: LogEntry,
    firing: frozenset[str],
    resolved: frozenset[str],
    send_resolved: bool,
    repeat: float,
    now: float,
) -> str | None:
    """Return why a receiver told of ``entry`` needs telling again, or None."""
    if not firing <= entry.firing:
        return "first" if not entry.firing else "new"
    if not firing:
        return "resolved" if entry.firing else None
    if send_resolved and not resolved <= entry.resolved:
        return "resolved"
    if now - entry.notified_ts >= repeat:
        return "repeat"
    return None


def visible_members(
    members: Sequence[AlertRow], muted: set[str], entry: LogEntry | None
) -> tuple[list[AlertRow], frozenset[str], frozenset[str]]:
    """Return a group's unmuted members, the firing ones, and the resolved ones once told."""
    visible = [m for m in members if m.fingerprint not in muted]
    firing = frozenset(m.fingerprint for m in visible if m.state == "firing")
    resolved = frozenset(
        m.fingerprint
        for m in visible
        if m.state == "resolved" and entry is not None and m.fingerprint in entry.firing
    )
    return visible, firing, resolved


def change_key(
    firing: frozenset[str], resolved: frozenset[str], reason: str, entry: LogEntry | None
) -> str:
    """Return the key that makes one change of a group notified once (across runners)."""
    return hashlib.sha256(
        dumps(
            [
                sorted(firing),
                sorted(resolved),
                reason,
                entry.notification_id if entry else "",
            ]
        ).encode()
    ).hexdigest()[:32]


def to_send(
    visible: Sequence[AlertRow],
    firing: frozenset[str],
    resolved: frozenset[str],
    send_resolved: bool,
) -> list[AlertRow]:
    """Return the alerts a notification carries: the firing ones, the resolved ones if asked."""
    sent = [m for m in visible if m.fingerprint in firing]
    if send_resolved:
        sent += [m for m in visible if m.fingerprint in resolved]
    return sent


def changes_only(sent: Sequence[AlertRow], entry: LogEntry | None) -> list[AlertRow]:
    """Return the alerts of ``sent`` a pager is not told of yet: new firing ones, resolved ones.

    A pager keeps each alert's state itself (one incident per dedup key), so a repeat tells
    it nothing; after an undelivered notification everything is sent again.
    """
    told = entry.firing if entry is not None and entry.delivered else frozenset()
    return [m for m in sent if m.state != "firing" or m.fingerprint not in told]


def queue_notification(
    store: Store,
    *,
    notification_id: str,
    key: tuple[str, str, str],
    channel: str,
    run_id: str,
    created: float,
    reason: str,
    fingerprints: str,
    payload: dict[str, Any],
) -> bool:
    """Insert a ``queued`` notification; False when this change was queued already.

    ``key`` is (group key, receiver, change key), the row's unique key: of two runners
    queueing the same change, one inserts it.
    """
    group_key, receiver, change = key
    inserted = store.execute(
        "INSERT INTO fwmon_alert_notifications (id, group_key, receiver, change_key, "
        "channel, run_id, created, reason, status, fingerprints, attempts, error, log, "
        "sent_at, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, ?, NULL, ?) "
        "ON CONFLICT (group_key, receiver, change_key) DO NOTHING",
        (
            notification_id,
            group_key,
            receiver,
            change,
            channel,
            run_id,
            created,
            reason,
            "queued",
            fingerprints,
            "[]",
            dumps(payload),
        ),
    )
    return bool(inserted)
