"""``fwmon trends|slo|kpis|improve|export prometheus``: what the stored runs say."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import EXIT_BLOCKED, EXIT_OK, ConfigError, FwmonError, StoreError
from ..core.report import load_report
from .cliutil import (
    Context,
    duration,
    fmt,
    print_json,
    print_table,
    pvalue,
)
from .store import parse_time, ts_to_iso

if TYPE_CHECKING:
    from .kpis import Kpi
    from .trends import TrendResult


def _targets_from_kpis(section: Mapping[str, Any]) -> dict[str, float]:
    from .kpis import parse_config

    if not section:
        return {}
    specs, _, _ = parse_config(section)
    return {s.metric: s.target for s in specs if not s.metric.startswith("slo.")}


def _matching_metrics(stored: list[str], patterns: list[str]) -> list[str]:
    """Return the stored metrics matching ``patterns`` in order; ConfigError for a dud."""
    import fnmatch

    from .metrics import is_known, stored_list, unknown_metric_message

    names: list[str] = []
    for pattern in patterns:
        matches = fnmatch.filter(stored, pattern)
        if not matches and not any(ch in pattern for ch in "*?[") and not is_known(pattern):
            raise ConfigError(unknown_metric_message(pattern, stored))
        if not matches:
            raise ConfigError(f"no stored metric matches {pattern!r}; {stored_list(stored)}")
        names.extend(m for m in matches if m not in names)
    return names


_TREND_HEADER = [
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


def _projection_text(r: TrendResult) -> str:
    """Return the table cell of a trend's projection to its target ("-" without one)."""
    if r.projection is None:
        return "-"
    when = f" ~{r.projection.eta[:10]}" if r.projection.eta else ""
    return f"{fmt(r.projection.target)} in {r.projection.runs:.0f} runs{when}"


def _trend_row(r: TrendResult) -> list[str]:
    """Return the table row of one trend."""
    ci = "-" if r.slope_low is None else f"[{fmt(r.slope_low)}, {fmt(r.slope_high)}]"
    trend = r.direction if r.verdict == "flat" else f"{r.direction} ({r.verdict})"
    if r.insufficient is not None:
        ci, trend = r.insufficient, "-"
    cps = ", ".join(f"{c.run_id} {c.magnitude:+.0%}" for c in r.change_points[-3:]) or "-"
    return [
        r.metric,
        str(r.n),
        fmt(r.last_value),
        fmt(r.slope),
        ci,
        "-" if r.insufficient else pvalue(r.mk_p),
        trend,
        cps,
        _projection_text(r),
    ]


def cmd_trends(args: argparse.Namespace) -> int:
    """``fwmon trends``: change points and trends of the stored metrics."""
    from .figures import trend_figures

    ctx = Context(args)
    parse_time(args.since)
    kpis_section = ctx.sections.get("kpis", {})
    targets = _targets_from_kpis(kpis_section)
    with ctx.open(readonly=True) as store:
        stored = store.metrics()
        names = _matching_metrics(stored, args.metric) if args.metric else stored
        if args.target is not None:
            if len(names) != 1:
                raise ConfigError("--target needs exactly one metric (use --metric NAME)")
            targets = {names[0]: args.target}
        results, scope = trend_figures(
            store,
            names,
            kpis_section,
            ctx.sections.get("slo", {}),
            branch=args.branch,
            since=args.since,
            last=args.last,
            targets=targets,
            root=ctx.root,
        )
    if args.json:
        print_json([r.to_dict() for r in results])
        return EXIT_OK
    _print_scope(scope.branch, scope.note)
    print_table([_TREND_HEADER] + [_trend_row(r) for r in results], sys.stdout)
    return EXIT_OK


# -- slo ---------------------------------------------------------------------------------------


def cmd_slo(args: argparse.Namespace) -> int:
    """``fwmon slo``: availability, error budget and burn rates."""
    from .figures import slo_figures

    ctx = Context(args)
    parse_time(args.since)
    with ctx.open(readonly=True) as store:
        result = slo_figures(
            store,
            ctx.sections.get("slo", {}),
            branch=args.branch,
            since=args.since,
            target=args.target,
            root=ctx.root,
        )
        response = _alert_response(store, ctx.sections.get("alerts", {}), args, result.branch)
    if args.json:
        print_json({**result.to_dict(), "alert_response": response})
    else:
        _print_slo(result)
        _print_response(response)
    if args.check and result.insufficient is not None:
        # no verdict either way: exit 0 (docs/reference/exit-codes.md), said on stderr
        print(f"fwmon slo --check: {result.insufficient}; no verdict", file=sys.stderr)
    return EXIT_BLOCKED if args.check and result.compliant is False else EXIT_OK


def _print_scope(branch: str | None, note: str | None) -> None:
    """Print which runs the figures are over, when that needs saying."""
    if note is not None:
        print(note)


def _alert_response(
    store: Any, section: Mapping[str, Any], args: argparse.Namespace, branch: str | None
) -> dict[str, Any]:
    """Return MTTA/MTTR per severity of the alerts that fired since ``--since`` on ``branch``."""
    from ..alerts.incidents import window_figures

    since = parse_time(args.since) if args.since else None
    window = args.since or "all"
    return window_figures(store, section, window=window, since=since, branch=branch)


def _print_response(response: Mapping[str, Any]) -> None:
    """Print the alert response table (nothing when no alert ever fired in the window)."""
    figures = response["by_severity"]
    if not any(f["alerts"] for f in figures):
        return
    print(f"\nalert response (alerts that fired, window {response['window']}):")
    rows = [["severity", "alerts", "MTTA (acked)", "MTTR (resolved)", "missed", "within"]]
    for f in figures:
        rows.append(
            [
                f["severity"],
                str(f["alerts"]),
                f"{duration(f['mtta_seconds'])} ({f['acknowledged']})",
                f"{duration(f['mttr_seconds'])} ({f['resolved']})",
                str(f["missed"]),
                duration(f["respond_within_seconds"]),
            ]
        )
    print_table(rows, sys.stdout)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} %"


def _target_text(name: str, op: str, target: float) -> str:
    """Return the target cell of an SLO figure: hours as a duration, rates in percent."""
    sign = ">=" if op == "ge" else "<="
    if name.endswith("hours"):
        return f"{sign} {duration(target * 3600)}"
    return f"{sign} {fmt(target)}" + ("" if "burn" in name else " %")


def _slo_rows(result: Any) -> list[list[str]]:
    """Return the table rows of the SLO figures (withheld figures say why)."""
    rows = [["figure", "value", "target", "ok"]]
    targets = {c.name: c for c in result.compliance}

    def row(name: str, label: str, value: str) -> None:
        check = targets.get(name)
        target = ok = "-"
        if check is not None:
            target = _target_text(name, check.op, check.target)
            ok = "-" if check.ok is None else ("yes" if check.ok else "NO")
        rows.append([label, value, target, ok])

    budget = result.budget_insufficient
    row("availability", "availability (runs)", result.availability.text(3))
    row("availability_time", "availability (time)", _pct(result.availability_time))
    row("mttr_hours", "MTTR", duration(result.mttr_seconds))
    row("mtbf_hours", "MTBF", duration(result.mtbf_seconds))
    row("mttd_hours", "MTTD", duration(result.mttd_seconds))
    row("gate_pass_rate", "gate pass rate", result.gate_pass.text(3))
    row(
        "error_budget_remaining",
        f"error budget remaining (used {_pct(result.budget_used)})",
        budget or _pct(result.budget_remaining),
    )
    for burn in result.burn_rates:
        row(
            f"burn_rate.{burn.window}",
            f"burn rate, last {burn.window} runs ({burn.red} red)",
            result.insufficient if burn.rate is None and result.insufficient else fmt(burn.rate),
        )
    return rows


def _print_slo(result: Any) -> None:
    span = ""
    if result.first_ts is not None:
        span = f", {ts_to_iso(result.first_ts)} .. {ts_to_iso(result.last_ts)}"
    print(f"SLO figures for branch {result.branch or '(all)'}: {result.runs} run(s){span}")
    _print_scope(result.branch, result.note)
    print_table(_slo_rows(result), sys.stdout)
    verdict = (
        f"{result.insufficient} (no verdict)"
        if result.insufficient is not None
        else f"compliant: {'yes' if result.compliant else 'no'}"
    )
    print(
        f"incidents: {len(result.incidents)}"
        + (" (one is open)" if result.incident_open else "")
        + f"; {verdict}"
    )


# -- kpis / improve ----------------------------------------------------------------------------


def _arrows_ok() -> bool:
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "↑↓→".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


_PLAIN_ARROWS = {"↑": "^", "↓": "v", "→": "-"}
_OP_SIGNS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def _kpi_trend(k: Kpi, arrows: bool) -> str:
    """Return the trend cell of a KPI (plain arrows when the terminal lacks the real ones)."""
    arrow = k.arrow if arrows else _PLAIN_ARROWS.get(k.arrow, "")
    trend = "-" if k.trend is None else f"{arrow} {k.trend}"
    if k.better is not None:
        trend += " (better)" if k.better else " (worse)"
    return trend


def _kpi_value(k: Kpi) -> str:
    """Return the value cell of a KPI, with numerator/denominator and interval for a rate."""
    value = fmt(k.value) + (f" {k.unit}" if k.unit and k.value is not None else "")
    rate = k.interval
    if rate and rate.get("low") is not None:
        value += (
            f" ({rate['numerator']}/{rate['denominator']}, "
            f"95 % CI {rate['low']:.1f}-{rate['high']:.1f} %)"
        )
    return value


def _kpi_row(k: Kpi, arrows: bool) -> list[str]:
    """Return the table row of one KPI."""
    met = "not measured" if k.met is None else ("yes" if k.met else "NO")
    return [
        k.name,
        _kpi_value(k),
        f"{_OP_SIGNS[k.op]} {fmt(k.target)}{(' ' + k.unit) if k.unit else ''}",
        "-" if k.achievement is None else f"{k.achievement:.1f} %",
        k.note or met,
        _kpi_trend(k, arrows),
    ]


def cmd_kpis(args: argparse.Namespace) -> int:
    """``fwmon kpis``: each KPI against its target."""
    from .figures import kpi_figures

    ctx = Context(args)
    with ctx.open(readonly=True) as store:
        kpis, scope = kpi_figures(
            store,
            ctx.sections.get("kpis", {}),
            ctx.sections.get("slo", {}),
            branch=args.branch,
            root=ctx.root,
        )
    if args.json:
        print_json([k.to_dict() for k in kpis])
        return EXIT_OK
    _print_scope(scope.branch, scope.note)
    arrows = _arrows_ok()
    rows = [["kpi", "value", "target", "achievement", "met", "trend"]]
    rows.extend(_kpi_row(k, arrows) for k in kpis)
    print_table(rows, sys.stdout)
    return EXIT_OK


def cmd_improve(args: argparse.Namespace) -> int:
    """``fwmon improve``: the ranked improvement opportunities (``--done``: the implemented)."""
    from .cli_improve import UNITS, cmd_improve_done
    from .improve import opportunities

    if args.done:
        return cmd_improve_done(args)
    ctx = Context(args)
    report: dict[str, Any] | None
    if args.report:
        report = load_report(args.report)
        with contextlib.ExitStack() as stack:
            store = None
            with contextlib.suppress(StoreError):
                store = stack.enter_context(ctx.open(readonly=True))
            found = opportunities(
                report, store=store, branch=args.branch, slow_tests=args.slow_tests
            )
    else:
        with ctx.open(readonly=True) as store:
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
        print_json([o.to_dict() for o in found])
        return EXIT_OK
    print(f"improvement opportunities for run {report['run']['id']}, best return first:")
    rows = [["#", "id", "ROI", "impact", "effort", "opportunity"]]
    for number, o in enumerate(found, 1):
        rows.append(
            [
                str(number),
                o.id,
                f"{o.roi:.2f}",
                f"{fmt(o.impact)} {UNITS[o.impact_unit]}",
                f"{o.effort:.2f} h",
                o.title,
            ]
        )
    print_table(rows, sys.stdout)
    if not found:
        print("nothing to improve: no findings, slow tests or benchmark rises")
    return EXIT_OK


# -- export prometheus -------------------------------------------------------------------------


def cmd_export_prometheus(args: argparse.Namespace) -> int:
    """``fwmon export prometheus``: gauges of a run, printed or pushed."""
    from . import prometheus

    if not args.textfile and not args.pushgateway:
        raise ConfigError("fwmon export prometheus needs --textfile PATH and/or --pushgateway URL")
    ctx = Context(args)
    if args.report:
        report = load_report(args.report)
    else:
        with ctx.open(readonly=True) as store:
            latest = store.latest_run(args.branch)
            if latest is None:
                raise FwmonError(
                    f"history store {store.location} has no runs",
                    hint="pass --report .fwmon/report.json, or record runs first",
                )
            report = latest
    extra = _figure_samples(ctx, args) if args.slo else []
    if args.textfile:
        prometheus.write_textfile(report, Path(args.textfile), extra)
        print(f"wrote Prometheus gauges of run {report['run']['id']} to {args.textfile}")
    if args.pushgateway:
        prometheus.push(report, args.pushgateway, job=args.job, extra=extra)
        print(f"pushed Prometheus gauges of run {report['run']['id']} to {args.pushgateway}")
    return EXIT_OK


def _figure_samples(ctx: Context, args: argparse.Namespace) -> list[Any]:
    """Return the SLO and KPI gauges of ``--slo``, computed as ``fwmon slo``/``kpis`` do."""
    from .figures import kpi_figures, slo_figures
    from .prometheus import figure_samples

    slo_section = ctx.sections.get("slo", {})
    with ctx.open(readonly=True) as store:
        result = slo_figures(store, slo_section, branch=args.branch, root=ctx.root)
        kpis, _scope = kpi_figures(
            store, ctx.sections.get("kpis", {}), slo_section, branch=args.branch, root=ctx.root
        )
    return figure_samples(result, kpis)
