"""The history store: one table of runs and one of metric values, on SQLite or PostgreSQL.

Opening: :func:`pytest_fwmon.history.connect.open_store`. Rows and times:
:mod:`.runrow`, :mod:`.times`; database errors: :mod:`.dberrors`.

Schema (version :data:`SCHEMA_VERSION`, columns in docs/reference/history.md and ``_DDL``):
``fwmon_meta`` (``schema_version``; ``tables.<name>`` per extra table set), ``fwmon_runs``
(a row per run, the report in canonical JSON: what ``get_run`` and the JSONL export return,
byte for byte), ``fwmon_metrics`` (a row per run and metric, :mod:`.metrics` names them).

A run is *green* (for SLO figures) when its recorded gate verdict passed or, with no verdict,
when ``tests.failed == 0 and tests.errors == 0`` and every selected pipeline has status
``pass`` (:func:`pytest_fwmon.history.metrics.is_green`).

Runs API
--------
``store.add_run(report: Mapping, *, validate=False) -> bool``
    store a run with its metrics in one transaction; False when a run with that ``run.id`` is
    already stored. The fields the store needs (``run.id``, ``started``, ``finished``,
    ``duration``, ``project``, ``git``) are always checked; ``validate=True`` also checks the
    whole report schema (ReportError, exit 3). The plugin passes the report it has just built;
    ``fwmon history import`` validates every input with ``report.parse_report`` first.
``store.add_runs(reports: Iterable[Mapping], *, validate=False) -> tuple[int, int]``
    the same for many (batched transactions); returns (added, already stored).
``store.set_gate(run_id, passed: bool) -> bool``
    record a gate verdict for a stored run (in ``report.extensions.gate`` too, so it travels in
    exports); False when the run is unknown.
``store.get_run(run_id) -> dict | None``
    the full report as stored.
``store.latest_run(branch=None) -> dict | None``
    the report of the newest run (by ``run.started``).
``store.recent_reports(branch=None, limit=10) -> list[dict]``
    the reports of the newest ``limit`` runs (on ``branch`` when given), newest first.
``store.list_runs(branch=None, since=None, limit=None) -> list[RunInfo]``
    oldest first; ``limit`` keeps the newest ``limit`` runs (still oldest first).
``store.series(metric, branch=None, since=None, limit=None) -> list[tuple[float, str, float]]``
    ``(ts, run_id, value)`` oldest first; ``limit`` keeps the newest ``limit`` points.
``store.metrics() -> list[str]``
    every metric name stored, sorted.
``store.count_runs(branch=None) -> int``, ``store.branches() -> list[str]``
``store.iter_reports_text(since=None, until=None, archived=None) -> Iterator[tuple[...]]``
    ``(run_id, ts, canonical report JSON)`` oldest first, streamed (exports, archives).
``store.mark_archived(run_ids)``, ``store.delete_runs(run_ids) -> int``

``since`` (and ``until``) accept Unix seconds, a ``datetime``, an ISO date or date-time, or a
relative age such as ``"30d"``, ``"12h"``, ``"2w"``, ``"90m"`` (see :func:`parse_since`).

Generic SQL API (for other fwmon modules' own tables, e.g. alert state)
----------------------------------------------------------------------
``store.dialect``
    ``"sqlite"`` or ``"postgresql"``.
``store.execute(sql, params=()) -> int``
    run one statement, return its row count.
``store.executemany(sql, rows) -> None``
``store.query(sql, params=()) -> list[tuple]``
    run a query, return every row as a tuple.
``with store.transaction(): ...``
    one transaction (``BEGIN IMMEDIATE`` on SQLite); nested blocks join the outer one
    (PostgreSQL: a savepoint). Rolled back when the block raises.
``store.ensure_tables(name, version, ddl)``
    run the ``ddl`` statements once, under a lock, and record ``tables.<name> = version`` in
    ``fwmon_meta``; a store that recorded another version raises StoreError (nothing is
    changed). Write portable DDL (``TEXT``, ``INTEGER``, ``BIGINT``, ``DOUBLE PRECISION``) or
    branch on ``store.dialect``; prefix table names with ``fwmon_``.

Placeholders are written ``?`` in every dialect; on PostgreSQL ``?`` becomes ``%s`` and a
literal ``%`` is escaped, so never put a ``?`` inside a string literal (pass it as a parameter).
Database exceptions are turned into StoreError. ``store.close()`` (or ``with store:``) closes
the connection.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from ..core.errors import ReportError, StoreError
from ..core.schema import first_error
from .dberrors import BUSY_TIMEOUT, is_psycopg_error, pg_error, sqlite_error
from .metrics import extract
from .runrow import RunInfo, canonical_json, check_run, filters, loads, run_info, run_row
from .times import iso_to_ts, parse_since, parse_time, ts_to_iso

#: Version of the store's schema. Versions: 1. first release: fwmon_meta, fwmon_runs, fwmon_metrics.
SCHEMA_VERSION: Final = 1

#: Default SQLite store, relative to the project root.
DEFAULT_PATH: Final = Path(".fwmon/history.db")

#: Runs per transaction in :meth:`Store.add_runs`.
BATCH: Final = 500

#: Key of the PostgreSQL advisory lock that serialises schema changes.
_PG_LOCK: Final = 0x66776D6F6E  # "fwmon"

_DDL: Final = (
    "CREATE TABLE IF NOT EXISTS fwmon_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS fwmon_runs (
        run_id TEXT PRIMARY KEY,
        ts DOUBLE PRECISION NOT NULL,
        started TEXT NOT NULL,
        finished TEXT NOT NULL,
        duration DOUBLE PRECISION NOT NULL,
        project TEXT NOT NULL,
        branch TEXT,
        sha TEXT,
        ci_url TEXT,
        green INTEGER NOT NULL,
        gate_passed INTEGER,
        archived INTEGER NOT NULL DEFAULT 0,
        report TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS fwmon_runs_ts ON fwmon_runs (ts, run_id)",
    "CREATE INDEX IF NOT EXISTS fwmon_runs_branch_ts ON fwmon_runs (branch, ts)",
    """CREATE TABLE IF NOT EXISTS fwmon_metrics (
        name TEXT NOT NULL,
        ts DOUBLE PRECISION NOT NULL,
        run_id TEXT NOT NULL,
        branch TEXT,
        value DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (name, ts, run_id)
    ){suffix}""",
    "CREATE INDEX IF NOT EXISTS fwmon_metrics_branch ON fwmon_metrics (name, branch, ts)",
)

_RUN_COLUMNS: Final = (
    "run_id, ts, started, finished, duration, project, branch, sha, ci_url, green, "
    "gate_passed, archived"
)
INSERT_RUN: Final = (
    "INSERT INTO fwmon_runs (run_id, ts, started, finished, duration, project, branch, sha, "
    "ci_url, green, gate_passed, archived, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?) "
    "ON CONFLICT (run_id) DO NOTHING"
)
INSERT_METRIC: Final = (
    "INSERT INTO fwmon_metrics (name, ts, run_id, branch, value) VALUES (?, ?, ?, ?, ?)"
)

_PG_INSERT_RUN_AND_METRICS: Final = (
    "WITH r AS (" + INSERT_RUN + " RETURNING run_id, ts, branch), m AS ("  # nosec B608
    "INSERT INTO fwmon_metrics (name, ts, run_id, branch, value) "
    "SELECT u.name, r.ts, r.run_id, r.branch, u.value FROM r, "
    "unnest(?::text[], ?::double precision[]) AS u(name, value)"
    ") SELECT COUNT(*) FROM r"
)


class Store:
    """A connection to one history store (see the module docstring for the API)."""

    def __init__(self, conn: Any, dialect: str, location: str, readonly: bool = False) -> None:
        """Wrap the open connection ``conn`` of ``dialect`` found at ``location``."""
        self._conn = conn
        self.dialect = dialect  #: "sqlite" or "postgresql".
        #: Where the store is, for messages (a path, or a URL without its password).
        self.location = location
        self.readonly = readonly
        self._depth = 0
        self._lock = threading.RLock()
        self._sql_cache: dict[str, str] = {}
        self._closed = False
        self._opening = True

    # -- plumbing -----------------------------------------------------------------------

    def _sql(self, sql: str) -> str:
        if self.dialect == "sqlite":
            return sql
        cached = self._sql_cache.get(sql)
        if cached is None:
            cached = sql.replace("%", "%%").replace("?", "%s")
            self._sql_cache[sql] = cached
        return cached

    @contextlib.contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Turn database exceptions into one-line StoreErrors."""
        if self._opening:
            action = "open"
        try:
            yield
        except StoreError:
            raise
        except sqlite3.Error as exc:
            raise sqlite_error(exc, self.location, action) from None
        except Exception as exc:
            if is_psycopg_error(exc):
                raise pg_error(exc, self.location, action) from None
            raise

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return its row count."""
        with self._lock, self._guard("write to"):
            cur = self._conn.execute(self._sql(sql), tuple(params))
            count: int = cur.rowcount
            return count

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each row of parameters."""
        rows = [tuple(r) for r in rows]
        if not rows:
            return
        with self._lock, self._guard("write to"):
            if self.dialect == "sqlite":
                self._conn.executemany(sql, rows)
            else:
                with self._conn.cursor() as cur:
                    cur.executemany(self._sql(sql), rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a query; return every row as a tuple."""
        with self._lock, self._guard("read"):
            cur = self._conn.execute(self._sql(sql), tuple(params))
            return [tuple(row) for row in cur.fetchall()]

    def _iter(
        self, sql: str, params: Sequence[Any] = (), size: int = 500
    ) -> Iterator[tuple[Any, ...]]:
        """Stream the rows of a query (a server-side cursor on PostgreSQL)."""
        with self._lock, self._guard("read"):
            if self.dialect == "sqlite":
                cur = self._conn.execute(sql, tuple(params))
                while batch := cur.fetchmany(size):
                    yield from (tuple(r) for r in batch)
            else:
                with self._conn.transaction(), self._conn.cursor(name="fwmon_iter") as cur:
                    cur.itersize = size
                    cur.execute(self._sql(sql), tuple(params))
                    for row in cur:
                        yield tuple(row)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Store]:
        """One transaction; nested blocks join it. Rolled back when the block raises."""
        with self._lock:
            if self.dialect == "postgresql":
                with self._guard("write to"), self._conn.transaction():
                    self._depth += 1
                    try:
                        yield self
                    finally:
                        self._depth -= 1
                return
            if self._depth:
                self._depth += 1
                try:
                    yield self
                finally:
                    self._depth -= 1
                return
            with self._guard("write to"):
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self
            except BaseException:
                self._depth = 0
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise
            self._depth = 0
            try:
                with self._guard("write to"):
                    self._conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise

    def _schema_lock(self) -> None:
        """Inside a transaction: serialise schema changes between processes."""
        if self.dialect == "postgresql":
            self.execute("SELECT pg_advisory_xact_lock(?)", (_PG_LOCK,))

    def _table_names(self) -> set[str]:
        if self.dialect == "sqlite":
            rows = self.query("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            rows = self.query(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema()"
            )
        return {str(r[0]) for r in rows}

    def _meta(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM fwmon_meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def _sqlite_settings(self) -> None:
        """WAL mode and full sync; only once the file is known to be ours (it changes the file)."""
        if self.dialect != "sqlite" or self.readonly:
            return
        row = self.query("PRAGMA journal_mode = WAL")
        if not row or str(row[0][0]).lower() != "wal":
            raise StoreError(
                f"history store {self.location} cannot use WAL mode "
                f"(journal mode {row[0][0] if row else '?'})",
                hint="put the store on a local filesystem",
            )
        self.execute("PRAGMA synchronous = FULL")

    def _init_schema(self) -> None:
        """Create the schema in an empty store, or check the version of an existing one."""
        tables = self._table_names()
        if "fwmon_meta" not in tables:
            if self.dialect == "sqlite" and tables:
                raise StoreError(
                    f"{self.location} is a SQLite database but not a fwmon history store "
                    f"(it has tables {', '.join(sorted(tables))}); it was not changed",
                    hint="point --fwmon-history or FWMON_HISTORY_URL at another file",
                )
            if self.readonly:
                raise StoreError(f"history store {self.location} is empty (no fwmon tables)")
            self._sqlite_settings()
            with self.transaction():
                self._schema_lock()
                if "fwmon_meta" not in self._table_names():
                    suffix = " WITHOUT ROWID" if self.dialect == "sqlite" else ""
                    for statement in _DDL:
                        self.execute(statement.replace("{suffix}", suffix))
                    self.execute(
                        "INSERT INTO fwmon_meta (key, value) VALUES (?, ?)",
                        ("schema_version", str(SCHEMA_VERSION)),
                    )
        version = self._meta("schema_version")
        if version != str(SCHEMA_VERSION):
            raise StoreError(
                f"history store {self.location} has schema version {version}; "
                f"this fwmon reads version {SCHEMA_VERSION}; the store was not changed",
                hint="use the fwmon version that wrote it, or export it with that version and "
                "import the JSONL into a new store",
            )
        self._sqlite_settings()

    def ensure_tables(self, name: str, version: int, ddl: Sequence[str]) -> None:
        """Create a module's own tables once and record their version (see module docstring)."""
        key = f"tables.{name}"
        found = self._meta(key)
        if found is None:
            if self.readonly:
                raise StoreError(f"history store {self.location} has no {name} tables yet")
            with self.transaction():
                self._schema_lock()
                found = self._meta(key)
                if found is None:
                    for statement in ddl:
                        self.execute(statement)
                    self.execute(
                        "INSERT INTO fwmon_meta (key, value) VALUES (?, ?)", (key, str(version))
                    )
                    found = str(version)
        if found != str(version):
            raise StoreError(
                f"history store {self.location} has {name} tables of version {found}; "
                f"this fwmon expects version {version}; nothing was changed",
                hint="use the fwmon version that created them, or another store",
            )

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):
                self._conn.close()

    def __enter__(self) -> Store:
        """Return the store itself."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the store."""
        self.close()

    # -- runs -----------------------------------------------------------------------------

    def prepare(
        self, report: Mapping[str, Any], validate: bool = False, partial_metrics: bool = False
    ) -> tuple[tuple[Any, ...], dict[str, float]]:
        """Return the row and metrics of ``report``; ReportError when it cannot be stored.

        A batch prepares each report first, so a bad one is left out (:meth:`add_prepared`).
        """
        if validate:
            error = first_error("report", report)
            if error is not None:
                raise ReportError(f"report does not match the report schema {error}")
        check_run(report)
        text = canonical_json(report)
        return run_row(report, text), extract(report, partial_metrics=partial_metrics)

    def _insert(self, row: tuple[Any, ...], values: Mapping[str, float]) -> bool:
        if self.dialect == "postgresql":
            # one statement, one round trip: the metrics go in only if the run did
            names = list(values)
            params = (*row, names, [values[n] for n in names])
            found = self.query(_PG_INSERT_RUN_AND_METRICS, params)
            return bool(found[0][0])
        if self.execute(INSERT_RUN, row) == 0:
            return False
        run_id, ts, branch = row[0], row[1], row[6]
        rows = [(name, ts, run_id, branch, v) for name, v in values.items()]
        self.executemany(INSERT_METRIC, rows)
        return True

    def add_run(self, report: Mapping[str, Any], *, validate: bool = False, **how: bool) -> bool:
        """Store one run; return False when its ``run.id`` is already stored.

        ``partial_metrics=True`` keeps a partial run's test and coverage metrics (``extract``).
        """
        row, values = self.prepare(report, validate, **how)
        with self.transaction():
            return self._insert(row, values)

    def add_runs(
        self, reports: Iterable[Mapping[str, Any]], *, validate: bool = False, **how: bool
    ) -> tuple[int, int]:
        """Store many runs in batched transactions; return (added, already stored)."""
        totals = [0, 0]
        prepared = (self.prepare(report, validate, **how) for report in reports)
        while chunk := list(itertools.islice(prepared, BATCH)):
            for i, count in enumerate(self.add_prepared(chunk)):
                totals[i] += count
        return totals[0], totals[1]

    def add_prepared(
        self, prepared: Sequence[tuple[tuple[Any, ...], Mapping[str, float]]]
    ) -> tuple[int, int]:
        """Store runs from :meth:`prepare` in one transaction; return (added, already stored)."""
        if not prepared:
            return 0, 0
        with self.transaction():
            added = sum(1 for row, values in prepared if self._insert(row, values))
        return added, len(prepared) - added

    def has_run(self, run_id: str) -> bool:
        """Return True when a run with this id is stored."""
        return bool(self.query("SELECT 1 FROM fwmon_runs WHERE run_id = ?", (run_id,)))

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        """Return the full report of a run as stored, or None."""
        rows = self.query("SELECT report FROM fwmon_runs WHERE run_id = ?", (run_id,))
        return loads(rows[0][0], self.location) if rows else None

    def latest_run(self, branch: str | None = None) -> dict[str, Any] | None:
        """Return the report of the newest run (on ``branch`` when given), or None."""
        where, params = filters(branch, None)
        sql = f"SELECT report FROM fwmon_runs{where}"  # nosec B608 # fixed text, bound values
        rows = self.query(sql + " ORDER BY ts DESC, run_id DESC LIMIT 1", params)
        return loads(rows[0][0], self.location) if rows else None

    def recent_reports(self, branch: str | None = None, limit: int = 10) -> list[dict[str, Any]]:
        """Return the newest ``limit`` reports (of ``branch`` when given), newest first."""
        where, params = filters(branch, None)
        sql = f"SELECT report FROM fwmon_runs{where}"  # nosec B608 # fixed text, bound values
        rows = self.query(sql + " ORDER BY ts DESC, run_id DESC LIMIT ?", (*params, limit))
        return [loads(r[0], self.location) for r in rows]

    def set_gate(self, run_id: str, passed: bool) -> bool:
        """Record a gate verdict for a stored run; False when the run is unknown."""
        with self.transaction():
            rows = self.query(
                "SELECT report, ts, branch FROM fwmon_runs WHERE run_id = ?", (run_id,)
            )
            if not rows:
                return False
            report = loads(rows[0][0], self.location)
            extensions = report.setdefault("extensions", {})
            gate = extensions.get("gate") if isinstance(extensions.get("gate"), dict) else {}
            extensions["gate"] = {**gate, "passed": bool(passed)}
            self.execute(
                "UPDATE fwmon_runs SET report = ?, gate_passed = ?, green = ? WHERE run_id = ?",
                (canonical_json(report), int(passed), int(passed), run_id),
            )
            self.execute(
                "DELETE FROM fwmon_metrics WHERE name = ? AND ts = ? AND run_id = ?",
                ("gate.passed", rows[0][1], run_id),
            )
            self.execute(
                INSERT_METRIC, ("gate.passed", rows[0][1], run_id, rows[0][2], float(passed))
            )
        return True

    def list_runs(
        self, branch: str | None = None, since: Any = None, limit: int | None = None
    ) -> list[RunInfo]:
        """Return the runs oldest first; ``limit`` keeps the newest ``limit``."""
        where, params = filters(branch, parse_time(since))
        sql = f"SELECT {_RUN_COLUMNS} FROM fwmon_runs{where}"  # nosec B608 # fixed text, bound values
        if limit is not None:
            rows = self.query(f"{sql} ORDER BY ts DESC, run_id DESC LIMIT ?", (*params, limit))
            rows.reverse()
        else:
            rows = self.query(f"{sql} ORDER BY ts, run_id", params)
        return [run_info(r) for r in rows]

    def count_runs(self, branch: str | None = None) -> int:
        """Return the number of stored runs (on ``branch`` when given)."""
        where, params = filters(branch, None)
        sql = f"SELECT COUNT(*) FROM fwmon_runs{where}"  # nosec B608
        return int(self.query(sql, params)[0][0])

    def branches(self) -> list[str]:
        """Every branch with at least one run, sorted."""
        rows = self.query("SELECT DISTINCT branch FROM fwmon_runs WHERE branch IS NOT NULL")
        return sorted(str(r[0]) for r in rows)

    def series(
        self,
        metric: str,
        branch: str | None = None,
        since: Any = None,
        limit: int | None = None,
    ) -> list[tuple[float, str, float]]:
        """``(ts, run_id, value)`` of one metric, oldest first; ``limit`` keeps the newest."""
        sql = "SELECT ts, run_id, value FROM fwmon_metrics WHERE name = ?"
        params: list[Any] = [metric]
        if branch is not None:
            sql += " AND branch = ?"
            params.append(branch)
        start = parse_time(since)
        if start is not None:
            sql += " AND ts >= ?"
            params.append(start)
        if limit is not None:
            rows = self.query(f"{sql} ORDER BY ts DESC, run_id DESC LIMIT ?", (*params, limit))
            rows.reverse()
        else:
            rows = self.query(f"{sql} ORDER BY ts, run_id", params)
        return [(float(r[0]), str(r[1]), float(r[2])) for r in rows]

    def metrics(self) -> list[str]:
        """Every metric name stored, sorted (a loose index scan: fast on big stores)."""
        rows = self.query(
            "WITH RECURSIVE t(name) AS ("
            " SELECT MIN(name) FROM fwmon_metrics"
            " UNION ALL"
            " SELECT (SELECT MIN(m.name) FROM fwmon_metrics m WHERE m.name > t.name)"
            " FROM t WHERE t.name IS NOT NULL"
            ") SELECT name FROM t WHERE name IS NOT NULL"
        )
        return sorted(str(r[0]) for r in rows)

    def iter_reports_text(
        self, since: Any = None, until: Any = None, archived: bool | None = None
    ) -> Iterator[tuple[str, float, str]]:
        """``(run_id, ts, canonical JSON)`` oldest first, streamed."""
        clauses: list[str] = []
        params: list[Any] = []
        start, end = parse_time(since), parse_time(until, what="--until")
        if start is not None:
            clauses.append("ts >= ?")
            params.append(start)
        if end is not None:
            clauses.append("ts < ?")
            params.append(end)
        if archived is not None:
            clauses.append("archived = ?")
            params.append(int(archived))
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT run_id, ts, report FROM fwmon_runs{where}"  # nosec B608 # fixed text, bound values
        for run_id, ts, text in self._iter(sql + " ORDER BY ts, run_id", params):
            yield str(run_id), float(ts), str(text)

    def mark_archived(self, run_ids: Iterable[str]) -> None:
        """Flag runs as written to an archive (they may be pruned after that)."""
        self.executemany(
            "UPDATE fwmon_runs SET archived = 1 WHERE run_id = ?", [(r,) for r in run_ids]
        )

    def delete_runs(self, run_ids: Iterable[str]) -> int:
        """Delete runs and their metrics; returns how many runs were deleted."""
        ids = list(run_ids)
        deleted = 0
        with self.transaction():
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                where = f"WHERE run_id IN ({marks})"
                self.execute(f"DELETE FROM fwmon_metrics {where}", chunk)  # nosec B608
                deleted += self.execute(f"DELETE FROM fwmon_runs {where}", chunk)  # nosec B608
        return deleted


__all__ = [
    "BUSY_TIMEOUT",
    "DEFAULT_PATH",
    "SCHEMA_VERSION",
    "RunInfo",
    "Store",
    "canonical_json",
    "iso_to_ts",
    "parse_since",
    "parse_time",
    "ts_to_iso",
]
