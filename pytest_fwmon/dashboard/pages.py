"""The dashboard's pages as HTML text: overview, trends, runs list, improvements.

Each function takes the :class:`~pytest_fwmon.dashboard.data.Dashboard`, a render
:class:`~pytest_fwmon.dashboard.render.Context` and what the page shows, and returns a whole
HTML document. The static builder and the live server call the same functions, so both show
the same pages. Every value from the data goes through :func:`~.render.e`. The page of one
run is :mod:`pytest_fwmon.dashboard.runpage`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..core.model import SEVERITY_RANK
from ..history.store import RunInfo
from . import fmt
from .alertview import counted_note, response_section, severity_cell, state_cell
from .data import WINDOWS, Dashboard
from .render import Context, badge, e, layout, table
from .svg import Chart, Point, line_chart

#: Trend window -> page file.
TREND_FILES: Final = {"7d": "trends.html", "30d": "trends-30d.html", "all": "trends-all.html"}
WINDOW_LABELS: Final = {"7d": "7 days", "30d": "30 days", "all": "all runs"}

#: Newest runs listed on the runs page.
RUNS_LISTED: Final = 500

PIPELINE_TITLES: Final = {
    "security": "security",
    "docs": "documentation",
    "quality": "quality",
    "performance": "performance",
    "integration": "integration",
}


def metric_title(metric: str) -> str:
    """Return a metric's name for people: "security score", "benchmark parse: P95"."""
    parts = metric.split(".")
    if metric.startswith("pipeline.") and metric.endswith(".score"):
        return f"{PIPELINE_TITLES.get(parts[1], parts[1])} score"
    if metric == "coverage.line_percent":
        return "line coverage"
    if metric == "coverage.branch_percent":
        return "branch coverage"
    if metric == "tests.duration":
        return "test suite duration"
    if metric.startswith("benchmark."):
        name, stat = metric[len("benchmark.") :].rsplit(".", 1)
        label = {"ops": "throughput", "mem_peak_bytes": "peak memory"}.get(stat, stat.upper())
        return f"benchmark {name}: {label}"
    return metric


def time_html(ts: float | None, now: float) -> str:
    """Return a ``<time>`` element: how long ago ``ts`` was, the date in its title."""
    if ts is None:
        return fmt.MISSING
    return (
        f'<time datetime="{e(fmt.iso(ts))}" title="{e(fmt.date(ts, seconds=True))}">'
        f"{e(fmt.ago(ts, now))}</time>"
    )


def gate_badge(verdict: str | None) -> str:
    """Return the badge of a gate verdict ("pass", "blocked" or no verdict)."""
    if verdict is None:
        return badge("unknown", "no verdict")
    return badge("pass" if verdict == "pass" else "blocked")


def _run_link(ctx: Context, run_id: str) -> str:
    href = ctx.run_href(run_id)
    if href is None:
        return f"<code>{e(run_id)}</code>"
    return f'<a href="{e(href)}"><code>{e(run_id)}</code></a>'


def _runs_table(ctx: Context, runs: Sequence[RunInfo], now: float) -> str:
    rows = []
    for run in runs:
        gate = None if run.gate_passed is None else ("pass" if run.gate_passed else "blocked")
        rows.append(
            (
                _run_link(ctx, run.run_id),
                time_html(run.ts, now),
                e(run.branch or fmt.MISSING),
                f"<code>{e((run.sha or '')[:10] or fmt.MISSING)}</code>",
                e(fmt.duration(run.duration)),
                badge("pass" if run.green else "fail", "green" if run.green else "red"),
                gate_badge(gate),
            )
        )
    return table(
        ("run", "started", "branch", "commit", "duration", "status", "gate"),
        rows,
        numeric=(4,),
        css="runs",
        empty="no runs recorded yet",
    )


# -- overview -------------------------------------------------------------------------------


def overview(dash: Dashboard, ctx: Context) -> str:
    """Return the overview page."""
    now = dash.now()
    summary = dash.summary()
    parts = _latest_sections(ctx, summary, now)
    parts.append(_alerts_section(dash))
    parts.append(_slo_section(dash, summary))
    parts.append(_kpis_section(summary["kpis"]))
    recent = dash.source.list_runs(dash.options.branch, limit=10)
    recent.reverse()
    parts.append('<h2 id="recent">Recent runs</h2>' + _runs_table(ctx, recent, now))
    return layout(
        ctx, title="Overview", site=summary["title"], active="overview", html="".join(parts)
    )


def _latest_sections(ctx: Context, summary: Mapping[str, Any], now: float) -> list[str]:
    """Return the health line, the gate's reasons and the pipeline cards of the newest run."""
    if summary["latest"] is None:
        return [
            '<section class="health" id="health"><span>Overall health</span>'
            f"{badge('unknown')}<span>No runs recorded yet: run "
            "<code>pytest --fwmon</code>.</span></section>"
        ]
    gate = summary["gate"]
    parts = [_health_line(ctx, summary, now)]
    if gate["reasons"] or gate["warnings"]:
        items = "".join(f"<li>{e(r)}</li>" for r in gate["reasons"])
        items += "".join(f"<li>warning: {e(w)}</li>" for w in gate["warnings"])
        parts.append(f'<ul class="gate-reasons">{items}</ul>')
    parts.append(_pipeline_cards(summary["pipelines"]))
    return parts


def _health_line(ctx: Context, summary: Mapping[str, Any], now: float) -> str:
    """Return the health section of a history with runs: health, newest run, gate, run count."""
    latest = summary["latest"]
    gate = summary["gate"]
    return (
        f'<section class="health" id="health" data-health="{e(summary["health"])}">'
        f"<span>Overall health</span>{badge(summary['health'])}"
        f"<span>latest run {_run_link(ctx, latest['run_id'])} "
        f"{time_html(latest['ts'], now)}</span>"
        f"<span>branch <strong>{e(latest['branch'] or fmt.MISSING)}</strong></span>"
        f"<span>commit <code>{e((latest['sha'] or '')[:10] or fmt.MISSING)}</code></span>"
        f'<span id="gate-verdict" data-verdict="{e(gate["verdict"] or "none")}">gate '
        f"{gate_badge(gate['verdict'])}</span>"
        f"<span>{e(fmt.count(summary['runs']))} run{'' if summary['runs'] == 1 else 's'}"
        "</span></section>"
    )


def _pipeline_cards(pipelines: Sequence[Mapping[str, Any]]) -> str:
    """Return the heading and one card per pipeline of the newest run."""
    parts = ['<h2 id="pipelines">Pipelines of the latest run</h2><div class="cards">']
    for pipe in pipelines:
        parts.append(
            f'<div class="card pipeline" data-pipeline="{e(pipe["name"])}">'
            f'<div class="name">{e(PIPELINE_TITLES.get(pipe["name"], pipe["name"]))}</div>'
            f'<div class="big score" aria-label="score">{e(fmt.score(pipe["score"]))}</div>'
            f"{badge(pipe['status'])}</div>"
        )
    parts.append("</div>")
    return "".join(parts)


def _alert_field(alert: Mapping[str, Any], inner: str, key: str, default: str) -> Any:
    """Return ``alert[key]``, else ``alert[inner][key]``, else ``default`` (falsy ones skipped)."""
    return alert.get(key) or (alert.get(inner) or {}).get(key) or default


def _alert_row(alert: Mapping[str, Any]) -> tuple[str, str, str, str, str]:
    """Return the table row of one alert (fields missing on the alert come from its labels)."""
    labels = alert.get("labels") or {}
    return (
        severity_cell(alert, str(_alert_field(alert, "labels", "severity", "unknown"))),
        state_cell(alert),
        e(_alert_field(alert, "labels", "alertname", fmt.MISSING)),
        e(_alert_field(alert, "annotations", "summary", "")),
        e(labels.get("branch") or fmt.MISSING),
    )


def _alerts_section(dash: Dashboard) -> str:
    alerts = dash.alerts()
    out = ['<h2 id="alerts">Active alerts</h2>']
    if not alerts["available"]:
        out.append(f'<p class="muted">{e(alerts.get("reason", "no alert state"))}</p>')
        return "".join(out)
    out.append('<div class="cards">')
    for severity, number in alerts["by_severity"].items():
        out.append(
            f'<div class="card" data-severity="{e(severity)}"><div class="name">'
            f'{badge(severity)}</div><div class="big">{e(fmt.count(number))}</div></div>'
        )
    out.append("</div>")
    out.append(counted_note(alerts))
    ordered = sorted(
        alerts["alerts"],
        key=lambda a: -SEVERITY_RANK.get(str(a.get("severity") or "info"), 0),
    )
    rows = [_alert_row(alert) for alert in ordered]
    out.append(
        table(("severity", "state", "alert", "summary", "branch"), rows, empty="no active alerts")
    )
    out.append(response_section(alerts))
    return "".join(out)


def _verdict_badge(slo: Mapping[str, Any]) -> str:
    """Return the compliance badge; below the minimum sample it says so instead."""
    compliant = slo["compliant"]
    if compliant is None:
        return badge("unknown", "no verdict") + f'<div class="muted">{e(slo["insufficient"])}</div>'
    return badge("pass" if compliant else "fail", "compliant" if compliant else "breached")


def _rate_text(rate: Mapping[str, Any]) -> str:
    """Return ``2/2, 95 % CI 34.2 % - 100 %`` for a rate with its Wilson interval."""
    if rate.get("low") is None:
        return ""
    return (
        f"{rate['numerator']}/{rate['denominator']}, 95 % CI "
        f"{fmt.percent(rate['low'])} - {fmt.percent(rate['high'])}"
    )


def _slo_cards(slo: Mapping[str, Any]) -> str:
    """Return the SLA cards: compliance, availability, error budget and runs."""
    scope = f"branch {slo['branch']}" if slo.get("branch") else "every branch"
    budget = slo.get("budget_insufficient")
    budget_html = (
        f'<div class="big">{e(fmt.MISSING)}</div><div class="muted">{e(budget)}</div>'
        if budget
        else f'<div class="big">{e(_budget(slo["budget_remaining"]))}</div>'
        f'<div class="muted">used {e(fmt.percent(slo["budget_used"]))}</div>'
    )
    return (
        '<div class="cards">'
        f'<div class="card" id="slo-compliance"><div class="name">compliance</div>'
        f"{_verdict_badge(slo)}</div>"
        f'<div class="card" id="slo-availability"><div class="name">availability (runs)</div>'
        f'<div class="big">{e(fmt.percent(slo["availability_runs"], 2))}</div>'
        f'<div class="muted">{e(_rate_text(slo["availability"]))}</div>'
        f'<div class="muted">target {e(fmt.percent(slo["target"], 2))}</div></div>'
        f'<div class="card" id="error-budget"><div class="name">error budget left</div>'
        f"{budget_html}</div>"
        f'<div class="card"><div class="name">runs</div><div class="big">'
        f'{e(fmt.count(slo["runs"]))}</div><div class="muted">{e(scope)}</div></div></div>'
    )


def _slo_row(item: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """Return the table row of one SLA figure against its target."""
    name = str(item["name"])
    ok = item["ok"]
    return (
        e(name.replace("_", " ")),
        e(_slo_value(name, item["value"])),
        e(("≥ " if item["op"] == "ge" else "≤ ") + _slo_value(name, item["target"])),
        badge("unknown", "not measured")
        if ok is None
        else badge("pass" if ok else "fail", "met" if ok else "missed"),
    )


def _slo_section(dash: Dashboard, summary: Mapping[str, Any]) -> str:
    slo = dash.slo()
    out = ['<h2 id="slo">SLA compliance and error budget</h2>']
    if not slo["runs"]:
        out.append('<p class="muted">No runs to compute SLA figures from.</p>')
        return "".join(out)
    out.append(_slo_cards(slo))
    if slo.get("note"):
        out.append(f'<p class="muted">{e(slo["note"])}</p>')
    rows = [_slo_row(item) for item in slo["compliance"]]
    out.append(table(("figure", "value", "target", "status"), rows, numeric=(1, 2)))
    mttr = slo.get("mttr_seconds")
    if mttr is not None:
        out.append(f'<p class="muted" id="slo-mttr">MTTR {e(fmt.duration(mttr))}</p>')
    return "".join(out)


def _budget(remaining: float | None) -> str:
    if remaining is not None and remaining <= 0:
        return "exhausted"
    return fmt.percent(remaining)


def _slo_value(name: str, value: Any) -> str:
    if value is None:
        return fmt.MISSING
    if name.endswith("_hours"):
        return fmt.duration(float(value) * 3600)
    if name.startswith("burn_rate"):
        return f"{float(value):.2f}\N{MULTIPLICATION SIGN}"
    return fmt.percent(value, 2)


_OPS: Final = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤"}


def _kpis_section(kpis: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for kpi in kpis:
        unit = f" {kpi['unit']}" if kpi.get("unit") else ""

        def shown(value: Any, kpi: Mapping[str, Any] = kpi, unit: str = unit) -> str:
            if value is None:
                return fmt.MISSING
            metric = str(kpi["metric"])
            if metric.startswith("slo.") or unit.strip() == "%":
                return fmt.percent(value, 2)
            return fmt.value(metric, value) if not unit else f"{value:g}{unit}"

        trend = kpi.get("trend")
        arrow = kpi.get("arrow") or ""
        trend_text = (
            fmt.MISSING if trend is None else f"{arrow} {trend}" + _better(kpi.get("better"))
        )
        rate = kpi.get("interval") or {}
        value_text = shown(kpi.get("value")) + (f" ({_rate_text(rate)})" if rate else "")
        rows.append(
            (
                e(kpi["name"]),
                e(value_text),
                e(f"{_OPS.get(str(kpi['op']), kpi['op'])} {shown(kpi['target'])}"),
                e(fmt.percent(kpi.get("achievement"))),
                e(trend_text),
                _kpi_badge(kpi),
            )
        )
    return '<h2 id="kpis">KPIs against targets</h2>' + table(
        ("KPI", "value", "target", "achieved", "trend", "status"),
        rows,
        numeric=(1, 2, 3),
        empty="no KPIs configured",
    )


def _kpi_badge(kpi: Mapping[str, Any]) -> str:
    """Return the KPI status badge: met, missed, not measured, or why there is no verdict."""
    met = kpi.get("met")
    if met is None:
        note = kpi.get("note")
        return badge("unknown", note if note else "not measured")
    return badge("pass" if met else "fail", "met" if met else "missed")


def _better(better: Any) -> str:
    return "" if better is None else (" (better)" if better else " (worse)")


# -- trends ---------------------------------------------------------------------------------


def chart_svg(dash: Dashboard, ctx: Context, data: Mapping[str, Any]) -> str:
    """One chart of the trends page as a ``<figure>``."""
    metric = str(data["metric"])
    kind = fmt.kind(metric)

    def show(value: float) -> str:
        return fmt.value(metric, value)

    points = [Point(p["ts"], p["run_id"], p["value"]) for p in data["points"]]
    trend = data["trend"]
    chart = Chart(
        title=metric_title(metric),
        unit=fmt.UNITS[kind],
        points=points,
        fmt=show,
        trend=trend if len(points) >= 2 else None,
        href=lambda run_id: ctx.run_href(run_id) or "",
    )
    caption = [f"<figcaption>{e(metric_title(metric))} "]
    if points:
        caption.append(f'<span class="muted">latest {e(show(points[-1].value))}')
        if trend.get("slope") is not None:
            direction = trend["direction"]
            arrow = {"up": "↑", "down": "↓"}.get(direction, "→")
            caption.append(
                f" · trend {e(arrow)} {e(direction)} ({e(trend['verdict'])}, "
                f"Mann-Kendall p = {float(trend['mk_p']):.2g})"
            )
        elif trend.get("insufficient"):
            caption.append(f" · trend: {e(trend['insufficient'])}")
        cps = len(trend.get("change_points") or ())
        if cps:
            caption.append(f" · {cps} change point{'s' if cps != 1 else ''}")
        caption.append("</span>")
    caption.append("</figcaption>")
    return f'<figure data-metric="{e(metric)}">{"".join(caption)}{line_chart(chart)}</figure>'


def trends(dash: Dashboard, ctx: Context, window: str) -> str:
    """Return the trends page for one window."""
    summary_title = dash.title(_project(dash))
    tabs = "".join(
        f'<a href="{e(ctx.base + TREND_FILES[name])}"'
        f"{' aria-current=page' if name == window else ''}>{e(WINDOW_LABELS[name])}</a>"
        for name in WINDOWS
    )
    charts = dash.charts(window)
    body = [
        f'<h2 id="trends">Trends: {e(WINDOW_LABELS[window])}</h2>',
        f'<nav class="tabs" aria-label="Window">{tabs}</nav>',
        '<p class="legend"><span>● one point per run (hover or focus for the value)</span>'
        "<span>- - - Theil-Sen trend line, shaded: its 95 % confidence band</span>"
        "<span>▼ dashed vertical line: change point</span>"
        "<span>windows end at the newest run</span></p>",
    ]
    if not charts:
        body.append('<p class="muted">No metrics recorded yet.</p>')
    else:
        body.append('<div class="charts">')
        body.extend(chart_svg(dash, ctx, data) for data in charts)
        body.append("</div>")
    return layout(ctx, title="Trends", site=summary_title, active="trends", html="".join(body))


def _project(dash: Dashboard) -> str | None:
    latest = dash.source.list_runs(dash.options.branch, limit=1)
    return latest[-1].project if latest else None


# -- runs -----------------------------------------------------------------------------------


def runs_list(dash: Dashboard, ctx: Context) -> str:
    """Return the runs page: the newest :data:`RUNS_LISTED` runs."""
    runs = dash.source.list_runs(dash.options.branch, limit=RUNS_LISTED)
    runs.reverse()
    total = dash.source.count_runs(dash.options.branch)
    note = (
        f"the newest {fmt.count(len(runs))} of {fmt.count(total)} runs"
        if total > len(runs)
        else f"{fmt.count(total)} runs"
    )
    html = f'<h2 id="runs">Runs</h2><p class="muted">{e(note)}, newest first</p>' + _runs_table(
        ctx, runs, dash.now()
    )
    return layout(
        ctx,
        title="Runs",
        site=dash.title(runs[0].project if runs else None),
        active="runs",
        html=html,
    )


# -- improvements ---------------------------------------------------------------------------


def _gain(value: Any) -> str:
    return fmt.MISSING if not isinstance(value, int | float) else f"{value:+.1f}"


def _implemented(ctx: Context, items: Sequence[Mapping[str, Any]]) -> str:
    """Return the implemented opportunities: where, predicted against realised gain."""
    rows = [
        (
            f"<code>{e(o['id'])}</code>",
            e(o["title"]) + (f' <span class="muted">({e(o["note"])})</span>' if o["note"] else ""),
            f"{_run_link(ctx, o['run_id'])} <code>{e((o['sha'] or '')[:12])}</code>",
            e(o["implemented_at"]),
            e(f"{_gain(o['predicted'])} {o['unit']}"),
            e(f"{_gain(o['realised'])} {o['unit']}"),
            e(f"{o['figure']} {fmt.general(o['before'])} → {fmt.general(o['after'])}"),
        )
        for o in items
    ]
    return '<h2 id="implemented">Implemented</h2>' + table(
        ("id", "opportunity", "run", "when", "predicted", "realised", "before → after"),
        rows,
        numeric=(4, 5),
        empty="none recorded yet: each recorded run is compared with the one before on its branch",
    )


def improvements(dash: Dashboard, ctx: Context) -> str:
    """Return the ranked improvement opportunities of the newest run, then the implemented."""
    data = dash.improvements()
    body = ['<h2 id="improvements">Improvement opportunities</h2>']
    if not data["available"]:
        body.append(f'<p class="muted">{e(data.get("reason", ""))}</p>')
    else:
        body.append(
            f'<p class="muted">From run {_run_link(ctx, data["run_id"])}, best return on effort '
            "first.</p>"
        )
        rows = []
        for rank, item in enumerate(data["opportunities"], 1):
            where = ", ".join([*item.get("paths", ())[:3], *item.get("rules", ())[:3]])
            rows.append(
                (
                    e(rank),
                    e(item.get("title", "")),
                    e(item.get("kind", "")),
                    e(f"{fmt.general(item.get('impact'))} {item.get('impact_unit', '')}"),
                    e(f"{fmt.general(item.get('effort'))} h"),
                    e(fmt.general(item.get("roi"))),
                    f"<code>{e(where)}</code>" if where else "",
                )
            )
        body.append(
            table(
                ("rank", "opportunity", "kind", "impact", "effort", "ROI", "where"),
                rows,
                numeric=(0, 3, 4, 5),
                empty="no opportunities: nothing to improve in the latest run",
            )
        )
        body.append(
            '<p class="muted">ROI = impact / estimated effort in hours; an impact in score '
            "points is the exact gain of re-scoring the run without those findings.</p>"
        )
    body.append(_implemented(ctx, data["implemented"]))
    return layout(
        ctx,
        title="Improvements",
        site=dash.title(_project(dash)),
        active="improvements",
        html="".join(body),
    )


def not_found(ctx: Context, site: str, what: str) -> str:
    """Return a 404 page."""
    return layout(
        ctx,
        title="Not found",
        site=site,
        active="",
        html=f'<h2>Not found</h2><p>{e(what)}</p><p><a href="{e(ctx.base)}index.html">'
        "Back to the overview</a></p>",
    )


__all__ = [
    "PIPELINE_TITLES",
    "TREND_FILES",
    "chart_svg",
    "gate_badge",
    "improvements",
    "metric_title",
    "not_found",
    "overview",
    "runs_list",
    "time_html",
    "trends",
]
