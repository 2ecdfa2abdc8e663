"""Markdown of a gate result: the pull-request comment and the GitHub step summary.

Both come from :func:`render_markdown` with a size limit: 65,536 characters for a PR comment
(GitHub's limit on a comment body), 1 MiB of UTF-8 for a step summary. The verdict, the
conditions and the reasons are always kept; new findings are listed worst first until the
limit is near, then counted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from ..core.model import SEVERITIES
from ..core.textsafe import plain
from .evaluate import ConditionResult, GateResult

#: GitHub's limit on the body of an issue or pull-request comment, in characters.
COMMENT_LIMIT: Final = 65_536
#: GitHub's limit on one step's summary, in bytes.
SUMMARY_LIMIT: Final = 1024 * 1024
#: The marker a CI step can search for to update its previous comment instead of adding one.
MARKER: Final = "<!-- fwmon-gate -->"

_ICON: Final = {  # nosec B105 # verdict icons, not passwords
    "pass": "✅",
    "fail": "❌",
    "missing": "❌",
    "exempt": "⏭️",
    "warn": "⚠️",
}


#: ASCII punctuation that markdown may read as syntax: each is backslash-escaped.
_MD_PUNCT: Final = re.compile(r"([\\`*_{}\[\]()#!|~]|^[-+=])")


def md(text: object) -> str:
    """Return ``text`` shown literally in GitHub markdown, on one line.

    No HTML, link, emphasis, code, table cell boundary or line break can come from it;
    control characters become escapes.
    """
    value = f"{text:g}" if isinstance(text, float) else str(text)
    value = plain(" ".join(value.split()))
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_PUNCT.sub(r"\\\1", value)


def cell(text: object) -> str:
    """Return text safe inside one markdown table cell, escaped by :func:`md`."""
    return md(text)


_HTTP_URL: Final = re.compile(r"https?://[^\s<>()\[\]`\\\"'\x00-\x1f\x7f-\x9f]+")


def is_http_url(url: str) -> bool:
    """Return whether ``url`` is http(s) with nothing markdown or HTML reads as syntax."""
    return bool(_HTTP_URL.fullmatch(url))


def link(url: str, label: str) -> str:
    """Return a markdown link to an http(s) URL, or the URL as escaped text otherwise."""
    if is_http_url(url):
        return f"[{md(label)}]({url})"
    return md(url)


def _verdict(r: ConditionResult) -> str:
    if r.verdict in ("fail", "missing") and r.condition.level == "warn":
        return f"{_ICON['warn']} warn"
    return f"{_ICON[r.verdict]} {r.verdict}"


def _finding_row(f: dict[str, object]) -> str:
    where = f"{f['path']}:{f['line']}" if f["line"] else str(f["path"])
    return (
        f"| {cell(f['severity'])} | {cell(where)} | {cell(f['checker'])} {cell(f['rule'])} "
        f"| {cell(f['message'])} |"
    )


def _intro(result: GateResult) -> list[str]:
    """Return the marker, verdict heading, inputs and finding counts."""
    counts = result.counts()
    return [
        MARKER,
        f"## fwmon gate: {'✅ pass' if result.verdict == 'pass' else '❌ blocked'}",
        "",
        f"Policy {cell(result.policy.source)}; "
        f"baseline {cell(result.baseline_source or 'none')}"
        + (f"; base {cell(result.base_ref)}" if result.base_ref else "")
        + ".",
        "",
        f"**{counts['new']}** new, **{counts['baselined']}** baselined, "
        f"**{counts['waived']}** waived, **{counts['suppressed']}** suppressed findings"
        + (f"; **{counts['diff']}** new on changed lines" if result.changed is not None else "")
        + ".",
        "",
    ]


def _conditions_table(result: GateResult) -> list[str]:
    """Return the table of conditions, one row each."""
    lines = [
        "| condition | metric | scope | actual | threshold | level | verdict | why |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result.conditions:
        c = r.condition
        actual = "n/a" if r.actual is None else cell(r.actual)
        lines.append(
            f"| {cell(c.id)} | {cell(c.metric)} | {c.scope} | {actual} | {c.op} "
            f"{cell(c.threshold)} | {c.level} | {_verdict(r)} | {cell(r.why)} |"
        )
    return lines


def _message_lists(result: GateResult) -> list[str]:
    """Return the reasons, warnings and notes as bulleted lists under bold titles."""
    lines: list[str] = []
    for title, items in (
        ("Blocked because", result.reasons),
        ("Warnings", result.warnings),
        ("Notes", result.notes),
    ):
        if items:
            lines += ["", f"**{title}:**", ""]
            lines += [f"- {cell(item)}" for item in items]
    return lines


_FINDINGS_HEAD: Final = (
    "",
    "<details open><summary>New findings, worst first</summary>",
    "",
    "| severity | where | rule | message |",
    "|---|---|---|---|",
)
_CLOSING: Final = "\n</details>\n"


def _rows_that_fit(
    ordered: list[dict[str, Any]], size: int, budget: int, measure: Callable[[str], int]
) -> list[tuple[str, int]]:
    """Return (row, size) of the finding rows, in order, while the total stays within budget."""
    rows = []
    for f in ordered:
        row = _finding_row(f) + "\n"
        row_size = measure(row)
        if size + row_size > budget:
            break
        rows.append((row, row_size))
        size += row_size
    return rows


def _with_findings(
    text: str, new: list[dict[str, Any]], limit: int, measure: Callable[[str], int]
) -> str:
    """Append the new findings, worst first, listing as many as ``limit`` leaves room for.

    When they do not all fit, rows are dropped from the end until the line that counts the
    rest fits too.
    """
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    ordered = sorted(new, key=lambda f: (rank[f["severity"]], f["path"], f["line"], f["rule"]))
    body = text + "\n".join(_FINDINGS_HEAD) + "\n"
    budget = limit - measure(_CLOSING)
    size = measure(body)
    rows = _rows_that_fit(ordered, size, budget, measure)
    size += sum(row_size for _row, row_size in rows)
    rest = _rest_line(len(ordered) - len(rows))
    while rows and size + measure(rest) > budget:
        size -= rows.pop()[1]
        rest = _rest_line(len(ordered) - len(rows))
    return _fit(body + "".join(row for row, _size in rows) + rest + _CLOSING, limit, measure)


def _rest_line(left: int) -> str:
    """Return the line that counts the new findings not listed ("" when none is left out)."""
    return f"\n… and {left} more new findings not listed.\n" if left else ""


def render_markdown(
    result: GateResult,
    limit: int = COMMENT_LIMIT,
    measure: Callable[[str], int] = len,
) -> str:
    """Return the result as markdown whose ``measure`` (chars by default) is at most ``limit``."""
    head = _intro(result) + _conditions_table(result) + _message_lists(result)
    text = "\n".join(head) + "\n"
    new = result.classification.new
    if not new:
        return _fit(text, limit, measure)
    return _with_findings(text, new, limit, measure)


def _fit(text: str, limit: int, measure: Callable[[str], int]) -> str:
    """Cut ``text`` to ``limit`` as a last resort (very long condition lists)."""
    if measure(text) <= limit:
        return text
    suffix = "\n\n… (cut to fit)\n"
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if measure(text[:mid]) + measure(suffix) <= limit:
            low = mid
        else:
            high = mid - 1
    return text[:low] + suffix


def utf8_len(text: str) -> int:
    """Size of ``text`` in UTF-8 bytes (the step summary limit is in bytes)."""
    return len(text.encode("utf-8", "surrogatepass"))
