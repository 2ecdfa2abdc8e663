"""How a failing check reads: the exceptions an item raises and the compact failure table.

No pytest here: ``fwmon check`` (the pre-commit hook) prints the same tables as the pytest
items of ``plugin/items.py`` without importing pytest.
"""

from __future__ import annotations

from ..core.model import Finding

#: Most rows a failure table shows; the report has them all.
TABLE_ROWS = 25


class CheckErrored(Exception):
    """The checker could not analyse its input; the item errors with this one line."""


class CheckFailed(Exception):
    """Findings at or above the thresholds; the item fails with a table of them."""

    def __init__(self, checker: str, failing: list[Finding], total: int, threshold: str) -> None:
        """Record the ``failing`` findings of ``checker`` (of ``total``) at ``threshold``."""
        super().__init__(f"{len(failing)} finding(s)")
        self.checker = checker
        self.failing = failing
        self.total = total
        self.threshold = threshold


def format_table(failure: CheckFailed, where: str, show_path: bool = False) -> str:
    """Return the compact failure table.

    Its columns are rule, line (path:line for project items), severity, confidence, message.
    """
    rows = [("rule", "location" if show_path else "line", "severity", "confidence", "message")]
    for f in sorted(failure.failing, key=Finding.sort_key)[:TABLE_ROWS]:
        extra = f" [CWE-{f.cwe}]" if f.cwe else ""
        where_line = (f"{f.path}:{f.line}" if f.path else "-") if show_path else str(f.line)
        rows.append((f.rule, where_line, f.severity, f.confidence, f.message + extra))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        f"{failure.checker}: {len(failure.failing)} finding(s) {failure.threshold} in {where}",
    ]
    for row in rows:
        cells = [
            row[0].ljust(widths[0]),
            row[1].ljust(widths[1]) if show_path else row[1].rjust(widths[1]),
        ]
        cells += [row[2].ljust(widths[2]), row[3].ljust(widths[3]), row[4]]
        lines.append("  " + "  ".join(cells).rstrip())
    hidden = len(failure.failing) - TABLE_ROWS
    if hidden > 0:
        lines.append(f"  ... and {hidden} more (all of them are in the fwmon report)")
    below = failure.total - len(failure.failing)
    if below > 0:
        lines.append(f"  ({below} more finding(s) below the threshold are in the report)")
    return "\n".join(lines)


def threshold_text(checker: object) -> str:
    """How a checker's failing threshold reads in a failure table."""
    severity = getattr(checker, "fail_on_severity", None)
    confidence = getattr(checker, "fail_on_confidence", None)
    if severity and confidence:
        return f"at or above {severity} severity and {confidence} confidence"
    if severity:
        return f"at or above {severity} severity"
    return "at or above the threshold"
