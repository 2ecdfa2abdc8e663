"""Alert response: acknowledgements, in the history store next to the alert state.

Table (``store.ensure_tables("alert_response", RESPONSE_VERSION, DDL)``, a set of its own so
the alert tables keep their version):

``fwmon_alert_acks``
    one row per alert (primary key: its fingerprint): who acknowledged it (``by``), a note,
    when (``at``), when the acknowledgement expires (``expires``, None: when the alert
    resolves), ``ended`` when ``fwmon alerts unack`` withdrew it, and ``starts_at``, the firing
    episode it acknowledges: an alert that resolves and fires again is unacknowledged.
``fwmon_alert_episodes``
    one row per firing episode (primary key: fingerprint + ``starts_at``): the rule, repo,
    branch, the level it fired at (``severity``), when it was first acknowledged and by whom,
    when it resolved. Incident figures (MTTA, MTTR, missed response times) are read from it.

Times are Unix seconds. Versions: 1. first release.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..core.errors import ConfigError
from ..history.store import Store, ts_to_iso
from .values import as_table, check_keys, parse_duration

#: Response time per level (seconds): the response model of docs/reference/alerts.md.
DEFAULT_RESPOND_WITHIN: Final = {
    "critical": 5 * 60.0,  # "immediately": paged at once; 5 min to acknowledge
    "high": 30 * 60.0,
    "medium": 2 * 3600.0,
    "low": 24 * 3600.0,
}

_LEVELS: Final = tuple(DEFAULT_RESPOND_WITHIN)


def parse_response(section: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Return the validated response settings of ``[tool.fwmon.alerts]`` (only those given).

    ``respond_within`` (a table level -> duration, merged over the defaults),
    ``escalate_unacknowledged`` (true/false) and ``ack_expires`` (a duration, 0 = never).
    """
    values: dict[str, Any] = {}
    if "respond_within" in section:
        table = as_table(section["respond_within"], f"{where} respond_within")
        check_keys(table, _LEVELS, f"{where} respond_within")
        merged = dict(DEFAULT_RESPOND_WITHIN)
        for level, raw in table.items():
            merged[level] = parse_duration(raw, f"{where} respond_within.{level}")
        values["respond_within"] = merged
    if "escalate_unacknowledged" in section:
        flag = section["escalate_unacknowledged"]
        if not isinstance(flag, bool):
            raise ConfigError(f"{where} escalate_unacknowledged must be true or false")
        values["escalate_unacknowledged"] = flag
    if "ack_expires" in section:
        values["ack_expires"] = parse_duration(section["ack_expires"], f"{where} ack_expires")
    return values


#: Version of the alert response tables.
RESPONSE_VERSION: Final = 1

DDL: Final = (
    """CREATE TABLE IF NOT EXISTS fwmon_alert_acks (
        fingerprint TEXT PRIMARY KEY,
        starts_at DOUBLE PRECISION,
        by_name TEXT NOT NULL,
        note TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL,
        expires DOUBLE PRECISION,
        ended DOUBLE PRECISION
    )""",
    """CREATE TABLE IF NOT EXISTS fwmon_alert_episodes (
        fingerprint TEXT NOT NULL,
        starts_at DOUBLE PRECISION NOT NULL,
        rule TEXT NOT NULL,
        repo TEXT NOT NULL,
        branch TEXT NOT NULL,
        severity TEXT NOT NULL,
        acked_at DOUBLE PRECISION,
        acked_by TEXT,
        resolved_at DOUBLE PRECISION,
        PRIMARY KEY (fingerprint, starts_at)
    )""",
    "CREATE INDEX IF NOT EXISTS fwmon_alert_episodes_starts ON fwmon_alert_episodes (starts_at)",
)


def ensure_response(store: Store) -> None:
    """Create the alert response tables once."""
    store.ensure_tables("alert_response", RESPONSE_VERSION, DDL)


def has_response_tables(store: Store) -> bool:
    """Return True when the response tables exist (read-only stores included)."""
    rows = store.query("SELECT value FROM fwmon_meta WHERE key = ?", ("tables.alert_response",))
    return bool(rows)


@dataclass(frozen=True, slots=True)
class Ack:
    """An acknowledgement of one firing episode of an alert."""

    fingerprint: str
    #: ``starts_at`` of the episode it acknowledges.
    starts_at: float | None
    by: str
    note: str
    at: float
    #: When it expires (None: when the alert resolves).
    expires: float | None = None
    #: When ``fwmon alerts unack`` withdrew it (None otherwise).
    ended: float | None = None

    def covers(self, state: str, starts_at: float | None, now: float) -> bool:
        """Tell whether it acknowledges an alert in ``state`` fired at ``starts_at``, at ``now``."""
        if state != "firing" or self.ended is not None or self.starts_at != starts_at:
            return False
        return self.expires is None or now < self.expires

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (times as ISO 8601 UTC)."""
        return {
            "by": self.by,
            "note": self.note,
            "at": ts_to_iso(self.at),
            "expires": None if self.expires is None else ts_to_iso(self.expires),
        }


_SELECT: Final = (
    "SELECT fingerprint, starts_at, by_name, note, at, expires, ended FROM fwmon_alert_acks"
)


def _ack(row: Sequence[Any]) -> Ack:
    def opt(value: Any) -> float | None:
        return None if value is None else float(value)

    return Ack(
        fingerprint=str(row[0]),
        starts_at=opt(row[1]),
        by=str(row[2]),
        note=str(row[3]),
        at=float(row[4]),
        expires=opt(row[5]),
        ended=opt(row[6]),
    )


def load_acks(store: Store) -> dict[str, Ack]:
    """Return every stored acknowledgement by fingerprint (empty without the tables)."""
    if not has_response_tables(store):
        return {}
    return {str(r[0]): _ack(r) for r in store.query(_SELECT)}


def save_ack(store: Store, ack: Ack) -> None:
    """Store ``ack``, replacing the alert's earlier acknowledgement."""
    store.execute(
        "INSERT INTO fwmon_alert_acks (fingerprint, starts_at, by_name, note, at, expires, "
        "ended) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO UPDATE SET "
        "starts_at = excluded.starts_at, by_name = excluded.by_name, note = excluded.note, "
        "at = excluded.at, expires = excluded.expires, ended = excluded.ended",
        (ack.fingerprint, ack.starts_at, ack.by, ack.note, ack.at, ack.expires, ack.ended),
    )


def end_ack(store: Store, fingerprint: str, at: float) -> bool:
    """Withdraw the alert's acknowledgement; False when it had none in force."""
    changed = store.execute(
        "UPDATE fwmon_alert_acks SET ended = ? WHERE fingerprint = ? AND ended IS NULL",
        (at, fingerprint),
    )
    return changed > 0


def record_episodes(store: Store, rows: Iterable[Any]) -> None:
    """Record the firing episodes of alert rows: new ones, and the end of resolved ones.

    ``rows`` are :class:`~.state.AlertRow` objects after an evaluation moved them.
    """
    ensure_response(store)
    for row in rows:
        if row.starts_at is None:
            continue
        if row.state == "firing":
            store.execute(
                "INSERT INTO fwmon_alert_episodes (fingerprint, starts_at, rule, repo, branch, "
                "severity, acked_at, acked_by, resolved_at) VALUES (?, ?, ?, ?, ?, ?, NULL, "
                "NULL, NULL) ON CONFLICT (fingerprint, starts_at) DO NOTHING",
                (row.fingerprint, row.starts_at, row.rule, row.repo, row.branch, row.base_severity),
            )
        elif row.state == "resolved" and row.ends_at is not None:
            store.execute(
                "UPDATE fwmon_alert_episodes SET resolved_at = ? WHERE fingerprint = ? AND "
                "starts_at = ? AND resolved_at IS NULL",
                (row.ends_at, row.fingerprint, row.starts_at),
            )


def record_ack(store: Store, ack: Ack) -> None:
    """Record the first acknowledgement of an episode (later ones keep the first time)."""
    store.execute(
        "UPDATE fwmon_alert_episodes SET acked_at = ?, acked_by = ? WHERE fingerprint = ? AND "
        "starts_at = ? AND acked_at IS NULL",
        (ack.at, ack.by, ack.fingerprint, ack.starts_at),
    )


def no_such_alert(name: str, known: Sequence[str]) -> ConfigError:
    """Return the one-line error for an ALERT argument that names no firing alert."""
    listed = ", ".join(known[:10]) if known else "none"
    return ConfigError(
        f"no firing alert {name!r} (give its fingerprint or alert name); firing: {listed} "
        "(see `fwmon alerts list`)"
    )


__all__ = [
    "DDL",
    "DEFAULT_RESPOND_WITHIN",
    "RESPONSE_VERSION",
    "Ack",
    "end_ack",
    "ensure_response",
    "has_response_tables",
    "load_acks",
    "no_such_alert",
    "parse_response",
    "record_ack",
    "record_episodes",
    "save_ack",
]
