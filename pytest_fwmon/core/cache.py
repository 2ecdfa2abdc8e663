"""Content-hash result cache. Standard library only.

A result is stored under ``sha256(file sha256, checker, tool version, checker settings,
fwmon version, report schema version)``: any change to the file, the tool, its configuration
or fwmon recomputes it. All entries live in one JSON file (``<cache_dir>/results.json``),
read once at the start and written once, atomically, by the controller at the end (xdist
workers send their new entries to the controller). For each (path, checker) only the entry of
the newest content is kept, so the file does not grow with edits.

A cache file that cannot be read or parsed, or an entry of the wrong shape, is ignored with a
warning and recomputed; it is never fatal.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from .. import __version__
from .model import SCHEMA_VERSION
from .report import write_json_atomic

#: Version of the cache file layout.
CACHE_FORMAT: Final = 2
CACHE_FILE: Final = "results.json"


def cache_key(digest: str, checker: str, tool_version: str, settings: Mapping[str, Any]) -> str:
    """Return the key of one (file content, checker, configuration) result."""
    material = json.dumps(
        [digest, checker, tool_version, settings, __version__, SCHEMA_VERSION],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(material.encode()).hexdigest()


class ResultCache:
    """The cache file of one project; ``warnings`` collects what went wrong on reading it."""

    def __init__(self, directory: Path, enabled: bool = True) -> None:
        """Use the cache file in ``directory``; read it lazily, on the first lookup.

        With ``enabled`` false, lookups miss and nothing is read or written.
        """
        self.directory = directory
        self.enabled = enabled
        self.path = directory / CACHE_FILE
        self._entries: dict[str, dict[str, Any]] = {}
        self._new: dict[str, dict[str, Any]] = {}
        self._loaded = False
        #: Messages for the user about a corrupt file or entries (shown once).
        self.warnings: list[str] = []

    def _load(self) -> None:
        self._loaded = True
        if not self.enabled:
            return
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError) as exc:
            self.warnings.append(f"fwmon cache {self.path} cannot be read ({exc}); recomputing")
            return
        try:
            data = json.loads(raw)
        except ValueError:
            self.warnings.append(f"fwmon cache {self.path} is corrupt; recomputing every result")
            return
        if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
            self.warnings.append(f"fwmon cache {self.path} has another format; recomputing")
            return
        entries = data.get("entries")
        if isinstance(entries, dict):
            self._entries = entries

    def get(self, key: str) -> dict[str, Any] | None:
        """Return the stored entry for ``key``, or None (missing, disabled, or wrong shape)."""
        if not self.enabled:
            return None
        if not self._loaded:
            self._load()
        entry = self._new.get(key) or self._entries.get(key)
        if entry is None:
            return None
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), dict):
            self.warnings.append(f"fwmon cache entry {key[:12]} is corrupt; recomputed")
            self._entries.pop(key, None)
            return None
        value: dict[str, Any] = entry["value"]
        return value

    def put(self, key: str, path: str, checker: str, value: dict[str, Any]) -> None:
        """Remember a new result (written by :meth:`save`)."""
        if self.enabled:
            self._new[key] = {"path": path, "checker": checker, "value": value}

    def save(self) -> None:
        """Write the cache once (controller only). Raises OSError if it cannot be written."""
        if not self.enabled or not self._new:
            return
        if not self._loaded:
            self._load()
        newest: dict[tuple[str, str], str] = {}
        merged = {**self._entries, **self._new}
        for key, entry in self._new.items():
            newest[(entry["path"], entry["checker"])] = key
        kept = {
            key: entry
            for key, entry in merged.items()
            if isinstance(entry, dict)
            and newest.get((entry.get("path", ""), entry.get("checker", "")), key) == key
        }
        write_json_atomic(self.path, {"format": CACHE_FORMAT, "entries": kept}, indent=None)
        self._entries = kept
        self._new = {}
