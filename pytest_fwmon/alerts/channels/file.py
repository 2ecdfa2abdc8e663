"""File or stdout channel: one JSON line per notification (the v4 payload, sorted keys).

Configuration::

    type = "file"
    path = ".fwmon/alerts-digest.jsonl"   # relative to the project root; "-" = standard output

Lines are appended with one ``write`` of the whole line (``O_APPEND``), so two processes
appending at once do not interleave. A folder that cannot be created or a file that cannot be
written is a failed attempt (retried, then recorded as undelivered).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from .base import Outcome

KEYS: Final = ("type", "path")


class FileChannel:
    """Appends each notification to a file, or prints it."""

    def __init__(self, name: str, options: Mapping[str, Any], root: Path) -> None:
        """Configure the channel from its ``options`` (``path`` relative to ``root``)."""
        self.name = name
        self.timeout = 5.0
        raw = str(options.get("path", "-"))
        self.path: Path | None = None if raw == "-" else (root / raw)

    @property
    def secrets(self) -> list[str]:
        """A file channel holds no secret."""
        return []

    def send(self, payload: Mapping[str, Any], timeout: float) -> Outcome:
        """Write one line."""
        line = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        data = (line + "\n").encode("utf-8")
        if self.path is None:
            try:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            except (OSError, ValueError) as exc:
                return Outcome(False, False, f"cannot write to standard output: {exc}")
            return Outcome(True, False, "written to standard output")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        except OSError as exc:
            return Outcome(False, True, f"cannot write {self.path}: {exc.strerror or exc}")
        return Outcome(True, False, f"appended to {self.path}")
