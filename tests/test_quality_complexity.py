"""Complexity checker at the checker level: radon's figures, limits, severities, config."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from radon.complexity import cc_visit
from radon.metrics import mi_visit
from radon.raw import analyze

from pytest_fwmon.checks.base import SourceFile
from pytest_fwmon.checks.complexity import (
    ComplexityChecker,
    complexity_severity,
    maintainability_severity,
    raw_metrics,
    validate_quality_section,
)
from pytest_fwmon.core.errors import ConfigError

DATA = Path(__file__).parent / "data" / "quality_complex"


def source(path: Path, root: Path = DATA) -> SourceFile:
    return SourceFile(path, path.relative_to(root).as_posix(), path.read_text(encoding="utf-8"))


def test_function_and_method_over_the_limit_are_findings() -> None:
    outcome = ComplexityChecker(max_complexity=10).check(source(DATA / "qcomplex" / "rules.py"))
    assert outcome.error is None
    over = {(f.rule, f.line, f.severity) for f in outcome.findings}
    assert over == {("CPX101", 4, "low"), ("CPX101", 40, "low")}
    messages = sorted(f.message for f in outcome.findings)
    assert messages[0].startswith("function shipping_cost has cyclomatic complexity 13 (rank C)")
    assert messages[1].startswith("method Cart.total has cyclomatic complexity 11 (rank C)")
    assert outcome.metrics["over_limit"] == 2
    assert outcome.metrics["worst_function"] == {
        "name": "shipping_cost",
        "line": 4,
        "complexity": 13,
        "rank": "C",
    }


def test_figures_equal_radon_cc_mi_and_raw() -> None:
    path = DATA / "qcomplex" / "rules.py"
    text = path.read_text(encoding="utf-8")
    outcome = ComplexityChecker().check(source(path))
    expected = sorted(
        [b.fullname, b.lineno, b.complexity] for b in cc_visit(text) if hasattr(b, "is_method")
    )
    assert sorted(outcome.metrics["complexity"]) == expected
    assert outcome.metrics["mi"] == round(mi_visit(text, True), 2)
    raw = analyze(text)
    assert (outcome.metrics["loc"], outcome.metrics["sloc"], outcome.metrics["lloc"]) == (
        raw.loc,
        raw.sloc,
        raw.lloc,
    )
    assert outcome.metrics["comment_ratio"] == round((raw.comments + raw.multi) / raw.loc, 4)


def _qualname(block: dict[str, str]) -> str:
    return f"{block['classname']}.{block['name']}" if block.get("classname") else block["name"]


def test_figures_equal_the_radon_command(tmp_path: Path) -> None:
    path = DATA / "qcomplex" / "rules.py"
    done = subprocess.run(
        [sys.executable, "-m", "radon", "cc", "-j", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    blocks = json.loads(done.stdout)[str(path)]
    cli = sorted(
        [_qualname(b), b["lineno"], b["complexity"]]
        for b in blocks
        if b["type"] in ("function", "method")
    )
    assert sorted(ComplexityChecker().check(source(path)).metrics["complexity"]) == cli


@pytest.mark.parametrize(
    ("complexity", "severity"),
    [
        pytest.param(11, "low", id="1-over"),
        pytest.param(15, "low", id="5-over"),
        pytest.param(16, "medium", id="6-over"),
        pytest.param(20, "medium", id="10-over"),
        pytest.param(21, "high", id="11-over"),
        pytest.param(30, "high", id="20-over"),
        pytest.param(31, "critical", id="21-over"),
    ],
)
def test_severity_rises_with_distance_over_the_limit(complexity: int, severity: str) -> None:
    assert complexity_severity(complexity, 10) == severity


@pytest.mark.parametrize(
    ("mi", "severity"),
    [(9.0, "low"), (5.0, "low"), (4.9, "medium"), (0.0, "medium"), (-1.0, "high")],
)
def test_maintainability_severity(mi: float, severity: str) -> None:
    assert maintainability_severity(mi, 10.0) == severity


def test_low_maintainability_is_a_file_finding() -> None:
    outcome = ComplexityChecker(max_complexity=50, min_maintainability=90.0).check(
        source(DATA / "qcomplex" / "rules.py")
    )
    (finding,) = outcome.findings
    assert finding.rule == "CPX102"
    assert finding.line == 0
    assert finding.severity == "high"
    assert "maintainability index" in finding.message and "below 90" in finding.message


def test_limits_are_respected() -> None:
    outcome = ComplexityChecker(max_complexity=13).check(source(DATA / "qcomplex" / "rules.py"))
    assert outcome.findings == []
    assert outcome.metrics["over_limit"] == 0


def test_no_assert_lowers_the_method_complexity() -> None:
    plain = ComplexityChecker().check(source(DATA / "qcomplex" / "rules.py"))
    no_assert = ComplexityChecker(no_assert=True).check(source(DATA / "qcomplex" / "rules.py"))
    by_name = {n: c for n, _, c in no_assert.metrics["complexity"]}
    assert by_name["Cart.total"] == 10
    # the maintainability index is radon mi's, which always counts asserts
    assert no_assert.metrics["mi"] == plain.metrics["mi"]
    assert ComplexityChecker(no_assert=True).settings()["no_assert"] is True


def test_syntax_error_is_an_error_outcome(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f(:\n    pass\n", encoding="utf-8")
    outcome = ComplexityChecker().check(source(bad, tmp_path))
    assert outcome.error == "syntax error at line 1: invalid syntax"
    assert outcome.findings == []


def test_empty_file_has_full_maintainability(tmp_path: Path) -> None:
    empty = tmp_path / "empty.py"
    empty.write_text("", encoding="utf-8")
    outcome = ComplexityChecker().check(source(empty, tmp_path))
    assert outcome.error is None
    assert outcome.metrics["mi"] == 100.0
    assert outcome.metrics["worst_function"] is None
    assert outcome.metrics["comment_ratio"] == 0.0


def test_fails_follows_fail_on_severity() -> None:
    outcome = ComplexityChecker(fail_on_severity="medium").check(
        source(DATA / "qcomplex" / "rules.py")
    )
    checker = ComplexityChecker(fail_on_severity="medium")
    assert [checker.fails(f) for f in outcome.findings] == [False, False]
    assert all(ComplexityChecker().fails(f) for f in outcome.findings)


def test_section_defaults() -> None:
    values = validate_quality_section({})
    assert values["max_complexity"] == 10
    assert values["min_maintainability"] == 10.0
    assert values["coverage"] is True
    assert values["min_line"] == 0.0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param({"min_maintainability": "A"}, 20.0, id="rank-A"),
        pytest.param({"min_maintainability": "b"}, 10.0, id="rank-b"),
        pytest.param({"min_maintainability": 35}, 35.0, id="number"),
    ],
)
def test_maintainability_accepts_ranks(raw: dict[str, object], expected: float) -> None:
    assert validate_quality_section(raw)["min_maintainability"] == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(
            {"max_complexty": 5},
            "unknown key [tool.fwmon.quality] max_complexty; valid keys: branch, coverage, "
            "coverage_rcfile, diff_base, fail_on_severity, lint, lint_select, max_complexity, "
            "min_branch, min_diff, min_file, min_line, min_maintainability, no_assert",
            id="unknown-key",
        ),
        pytest.param(
            {"max_complexity": 0},
            "[tool.fwmon.quality] max_complexity must be at least 1, got 0",
            id="too-small",
        ),
        pytest.param(
            {"min_maintainability": "Z"},
            "[tool.fwmon.quality] min_maintainability has invalid value 'Z'; "
            "give a number 0-100 or a rank A, B or C",
            id="bad-rank",
        ),
        pytest.param(
            {"lint": "flake8"},
            "[tool.fwmon.quality] lint has invalid value 'flake8'; valid choices: none, ruff",
            id="bad-lint",
        ),
        pytest.param(
            {"min_line": 101},
            "[tool.fwmon.quality] min_line must be at most 100, got 101",
            id="over-100",
        ),
    ],
)
def test_section_errors(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_quality_section(raw)
    assert info.value.message == message


TRICKY = [
    pytest.param("", id="empty"),
    pytest.param("\n\n\n", id="only-blank-lines"),
    pytest.param("x = 1\n\n\n", id="trailing-blank-lines"),
    pytest.param("x = 1", id="no-final-newline"),
    pytest.param("# only a comment\n", id="comment"),
    pytest.param('"""Doc."""\n', id="one-line-docstring"),
    pytest.param('"""Doc\n\n    more\n"""\nx = 1\n', id="multi-line-docstring"),
    pytest.param("x = (1,\n     # inside\n\n     2)\n", id="comment-and-blank-in-brackets"),
    pytest.param("x = 1 + \\\n    2\n", id="backslash-continuation"),
    pytest.param("if x: y = 1; z = 2\nelse: pass\n", id="semicolons-and-colons"),
    pytest.param("d = {'a': 1,\n     'b': 2}  # trailing\n", id="colon-in-dict"),
    pytest.param("s = 'abc\\\ndef'\n", id="string-continuation"),
    pytest.param("x = 1\n\x0c\ny = 2\n", id="form-feed"),
    pytest.param("def f():\n    return f'''{1}\n    text'''\n", id="multi-line-fstring"),
    pytest.param("class A:\n    '''Doc.'''\n    x = [\n        1,\n    ]\n", id="class"),
    pytest.param("x = '''a\n", id="unterminated-string-falls-back"),
]


@pytest.mark.parametrize("text", TRICKY)
def test_raw_metrics_equal_radon(text: str) -> None:
    try:
        expected: object = analyze(text)
    except SyntaxError as exc:
        expected = str(exc)
    try:
        got: object = raw_metrics(text)
    except SyntaxError as exc:
        got = str(exc)
    assert got == expected


def test_raw_metrics_equal_radon_on_this_package() -> None:
    package = Path(__file__).parent.parent / "pytest_fwmon" / "checks"
    for path in sorted(package.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert raw_metrics(text) == analyze(text), path
