"""The quarantine file ``fwmon-quarantine.toml``: flaky tests that still run but cannot fail.

Schema (reviewed in pull requests, like the policy)::

    version = 1

    [[quarantine]]
    nodeid = "tests/test_api.py::test_retry"    # required, a pytest node id
    owner = "alice"                             # required, who fixes it
    reason = "times out on slow runners"        # required
    expires = "2026-12-31"                      # required, YYYY-MM-DD: blocks the gate after
    issue = "https://example.org/issues/17"     # optional
    added = "2026-12-03"                        # written by `fwmon flaky quarantine`

An entry is *expired* on the day after ``expires`` (UTC).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from ..core.errors import ConfigError
from .policy import parse_toml

#: The file's name, at the project root.
FILENAME: Final = "fwmon-quarantine.toml"
#: The version of the file's schema.
VERSION: Final = 1
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_REQUIRED: Final = ("nodeid", "owner", "reason", "expires")
_KEYS: Final = frozenset({*_REQUIRED, "issue", "added"})


@dataclass(frozen=True)
class Entry:
    """One quarantined test."""

    nodeid: str
    owner: str
    reason: str
    expires: str
    issue: str | None = None
    added: str | None = None

    def expired(self, today: dt.date) -> bool:
        """Return True when ``today`` is after the expiry date."""
        return dt.date.fromisoformat(self.expires) < today


def parse_date(value: Any, what: str) -> str:
    """Return ``value`` as ``YYYY-MM-DD`` text; anything else is a ConfigError."""
    text = value.isoformat() if isinstance(value, dt.date) else value
    if not isinstance(text, str) or not _DATE.fullmatch(text):
        raise ConfigError(f"{what} must be a date YYYY-MM-DD, got {value!r}")
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{what} is not a real date: {text!r}") from None
    return text


def make_entry(data: Mapping[str, Any], where: str) -> Entry:
    """Check one ``[[quarantine]]`` table and return it as an Entry."""
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; valid keys: {sorted(_KEYS)}")
    for key in _REQUIRED:
        value = data.get(key)
        if not isinstance(value, str | dt.date) or not str(value).strip():
            raise ConfigError(
                f"{where}: {key} is required (a quarantine needs an owner and expiry)"
            )
    for key in ("nodeid", "owner", "reason", "issue"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise ConfigError(f"{where}: {key} must be text")
    added = data.get("added")
    return Entry(
        nodeid=data["nodeid"],
        owner=data["owner"],
        reason=data["reason"],
        expires=parse_date(data["expires"], f"{where}: expires"),
        issue=data.get("issue"),
        added=None if added is None else parse_date(added, f"{where}: added"),
    )


def parse(data: bytes, source: str) -> list[Entry]:
    """Parse the bytes of a quarantine file."""
    table = parse_toml(data, source)
    version = table.get("version", VERSION)
    if version != VERSION:
        raise ConfigError(f"{source}: version must be {VERSION}, got {version!r}")
    items = table.get("quarantine", [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ConfigError(f"{source}: quarantine must be an array of tables ([[quarantine]])")
    entries = [make_entry(item, f"{source} entry {n}") for n, item in enumerate(items, 1)]
    seen: set[str] = set()
    for entry in entries:
        if entry.nodeid in seen:
            raise ConfigError(f"{source}: {entry.nodeid} is quarantined twice")
        seen.add(entry.nodeid)
    return entries


def load(root: Path) -> list[Entry]:
    """Return the entries of ``root/fwmon-quarantine.toml`` (none when there is no file)."""
    path = root / FILENAME
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    return parse(data, FILENAME)


def _quote(value: str) -> str:
    """Return ``value`` as a TOML basic string (JSON string syntax is valid TOML)."""
    return json.dumps(value, ensure_ascii=False)


def dump(entries: Iterable[Entry]) -> str:
    """Return the file text for ``entries``, sorted by node id."""
    lines = [
        "# Quarantined flaky tests: they run, but their failures do not fail the run.",
        "# Reviewed like the policy; an expired entry blocks the gate (fwmon flaky --help).",
        f"version = {VERSION}",
    ]
    for entry in sorted(entries, key=lambda e: e.nodeid):
        lines.append("")
        lines.append("[[quarantine]]")
        for key, value in asdict(entry).items():
            if value is not None:
                lines.append(f"{key} = {_quote(value)}")
    return "\n".join(lines) + "\n"


def save(root: Path, entries: Iterable[Entry]) -> Path:
    """Write ``entries`` to ``root/fwmon-quarantine.toml``."""
    path = root / FILENAME
    path.write_text(dump(entries), encoding="utf-8")
    return path


def expired(entries: Iterable[Entry], today: dt.date) -> list[Entry]:
    """Return the entries that expired before ``today``."""
    return [e for e in entries if e.expired(today)]


def growth(before: Iterable[Entry], after: Iterable[Entry]) -> list[str]:
    """Return how the quarantine grew: each new entry and each later expiry, one phrase each.

    The policy guard counts these as weakenings: a quarantined test cannot fail the run.
    """
    old = {e.nodeid: e for e in before}
    changes = []
    for entry in sorted(after, key=lambda e: e.nodeid):
        known = old.get(entry.nodeid)
        if known is None:
            changes.append(f"{entry.nodeid} quarantined until {entry.expires} ({FILENAME})")
        elif entry.expires > known.expires:
            changes.append(
                f"{entry.nodeid} quarantine extended from {known.expires} to {entry.expires} "
                f"({FILENAME})"
            )
    return changes


def growth_since(root: Path, base: str) -> list[str]:
    """Return :func:`growth` of ``root/fwmon-quarantine.toml`` since the commit ``base``."""
    from .diff import show_file  # git only when the guard runs

    data = show_file(root, base, root / FILENAME)
    before = [] if data is None else parse(data, f"{FILENAME} at {base[:12]}")
    return growth(before, load(root))
