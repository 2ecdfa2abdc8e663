"""Budgets of the gate's GitHub outputs: the step summary's bytes, the rows that fit a limit,
and annotations in rank order.

GitHub drops a step summary over 1 MiB of UTF-8 whole (with an error annotation), so the gate
measures what the step wrote before it, in bytes, and cuts its own summary to what is left.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_fwmon.gate.evaluate import GateResult, evaluate
from pytest_fwmon.gate.github import (
    MIN_SUMMARY,
    _size,
    build_annotations,
    summary_limit,
    write_github,
)
from pytest_fwmon.gate.markdown import SUMMARY_LIMIT, _finding_row, render_markdown, utf8_len
from pytest_fwmon.gate.policy import parse_policy
from tests.test_gate_outputs import TODAY
from tests.test_gate_support import POLICY_NEW_HIGH, finding, make_report


def _gate(messages: list[str]) -> GateResult:
    findings = [finding("B602", f"m{i}.py", i + 1, message=m) for i, m in enumerate(messages)]
    return evaluate(
        make_report(findings), parse_policy(POLICY_NEW_HIGH.encode(), "p.toml"), None, today=TODAY
    )


def test_summary_limit_keeps_the_whole_file_a_byte_under_githubs_limit() -> None:
    assert summary_limit(0) == SUMMARY_LIMIT - 1
    assert summary_limit(1000) == SUMMARY_LIMIT - 1001
    assert summary_limit(SUMMARY_LIMIT - 1 - MIN_SUMMARY) == MIN_SUMMARY
    assert summary_limit(SUMMARY_LIMIT - MIN_SUMMARY) is None
    assert summary_limit(SUMMARY_LIMIT) is None
    assert summary_limit(5 * SUMMARY_LIMIT) is None


def test_size_of_a_summary_file(tmp_path: Path) -> None:
    assert _size(str(tmp_path / "absent.md")) == 0
    (tmp_path / "s.md").write_bytes(b"x" * 7)
    assert _size(str(tmp_path / "s.md")) == 7


def _summary(tmp_path: Path, earlier: bytes, result: GateResult) -> tuple[bytes, str]:
    summary = tmp_path / "summary.md"
    summary.write_bytes(earlier)
    out = io.StringIO()
    write_github(result, {"GITHUB_STEP_SUMMARY": str(summary)}, out, tmp_path)
    return summary.read_bytes()[len(earlier) :], out.getvalue()


def test_the_summary_is_cut_by_bytes_not_characters(tmp_path: Path) -> None:
    """Three-byte characters: under the budget in characters, over it in bytes."""
    result = _gate(["漢字" * 600 for _ in range(4)])
    full = render_markdown(result, 10**9)
    assert len(full) < 6_000 < utf8_len(full)
    earlier = b"x" * (SUMMARY_LIMIT - 1 - 6_000)
    added, _ = _summary(tmp_path, earlier, result)
    assert len(earlier) + len(added) <= SUMMARY_LIMIT - 1
    assert added.decode("utf-8") == render_markdown(result, 6_000, utf8_len)
    assert added.decode("utf-8") != full


def test_a_summary_that_fits_exactly_is_written_whole(tmp_path: Path) -> None:
    result = _gate(["a" * 300 for _ in range(20)])
    full = render_markdown(result, 10**9, utf8_len)
    size = utf8_len(full)
    assert size > MIN_SUMMARY
    exact, _ = _summary(tmp_path, b"x" * (SUMMARY_LIMIT - 1 - size), result)
    assert exact.decode("utf-8") == full
    one_short, _ = _summary(tmp_path, b"x" * (SUMMARY_LIMIT - size), result)
    assert one_short.decode("utf-8") == render_markdown(result, size - 1, utf8_len)
    assert len(one_short) <= size - 1


def test_a_summary_left_without_room_is_left_out_with_a_warning(tmp_path: Path) -> None:
    result = _gate(["a"])
    earlier = b"x" * (SUMMARY_LIMIT - MIN_SUMMARY)
    added, out = _summary(tmp_path, earlier, result)
    assert added == b""
    assert out.splitlines()[-1] == (
        f"::warning title=fwmon gate::the step summary holds {len(earlier)} bytes already, "
        f"too close to GitHub's limit of {SUMMARY_LIMIT} for the gate's summary (at least "
        f"{MIN_SUMMARY} bytes): left out, so that GitHub still shows what is there"
    )
    at_least, _ = _summary(tmp_path, b"x" * (SUMMARY_LIMIT - 1 - MIN_SUMMARY), result)
    assert at_least.decode("utf-8") == render_markdown(result, MIN_SUMMARY, utf8_len)


def test_annotations_rank_conditions_then_findings_by_severity_path_and_line() -> None:
    findings = [
        finding("B1", "b.py", 9, severity="medium"),
        finding("B2", "a.py", 3, severity="info"),
        finding("B3", "b.py", 2, severity="high"),
        finding("B4", "a.py", 7, severity="critical"),
        finding("B5", "a.py", 5, severity="high"),
        finding("B6", "a.py", 1, severity="low"),
        finding("B7", "a.py", 2, severity="medium"),
    ]
    result = evaluate(
        make_report(findings), parse_policy(POLICY_NEW_HIGH.encode(), "p.toml"), None, today=TODAY
    )
    titles = [(a.kind, a.title, a.file, a.line) for a in build_annotations(result, "sub/")]
    assert titles == [
        ("error", "fwmon gate: condition no-new-high", "", 0),
        ("error", "bandit B4 (critical)", "sub/a.py", 7),
        ("error", "bandit B5 (high)", "sub/a.py", 5),
        ("error", "bandit B3 (high)", "sub/b.py", 2),
        ("warning", "bandit B7 (medium)", "sub/a.py", 2),
        ("warning", "bandit B1 (medium)", "sub/b.py", 9),
        ("warning", "bandit B6 (low)", "sub/a.py", 1),
    ]


def _expected(result: GateResult, limit: int, measure: Callable[[str], int]) -> str | None:
    """The longest run of rows whose text fits ``limit`` (None: not even the head does)."""
    full = render_markdown(result, 10**9, measure)
    table = "| severity | where | rule | message |\n|---|---|---|---|\n"
    head = full[: full.index(table) + len(table)]
    rows = [_finding_row(f) + "\n" for f in _ordered(result)]
    for k in range(len(rows), -1, -1):
        rest = len(rows) - k
        more = f"\n… and {rest} more new findings not listed.\n" if rest else ""
        text = head + "".join(rows[:k]) + more + "\n</details>\n"
        if measure(text) <= limit:
            return text
    return None


def _ordered(result: GateResult) -> list[dict[str, Any]]:
    text = render_markdown(result, 10**9)
    order = [line for line in text.splitlines() if line.startswith("| ") and ".py:" in line]
    by_row = {_finding_row(f): f for f in result.classification.new}
    return [by_row[line] for line in order]


def test_the_findings_listed_are_the_most_that_fit_at_every_limit() -> None:
    messages = [("é" * (i % 5)) + "m" * (7 * i % 23) for i in range(12)]
    result = _gate(messages)
    for measure in (len, utf8_len):
        full = render_markdown(result, 10**9, measure)
        checked = 0
        for limit in range(measure(full) + 3, 0, -1):
            expected = _expected(result, limit, measure)
            if expected is None:
                break
            assert render_markdown(result, limit, measure) == expected, limit
            checked += 1
        assert checked > 12 * 20  # every row boundary, with and without the count line


def test_rows_past_the_limit_are_not_measured() -> None:
    """A long report costs the rows its summary lists, not all of its rows."""
    result = _gate([f"message {i}" for i in range(2_000)])
    calls = []

    def measure(text: str) -> int:
        calls.append(text)
        return len(text)

    text = render_markdown(result, 8_000, measure)
    listed = text.count("| high |")
    assert 0 < listed < 200
    assert len(calls) < listed + 20
