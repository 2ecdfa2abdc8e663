"""``fwmon history | trends | slo | kpis | improve | export`` (docs/reference/history.md).

Every command finds the store the same way: ``--store URL`` if given, else the
``FWMON_HISTORY_URL`` environment variable, else ``[tool.fwmon] history_url`` in the
``pyproject.toml`` of the current directory, else ``.fwmon/history.db`` there.

Exit codes: 0 done; 1 ``history import`` skipped a malformed input, ``slo --check`` found a
breached target; 2 usage or configuration error; 3 a ``--report`` file is missing or invalid;
4 store error (corrupt, other schema version, read-only, unreachable).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TextIO

from ..core import argtypes
from ..core.argtypes import positive_int
from ..core.config import load_config
from ..core.errors import EXIT_BLOCKED, EXIT_OK, ConfigError, FwmonError, ReportError, StoreError
from ..core.report import load_report, parse_report
from .connect import open_store
from .store import Store, iso_to_ts, parse_time, ts_to_iso

#: Keys of ``[tool.fwmon.history]`` and their defaults.
HISTORY_KEYS: Final = {"archive_dir": ".fwmon/archive", "retention_days": 365}

#: Valid inputs per ``import`` batch before they are written in one transaction.
_IMPORT_BATCH: Final = 500


# -- helpers --------------------------------------------------------------------------------


def _sections(root: Path) -> tuple[str, dict[str, dict[str, Any]]]:
    """(history_url from config/env, raw owned sections) for the project at ``root``."""
    config = load_config(root)
    return config.str("", "history_url"), config.raw_sections


def history_settings(section: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``[tool.fwmon.history]`` (``archive_dir``, ``retention_days``)."""
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
    return settings


class Context:
    """What a command needs: project root, its config sections, and the store URL."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.root = Path.cwd()
        configured, self.sections = _sections(self.root)
        self.url: str | None = args.store or configured or None

    def open(self, *, create: bool = False) -> Store:
        return open_store(self.url, self.root, create=create)


def _add_store(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="URL",
        default=None,
        help="history store: a SQLite path or postgresql://... (default: FWMON_HISTORY_URL, "
        "[tool.fwmon] history_url, .fwmon/history.db)",
    )


def _add_window(parser: argparse.ArgumentParser, branch_default: str | None = None) -> None:
    parser.add_argument("--branch", default=branch_default, help="only runs of this branch")
    parser.add_argument(
        "--since", default=None, help="only runs since: an age (30d, 12h, 2w) or an ISO date"
    )


def fmt(value: float | None, digits: int = 4) -> str:
    """A number for a table: ``-`` for None, 4 significant digits otherwise."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.{digits}g}"


def _hours(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.2f} h"


def _table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True, allow_nan=False)
    sys.stdout.write("\n")


def _pvalue(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


# -- history import / export / archive / list / verdict ---------------------------------------


def _inputs(paths: Sequence[str]) -> Iterator[tuple[str, dict[str, Any] | None, str]]:
    """(source, report or None, reason) for every report in files and JSONL files."""
    for name in paths:
        path = Path(name)
        if path.suffix in (".jsonl", ".ndjson"):
            try:
                fh = path.open("rb")
            except OSError as exc:
                yield str(path), None, f"cannot be read: {exc.strerror or exc}"
                continue
            with fh:
                for number, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    source = f"{path} line {number}"
                    try:
                        yield source, parse_report(line, source=source), ""
                    except ReportError as exc:
                        yield source, None, exc.one_line()
            continue
        try:
            yield str(path), load_report(path), ""
        except ReportError as exc:
            yield str(path), None, exc.one_line()


def cmd_import(args: argparse.Namespace) -> int:
    ctx = Context(args)
    added = duplicates = skipped = 0
    batch: list[dict[str, Any]] = []
    with ctx.open(create=True) as store:

        def flush() -> None:
            nonlocal added, duplicates
            new, dup = store.add_runs(batch, validate=False)
            added += new
            duplicates += dup
            batch.clear()

        for source, report, reason in _inputs(args.files):
            if report is None:
                skipped += 1
                where = "" if reason.startswith(("report ", source)) else f"{source}: "
                print(f"fwmon: skipped {where}{reason}", file=sys.stderr)
                continue
            batch.append(report)
            if len(batch) >= _IMPORT_BATCH:
                flush()
        if batch:
            flush()
        location = store.location
    print(
        f"imported {added} run(s) into {location}, {duplicates} already stored, {skipped} skipped"
    )
    return EXIT_BLOCKED if skipped else EXIT_OK


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[TextIO]:
    """stdout, or a file written atomically (temp file + os.replace)."""
    if path is None or path == "-":
        yield sys.stdout
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def cmd_export(args: argparse.Namespace) -> int:
    ctx = Context(args)
    count = 0
    with ctx.open() as store:
        try:
            with _output(args.output) as out:
                for _, _, text in store.iter_reports_text(since=args.since, until=args.until):
                    out.write(text)
                    out.write("\n")
                    count += 1
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise FwmonError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    if args.output not in (None, "-"):
        print(f"exported {count} run(s) to {args.output}")
    return EXIT_OK


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def _archive_ids(path: Path) -> dict[str, tuple[float, str]]:
    """run id -> (ts, line) of an existing daily archive."""
    found: dict[str, tuple[float, str]] = {}
    if not path.exists():
        return found
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            run = json.loads(line)["run"]
            found[run["id"]] = (iso_to_ts(run["started"]), line)
        except (ValueError, KeyError, TypeError):
            raise FwmonError(
                f"archive {path} line {number} is not a fwmon report; it was not changed",
                hint="move the file away and run `fwmon history archive` again",
            ) from None
    return found


def cmd_archive(args: argparse.Namespace) -> int:
    ctx = Context(args)
    settings = history_settings(ctx.sections.get("history", {}))
    folder = Path(args.dir or settings["archive_dir"])
    if not folder.is_absolute():
        folder = ctx.root / folder
    retention = settings["retention_days"] if args.retention_days is None else args.retention_days
    with ctx.open() as store:
        pending: dict[str, list[tuple[str, float, str]]] = {}
        for run_id, ts, text in store.iter_reports_text(archived=False):
            pending.setdefault(_day(ts), []).append((run_id, ts, text))
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for day, runs in sorted(pending.items()):
                path = folder / f"{day}.jsonl"
                lines = _archive_ids(path)
                for run_id, ts, text in runs:
                    lines[run_id] = (ts, text)
                with _output(str(path)) as out:
                    for _run, (_, text) in sorted(lines.items(), key=lambda i: (i[1][0], i[0])):
                        out.write(text + "\n")
                store.mark_archived(r[0] for r in runs)
        except OSError as exc:
            raise FwmonError(
                f"cannot write archives under {folder}: {exc.strerror or exc}; nothing was pruned"
            ) from None
        archived = sum(len(r) for r in pending.values())
        pruned = 0
        if retention > 0:
            cutoff = datetime.now(UTC).timestamp() - retention * 86400.0
            old = [r for r in store.list_runs() if r.archived and r.ts < cutoff]
            by_day: dict[str, list[str]] = {}
            for run in old:
                by_day.setdefault(_day(run.ts), []).append(run.run_id)
            safe: list[str] = []
            for day, ids in by_day.items():
                present = _archive_ids(folder / f"{day}.jsonl")
                safe.extend(i for i in ids if i in present)  # only runs found in an archive
            pruned = store.delete_runs(safe)
    print(
        f"archived {archived} run(s) into {len(pending)} daily file(s) under {folder}; "
        f"pruned {pruned} archived run(s) older than {retention} days"
        if retention
        else f"archived {archived} run(s) into {len(pending)} daily file(s) under {folder}; "
        "retention 0: nothing pruned"
    )
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    ctx = Context(args)
    with ctx.open() as store:
        runs = store.list_runs(branch=args.branch, since=args.since, limit=args.limit)
    if args.json:
        _print_json([r.to_dict() for r in runs])
        return EXIT_OK
    rows = [["run", "started", "branch", "sha", "green", "gate", "archived"]]
    for r in runs:
        rows.append(
            [
                r.run_id,
                r.started,
                r.branch or "-",
                (r.sha or "-")[:12],
                "yes" if r.green else "no",
                "-" if r.gate_passed is None else ("pass" if r.gate_passed else "blocked"),
                "yes" if r.archived else "no",
            ]
        )
    _table(rows, sys.stdout)
    print(f"{len(runs)} run(s)")
    return EXIT_OK


def cmd_verdict(args: argparse.Namespace) -> int:
    ctx = Context(args)
    with ctx.open() as store:
        if not store.set_gate(args.run_id, args.verdict == "pass"):
            raise FwmonError(
                f"run {args.run_id} is not in history store {store.location}",
                hint="`fwmon history list` shows the stored runs",
            )
    print(f"recorded gate verdict {args.verdict} for run {args.run_id}")
    return EXIT_OK


# -- trends ------------------------------------------------------------------------------------


def _targets_from_kpis(section: Mapping[str, Any]) -> dict[str, float]:
    from .kpis import parse_config

    if not section:
        return {}
    specs, _, _ = parse_config(section)
    return {s.metric: s.target for s in specs if not s.metric.startswith("slo.")}


def cmd_trends(args: argparse.Namespace) -> int:
    import fnmatch

    from .trends import analyse

    ctx = Context(args)
    parse_time(args.since)
    targets = _targets_from_kpis(ctx.sections.get("kpis", {}))
    with ctx.open() as store:
        stored = store.metrics()
        if args.metric:
            names: list[str] = []
            for pattern in args.metric:
                matches = fnmatch.filter(stored, pattern)
                if not matches:
                    raise ConfigError(
                        f"no stored metric matches {pattern!r}; stored metrics: "
                        + (", ".join(stored[:20]) + (" ..." if len(stored) > 20 else "") or "none")
                    )
                names.extend(m for m in matches if m not in names)
        else:
            names = stored
        if args.target is not None:
            if len(names) != 1:
                raise ConfigError("--target needs exactly one metric (use --metric NAME)")
            targets = {names[0]: args.target}
        results = [
            analyse(
                store.series(name, branch=args.branch, since=args.since, limit=args.last),
                metric=name,
                target=targets.get(name),
            )
            for name in names
        ]
    if args.json:
        _print_json([r.to_dict() for r in results])
        return EXIT_OK
    rows = [
        [
            "metric",
            "runs",
            "last",
            "slope/run",
            "95% CI",
            "MK p",
            "trend",
            "change points",
            "projection",
        ]
    ]
    for r in results:
        ci = "-" if r.slope_low is None else f"[{fmt(r.slope_low)}, {fmt(r.slope_high)}]"
        trend = r.direction if r.verdict == "flat" else f"{r.direction} ({r.verdict})"
        cps = ", ".join(f"{c.run_id} {c.magnitude:+.0%}" for c in r.change_points[-3:]) or "-"
        if r.projection is not None:
            when = f" ~{r.projection.eta[:10]}" if r.projection.eta else ""
            projection = f"{fmt(r.projection.target)} in {r.projection.runs:.0f} runs{when}"
        else:
            projection = "-"
        rows.append(
            [
                r.metric,
                str(r.n),
                fmt(r.last_value),
                fmt(r.slope),
                ci,
                _pvalue(r.mk_p),
                trend,
                cps,
                projection,
            ]
        )
    _table(rows, sys.stdout)
    return EXIT_OK


# -- slo ---------------------------------------------------------------------------------------


def cmd_slo(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from .slo import SloTargets, compute

    ctx = Context(args)
    targets = SloTargets.from_config(ctx.sections.get("slo", {}))
    if args.branch is not None:
        targets = replace(targets, branch=args.branch or None)
    if args.target is not None:
        if not 0 < args.target < 100:
            raise ConfigError(f"--target must be between 0 and 100, got {args.target:g}")
        targets = replace(targets, target=args.target)
    with ctx.open() as store:
        runs = store.list_runs(branch=targets.branch, since=args.since)
    result = compute(runs, targets)
    if args.json:
        _print_json(result.to_dict())
    else:
        _print_slo(result)
    return EXIT_BLOCKED if args.check and not result.compliant else EXIT_OK


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} %"


def _print_slo(result: Any) -> None:
    span = ""
    if result.first_ts is not None:
        span = f", {ts_to_iso(result.first_ts)} .. {ts_to_iso(result.last_ts)}"
    print(f"SLO figures for branch {result.branch or '(all)'}: {result.runs} run(s){span}")
    rows = [["figure", "value", "target", "ok"]]
    targets = {c.name: c for c in result.compliance}

    def row(name: str, label: str, value: str) -> None:
        check = targets.get(name)
        target = "-"
        ok = "-"
        if check is not None:
            sign = ">=" if check.op == "ge" else "<="
            unit = " h" if name.endswith("_hours") else (" %" if "burn" not in name else "")
            target = f"{sign} {fmt(check.target)}{unit}"
            ok = "-" if check.ok is None else ("yes" if check.ok else "NO")
        rows.append([label, value, target, ok])

    row("availability", "availability (runs)", _pct(result.availability_runs))
    row("availability_time", "availability (time)", _pct(result.availability_time))
    row("mttr_hours", "MTTR", _hours(result.mttr_seconds))
    row("mtbf_hours", "MTBF", _hours(result.mtbf_seconds))
    row("mttd_hours", "MTTD", _hours(result.mttd_seconds))
    row(
        "gate_pass_rate",
        f"gate pass rate ({result.gate_runs} verdicts)",
        _pct(result.gate_pass_rate),
    )
    row(
        "error_budget_remaining",
        f"error budget remaining (used {_pct(result.budget_used)})",
        _pct(result.budget_remaining),
    )
    for burn in result.burn_rates:
        row(
            f"burn_rate.{burn.window}",
            f"burn rate, last {burn.window} runs ({burn.red} red)",
            fmt(burn.rate),
        )
    _table(rows, sys.stdout)
    print(
        f"incidents: {len(result.incidents)}"
        + (" (one is open)" if result.incident_open else "")
        + f"; compliant: {'yes' if result.compliant else 'no'}"
    )


# -- kpis / improve ----------------------------------------------------------------------------


def _arrows_ok() -> bool:
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "↑↓→".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def cmd_kpis(args: argparse.Namespace) -> int:
    from .kpis import evaluate

    ctx = Context(args)
    with ctx.open() as store:
        kpis = evaluate(
            store, ctx.sections.get("kpis", {}), ctx.sections.get("slo", {}), branch=args.branch
        )
    if args.json:
        _print_json([k.to_dict() for k in kpis])
        return EXIT_OK
    plain = {"↑": "^", "↓": "v", "→": "-"}
    arrows = _arrows_ok()
    ops = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
    rows = [["kpi", "value", "target", "achievement", "met", "trend"]]
    for k in kpis:
        arrow = k.arrow if arrows else plain.get(k.arrow, "")
        trend = "-" if k.trend is None else f"{arrow} {k.trend}"
        if k.better is not None:
            trend += " (better)" if k.better else " (worse)"
        rows.append(
            [
                k.name,
                fmt(k.value) + (f" {k.unit}" if k.unit and k.value is not None else ""),
                f"{ops[k.op]} {fmt(k.target)}{(' ' + k.unit) if k.unit else ''}",
                "-" if k.achievement is None else f"{k.achievement:.1f} %",
                "-" if k.met is None else ("yes" if k.met else "NO"),
                trend,
            ]
        )
    _table(rows, sys.stdout)
    return EXIT_OK


def cmd_improve(args: argparse.Namespace) -> int:
    from .improve import opportunities

    ctx = Context(args)
    report: dict[str, Any] | None
    if args.report:
        report = load_report(args.report)
        with contextlib.ExitStack() as stack:
            store = None
            with contextlib.suppress(StoreError):
                store = stack.enter_context(ctx.open())
            found = opportunities(
                report, store=store, branch=args.branch, slow_tests=args.slow_tests
            )
    else:
        with ctx.open() as store:
            report = store.latest_run(args.branch)
            if report is None:
                raise FwmonError(
                    f"history store {store.location} has no runs"
                    + (f" on branch {args.branch}" if args.branch else ""),
                    hint="pass --report .fwmon/report.json, or record runs first",
                )
            found = opportunities(
                report, store=store, branch=args.branch, slow_tests=args.slow_tests
            )
    found = found[: args.top]
    if args.json:
        _print_json([o.to_dict() for o in found])
        return EXIT_OK
    print(f"improvement opportunities for run {report['run']['id']}, best return first:")
    rows = [["#", "ROI", "impact", "effort", "opportunity"]]
    units = {"score points": "pts", "% of suite duration": "% suite", "% of P95": "% P95"}
    for number, o in enumerate(found, 1):
        rows.append(
            [
                str(number),
                f"{o.roi:.2f}",
                f"{fmt(o.impact)} {units[o.impact_unit]}",
                f"{o.effort:.2f} h",
                o.title,
            ]
        )
    _table(rows, sys.stdout)
    if not found:
        print("nothing to improve: no findings, slow tests or benchmark rises")
    return EXIT_OK


# -- export prometheus -------------------------------------------------------------------------


def cmd_export_prometheus(args: argparse.Namespace) -> int:
    from . import prometheus

    if not args.textfile and not args.pushgateway:
        raise ConfigError("fwmon export prometheus needs --textfile PATH and/or --pushgateway URL")
    ctx = Context(args)
    if args.report:
        report = load_report(args.report)
    else:
        with ctx.open() as store:
            latest = store.latest_run(args.branch)
            if latest is None:
                raise FwmonError(
                    f"history store {store.location} has no runs",
                    hint="pass --report .fwmon/report.json, or record runs first",
                )
            report = latest
    if args.textfile:
        prometheus.write_textfile(report, Path(args.textfile))
        print(f"wrote Prometheus gauges of run {report['run']['id']} to {args.textfile}")
    if args.pushgateway:
        prometheus.push(report, args.pushgateway, job=args.job)
        print(f"pushed Prometheus gauges of run {report['run']['id']} to {args.pushgateway}")
    return EXIT_OK


# -- registration ------------------------------------------------------------------------------


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
    _add_store(p)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export", help="write every stored run as JSONL (one report per line)")
    p.add_argument("--format", choices=["jsonl"], default="jsonl", help="output format (jsonl)")
    p.add_argument("-o", "--output", default=None, metavar="FILE", help="file (default: stdout)")
    p.add_argument("--since", default=None, help="only runs since (30d, 2024-05-01, ...)")
    p.add_argument("--until", default=None, help="only runs before (an age or an ISO date)")
    _add_store(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("archive", help="write daily JSONL archives and prune old archived runs")
    p.add_argument(
        "--dir",
        default=None,
        help="archive folder (default: [tool.fwmon.history] archive_dir, .fwmon/archive)",
    )
    p.add_argument(
        "--retention-days",
        type=int,
        default=None,
        metavar="N",
        help="prune archived runs older than N days (0 = never; default 365)",
    )
    _add_store(p)
    p.set_defaults(func=cmd_archive)

    p = sub.add_parser("list", help="list stored runs, oldest first")
    _add_window(p)
    p.add_argument("--limit", type=positive_int, default=None, help="only the newest N runs")
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    _add_store(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("verdict", help="record the gate verdict of a stored run")
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("verdict", choices=["pass", "blocked"])
    _add_store(p)
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
    _add_window(p)
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
    _add_store(p)
    p.set_defaults(func=cmd_trends)

    p = subparsers.add_parser("slo", help="availability, MTTR/MTBF/MTTD, error budget, burn rates")
    p.add_argument(
        "--branch", default=None, help="branch (default: [tool.fwmon.slo] branch, main; '' for all)"
    )
    p.add_argument("--since", default=None, help="only runs since (30d, 2024-05-01, ...)")
    p.add_argument(
        "--target",
        type=argtypes.number(),
        default=None,
        help="availability objective in percent (default 99.9)",
    )
    p.add_argument("--check", action="store_true", help="exit 1 when a target is breached")
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    _add_store(p)
    p.set_defaults(func=cmd_slo)

    p = subparsers.add_parser("kpis", help="configured KPIs: value, target, achievement, trend")
    p.add_argument("--branch", default=None, help="branch (default: from the configuration)")
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    _add_store(p)
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
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    _add_store(p)
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
    _add_store(p)
    p.set_defaults(func=cmd_export_prometheus)


__all__ = ["HISTORY_KEYS", "history_settings", "register"]
