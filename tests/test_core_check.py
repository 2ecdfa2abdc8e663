"""``fwmon check``: the static pipelines on given files, without pytest (pre-commit hook)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_fwmon.cli import main
from tests.reportcheck import copy_project


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy_project("core_project", tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_failing_file_prints_its_table_and_exits_1(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "src/corepkg/shell.py", "src/corepkg/clean.py", "README.md"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "bandit: 1 finding(s) at or above medium severity and medium confidence in "
        "src/corepkg/shell.py"
    )
    assert out[-1] == "fwmon check: 2 file(s), 4 check(s), 1 failed, 0 error(s)"


def test_clean_files_exit_0_and_the_cache_is_used(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "src/corepkg/clean.py"]) == 0
    assert main(["check", "--json", "src/corepkg/clean.py"]) == 0
    results = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert [(r["checker"], r["outcome"], r["cached"]) for r in results] == [
        ("bandit", "passed", True),
        ("pydocstyle", "passed", True),
    ]


def test_a_folder_stands_for_the_project_files_below_it(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``fwmon check src/`` checks the files below it, as ruff does, instead of none at all."""
    every = len(list((project / "src" / "corepkg").glob("*.py")))
    assert main(["check", "src/corepkg/shell.py"]) == 1
    one = capsys.readouterr().out.splitlines()[-1]
    assert one == "fwmon check: 1 file(s), 2 check(s), 1 failed, 0 error(s)"
    for folder in ("src", "src/corepkg/", "."):
        assert main(["check", folder]) == 1
        last = capsys.readouterr().out.splitlines()[-1]
        assert last.startswith(f"fwmon check: {every} file(s), {2 * every} check(s), 2 failed")
    monkeypatch.chdir(project / "src")
    assert main(["check", "--root", "..", "corepkg"]) == 1
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"fwmon check: {every} file(s)")


def test_files_outside_the_project_are_ignored(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "tests").mkdir()
    (project / "tests" / "test_x.py").write_text(
        "import subprocess\nsubprocess.call('x', shell=True)\n"
    )
    assert main(["check", "tests/test_x.py"]) == 0
    assert (
        capsys.readouterr().out.strip()
        == "fwmon check: 0 file(s), 0 check(s), 0 failed, 0 error(s)"
    )


def test_unknown_pipeline_is_a_usage_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--pipelines", "security,speed"]) == 2
    assert capsys.readouterr().err.strip() == (
        "fwmon: error: --pipelines: unknown pipeline speed; valid pipelines: "
        "security, docs, quality"
    )


def test_syntax_error_is_an_error_not_a_pass(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "src/corepkg/broken.py").write_text("def oops(:\n")
    assert main(["check", "--pipelines", "security", "src/corepkg/broken.py"]) == 1
    assert capsys.readouterr().out.splitlines()[0] == (
        "src/corepkg/broken.py::fwmon[bandit] ERROR bandit could not analyse "
        "src/corepkg/broken.py: syntax error while parsing AST from file"
    )
