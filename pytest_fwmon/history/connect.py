"""Opening the history store.

Opening
-------
``open_store(url, root, *, readonly=False) -> Store``

* ``url`` ``None``: ``<root>/.fwmon/history.db`` (SQLite);
* a path, or ``sqlite:///abs/path``: that SQLite file (a relative path is taken from ``root``);
* ``postgresql://user:password@host:port/dbname`` (or ``postgres://``): PostgreSQL through
  psycopg 3, the ``postgres`` extra (``pip install 'pytest-fwmon[postgres]'``).

The caller decides the URL (``--fwmon-history``, ``FWMON_HISTORY_URL``, ``[tool.fwmon]
history_url``). SQLite runs in WAL mode with a busy timeout of :data:`BUSY_TIMEOUT` seconds and
``BEGIN IMMEDIATE`` write transactions, so concurrent writers wait for each other instead of
failing. On PostgreSQL, schema creation is serialised with an advisory lock.

Every failure to open, read or write raises :class:`~pytest_fwmon.core.errors.StoreError` (exit 4)
with one line naming the store: a file that is not SQLite, a store of another schema version, a
read-only folder or file, a server that refuses the connection. The store never overwrites or
deletes data it did not write itself, and never changes a file whose schema it does not know.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final
from urllib.parse import quote, urlsplit, urlunsplit

from ..core.errors import EXIT_REPORT, ConfigError, StoreError
from .dberrors import BUSY_TIMEOUT, reason, sqlite_error
from .store import DEFAULT_PATH, Store

_SQLITE_HEADER: Final = b"SQLite format 3\x00"


class NoHistory(StoreError):
    """The SQLite store a command reads does not exist: a missing input (exit 3).

    Commands that only read never create a store, so this is what they say instead of
    leaving an empty ``history.db`` that a later command would take for a real history.
    """

    exit_code = EXIT_REPORT

    def __init__(self, path: Path) -> None:
        """Say that there is no history store at ``path`` and how to create one."""
        super().__init__(
            f"no history at {path}: run `pytest --fwmon` first",
            hint="or import reports with `fwmon history import REPORT`",
        )
        self.path = path


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def _sqlite_path(url: str | Path | None, root: Path) -> Path:
    """Return the SQLite file a non-PostgreSQL ``url`` names, relative paths under ``root``."""
    if url is None or url == "":
        path = root / DEFAULT_PATH
    elif isinstance(url, str) and url.startswith("sqlite:///"):
        path = Path(url[len("sqlite://") :])
    elif isinstance(url, str) and "://" in url:
        raise ConfigError(
            f"history store URL {redact(url)!r} is not supported; "
            "use a file path, sqlite:///PATH or postgresql://USER@HOST:PORT/DB"
        )
    else:
        path = Path(url)
    return path if path.is_absolute() else root / path


def open_store(
    url: str | Path | None, root: Path, *, readonly: bool = False, create: bool = True
) -> Store:
    """Open the store at ``url``, creating it unless ``readonly`` or ``create=False``.

    See the module docstring for the URL forms. Raises StoreError when it cannot be opened
    (``create=False``: also when a SQLite store does not exist yet; commands that only read
    use it so they never leave an empty store behind).
    """
    if isinstance(url, str) and _is_postgres(url):
        return _open_postgres(url, readonly)
    path = _sqlite_path(url, root)
    if (readonly or not create) and not path.exists():
        raise NoHistory(path)
    return _open_sqlite(path, readonly)


def _check_header(path: Path, location: str) -> None:
    """Raise StoreError when an existing store cannot be read or is not a SQLite file."""
    try:
        with path.open("rb") as fh:
            header = fh.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"history store {location} cannot be read: {reason(exc)}") from None
    if header and header != _SQLITE_HEADER:
        raise StoreError(
            f"history store {location} is corrupt (not a SQLite file); it was not changed",
            hint="restore it from a backup or an export, or point --fwmon-history elsewhere",
        )


def _make_folder(path: Path, location: str) -> None:
    """Create the folder of a new store, or raise StoreError saying where to point instead."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the folder of history store {location}: "
            f"{exc.strerror or reason(exc)} (read-only filesystem?)",
            hint="point --fwmon-history at a writable place, or use --fwmon-no-history",
        ) from None


def _prepare_sqlite(path: Path, location: str, readonly: bool) -> None:
    """Check the file of an existing store, or make room for a new one (not when readonly)."""
    if path.is_dir():
        raise StoreError(f"history store {location} is a folder, not a file")
    if path.exists():
        _check_header(path, location)
    elif readonly:
        raise NoHistory(path)
    else:
        _make_folder(path, location)


def _open_sqlite(path: Path, readonly: bool) -> Store:
    """Open (or create) the SQLite store at ``path`` and make sure its schema is current."""
    location = str(path)
    _prepare_sqlite(path, location, readonly)
    mode = "ro" if readonly else "rwc"
    uri = f"file:{quote(str(path))}?mode={mode}"
    try:
        conn = sqlite3.connect(
            uri, uri=True, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise sqlite_error(exc, location, "open") from None
    store = Store(conn, "sqlite", location, readonly)
    try:
        with store._guard("open"):
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
            store._init_schema()
    except BaseException:
        store.close()
        raise
    store._opening = False
    return store


def _open_postgres(url: str, readonly: bool) -> Store:
    location = redact(url)
    try:
        import psycopg
    except ImportError:
        raise StoreError(
            f"history store {location} is on PostgreSQL, which needs psycopg",
            hint="pip install 'pytest-fwmon[postgres]'",
        ) from None
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=15)
    except psycopg.Error as exc:
        raise StoreError(
            f"cannot connect to history store {location}: {reason(exc)}",
            hint="check the URL, that the server runs, and the credentials",
        ) from None
    store = Store(conn, "postgresql", location, readonly)
    try:
        if readonly:
            store.execute("SET default_transaction_read_only = on")
        store._init_schema()
    except BaseException:
        store.close()
        raise
    store._opening = False
    return store


__all__ = ["NoHistory", "open_store", "redact"]
