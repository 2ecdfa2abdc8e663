"""What the ``fwmon history|trends|slo|kpis|improve|export`` commands share.

The store lookup (:class:`Context`), ``[tool.fwmon.history]`` validation, the common
arguments and the plain-text output helpers.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TextIO

from ..core import timefmt
from ..core.config import load_config
from ..core.errors import ConfigError
from .connect import open_store
from .store import Store

#: Keys of ``[tool.fwmon.history]`` and their defaults.
HISTORY_KEYS: Final = {
    "archive_dir": ".fwmon/archive",
    "retention_days": 365,
    "partial_metrics": False,
}


def config_sections(root: Path) -> tuple[str, dict[str, dict[str, Any]]]:
    """(history_url from config/env, raw owned sections) for the project at ``root``."""
    config = load_config(root)
    return config.str("", "history_url"), config.raw_sections


def history_settings(section: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``[tool.fwmon.history]``: archive_dir, retention_days and partial_metrics."""
    for key in section:
        if key not in HISTORY_KEYS:
            raise ConfigError(
                f"unknown key [tool.fwmon.history] {key}; valid keys: "
                + ", ".join(sorted(HISTORY_KEYS))
            )
    settings = {**HISTORY_KEYS, **section}
    if not isinstance(settings["archive_dir"], str) or not settings["archive_dir"]:
        raise ConfigError("[tool.fwmon.history] archive_dir must be a folder path")
    days = settings["retention_days"]
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise ConfigError(
            f"[tool.fwmon.history] retention_days must be a whole number >= 0, got {days!r}"
        )
    if not isinstance(settings["partial_metrics"], bool):
        raise ConfigError(
            "[tool.fwmon.history] partial_metrics must be true or false, "
            f"got {settings['partial_metrics']!r}"
        )
    return settings


class Context:
    """What a command needs: project root, its config sections, and the store URL."""

    def __init__(self, args: argparse.Namespace) -> None:
        """Resolve the store URL and configuration from ``args`` and the current folder."""
        self.root = Path.cwd()
        configured, self.sections = config_sections(self.root)
        self.url: str | None = args.store or configured or None

    def open(self, *, create: bool = False, readonly: bool = False) -> Store:
        """Open the store (a missing SQLite store is an error unless ``create``).

        Commands that only read pass ``readonly``: SQLite is then opened with ``mode=ro``.
        """
        return open_store(self.url, self.root, create=create, readonly=readonly)


def add_store(parser: argparse.ArgumentParser) -> None:
    """Add ``--store URL``."""
    parser.add_argument(
        "--store",
        metavar="URL",
        default=None,
        help="history store: a SQLite path or postgresql://... (default: FWMON_HISTORY_URL, "
        "[tool.fwmon] history_url, .fwmon/history.db)",
    )


def add_window(parser: argparse.ArgumentParser, branch_default: str | None = None) -> None:
    """Add ``--branch`` and ``--since``."""
    parser.add_argument("--branch", default=branch_default, help="only runs of this branch")
    parser.add_argument(
        "--since", default=None, help="only runs since: an age (30d, 12h, 2w) or an ISO date"
    )


def fmt(value: float | None, digits: int = 4) -> str:
    """Return a number for a table: ``-`` for None, 4 significant digits otherwise."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.{digits}g}"


def duration(seconds: float | None) -> str:
    """Seconds in the unit that fits (:func:`..core.timefmt.duration`), ``-`` for None."""
    return timefmt.duration(seconds, "-")


def print_table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    """Write ``rows`` as left-aligned columns."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON."""
    json.dump(data, sys.stdout, indent=2, sort_keys=True, allow_nan=False)
    sys.stdout.write("\n")


def pvalue(p: float) -> str:
    """Return a p-value with three decimals, ``<0.001`` below that."""
    return "<0.001" if p < 0.001 else f"{p:.3f}"
