"""The page of one run: pipelines, checks, findings, benchmarks, slowest tests.

The same conventions as :mod:`pytest_fwmon.dashboard.pages`: a whole HTML document, every value
from the data through :func:`~.render.e`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any, Final

from ..core.model import SEVERITIES
from ..history.store import RunInfo
from . import fmt
from .data import Dashboard
from .pages import PIPELINE_TITLES, gate_badge, time_html
from .render import Context, badge, e, layout, table
from .sources import run_info

#: Rows of the slowest-tests and slowest-checks tables.
SLOWEST: Final = 10


def run_page(dash: Dashboard, ctx: Context, report: Mapping[str, Any]) -> str:
    """Return the page of one run: pipelines, checks, findings, benchmarks, slowest tests."""
    info = run_info(report)
    body = [
        _head_section(dash, report, info),
        _pipelines_section(dash, report),
        _cards(report),
        _findings_section(dash, report),
        _benchmarks_section(report),
        _slowest_section(report),
        _checks_section(report),
        _versions_section(report),
    ]
    return layout(
        ctx,
        title=f"Run {info.run_id}",
        site=dash.title(info.project),
        active="runs",
        html="".join(body),
    )


def _head_section(dash: Dashboard, report: Mapping[str, Any], info: RunInfo) -> str:
    """Return the run's heading with its status, gate verdict, times, branch and commit."""
    gate = dash.gate(report)
    colour = "green" if info.green else "red"
    head = [
        f'<h2 id="run">Run <code>{e(info.run_id)}</code></h2>',
        '<div class="health">',
        f"<span>status {badge('pass' if info.green else 'fail', colour)}</span>",
        f'<span id="gate-verdict" data-verdict="{e(gate["verdict"] or "none")}">gate '
        f"{gate_badge(gate['verdict'])}</span>",
        f"<span>started {time_html(info.ts, dash.now())}</span>",
        f"<span>took {e(fmt.duration(info.duration))}</span>",
        f"<span>branch <strong>{e(info.branch or fmt.MISSING)}</strong></span>",
        f"<span>commit <code>{e((info.sha or '')[:12] or fmt.MISSING)}</code></span>",
    ]
    if info.ci_url:
        head.append(f'<span><a href="{e(_safe_url(info.ci_url))}">CI run</a></span>')
    head.append("</div>")
    if gate["reasons"]:
        head.append(
            '<ul class="gate-reasons">'
            + "".join(f"<li>{e(r)}</li>" for r in gate["reasons"])
            + "</ul>"
        )
    return "".join(head)


def _pipelines_section(dash: Dashboard, report: Mapping[str, Any]) -> str:
    """Return the table of the run's pipelines with status, score and finding counts."""
    pipes = []
    for pipe in dash.pipelines(report):
        counts = pipe["counts"]
        pipes.append(
            (
                e(PIPELINE_TITLES.get(pipe["name"], pipe["name"])),
                badge(pipe["status"]),
                e(fmt.score(pipe["score"])),
                e(fmt.count(pipe["items"])),
                e(fmt.count(pipe["failed"])),
                *(e(fmt.count(counts.get(s, 0))) for s in SEVERITIES),
            )
        )
    return '<h2 id="pipelines">Pipelines</h2>' + table(
        ("pipeline", "status", "score", "items", "failed", *SEVERITIES),
        pipes,
        numeric=(2, 3, 4, 5, 6, 7, 8, 9),
    )


def _cards(report: Mapping[str, Any]) -> str:
    """Return the cards with the run's test counts, suite duration and coverage."""
    tests = report.get("tests") or {}
    coverage = report.get("coverage") or {}
    return (
        '<div class="cards" style="margin-top:.8rem">'
        f'<div class="card"><div class="name">tests</div><div class="big">'
        f'{e(fmt.count(tests.get("total")))}</div><div class="muted">'
        f"{e(fmt.count(tests.get('failed', 0)))} failed, {e(fmt.count(tests.get('errors', 0)))}"
        f" errors, {e(fmt.count(tests.get('skipped', 0)))} skipped</div></div>"
        f'<div class="card"><div class="name">suite duration</div><div class="big">'
        f"{e(fmt.duration(tests.get('duration')))}</div></div>"
        f'<div class="card"><div class="name">line coverage</div><div class="big">'
        f'{e(fmt.percent(coverage.get("line_percent")))}</div><div class="muted">branch '
        f"{e(fmt.percent(coverage.get('branch_percent')))}</div></div></div>"
    )


def _versions_section(report: Mapping[str, Any]) -> str:
    """Return the folded table of the tool versions the run recorded, or "" for none."""
    versions = (report.get("run") or {}).get("versions") or {}
    if not versions:
        return ""
    return (
        "<details><summary>Tool versions</summary>"
        + table(
            ("tool", "version"),
            ((e(k), f"<code>{e(v)}</code>") for k, v in sorted(versions.items())),
        )
        + "</details>"
    )


def _safe_url(url: str) -> str:
    """Only http(s) links from report data (no ``javascript:``)."""
    return url if url.lower().startswith(("https://", "http://")) else "#"


_Groups = dict[str, dict[str, list[Mapping[str, Any]]]]


def _group_findings(report: Mapping[str, Any]) -> tuple[_Groups, int]:
    """Return the run's findings grouped by path and rule, and how many there are."""
    groups: _Groups = defaultdict(lambda: defaultdict(list))
    total = 0
    for check in report.get("checks") or ():
        for finding in check.get("findings") or ():
            groups[str(finding.get("path", ""))][str(finding.get("rule", ""))].append(finding)
            total += 1
    return groups, total


def _findings_section(dash: Dashboard, report: Mapping[str, Any]) -> str:
    groups, total = _group_findings(report)
    out = [f'<h2 id="findings">Findings <span class="muted">({e(fmt.count(total))})</span></h2>']
    if not total:
        out.append('<p class="muted">No findings in this run.</p>')
        return "".join(out)
    for path in sorted(groups):
        out.append(_file_findings(dash, report, path, groups[path]))
    return "".join(out)


def _file_findings(
    dash: Dashboard,
    report: Mapping[str, Any],
    path: str,
    rules: Mapping[str, list[Mapping[str, Any]]],
) -> str:
    """Return the section of one file's findings, one block per rule."""
    count = sum(len(v) for v in rules.values())
    out = [
        f'<section class="file" data-path="{e(path)}"><h3><code>{e(path or "(project)")}'
        f'</code> <span class="muted">{e(fmt.count(count))} finding'
        f"{'s' if count != 1 else ''}</span></h3>"
    ]
    for rule in sorted(rules):
        out.append(_rule_findings(dash, report, path, rule, rules[rule]))
    out.append("</section>")
    return "".join(out)


def _rule_findings(
    dash: Dashboard,
    report: Mapping[str, Any],
    path: str,
    rule: str,
    findings: list[Mapping[str, Any]],
) -> str:
    """Return the block of one rule's findings in one file, with its help link."""
    items = sorted(findings, key=lambda f: (f.get("line", 0), f.get("col", 0)))
    first = items[0]
    name = first.get("rule_name") or ""
    rows = [_finding_row(dash, report, path, finding) for finding in items]
    help_url = first.get("help_url") or ""
    rule_html = f"<code>{e(rule)}</code>"
    if help_url:
        rule_html = f'<a href="{e(_safe_url(help_url))}">{rule_html}</a>'
    return (
        f'<div class="rule" data-rule="{e(rule)}"><h4>{rule_html} {e(name)} '
        f'<span class="muted">({e(first.get("checker", ""))}, {len(items)})</span></h4>'
        + table(("where", "severity", "status", "message"), rows)
        + "</div>"
    )


def _finding_row(
    dash: Dashboard, report: Mapping[str, Any], path: str, finding: Mapping[str, Any]
) -> tuple[str, str, str, str]:
    """Return the table row of one finding: its place (linked when possible) and what it says."""
    line = int(finding.get("line") or 0)
    link = dash.source_link(report, path, line)
    where = f"{path}:{line}"
    place = (
        f'<a class="loc" href="{e(link)}"><code>{e(where)}</code></a>'
        if link
        else f"<code>{e(where)}</code>"
    )
    return (
        place,
        badge(str(finding.get("severity", "info"))),
        e(finding.get("status", "")),
        f'<span class="msg">{e(finding.get("message", ""))}</span>',
    )


def _benchmarks_section(report: Mapping[str, Any]) -> str:
    rows = []
    for bench in report.get("benchmarks") or ():
        stats = bench.get("stats") or {}
        gates = []
        for gate in bench.get("gates") or ():
            unit = gate.get("unit", "")
            gates.append(
                f"{badge('pass' if gate.get('passed') else 'fail')} "
                f"{e(gate.get('metric'))} {e(fmt.general(gate.get('measured')))} / "
                f"{e(fmt.general(gate.get('limit')))} {e(unit)}"
            )
        rows.append(
            (
                f"<code>{e(bench.get('name'))}</code>",
                badge(str(bench.get("verdict") or "unknown")),
                e(fmt.count(stats.get("n"))),
                *(e(fmt.duration(stats.get(k))) for k in ("p50", "p90", "p95", "p99", "mean")),
                e(fmt.rate(bench.get("ops"))),
                e(fmt.size(bench.get("mem_peak_bytes"))),
                "<br>".join(gates) or fmt.MISSING,
            )
        )
    return '<h2 id="benchmarks">Benchmarks</h2>' + table(
        (
            "benchmark",
            "verdict",
            "n",
            "P50",
            "P90",
            "P95",
            "P99",
            "mean",
            "throughput",
            "peak memory",
            "gates",
        ),
        rows,
        numeric=(2, 3, 4, 5, 6, 7, 8, 9),
        empty="no benchmarks in this run",
    )


def _slowest_section(report: Mapping[str, Any]) -> str:
    resources = sorted(report.get("resources") or (), key=lambda r: -float(r.get("wall") or 0.0))[
        :SLOWEST
    ]
    rows = [
        (
            f"<code>{e(r.get('nodeid'))}</code>",
            badge(str(r.get("outcome") or "unknown")),
            e(fmt.duration(r.get("wall"))),
            e(fmt.duration(float(r.get("cpu_user") or 0) + float(r.get("cpu_system") or 0))),
            e(fmt.size(r.get("rss_peak"))),
        )
        for r in resources
    ]
    return '<h2 id="slowest">Slowest tests</h2>' + table(
        ("test", "outcome", "wall time", "CPU time", "peak memory"),
        rows,
        numeric=(2, 3, 4),
        empty="no per-test figures: run pytest with --fwmon-resources to record them",
    )


#: Order of check outcomes in the checks table (worst first; others after).
_OUTCOME_ORDER: Final = {"error": 0, "failed": 1, "not-run": 2, "skipped": 3, "passed": 4}


def _check_row(c: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the table row of one check."""
    return (
        f"<code>{e(c.get('nodeid'))}</code>",
        badge(str(c.get("outcome") or "unknown")),
        e(c.get("checker")),
        e(fmt.count(len(c.get("findings") or ()))),
        e(fmt.duration(c.get("duration"))) + (" (cached)" if c.get("cached") else ""),
        e(c.get("reason") or ""),
    )


def _checks_section(report: Mapping[str, Any]) -> str:
    checks = list(report.get("checks") or ())
    checks.sort(
        key=lambda c: (_OUTCOME_ORDER.get(c.get("outcome", ""), 5), -(c.get("duration") or 0))
    )
    rows = [_check_row(c) for c in checks]
    failing = sum(1 for c in checks if c.get("outcome") in ("failed", "error"))
    summary = f"Checks: {fmt.count(len(checks))}, {fmt.count(failing)} failed or errored"
    return (
        f'<h2 id="checks">Checks</h2><details{" open" if failing else ""}><summary>'
        f"{e(summary)}</summary>"
        + table(
            ("check", "outcome", "checker", "findings", "duration", "reason"),
            rows,
            numeric=(3, 4),
            empty="no checks in this run",
        )
        + "</details>"
    )


__all__ = ["run_page"]
