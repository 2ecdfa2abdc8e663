"""The human summary printed on stdout: verdict, counts, a table of conditions, reasons.

Each line goes through :func:`~pytest_fwmon.core.textsafe.log_line`: a newline or an escape
byte from a file name, message or waiver field is printed as an escape, and no line can start
a GitHub Actions workflow command.
"""

from __future__ import annotations

from typing import Final

from ..core.model import SEVERITIES
from ..core.textsafe import log_lines
from .evaluate import ConditionResult, GateResult

#: New findings listed under the table (the rest are counted).
MAX_LISTED: Final = 20

_VERDICT: Final = {  # nosec B105 # verdict words, not passwords
    "pass": "PASS",
    "fail": "FAIL",
    "missing": "MISSING",
    "exempt": "EXEMPT",
}


def _cell(value: float | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _row(r: ConditionResult) -> list[str]:
    c = r.condition
    verdict = _VERDICT[r.verdict]
    if r.verdict in ("fail", "missing") and c.level == "warn":
        verdict = "WARN"
    return [
        c.id,
        c.metric,
        c.scope,
        _cell(r.actual),
        c.op,
        _cell(c.threshold),
        c.level,
        verdict,
        r.why,
    ]


def table(rows: list[list[str]], header: list[str]) -> list[str]:
    """Rows as aligned text columns (the last column is left ragged)."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    out = []
    for row in [header, *rows]:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        out.append("  ".join([*cells, row[-1]]).rstrip())
    return out


def render_text(result: GateResult) -> str:
    """Render the whole summary, ending with a newline."""
    counts = result.counts()
    c = result.classification
    lines = [
        f"fwmon gate: {result.verdict.upper()}",
        f"report: {result.report_path}   policy: {result.policy.source}   "
        f"baseline: {result.baseline_source or 'none'}"
        + (
            f"   base: {result.base_ref} ({(result.merge_base or '')[:12]})"
            if result.base_ref
            else ""
        ),
        f"findings: {counts['new']} new, {counts['baselined']} baselined, "
        f"{counts['waived']} waived, {counts['suppressed']} suppressed"
        + (f"; {counts['diff']} new on changed lines" if result.changed is not None else ""),
        "",
    ]
    header = [
        "condition",
        "metric",
        "scope",
        "actual",
        "op",
        "threshold",
        "level",
        "verdict",
        "why",
    ]
    lines += table([_row(r) for r in result.conditions], header)
    if c.new:
        rank = {s: i for i, s in enumerate(SEVERITIES)}
        ordered = sorted(c.new, key=lambda f: (rank[f["severity"]], f["path"], f["line"]))
        lines += ["", f"new findings ({len(c.new)}, worst first):"]
        for f in ordered[:MAX_LISTED]:
            lines.append(
                f"  {f['severity']:<8} {f['path']}:{f['line']}  {f['checker']} {f['rule']}  "
                f"{' '.join(f['message'].split())}"
            )
        if len(ordered) > MAX_LISTED:
            lines.append(f"  ... and {len(ordered) - MAX_LISTED} more (see --result-json)")
    if result.notes:
        lines.append("")
        lines += [f"note: {n}" for n in result.notes]
    if result.warnings:
        lines.append("")
        lines += [f"warning: {w}" for w in result.warnings]
    if result.reasons:
        lines.append("")
        lines += [f"blocked: {r}" for r in result.reasons]
    return log_lines(lines)
