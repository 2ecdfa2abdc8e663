"""Alert state in the history store, through its generic SQL API (SQLite and PostgreSQL).

Tables (``store.ensure_tables("alerts", TABLES_VERSION, DDL)``; version history below):

``fwmon_alert_state``
    one row per alert (primary key: its fingerprint): labels and annotations as canonical
    JSON, ``state`` pending|firing|resolved, the rule's and the current (escalated) severity,
    run counters (``active_runs``: consecutive runs the condition held; ``inactive_runs``:
    consecutive runs it did not while firing; ``firing_runs``: runs since it fired or last
    escalated), times on the run clock (``starts_at`` fired, ``ends_at`` resolved, ``since``
    last state change), the last run that evaluated it, when it was last notified.
``fwmon_alert_evaluations``
    one row per evaluation key (run id + the gate verdict it saw): the unique key that makes
    two runners evaluating the same run at once do the work once.
``fwmon_alert_groups``
    Alertmanager's notification log: per (group key, receiver), the fingerprints last notified
    as firing and as resolved, when, which notification, and whether it was delivered.
``fwmon_alert_notifications``
    every notification: receiver, group key, reason, the v4 payload (never a secret), status
    queued|sent|undelivered|superseded (undelivered, then a later notification of the group
    to the receiver was sent), attempts, last error (secrets scrubbed); UNIQUE (group key,
    receiver, change key), so one state change is notified once whatever runs concurrently.
``fwmon_alert_silences``
    label matchers, start, expiry, reason, author; ``fwmon alerts unsilence`` ends one early.

Times are Unix seconds. Versions: 1. first release.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Final

from ..core.errors import ConfigError, StoreError
from ..history.store import Store, ts_to_iso
from .matchers import Matcher, matches_all, parse_matcher
from .response import Ack, load_acks
from .rules import LEVELS

#: Version of the alert tables (see the module docstring).
TABLES_VERSION: Final = 1

#: States an alert can be listed in.
STATES: Final = ("pending", "firing", "resolved")

DDL: Final = (
    """CREATE TABLE IF NOT EXISTS fwmon_alert_state (
        fingerprint TEXT PRIMARY KEY,
        rule TEXT NOT NULL,
        repo TEXT NOT NULL,
        branch TEXT NOT NULL,
        labels TEXT NOT NULL,
        annotations TEXT NOT NULL,
        state TEXT NOT NULL,
        base_severity TEXT NOT NULL,
        severity TEXT NOT NULL,
        value DOUBLE PRECISION,
        active_runs INTEGER NOT NULL,
        inactive_runs INTEGER NOT NULL,
        firing_runs INTEGER NOT NULL,
        pending_since DOUBLE PRECISION,
        starts_at DOUBLE PRECISION,
        ends_at DOUBLE PRECISION,
        escalated_at DOUBLE PRECISION,
        since DOUBLE PRECISION NOT NULL,
        last_run_id TEXT NOT NULL,
        last_notified DOUBLE PRECISION,
        generator_url TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS fwmon_alert_state_scope ON fwmon_alert_state (repo, branch)",
    "CREATE INDEX IF NOT EXISTS fwmon_alert_state_state ON fwmon_alert_state (state)",
    """CREATE TABLE IF NOT EXISTS fwmon_alert_evaluations (
        eval_key TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        repo TEXT NOT NULL,
        branch TEXT NOT NULL,
        ts DOUBLE PRECISION NOT NULL,
        evaluated_at DOUBLE PRECISION NOT NULL,
        runner TEXT NOT NULL,
        outcome TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS fwmon_alert_evaluations_scope "
    "ON fwmon_alert_evaluations (repo, branch, ts)",
    """CREATE TABLE IF NOT EXISTS fwmon_alert_groups (
        group_key TEXT NOT NULL,
        receiver TEXT NOT NULL,
        firing TEXT NOT NULL,
        resolved TEXT NOT NULL,
        notified_ts DOUBLE PRECISION NOT NULL,
        notification_id TEXT NOT NULL,
        delivered INTEGER NOT NULL,
        PRIMARY KEY (group_key, receiver)
    )""",
    """CREATE TABLE IF NOT EXISTS fwmon_alert_notifications (
        id TEXT PRIMARY KEY,
        group_key TEXT NOT NULL,
        receiver TEXT NOT NULL,
        change_key TEXT NOT NULL,
        channel TEXT NOT NULL,
        run_id TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL,
        reason TEXT NOT NULL,
        status TEXT NOT NULL,
        fingerprints TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        error TEXT,
        log TEXT NOT NULL,
        sent_at DOUBLE PRECISION,
        payload TEXT NOT NULL,
        UNIQUE (group_key, receiver, change_key)
    )""",
    "CREATE INDEX IF NOT EXISTS fwmon_alert_notifications_status "
    "ON fwmon_alert_notifications (status, created)",
    """CREATE TABLE IF NOT EXISTS fwmon_alert_silences (
        id TEXT PRIMARY KEY,
        matchers TEXT NOT NULL,
        starts DOUBLE PRECISION NOT NULL,
        expires DOUBLE PRECISION NOT NULL,
        reason TEXT NOT NULL,
        author TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL,
        ended DOUBLE PRECISION
    )""",
)


def dumps(value: Any) -> str:
    """Canonical JSON (sorted keys, no spaces) of a stored value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def ensure(store: Store) -> None:
    """Create the alert tables once (StoreError when the store has another version)."""
    store.ensure_tables("alerts", TABLES_VERSION, DDL)


def has_tables(store: Store) -> bool:
    """Return True when the alert tables exist (of this version; StoreError for another one)."""
    rows = store.query("SELECT value FROM fwmon_meta WHERE key = ?", ("tables.alerts",))
    if not rows:
        return False
    if str(rows[0][0]) != str(TABLES_VERSION):
        raise StoreError(
            f"history store {store.location} has alerts tables of version {rows[0][0]}; "
            f"this fwmon expects version {TABLES_VERSION}",
            hint="use the fwmon version that created them, or another store",
        )
    return True


# -- alert rows ---------------------------------------------------------------------------


@dataclass(slots=True)
class AlertRow:
    """One row of ``fwmon_alert_state`` (labels and annotations decoded)."""

    fingerprint: str
    rule: str
    repo: str
    branch: str
    labels: dict[str, str]
    annotations: dict[str, str]
    state: str
    base_severity: str
    severity: str
    value: float | None
    active_runs: int
    inactive_runs: int
    firing_runs: int
    pending_since: float | None
    starts_at: float | None
    ends_at: float | None
    escalated_at: float | None
    since: float
    last_run_id: str
    last_notified: float | None
    generator_url: str

    def sent_labels(self) -> dict[str, str]:
        """Labels as notified: ``severity`` is the current (possibly escalated) level."""
        return {**self.labels, "severity": self.severity}


_COLUMNS: Final = tuple(f.name for f in fields(AlertRow))
_JSON_COLUMNS: Final = frozenset({"labels", "annotations"})


def _row(values: Sequence[Any]) -> AlertRow:
    data = dict(zip(_COLUMNS, values, strict=True))
    for key in _JSON_COLUMNS:
        data[key] = json.loads(data[key])
    for key in ("active_runs", "inactive_runs", "firing_runs"):
        data[key] = int(data[key])
    return AlertRow(**data)


def load_alerts(store: Store, where: str = "", params: Sequence[Any] = ()) -> list[AlertRow]:
    """Alert rows, optionally filtered by a SQL ``WHERE`` clause."""
    # ``where`` is one of fwmon's fixed clauses with ``?`` placeholders; values are bound
    sql = f"SELECT {', '.join(_COLUMNS)} FROM fwmon_alert_state"  # nosec B608 # fixed columns
    if where:
        sql += f" WHERE {where}"  # nosec B608 # a fixed clause, values bound
    return [_row(r) for r in store.query(sql + " ORDER BY fingerprint", params)]


_UPSERT: Final = (  # fixed column names and "?" placeholders only
    f"INSERT INTO fwmon_alert_state ({', '.join(_COLUMNS)}) "  # nosec B608 # fixed columns
    f"VALUES ({', '.join('?' * len(_COLUMNS))}) ON CONFLICT (fingerprint) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c != "fingerprint")
)


def save_alerts(store: Store, rows: Iterable[AlertRow]) -> None:
    """Insert or update alert rows."""
    params = []
    for row in rows:
        data = asdict(row)
        params.append(tuple(dumps(data[c]) if c in _JSON_COLUMNS else data[c] for c in _COLUMNS))
    store.executemany(_UPSERT, params)


def delete_alerts(store: Store, fingerprints: Iterable[str]) -> None:
    """Forget alerts (pending ones whose condition stopped before they fired)."""
    store.executemany(
        "DELETE FROM fwmon_alert_state WHERE fingerprint = ?", [(f,) for f in fingerprints]
    )


# -- silences -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Silence:
    """Mutes alerts whose labels match every matcher, from ``starts`` until ``expires``."""

    id: str
    matchers: tuple[Matcher, ...]
    starts: float
    expires: float
    reason: str
    author: str
    created: float
    #: When ``fwmon alerts unsilence`` ended it (None otherwise).
    ended: float | None = None

    def active(self, at: float) -> bool:
        """Silencing at ``at`` (Unix seconds): started, not expired, not ended."""
        end = self.expires if self.ended is None else min(self.expires, self.ended)
        return self.starts <= at < end

    def mutes(self, labels: Mapping[str, str], at: float) -> bool:
        """Whether this silence mutes an alert with ``labels`` at ``at``."""
        return self.active(at) and matches_all(self.matchers, labels)

    def to_dict(self, now: float | None = None) -> dict[str, Any]:
        """JSON-ready dict (times as ISO 8601 UTC)."""
        at = time.time() if now is None else now
        return {
            "id": self.id,
            "matchers": [str(m) for m in self.matchers],
            "starts": ts_to_iso(self.starts),
            "expires": ts_to_iso(self.expires),
            "reason": self.reason,
            "author": self.author,
            "created": ts_to_iso(self.created),
            "ended": None if self.ended is None else ts_to_iso(self.ended),
            "active": self.active(at),
            "expired": at >= self.expires or self.ended is not None,
        }


def _silence(row: Sequence[Any]) -> Silence:
    matchers = tuple(parse_matcher(m, "stored silence matcher") for m in json.loads(row[1]))
    return Silence(
        id=str(row[0]),
        matchers=matchers,
        starts=float(row[2]),
        expires=float(row[3]),
        reason=str(row[4]),
        author=str(row[5]),
        created=float(row[6]),
        ended=None if row[7] is None else float(row[7]),
    )


def load_silences(store: Store) -> list[Silence]:
    """Every silence, oldest first."""
    rows = store.query(
        "SELECT id, matchers, starts, expires, reason, author, created, ended "
        "FROM fwmon_alert_silences ORDER BY created, id"
    )
    return [_silence(r) for r in rows]


def add_silence(store: Store, silence: Silence) -> None:
    """Store a new silence."""
    store.execute(
        "INSERT INTO fwmon_alert_silences (id, matchers, starts, expires, reason, author, "
        "created, ended) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
        (
            silence.id,
            dumps([str(m) for m in silence.matchers]),
            silence.starts,
            silence.expires,
            silence.reason,
            silence.author,
            silence.created,
        ),
    )


def end_silence(store: Store, silence_id: str, at: float) -> Silence:
    """End a silence now; ConfigError naming the known ids when there is no such silence."""
    with store.transaction():
        rows = store.query(
            "SELECT id, matchers, starts, expires, reason, author, created, ended "
            "FROM fwmon_alert_silences WHERE id = ?",
            (silence_id,),
        )
        if not rows:
            known = [s.id for s in load_silences(store) if s.ended is None and s.expires > at]
            raise ConfigError(
                f"no silence with id {silence_id!r}; active silences: "
                + (", ".join(known) if known else "none")
                + " (see `fwmon alerts list`)"
            )
        silence = _silence(rows[0])
        if silence.ended is None:
            store.execute(
                "UPDATE fwmon_alert_silences SET ended = ? WHERE id = ?", (at, silence_id)
            )
            silence = Silence(**{**_silence_fields(silence), "ended": at})
        return silence


def _silence_fields(silence: Silence) -> dict[str, Any]:
    return {f.name: getattr(silence, f.name) for f in fields(Silence)}


# -- notifications ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NotificationView:
    """One notification as ``fwmon alerts list`` shows it."""

    id: str
    receiver: str
    channel: str
    group_key: str
    run_id: str
    reason: str
    status: str
    attempts: int
    error: str | None
    created: str
    fingerprints: list[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def load_notifications(
    store: Store, statuses: Sequence[str] | None = None, limit: int | None = None
) -> list[NotificationView]:
    """Notifications, newest first (only ``statuses`` when given)."""
    sql = (
        "SELECT id, receiver, channel, group_key, run_id, reason, status, attempts, error, "
        "created, fingerprints FROM fwmon_alert_notifications"
    )
    params: list[Any] = []
    if statuses:
        sql += f" WHERE status IN ({', '.join('?' * len(statuses))})"
        params.extend(statuses)
    sql += " ORDER BY created DESC, id"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [
        NotificationView(
            id=str(r[0]),
            receiver=str(r[1]),
            channel=str(r[2]),
            group_key=str(r[3]),
            run_id=str(r[4]),
            reason=str(r[5]),
            status=str(r[6]),
            attempts=int(r[7]),
            error=None if r[8] is None else str(r[8]),
            created=ts_to_iso(float(r[9])),
            fingerprints=str(r[10]).split(),
        )
        for r in store.query(sql, params)
    ]


# -- the view the dashboard and `fwmon alerts list` read ---------------------------------


@dataclass(frozen=True, slots=True)
class AlertView:
    """One alert as listed (``fwmon alerts list``, the dashboard)."""

    #: Alertmanager fingerprint of its identity labels (16 hex digits).
    fingerprint: str
    #: The rule name (the ``alertname`` label).
    alertname: str
    #: Identity labels (``severity`` is the rule's level).
    labels: dict[str, str]
    annotations: dict[str, str]
    #: pending | firing | resolved.
    state: str
    #: Current level (after escalation).
    severity: str
    #: The rule's level.
    base_severity: str
    #: Annotation ``summary``, for one-line listings.
    summary: str
    #: Time of the last state change (ISO 8601 UTC, run clock).
    since: str
    #: When it started firing / resolved (None when not (yet)).
    starts_at: str | None
    ends_at: str | None
    #: Last successful notification that carried it (None: never).
    last_notified: str | None
    #: Notifications carrying it that stayed undelivered.
    undelivered: int
    #: Condition value at the last evaluation.
    value: float | None
    #: The run that last evaluated it.
    run_id: str
    #: Ids of silences muting it now.
    silenced_by: tuple[str, ...] = field(default_factory=tuple)
    #: True when a silence mutes it now (``silenced_by`` is not empty).
    silenced: bool = False
    #: The level it escalated from (None: not escalated) and when (ISO 8601 UTC).
    escalated_from: str | None = None
    escalated_at: str | None = None
    #: The acknowledgement in force (``by``, ``note``, ``at``, ``expires``), else None.
    acknowledged: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        data = asdict(self)
        data["silenced_by"] = list(self.silenced_by)
        return data


def _iso(ts: float | None) -> str | None:
    return None if ts is None else ts_to_iso(ts)


def _check_states(states: Sequence[str] | None) -> None:
    """Raise ConfigError for a state that is not one of :data:`STATES`."""
    for state in states or ():
        if state not in STATES:
            raise ConfigError(f"unknown alert state {state!r}; valid: {', '.join(STATES)}")


def _undelivered_counts(store: Store) -> dict[str, int]:
    """Return, per fingerprint, how many undelivered notifications carried the alert.

    A notification whose receiver was later told of the group (status ``superseded``) is not
    counted: the retry delivered what it failed to.
    """
    undelivered: dict[str, int] = {}
    for (fingerprints,) in store.query(
        "SELECT fingerprints FROM fwmon_alert_notifications WHERE status = ?", ("undelivered",)
    ):
        for fp in str(fingerprints).split():
            undelivered[fp] = undelivered.get(fp, 0) + 1
    return undelivered


#: Listing order of the states, and of the levels (most severe first).
_STATE_ORDER: Final = {"firing": 0, "pending": 1, "resolved": 2}
_LEVEL_RANK: Final = {level: i for i, level in enumerate(LEVELS)}


def _listing_order(row: AlertRow) -> tuple[int, int, float, str]:
    """Return the sort key of a listing: firing, pending, resolved; most severe; newest."""
    state, level = _STATE_ORDER.get(row.state, 3), _LEVEL_RANK.get(row.severity, 9)
    return (state, level, -row.since, row.fingerprint)


def _view(
    r: AlertRow,
    undelivered: Mapping[str, int],
    silences: Sequence[Silence],
    at: float,
    acks: Mapping[str, Ack],
) -> AlertView:
    """Return the listed view of one alert row."""
    silenced_by = tuple(s.id for s in silences if s.mutes(r.sent_labels(), at))
    ack = acks.get(r.fingerprint)
    escalated = r.severity != r.base_severity
    return AlertView(
        fingerprint=r.fingerprint,
        alertname=r.rule,
        labels=dict(r.labels),
        annotations=dict(r.annotations),
        state=r.state,
        severity=r.severity,
        base_severity=r.base_severity,
        summary=r.annotations.get("summary", ""),
        since=ts_to_iso(r.since),
        starts_at=_iso(r.starts_at),
        ends_at=_iso(r.ends_at),
        last_notified=_iso(r.last_notified),
        undelivered=undelivered.get(r.fingerprint, 0),
        value=r.value,
        run_id=r.last_run_id,
        silenced_by=silenced_by,
        silenced=bool(silenced_by),
        escalated_from=r.base_severity if escalated else None,
        escalated_at=_iso(r.escalated_at) if escalated else None,
        acknowledged=ack.to_dict() if ack and ack.covers(r.state, r.starts_at, at) else None,
    )


def list_alerts(
    store: Store, states: Sequence[str] | None = None, *, now: float | None = None
) -> list[AlertView]:
    """Alerts in ``states`` (default: all), most severe and newest first.

    An empty list when the store has no alert tables yet (nothing was ever evaluated); works
    on read-only stores.
    """
    _check_states(states)
    if not has_tables(store):
        return []
    where, params = "", tuple[str, ...]()
    if states is not None:
        if not states:
            return []
        where = f"state IN ({', '.join('?' * len(states))})"
        params = tuple(states)
    rows = load_alerts(store, where, params)
    undelivered = _undelivered_counts(store)
    at = time.time() if now is None else now
    silences = [s for s in load_silences(store) if s.active(at)]
    acks = load_acks(store)
    rows.sort(key=_listing_order)
    return [_view(r, undelivered, silences, at, acks) for r in rows]


__all__ = [
    "DDL",
    "STATES",
    "TABLES_VERSION",
    "AlertRow",
    "AlertView",
    "NotificationView",
    "Silence",
    "add_silence",
    "delete_alerts",
    "dumps",
    "end_silence",
    "ensure",
    "has_tables",
    "list_alerts",
    "load_alerts",
    "load_notifications",
    "load_silences",
    "save_alerts",
]
