"""Coverage in the same pytest run: parity with coverage.py and diff-cover, items, errors.

Each test runs pytest in a subprocess (coverage must start before the project is imported,
and this suite may itself run under coverage).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.checks.coverage import (
    Summary,
    Thresholds,
    _ranges,
    diff_coverage,
    evaluate,
)
from pytest_fwmon.core.schema import first_error
from pytest_fwmon.plugin.quality import NOTHING_TO_MEASURE

DATA = Path(__file__).parent / "data" / "quality_cov"
PYTHON = sys.executable
FWMON = ["--fwmon", "-p", "pytest_fwmon.plugin.quality", "--fwmon-pipelines", "quality"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "covproj"
    shutil.copytree(DATA, root, ignore=shutil.ignore_patterns("__pycache__", ".fwmon"))
    return root


def run(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE", "COVERAGE"))}
    env.pop("FWMON_COVERAGE_DATA", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_ADDOPTS", None)
    done = subprocess.run(
        args, cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    if check and done.returncode not in (0, 1):
        raise AssertionError(f"{args} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


def fwmon(root: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    done = run(root, PYTHON, "-m", "pytest", "-p", "no:cacheprovider", *FWMON, *args)
    report = json.loads((root / ".fwmon" / "report.json").read_text(encoding="utf-8"))
    assert first_error("report", report) is None
    return done, report


def coverage_json(root: Path) -> dict[str, Any]:
    """`coverage run --branch -m pytest` then `coverage json`, in a copy of the project."""
    reference = root.parent / "reference"
    shutil.copytree(root, reference, ignore=shutil.ignore_patterns(".fwmon", ".coverage*"))
    run(
        reference,
        PYTHON,
        "-m",
        "coverage",
        "run",
        "--branch",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
    )
    run(reference, PYTHON, "-m", "coverage", "json", "-q", "-o", "coverage.json")
    data: dict[str, Any] = json.loads((reference / "coverage.json").read_text(encoding="utf-8"))
    return data


def totals(coverage: dict[str, Any]) -> dict[str, Any]:
    return {
        "covered_lines": coverage["covered_lines"],
        "num_statements": coverage["total_lines"],
        "covered_branches": coverage["covered_branches"],
        "num_branches": coverage["total_branches"],
        "missing_lines": coverage["missing_lines"],
        "num_partial_branches": coverage["partial_branches"],
        "percent_covered": coverage["percent"],
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("ref") / "covproj"
    shutil.copytree(DATA, root, ignore=shutil.ignore_patterns("__pycache__", ".fwmon"))
    return coverage_json(root)


@pytest.mark.slow
@pytest.mark.parametrize(
    "xdist", [pytest.param([], id="serial"), pytest.param(["-n", "2"], id="n2")]
)
def test_totals_equal_coverage_run(
    project: Path, reference: dict[str, Any], xdist: list[str]
) -> None:
    done, report = fwmon(project, *xdist)
    assert done.returncode == 0, done.stdout
    expected = {k: reference["totals"][k] for k in totals(report["coverage"])}
    assert totals(report["coverage"]) == expected
    files = {
        path: (
            info["covered_lines"],
            info["total_lines"],
            info["covered_branches"],
            info["total_branches"],
        )
        for path, info in report["coverage"]["files"].items()
    }
    assert files == {
        path: (
            s["summary"]["covered_lines"],
            s["summary"]["num_statements"],
            s["summary"]["covered_branches"],
            s["summary"]["num_branches"],
        )
        for path, s in reference["files"].items()
    }
    assert report["coverage"]["source"] == "fwmon"
    (check,) = [c for c in report["checks"] if c["checker"] == "coverage"]
    assert (check["nodeid"], check["outcome"], check["pipeline"]) == (
        "pyproject.toml::fwmon[coverage]",
        "passed",
        "quality",
    )
    assert "fwmon coverage (fwmon): lines 76.92% (20/26), branches 71.43% (10/14)" in done.stdout
    assert report["tests"]["total"] == 7  # the coverage item is not counted as a test


@pytest.mark.slow
def test_pytest_cov_data_is_reused(project: Path, reference: dict[str, Any]) -> None:
    done, report = fwmon(project, "--cov=covpkg", "--cov-branch", "--cov-report=")
    assert done.returncode == 0, done.stdout
    assert report["coverage"]["source"] == "pytest-cov"
    assert totals(report["coverage"]) == {
        k: reference["totals"][k] for k in totals(report["coverage"])
    }


def test_thresholds_are_items_that_fail(project: Path) -> None:
    with (project / "pyproject.toml").open("a", encoding="utf-8") as fh:
        fh.write("\n[tool.fwmon.quality]\nmin_line = 80\nmin_branch = 70\nmin_file = 50\n")
    done, report = fwmon(project, "-v")
    assert done.returncode == 1
    outcomes = {c["nodeid"]: c["outcome"] for c in report["checks"] if "coverage" in c["checker"]}
    assert outcomes == {
        "pyproject.toml::fwmon[coverage]": "passed",
        "pyproject.toml::fwmon[coverage-line]": "failed",
        "pyproject.toml::fwmon[coverage-branch]": "passed",
        "pyproject.toml::fwmon[coverage-files]": "failed",
    }
    assert "pyproject.toml::fwmon[coverage-line] FAILED" in done.stdout
    assert "COV101 pyproject.toml: line coverage 76.92% (20/26 lines) is below 80%" in done.stdout
    files = next(c for c in report["checks"] if c["checker"] == "coverage-files")
    assert [(f["rule"], f["path"]) for f in files["findings"]] == [("COV103", "covpkg/unused.py")]
    assert report["pipelines"]["quality"]["status"] == "fail"


def test_no_data_is_an_error_item_never_a_pass(project: Path) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8").replace('source = ["covpkg"]', 'source = ["nosuch"]'),
        encoding="utf-8",
    )
    done, report = fwmon(project)
    assert done.returncode == 1
    (check,) = [c for c in report["checks"] if c["checker"] == "coverage"]
    assert check["outcome"] == "error"
    assert check["reason"] == "coverage has no data: No data to report."
    assert "ERROR pyproject.toml::fwmon[coverage] - fwmon: coverage has no data" in done.stdout


def test_deleted_data_file_is_an_error_item(project: Path) -> None:
    (project / "tests" / "test_zz_cleanup.py").write_text(
        "import os, shutil\n\n\ndef test_cleanup():\n"
        "    shutil.rmtree(os.environ['FWMON_COVERAGE_DATA'])\n",
        encoding="utf-8",
    )
    done, report = fwmon(project)
    assert done.returncode == 1
    (check,) = [c for c in report["checks"] if c["checker"] == "coverage"]
    assert check["outcome"] == "error"
    assert check["reason"].startswith("coverage could not save its data file: ")
    assert report["coverage"] is None


def test_no_coverage_option(project: Path) -> None:
    done, report = fwmon(project, "--fwmon-no-coverage")
    assert done.returncode == 0
    assert report["coverage"] is None
    assert not [c for c in report["checks"] if "coverage" in c["checker"]]


@pytest.mark.parametrize(
    ("option", "expect"),
    [
        pytest.param("quality.coverage=false", None, id="coverage-off"),
        pytest.param("quality.branch=false", False, id="branch-off"),
    ],
)
def test_quality_options_on_the_command_line_take_effect(
    project: Path, option: str, expect: bool | None
) -> None:
    """``--fwmon-option quality.*`` reaches coverage (it was read without the overrides)."""
    done, report = fwmon(project, "--fwmon-option", option)
    assert done.returncode == 0, done.stdout
    if expect is None:
        assert report["coverage"] is None
    else:
        assert report["coverage"]["branch"] is expect
        assert report["coverage"]["total_branches"] == 0


def test_coverage_rcfile_option_is_used(project: Path) -> None:
    (project / "cov.ini").write_text("[run]\nbranch = false\nsource = covpkg\nomit = */unused.py\n")
    done, report = fwmon(project, "--fwmon-option", "quality.coverage_rcfile=cov.ini")
    assert done.returncode == 0, done.stdout
    assert report["coverage"]["files"]
    assert not [f for f in report["coverage"]["files"] if f.endswith("unused.py")]


@pytest.mark.parametrize(
    ("extra_config", "args", "measured"),
    [
        pytest.param("", (), False, id="nothing-to-measure"),
        pytest.param("", ("--fwmon-coverage",), True, id="asked-on-the-command-line"),
        pytest.param("[tool.fwmon.quality]\ncoverage = true\n", (), True, id="asked-in-config"),
        pytest.param(
            '[tool.coverage.run]\ninclude = ["tests/*"]\n', (), True, id="coverage-include"
        ),
        pytest.param(".coveragerc", (), True, id="coveragerc-include"),
        pytest.param(".coveragerc-branch-only", (), False, id="coveragerc-without-source"),
    ],
)
def test_project_without_source_files(
    tmp_path: Path, extra_config: str, args: tuple[str, ...], measured: bool
) -> None:
    """No package or module: coverage is not started unless asked for or configured."""
    root = tmp_path / "testsonly"
    (root / "tests").mkdir(parents=True)
    if extra_config.startswith(".coveragerc"):
        rc = (
            "[run]\ninclude = tests/*\n"
            if extra_config == ".coveragerc"
            else "[run]\nbranch = true\n"
        )
        (root / ".coveragerc").write_text(rc, encoding="utf-8")
        extra_config = ""
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "testsonly"\nversion = "0"\n\n{extra_config}', encoding="utf-8"
    )
    (root / "tests" / "test_a.py").write_text("def test_a():\n    assert True\n", encoding="utf-8")
    done, report = fwmon(root, "-rs", *args)
    assert done.returncode == 0, done.stdout
    (check,) = [c for c in report["checks"] if c["checker"] == "coverage"]
    if measured:
        assert check["outcome"] == "passed"
        assert "tests/test_a.py" in report["coverage"]["files"]
    else:
        assert check["outcome"] == "skipped"
        assert check["reason"] == NOTHING_TO_MEASURE
        assert report["coverage"] is None
        assert f"fwmon coverage: not measured: {NOTHING_TO_MEASURE}" in done.stdout
        assert "SKIPPED [1] pyproject.toml:1: no source files to measure" in done.stdout


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


@pytest.mark.slow
def test_diff_coverage_equals_diff_cover(project: Path) -> None:
    (project / ".gitignore").write_text(".fwmon/\n.coverage*\ncoverage.*\n__pycache__/\n")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "base")
    git(project, "checkout", "-q", "-b", "feature")
    shapes = project / "covpkg" / "shapes.py"
    text = shapes.read_text(encoding="utf-8")
    # a covered change, an uncovered change, and new code half covered by a new test
    text = text.replace(
        "        return size * size\n", "        side = size\n        return side * side\n", 1
    )
    text = text.replace(
        "    return 2 * math.pi * size\n",
        "    circumference = 2 * math.pi\n    return circumference * size\n",
    )
    text += (
        "\n\ndef scale(values, factor):\n"
        '    """New code: the negative branch is not tested."""\n'
        "    if factor < 0:\n"
        "        raise ValueError(factor)\n"
        "    return [v * factor for v in values]\n"
    )
    shapes.write_text(text, encoding="utf-8")
    (project / "tests" / "test_scale.py").write_text(
        "from covpkg.shapes import scale\n\n\ndef test_scale():\n    assert scale([1], 2) == [2]\n"
    )
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "feature")

    done, report = fwmon(project, "--fwmon-diff-base", "main")
    assert done.returncode == 0, done.stdout
    diff = report["coverage"]["diff"]

    reference = project.parent / "reference"
    shutil.copytree(project, reference, ignore=shutil.ignore_patterns(".fwmon", ".coverage*"))
    run(
        reference,
        PYTHON,
        "-m",
        "coverage",
        "run",
        "--branch",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
    )
    run(reference, PYTHON, "-m", "coverage", "xml", "-q", "-o", "coverage.xml")
    run(
        reference,
        PYTHON,
        "-m",
        "diff_cover.diff_cover_tool",
        "coverage.xml",
        "--compare-branch",
        "main",
        "--total-percent-float",
        "--format",
        "json:diff.json",
    )
    expected = json.loads((reference / "diff.json").read_text(encoding="utf-8"))
    assert diff["percent"] == expected["total_percent_covered"]
    assert diff["changed_lines"] == expected["total_num_lines"]
    assert diff["changed_lines"] - diff["covered_lines"] == expected["total_num_violations"]
    assert diff["uncovered"] == {
        path: stats["violation_lines"]
        for path, stats in expected["src_stats"].items()
        if stats["violation_lines"]
    }
    assert diff["uncovered"] == {"covpkg/shapes.py": [22, 23, 40]}
    assert diff["base"] == "main" and len(diff["merge_base"]) == 40
    item = next(c for c in report["checks"] if c["checker"] == "diff-coverage")
    assert item["outcome"] == "passed"
    assert [(f["rule"], f["line"], f["severity"]) for f in item["findings"]] == [
        ("COV105", 22, "info")
    ]
    assert item["findings"][0]["message"] == "3 changed line(s) not covered: 22-23, 40"


def test_unknown_diff_base_is_an_error_item(project: Path) -> None:
    git(project, "init", "-q", "-b", "main")
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "base")
    done, report = fwmon(project, "--fwmon-diff-base", "origin/nope")
    assert done.returncode == 1
    item = next(c for c in report["checks"] if c["checker"] == "diff-coverage")
    assert item["outcome"] == "error"
    assert item["reason"].startswith("diff coverage: base ref 'origin/nope' is not known to git")


def _summary() -> Summary:
    report = {
        "source": "fwmon",
        "branch": True,
        "percent": 50.0,
        "line_percent": 60.0,
        "branch_percent": 40.0,
        "covered_lines": 6,
        "total_lines": 10,
        "covered_branches": 2,
        "total_branches": 5,
        "files": {"a.py": {"line_percent": 60.0, "covered_lines": 6, "total_lines": 10}},
        "diff": None,
    }
    return Summary(report, executed={"a.py": {1, 2, 3}}, missing={"a.py": {4, 5}})


def test_diff_coverage_counts_only_measured_lines() -> None:
    summary = _summary()
    diff = diff_coverage(summary, {"a.py": {2, 4, 9}, "README.md": {1}}, "main")
    assert (diff["changed_lines"], diff["covered_lines"], diff["percent"]) == (2, 1, 50.0)
    assert diff["uncovered"] == {"a.py": [4]}
    assert summary.report["diff"] is diff
    empty = diff_coverage(_summary(), {"a.py": {9}}, "main")
    assert (empty["changed_lines"], empty["percent"]) == (0, None)


@pytest.mark.parametrize(
    ("thresholds", "outcomes"),
    [
        pytest.param(Thresholds(), {"coverage": "passed"}, id="none"),
        pytest.param(
            Thresholds(min_line=60, min_branch=41),
            {"coverage": "passed", "coverage-line": "passed", "coverage-branch": "failed"},
            id="line-and-branch",
        ),
        pytest.param(
            Thresholds(min_file=61), {"coverage": "passed", "coverage-files": "failed"}, id="file"
        ),
    ],
)
def test_evaluate(thresholds: Thresholds, outcomes: dict[str, str]) -> None:
    results = evaluate(_summary(), thresholds)
    assert {r.checker: r.outcome for r in results} == outcomes
    assert all(r.pipeline == "quality" for r in results)


def test_evaluate_without_data_errors_every_item() -> None:
    results = evaluate(None, Thresholds(min_line=80), diff_base="main", error="no data here")
    assert [(r.checker, r.outcome, r.reason) for r in results] == [
        ("coverage", "error", "no data here"),
        ("coverage-line", "error", "no data here"),
        ("diff-coverage", "error", "no data here"),
    ]


def test_min_diff_fails_the_diff_item() -> None:
    summary = _summary()
    diff_coverage(summary, {"a.py": {2, 4}}, "main")
    (diff_item,) = [
        r
        for r in evaluate(summary, Thresholds(min_diff=80), diff_base="main")
        if r.checker == "diff-coverage"
    ]
    assert diff_item.outcome == "failed"
    assert [f.rule for f in diff_item.findings] == ["COV104", "COV105"]


@pytest.mark.parametrize(
    ("lines", "text"),
    [([1], "1"), ([1, 2, 3], "1-3"), ([1, 3, 4, 9], "1, 3-4, 9")],
)
def test_ranges(lines: list[int], text: str) -> None:
    assert _ranges(lines) == text


def test_coverage_warnings_are_shown_not_raised(project: Path) -> None:
    """COVERAGE_CORE=sysmon is refused on 3.11 (and with branches on 3.12/3.13): a warning."""
    env = {"COVERAGE_CORE": "sysmon"}
    done = subprocess.run(
        [PYTHON, "-m", "pytest", "-p", "no:cacheprovider", *FWMON, "-W", "error"],
        cwd=project,
        env={
            **{
                k: v
                for k, v in os.environ.items()
                if k != "FWMON_COVERAGE_DATA" and not k.startswith("PYTEST_XDIST")
            },
            **env,
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "fwmon coverage warning: Can't use core=sysmon: " in done.stdout
    report = json.loads((project / ".fwmon" / "report.json").read_text(encoding="utf-8"))
    (check,) = [c for c in report["checks"] if c["checker"] == "coverage"]
    assert check["metrics"]["warnings"][0].startswith("Can't use core=sysmon: ")


def test_bad_coverage_configuration_is_an_error_item(project: Path) -> None:
    (project / ".coveragerc").write_text("[run]\nbranch = perhaps\n", encoding="utf-8")
    done, report = fwmon(project)
    assert done.returncode == 1
    (check,) = [c for c in report["checks"] if c["checker"] == "coverage"]
    assert check["outcome"] == "error"
    assert check["reason"].startswith("coverage could not start: ")
    assert report["tests"]["passed"] == 7  # the tests still ran


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        pytest.param(("-k", "not nothing_matches_this"), None, id="whole-suite"),
        pytest.param(("-m", "fwmon_quality"), "test(s) deselected", id="marker"),
        pytest.param(("-k", "not area"), "test(s) deselected", id="keyword"),
        pytest.param(("tests/test_shapes.py::test_bad_shape",), "selected: tests/", id="node-id"),
    ],
)
def test_a_partial_run_does_not_judge_coverage(
    project: Path, args: tuple[str, ...], reason: str | None
) -> None:
    """``-m``/``-k``/node ids that leave ordinary tests out: the coverage items are skipped
    with the reason and the report says the run was partial (a figure went in, judged)."""
    done, report = fwmon(project, *args)
    selection = report["run"]["selection"]
    coverage_items = [c for c in report["checks"] if c["checker"] == "coverage"]
    assert coverage_items, done.stdout
    if reason is None:
        assert selection == {"partial": False, "reasons": []}
        assert {c["outcome"] for c in coverage_items} <= {"passed", "failed"}
        return
    assert selection["partial"] is True
    assert any(reason in r for r in selection["reasons"]), selection
    for check in coverage_items:
        assert check["outcome"] == "skipped"
        assert "coverage thresholds are not judged" in check["reason"]


@pytest.mark.parametrize(
    "xdist", [pytest.param([], id="serial"), pytest.param(["-n", "2"], id="n2")]
)
def test_coverage_items_are_selected_like_any_item(project: Path, xdist: list[str]) -> None:
    """``-m`` without quality leaves the coverage items out, and no figure goes into the
    report; naming a coverage item selects it alone (a partial run: skipped, not judged)."""
    for selection in (["-m", "fwmon_security"], ["-k", "not fwmon"]):
        done = run(
            project,
            PYTHON,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            *FWMON,
            *selection,
            *xdist,
            check=False,
        )
        assert done.returncode in (0, 5), done.stdout + done.stderr
        report = json.loads((project / ".fwmon" / "report.json").read_text(encoding="utf-8"))
        assert not [c for c in report["checks"] if c["checker"] == "coverage"], done.stdout
        assert report["coverage"] is None
        assert "fwmon coverage (" not in done.stdout
    done, report = fwmon(project, "pyproject.toml::fwmon[coverage]", *xdist)
    checks = {c["nodeid"]: c for c in report["checks"]}
    assert list(checks) == ["pyproject.toml::fwmon[coverage]"], done.stdout
    assert checks["pyproject.toml::fwmon[coverage]"]["outcome"] == "skipped"
    assert report["tests"]["total"] == 0
    assert report["run"]["selection"]["partial"] is True


def test_collect_only_lists_the_coverage_items(project: Path) -> None:
    done = run(project, PYTHON, "-m", "pytest", "-p", "no:cacheprovider", *FWMON, "--co", "-q")
    assert "pyproject.toml::fwmon[coverage]" in done.stdout


@pytest.mark.parametrize(
    "xdist", [pytest.param([], id="serial"), pytest.param(["-n", "2"], id="n2")]
)
def test_stopping_early_is_a_partial_run(project: Path, xdist: list[str]) -> None:
    (project / "tests" / "test_fails.py").write_text("def test_fails():\n    assert False\n")
    cmd = [PYTHON, "-m", "pytest", "-p", "no:cacheprovider", *FWMON, "-x", *xdist]
    done = run(project, *cmd, check=False)
    assert done.returncode in (1, 2), done.stdout  # xdist reports -x as interrupted
    report = json.loads((project / ".fwmon" / "report.json").read_text(encoding="utf-8"))
    assert report["run"]["selection"]["partial"] is True, done.stdout
    assert any(r.startswith("stopped early") for r in report["run"]["selection"]["reasons"])
    for check in report["checks"]:
        if check["checker"] == "coverage":
            assert check["outcome"] == "skipped"
