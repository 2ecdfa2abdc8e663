"""``fwmon dashboard build -o DIR`` and ``fwmon dashboard serve`` (docs/reference/dashboard.md).

Both read the same data (:func:`pytest_fwmon.dashboard.sources.open_source`):

* the history store: ``--history URL``, else ``FWMON_HISTORY_URL``, else ``[tool.fwmon]
  history_url``, else ``.fwmon/history.db`` under ``--root`` (when it exists);
* ``--report PATH``: a report shown by itself without a store, or as the newest run when the
  store does not hold it yet (default without a store: ``.fwmon/report.json``);
* ``--gate-result PATH``: ``gate-result.json`` of ``fwmon gate``; its verdict and reasons are
  shown for the run it names.

Settings come from ``[tool.fwmon.dashboard]`` (``refresh``, ``run_pages``, ``source_url``,
``title``, ``window``), then the command line. ``[tool.fwmon.slo]`` and ``[tool.fwmon.kpis]``
give the SLA targets and KPIs, as for ``fwmon slo`` and ``fwmon kpis``.

Exit codes: 0 done (``serve``: stopped with Ctrl+C); 2 usage or configuration error (a
non-empty foreign output folder, a port in use); 3 report or gate result missing or invalid,
or nothing to show; 4 store error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core.argtypes import port, whole
from ..core.config import load_config
from ..core.errors import EXIT_OK, ConfigError
from .build import build_site
from .data import WINDOWS, Dashboard, Options, load_gate_result
from .server import is_loopback, make_server
from .sources import open_source


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root", default=None, help="project folder (pyproject.toml, .fwmon/); default: here"
    )
    parser.add_argument(
        "--history",
        metavar="URL",
        default=None,
        help="history store: a SQLite path or postgresql://... (default: FWMON_HISTORY_URL, "
        "[tool.fwmon] history_url, .fwmon/history.db)",
    )
    parser.add_argument("--no-history", action="store_true", help="show only --report")
    parser.add_argument("--report", metavar="PATH", default=None, help="a report.json to show")
    parser.add_argument(
        "--gate-result", metavar="PATH", default=None, help="gate-result.json of fwmon gate"
    )
    parser.add_argument("--branch", default=None, help="only runs of this branch")
    parser.add_argument(
        "--refresh",
        metavar="SECONDS",
        type=whole(0),
        default=None,
        help="seconds between automatic page refreshes, 0 = off (default 30)",
    )
    parser.add_argument("--title", default=None, help="site title (default: fwmon - PROJECT)")
    parser.add_argument(
        "--source-url",
        metavar="TEMPLATE",
        default=None,
        help="link of a finding, with {path} {line} {sha}, e.g. "
        "https://github.com/o/r/blob/{sha}/{path}#L{line}",
    )


def register(subparsers: Any) -> None:
    """Add ``fwmon dashboard build|serve``."""
    parser = subparsers.add_parser(
        "dashboard",
        help="static dashboard site or live dashboard server",
        description="Build the static dashboard site, or serve it live with a JSON API.",
    )
    commands = parser.add_subparsers(dest="dashboard_command", metavar="COMMAND")
    build = commands.add_parser(
        "build", help="write the static site", description="Write the static dashboard site."
    )
    build.add_argument("-o", "--output", required=True, metavar="DIR", help="site folder")
    build.add_argument(
        "--run-pages",
        metavar="N",
        type=whole(0),
        default=None,
        help="write pages for the newest N runs only (default 0 = every run)",
    )
    _common(build)
    build.set_defaults(func=_build)
    serve = commands.add_parser(
        "serve",
        help="serve the pages and the JSON API",
        description="Serve the dashboard pages and the JSON API (read-only).",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=port, default=8080, help="port (default 8080; 0 = any free port)"
    )
    serve.add_argument("--access-log", action="store_true", help="log each request to stderr")
    _common(serve)
    serve.set_defaults(func=_serve)
    parser.set_defaults(func=lambda args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _pick(given: Any, settings: Mapping[str, Any], key: str, default: Any) -> Any:
    """Return the command line's value when given, else the configured one, else ``default``."""
    return given if given is not None else settings.get(key, default)


def _options(
    args: argparse.Namespace, settings: Mapping[str, Any], sections: Mapping[str, Any]
) -> Options:
    """Return the options of the command line over ``[tool.fwmon.dashboard]`` (and SLO, KPIs)."""
    gate_path = Path(args.gate_result) if args.gate_result else None
    return Options(
        title=_pick(args.title, settings, "title", ""),
        refresh=_pick(args.refresh, settings, "refresh", 30),
        branch=args.branch,
        run_pages=_pick(getattr(args, "run_pages", None), settings, "run_pages", 0),
        source_url=_pick(args.source_url, settings, "source_url", ""),
        window=settings.get("window", "7d"),
        gate_result=load_gate_result(gate_path) if gate_path is not None else None,
        gate_result_path=gate_path,
        slo_section=dict(sections.get("slo", {})),
        kpis_section=dict(sections.get("kpis", {})),
        alerts_section=dict(sections.get("alerts", {})),
    )


def dashboard_from_args(args: argparse.Namespace, *, site: Path | None = None) -> Dashboard:
    """Return the :class:`Dashboard` the arguments describe (see the module docstring)."""
    root = Path(args.root or os.getcwd()).resolve()
    config = load_config(root)
    sections = config.raw_sections
    settings = Options.from_config(sections.get("dashboard", {}))
    history = args.history or config.str("", "history_url") or None
    source = open_source(root, history=history, report=args.report, no_history=args.no_history)
    options = _options(args, settings, sections)
    options.root = root
    if site is not None:
        options.root_prefix = os.path.relpath(root, (site / "runs").resolve()) + "/"
    dash = Dashboard(source, options)
    try:
        # Validate the SLO and KPI sections now, so a typo is one line and exit 2, not a 500.
        dash.slo()
        dash.kpis()
    except BaseException:
        dash.close()
        raise
    return dash


def _build(args: argparse.Namespace) -> int:
    out = Path(args.output)
    with dashboard_from_args(args, site=out.resolve()) as dash:
        result = build_site(dash, out)
    print(
        f"fwmon dashboard: wrote {result.pages} pages ({result.run_pages} run pages) "
        f"in {result.seconds:.2f} s"
    )
    print(result.index.resolve())
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    with dashboard_from_args(args) as dash:
        return _run_server(dash, args)


def _run_server(dash: Dashboard, args: argparse.Namespace) -> int:
    try:
        server = make_server(dash, args.host, args.port, access_log=args.access_log)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            hint="choose another --port (0 picks a free one)",
        ) from None
    if not is_loopback(args.host):
        print(
            f"fwmon dashboard: warning: listening on {args.host}, not loopback: anyone who can "
            "reach this machine can read the dashboard",
            file=sys.stderr,
        )
    print(f"fwmon dashboard: serving {server.url} (read-only; Ctrl+C stops)", flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return EXIT_OK


__all__ = ["WINDOWS", "dashboard_from_args", "register"]
