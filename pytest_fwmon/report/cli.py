"""``fwmon report merge SHARD.json... -o OUT.json``: one report from the shards of a run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..core.errors import EXIT_OK
from ..core.report import write_report


def register(subparsers: Any) -> None:
    """Add ``report merge``."""
    p = subparsers.add_parser(
        "report",
        help="commands on reports: merge the shard reports of a sharded run",
        description="Commands on fwmon reports.",
    )
    sub = p.add_subparsers(dest="report_command", metavar="COMMAND", required=True)
    m = sub.add_parser(
        "merge",
        help="merge shard reports (pytest --fwmon-shard I/N) into one report",
        description="Merge the shard reports of one run into one report: tests summed, "
        "checks united, coverage combined from the shards' data files, scores recomputed. "
        "Exit 3 for shards of different commits or configurations, a missing or duplicated "
        "shard, or an interrupted shard.",
    )
    m.add_argument("shards", nargs="+", type=Path, metavar="SHARD.json")
    m.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.json")
    m.add_argument(
        "--root",
        type=Path,
        default=Path("."),
        help="the checkout the shards ran in, for coverage: coverage.py reads the measured "
        "source files (default: current folder; not needed without coverage data)",
    )
    m.set_defaults(func=_merge)


def _merge(args: argparse.Namespace) -> int:
    """Run ``fwmon report merge``."""
    from ..core.errors import ReportError
    from ..core.schema import first_error
    from .merge import merge

    report = merge(list(args.shards), args.root.resolve())
    error = first_error("report", report)
    if error is not None:
        raise ReportError(f"the merged report does not match the report schema {error}")
    write_report(args.output, report)
    print(
        f"fwmon: merged {len(args.shards)} shard(s) into {args.output}: "
        f"{report['tests']['total']} tests, {len(report['checks'])} checks"
    )
    return EXIT_OK
