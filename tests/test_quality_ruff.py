"""The ruff backend: one run, per-file answers, bandit's ratings for S rules."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_fwmon.checks import ruff as ruff_module
from pytest_fwmon.checks.base import SourceFile
from pytest_fwmon.checks.complexity import quality_file_checkers
from pytest_fwmon.checks.ruff import (
    RuffChecker,
    lint_severity,
    ruff_docs_checker,
    ruff_security_checker,
    security_rating,
)
from pytest_fwmon.core.config import load_config

DATA = Path(__file__).parent / "data" / "quality_lint"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    target = tmp_path / "lint"
    shutil.copytree(DATA, target)
    return target


def sources(root: Path) -> list[SourceFile]:
    return [
        SourceFile(p, p.relative_to(root).as_posix(), p.read_text(encoding="utf-8"))
        for p in sorted((root / "lintpkg").glob("*.py"))
    ]


def by_file(checker: RuffChecker, files: list[SourceFile]) -> dict[str, list[tuple[str, int]]]:
    out = {}
    for source in files:
        outcome = checker.check(source)
        assert outcome.error is None
        out[source.relpath] = [(f.rule, f.line) for f in outcome.findings]
    return out


def test_one_run_answers_every_file(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checker = RuffChecker("ruff", "quality", ["E4", "E7", "E9", "F", "B"], root)
    calls: list[int] = []
    real_run = checker._run
    monkeypatch.setattr(checker, "_run", lambda paths: (calls.append(len(paths)), real_run(paths)))
    files = sources(root)
    checker.prepare(files)
    assert by_file(checker, files) == {
        "lintpkg/__init__.py": [],
        "lintpkg/nodocs.py": [],
        "lintpkg/sloppy.py": [("F401", 3), ("F821", 8)],
        "lintpkg/unsafe.py": [],
    }
    assert calls == [4]  # one ruff process for the four files
    sloppy = checker.check(files[2]).findings
    assert [(f.severity, f.rule_name) for f in sloppy] == [
        ("medium", "unused-import"),
        ("high", "undefined-name"),
    ]
    assert sloppy[1].help_url == "https://docs.astral.sh/ruff/rules/undefined-name"


def test_security_ratings_match_bandit(root: Path) -> None:
    config = load_config(root, environ={})
    checker = ruff_security_checker(config)
    files = sources(root)
    checker.prepare(files)
    unsafe = next(f for f in files if f.relpath.endswith("unsafe.py"))
    ruff_findings = {
        (f.rule[1:], f.line): (f.severity, f.confidence, f.cwe)
        for f in checker.check(unsafe).findings
    }
    done = subprocess.run(
        [sys.executable, "-m", "bandit", "-q", "-f", "json", str(unsafe.path)],
        capture_output=True,
        text=True,
        check=False,
    )
    bandit = {
        (r["test_id"][1:], r["line_number"]): (
            r["issue_severity"].lower(),
            r["issue_confidence"].lower(),
            r["issue_cwe"]["id"],
        )
        for r in json.loads(done.stdout)["results"]
    }
    # every ruff S finding is a bandit finding with the same rating ...
    assert ruff_findings == {k: v for k, v in bandit.items() if k in ruff_findings}
    assert set(ruff_findings) == {("602", 10), ("301", 15), ("324", 20)}
    # ... and the differences are the documented ones: the noqa comment waives line 25 for ruff
    # only, and ruff's import rules (S403/S404) are preview-only.
    assert set(bandit) - set(ruff_findings) == {("602", 25), ("403", 4), ("404", 5)}


def test_docs_backend_uses_the_convention(root: Path) -> None:
    checker = ruff_docs_checker(load_config(root, environ={}))
    assert checker.config == ['lint.pydocstyle.convention="pep257"']
    files = sources(root)
    checker.prepare(files)
    assert by_file(checker, files)["lintpkg/nodocs.py"] == [("D100", 1), ("D103", 1)]


def test_file_not_prepared_is_checked_alone(root: Path) -> None:
    checker = RuffChecker("ruff", "quality", ["F"], root)
    (sloppy,) = [f for f in sources(root) if f.relpath.endswith("sloppy.py")]
    assert [f.rule for f in checker.check(sloppy).findings] == ["F401", "F821"]


def test_syntax_error_is_an_error(root: Path) -> None:
    bad = root / "lintpkg" / "bad.py"
    bad.write_text("def f(:\n    pass\n", encoding="utf-8")
    checker = RuffChecker("ruff", "quality", ["F"], root)
    outcome = checker.check(SourceFile(bad, "lintpkg/bad.py", bad.read_text(encoding="utf-8")))
    assert outcome.error is not None
    assert outcome.error.startswith("syntax error at line 1: ")


def test_missing_ruff_is_an_error(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ruff_module, "ruff_command", lambda: None)
    checker = RuffChecker("ruff", "quality", ["F"], root)
    checker.prepare(sources(root))
    assert checker.check(sources(root)[0]).error == (
        "ruff is not installed: pip install ruff (or pytest-fwmon[ruff])"
    )


def test_quality_checkers_follow_the_lint_key(root: Path, tmp_path: Path) -> None:
    with_lint = quality_file_checkers(load_config(root, environ={}))
    assert [c.name for c in with_lint] == ["complexity", "ruff"]
    plain = quality_file_checkers(load_config(tmp_path, environ={}))
    assert [c.name for c in plain] == ["complexity"]


def test_settings_change_with_the_project_ruff_config(root: Path) -> None:
    checker = RuffChecker("ruff", "quality", ["F"], root)
    before = checker.settings()
    (root / "ruff.toml").write_text("line-length = 80\n", encoding="utf-8")
    assert checker.settings() != before
    assert checker.tool_version()[0].isdigit()


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        pytest.param("S602", ("high", "high", 78), id="plugin"),
        pytest.param("S311", ("low", "high", 330), id="blacklist-call"),
        pytest.param("S999", ("medium", "medium", None), id="unknown"),
    ],
)
def test_security_rating(code: str, expected: tuple[str, str, int | None]) -> None:
    assert security_rating(code) == expected


@pytest.mark.parametrize(
    ("code", "severity"),
    [("F821", "high"), ("E999", "high"), ("F401", "medium"), ("B006", "medium"), ("E501", "low")],
)
def test_lint_severity(code: str, severity: str) -> None:
    assert lint_severity(code) == severity
