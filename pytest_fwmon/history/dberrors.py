"""Database exceptions of SQLite and psycopg as one-line :class:`StoreError` messages."""

from __future__ import annotations

import sqlite3
from typing import Final

from ..core.errors import StoreError

#: Seconds a SQLite writer waits for another one before giving up.
BUSY_TIMEOUT: Final = 60.0


def reason(exc: BaseException) -> str:
    """Return the first line of an exception's message (its type name when empty)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _mentions(text: str, *words: str) -> bool:
    """Return True when ``text`` contains any of ``words``."""
    return any(word in text for word in words)


def sqlite_error(exc: sqlite3.Error, location: str, action: str) -> StoreError:
    """Return a sqlite3 error as one StoreError line saying what to do."""
    text = reason(exc)
    low = text.lower()
    if _mentions(low, "readonly", "read-only", "unable to open"):
        return StoreError(
            f"cannot {action} history store {location}: the file or its folder is read-only "
            f"({text})",
            hint="make it writable, point --fwmon-history elsewhere, or use --fwmon-no-history",
        )
    if _mentions(low, "locked", "busy"):
        return StoreError(
            f"history store {location} stayed locked by another writer for {BUSY_TIMEOUT:g} s",
            hint="retry when the other fwmon process has finished",
        )
    if _mentions(low, "not a database", "malformed", "corrupt"):
        return StoreError(
            f"history store {location} is corrupt ({text}); it was not changed",
            hint="restore it from a backup or an export, or point --fwmon-history elsewhere",
        )
    if "disk" in low and "full" in low:
        return StoreError(f"cannot {action} history store {location}: the disk is full")
    return StoreError(f"cannot {action} history store {location}: {text}")


def is_psycopg_error(exc: BaseException) -> bool:
    """Return True for exceptions raised by psycopg (without importing it)."""
    return any(c.__module__.startswith("psycopg") for c in type(exc).__mro__)


def pg_error(exc: BaseException, location: str, action: str) -> StoreError:
    """Return a psycopg error as one StoreError line saying what to do."""
    text = reason(exc)
    name = type(exc).__name__
    if name in ("ReadOnlySqlTransaction", "InsufficientPrivilege"):
        return StoreError(
            f"cannot {action} history store {location}: the database is read-only for this "
            f"user ({text})",
            hint="grant write access or point --fwmon-history elsewhere",
        )
    error = StoreError(f"cannot {action} history store {location}: {text}")
    # SQLSTATE 40P01 / 40001: PostgreSQL chose this transaction to abort
    error.retryable = name in ("DeadlockDetected", "SerializationFailure")
    return error


# -- opening ------------------------------------------------------------------------------
