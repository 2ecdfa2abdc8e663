"""The human summary printed on stdout: verdict, counts, a table of conditions, reasons.

Each line goes through :func:`~pytest_fwmon.core.textsafe.log_line`: a newline or an escape
byte from a file name, message or waiver field is printed as an escape, and no line can start
a GitHub Actions workflow command.
"""

from __future__ import annotations

from typing import Any, Final

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


_HEADER: Final = (
    "condition",
    "metric",
    "scope",
    "actual",
    "op",
    "threshold",
    "level",
    "verdict",
    "why",
)


def _head(result: GateResult) -> list[str]:
    """Return the verdict, inputs and finding counts lines, then a blank line."""
    counts = result.counts()
    return [
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


def _new_findings(new: list[dict[str, Any]]) -> list[str]:
    """Return the listing of new findings, worst first, at most MAX_LISTED of them."""
    if not new:
        return []
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    ordered = sorted(new, key=lambda f: (rank[f["severity"]], f["path"], f["line"]))
    lines = ["", f"new findings ({len(new)}, worst first):"]
    for f in ordered[:MAX_LISTED]:
        lines.append(
            f"  {f['severity']:<8} {f['path']}:{f['line']}  {f['checker']} {f['rule']}  "
            f"{' '.join(f['message'].split())}"
        )
    if len(ordered) > MAX_LISTED:
        lines.append(f"  ... and {len(ordered) - MAX_LISTED} more (see --result-json)")
    return lines


def _messages(result: GateResult) -> list[str]:
    """Return the notes, warnings and block reasons, each group after a blank line."""
    lines: list[str] = []
    for prefix, items in (
        ("note", result.notes),
        ("warning", result.warnings),
        ("blocked", result.reasons),
    ):
        if items:
            lines.append("")
            lines += [f"{prefix}: {item}" for item in items]
    return lines


def render_text(result: GateResult) -> str:
    """Render the whole summary, ending with a newline."""
    lines = _head(result)
    lines += table([_row(r) for r in result.conditions], list(_HEADER))
    lines += _new_findings(result.classification.new)
    lines += _messages(result)
    return log_lines(lines)
