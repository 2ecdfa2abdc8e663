"""``fwmon history | trends | slo | kpis | improve | export`` (docs/reference/history.md).

Every command finds the store the same way: ``--store URL`` if given, else the
``FWMON_HISTORY_URL`` environment variable, else ``[tool.fwmon] history_url`` in the
``pyproject.toml`` of the current directory, else ``.fwmon/history.db`` there.

Exit codes: 0 done; 1 ``history import`` skipped a malformed input, ``slo --check`` found a
breached target; 2 usage or configuration error; 3 a ``--report`` file is missing or invalid;
4 store error (corrupt, other schema version, read-only, unreachable).
"""

from __future__ import annotations

from typing import Any

from ..core import argtypes
from ..core.argtypes import positive_int, retain_days
from .cli_analysis import cmd_export_prometheus, cmd_improve, cmd_kpis, cmd_slo, cmd_trends
from .cli_runs import cmd_archive, cmd_export, cmd_import, cmd_list, cmd_verdict
from .cliutil import HISTORY_KEYS, add_store, add_window, history_settings


def register(subparsers: Any) -> None:
    """Add ``history``, ``trends``, ``slo``, ``kpis``, ``improve`` and ``export``."""
    history = subparsers.add_parser(
        "history",
        help="record, list, export, import and archive runs",
        description="The run history store (SQLite by default, PostgreSQL by URL).",
    )
    sub = history.add_subparsers(dest="history_command", metavar="ACTION", required=True)

    p = sub.add_parser("import", help="add reports (report JSON or JSONL exports) to the store")
    p.add_argument("files", nargs="+", metavar="FILE", help="report.json or .jsonl files")
    add_store(p)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export", help="write every stored run as JSONL (one report per line)")
    p.add_argument("--format", choices=["jsonl"], default="jsonl", help="output format (jsonl)")
    p.add_argument("-o", "--output", default=None, metavar="FILE", help="file (default: stdout)")
    p.add_argument("--since", default=None, help="only runs since (30d, 2024-05-01, ...)")
    p.add_argument("--until", default=None, help="only runs before (an age or an ISO date)")
    add_store(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("archive", help="write daily JSONL archives and prune old archived runs")
    p.add_argument(
        "--dir",
        default=None,
        help="archive folder (default: [tool.fwmon.history] archive_dir, .fwmon/archive)",
    )
    keep = p.add_mutually_exclusive_group()
    keep.add_argument(
        "--retention-days",
        type=int,
        default=None,
        metavar="N",
        help="prune archived runs older than N days (0 = never; default 365)",
    )
    keep.add_argument(
        "--retain",
        type=retain_days,
        dest="retention_days",
        metavar="AGE",
        help="the same as an age: 90d, 12w (0d = never)",
    )
    add_store(p)
    p.set_defaults(func=cmd_archive)

    p = sub.add_parser("list", help="list stored runs, oldest first")
    add_window(p)
    p.add_argument("--limit", type=positive_int, default=None, help="only the newest N runs")
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    add_store(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("verdict", help="record the gate verdict of a stored run")
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("verdict", choices=["pass", "blocked"])
    add_store(p)
    p.set_defaults(func=cmd_verdict)

    from .trends import SERIES_WINDOW

    p = subparsers.add_parser(
        "trends",
        help="slope, Mann-Kendall, change points and projections per metric",
        description="Trends of stored metrics over the newest runs (see "
        "docs/reference/trends-and-slo.md).",
    )
    p.add_argument(
        "--metric",
        action="append",
        default=None,
        metavar="M",
        help="metric name or glob (repeatable; default: every metric)",
    )
    add_window(p)
    p.add_argument(
        "--last",
        type=positive_int,
        default=SERIES_WINDOW,
        metavar="N",
        help=f"analyse the newest N runs of each metric (default {SERIES_WINDOW})",
    )
    p.add_argument(
        "--target",
        type=argtypes.number(),
        default=None,
        help="project when this value is crossed (one metric)",
    )
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    add_store(p)
    p.set_defaults(func=cmd_trends)

    p = subparsers.add_parser("slo", help="availability, MTTR/MTBF/MTTD, error budget, burn rates")
    p.add_argument(
        "--branch",
        default=None,
        help="branch (default: [tool.fwmon.slo] branch, else resolved; '' for all)",
    )
    p.add_argument("--since", default=None, help="only runs since (30d, 2024-05-01, ...)")
    p.add_argument(
        "--target",
        type=argtypes.number(),
        default=None,
        help="availability objective in percent (default 99.9)",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when a target is breached (0 with a message on insufficient data)",
    )
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    add_store(p)
    p.set_defaults(func=cmd_slo)

    p = subparsers.add_parser("kpis", help="configured KPIs: value, target, achievement, trend")
    p.add_argument("--branch", default=None, help="branch (default: from the configuration)")
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    add_store(p)
    p.set_defaults(func=cmd_kpis)

    p = subparsers.add_parser("improve", help="improvement opportunities ranked by ROI")
    p.add_argument(
        "--report",
        default=None,
        metavar="PATH",
        help="report to analyse (default: the newest stored run)",
    )
    p.add_argument("--branch", default=None, help="newest run / benchmark history of a branch")
    p.add_argument("--top", type=positive_int, default=10, help="show the best N (default 10)")
    p.add_argument(
        "--slow-tests",
        type=int,
        default=5,
        metavar="N",
        help="consider the N slowest tests (default 5)",
    )
    p.add_argument(
        "--done", action="store_true", help="list the implemented ones: predicted vs realised"
    )
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    add_store(p)
    p.set_defaults(func=cmd_improve)

    export = subparsers.add_parser("export", help="export the last run to other systems")
    targets = export.add_subparsers(dest="export_target", metavar="TARGET", required=True)
    p = targets.add_parser(
        "prometheus",
        help="gauges for node_exporter's textfile collector or a Pushgateway (extra: prometheus)",
    )
    p.add_argument("--textfile", default=None, metavar="PATH", help="write a .prom file")
    p.add_argument("--pushgateway", default=None, metavar="URL", help="push to this Pushgateway")
    p.add_argument("--job", default="fwmon", help="Pushgateway job name (default fwmon)")
    p.add_argument(
        "--report",
        default=None,
        metavar="PATH",
        help="report to export (default: the newest stored run)",
    )
    p.add_argument("--branch", default=None, help="newest run of this branch")
    p.add_argument(
        "--slo",
        action="store_true",
        help="add the SLO and KPI figures of the history (as fwmon slo / fwmon kpis)",
    )
    add_store(p)
    p.set_defaults(func=cmd_export_prometheus)


__all__ = ["HISTORY_KEYS", "history_settings", "register"]
