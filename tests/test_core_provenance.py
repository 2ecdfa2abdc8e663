"""The report tells the same story as pytest: exit status, completion, commit, skipped
pipelines, skip locations and file names that are not plain text (issues 13.1 and 21)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.core.errors import EXIT_BLOCKED, EXIT_OK, EXIT_REPORT, ReportError
from pytest_fwmon.core.files import escape_name
from pytest_fwmon.core.model import CheckResult
from pytest_fwmon.core.report import load_report, parse_report
from pytest_fwmon.core.scoring import summarise_pipelines
from pytest_fwmon.gate import cli, run_gate
from pytest_fwmon.gate.provenance import check_provenance
from tests.reportcheck import copy_project, read_report
from tests.test_gate_cli import git
from tests.test_gate_support import make_report

MODES = [pytest.param([], id="serial"), pytest.param(["-n", "2"], id="xdist")]
STATIC = ["--fwmon", "--fwmon-pipelines", "security,docs", "-p", "no:cacheprovider"]

#: A benchmark whose speed the environment sets, so a second run can regress.
BENCH = """
import os, time

def work():
    time.sleep(float(os.environ["BENCH_SLEEP"]))

def test_work(benchmark):
    benchmark.pedantic(work, rounds=5, iterations=1)
"""


#: A policy holding only the presets' condition on pytest's exit status.
FINISHED_POLICY = """
version = 1
required_pipelines = []

[[conditions]]
id = "pytest-finished"
metric = "tests.exitstatus"
op = "le"
threshold = 1
"""


@pytest.fixture(autouse=True)
def not_an_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner runs must not look like xdist workers when this suite itself runs under -n
    (pytest-benchmark disables itself there)."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    copy_project("core_project", pytester.path)
    return pytester


def report_of(pytester: pytest.Pytester) -> dict[str, Any]:
    return read_report(pytester.path / ".fwmon" / "report.json")


# -- pytest's exit status -----------------------------------------------------------------


def test_compare_fail_regression_report_and_exit_code_agree(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest-benchmark raises its regression in the terminal summary, after fwmon's
    sessionfinish: the report must not say 0 while the process exits 1."""
    pytester.makepyfile(test_bench=BENCH)
    args = [*STATIC, "--fwmon-no-history"]
    monkeypatch.setenv("BENCH_SLEEP", "0.001")
    saved = pytester.runpytest_subprocess(*args, "--benchmark-autosave")
    assert saved.ret == 0
    report = report_of(pytester)
    assert (report["tests"]["exitstatus"], report["tests"]["exitstatus_note"]) == (0, None)
    monkeypatch.setenv("BENCH_SLEEP", "0.05")
    slow = pytester.runpytest_subprocess(
        *args, "--benchmark-compare", "--benchmark-compare-fail=mean:5%"
    )
    assert slow.ret == 1  # the PerformanceRegression traceback
    slow.stderr.fnmatch_lines(["*PerformanceRegression*"])
    report = report_of(pytester)
    assert report["tests"]["passed"] == 1 and report["tests"]["failed"] == 0
    assert report["tests"]["exitstatus"] is None
    assert "PerformanceRegression" in report["tests"]["exitstatus_note"]
    assert report["run"]["completed"] is True
    slow.stdout.fnmatch_lines(["fwmon: pytest's exit status: unknown: PerformanceRegression*"])
    # the presets' pytest-finished condition does not pass a run whose outcome is unknown
    (pytester.path / "policy.toml").write_text(FINISHED_POLICY, encoding="utf-8")
    code = cli.main([".fwmon/report.json", "--policy", "policy.toml", "--root", str(pytester.path)])
    assert code == EXIT_BLOCKED


def test_usage_error_after_the_tests_is_exit_status_4(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        def pytest_terminal_summary():
            raise pytest.UsageError("late problem")
        """
    )
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    result = pytester.runpytest_subprocess(*STATIC, "--fwmon-no-history")
    assert result.ret == 4
    report = report_of(pytester)
    assert report["tests"]["exitstatus"] == 4
    assert "UsageError" in report["tests"]["exitstatus_note"]


def test_pytest_exit_in_sessionfinish_is_the_recorded_status(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        def pytest_sessionfinish():
            pytest.exit("enough", returncode=7)
        """
    )
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    result = pytester.runpytest_subprocess(*STATIC, "--fwmon-no-history")
    assert result.ret == 7
    assert report_of(pytester)["tests"]["exitstatus"] == 7


# -- no report from an unfinished run -----------------------------------------------------


def test_a_run_that_dies_leaves_no_report_for_the_gate(project: pytest.Pytester) -> None:
    first = project.runpytest_subprocess(*STATIC, "--fwmon-no-history")
    assert first.ret == 1
    old = (project.path / ".fwmon" / "report.json").read_text(encoding="utf-8")
    project.makeconftest(
        """
        import os

        def pytest_collection_finish():
            os._exit(9)  # a crash: nothing after this runs
        """
    )
    second = project.runpytest_subprocess(*STATIC, "--fwmon-no-history")
    assert second.ret == 9
    assert not (project.path / ".fwmon" / "report.json").exists()
    assert (project.path / ".fwmon" / "report.previous.json").read_text(encoding="utf-8") == old
    code = cli.main([".fwmon/report.json", "--root", str(project.path), "--policy", "legacy"])
    assert code == EXIT_REPORT


def test_a_run_stopped_by_x_is_not_judged(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    result = project.runpytest(*STATIC, "--fwmon-no-history", "-x")
    assert result.ret == 1
    report = report_of(project)
    assert report["run"]["completed"] is False
    assert "later items did not run" in report["run"]["stopped"]
    code = cli.main([".fwmon/report.json", "--root", str(project.path), "--policy", "legacy"])
    assert code == EXIT_REPORT
    assert "is from a run that did not complete: stopping after 1 failures" in (
        capsys.readouterr().err
    )


# -- file names that are not plain text ---------------------------------------------------


@pytest.mark.parametrize(
    "mode", [pytest.param([], id="serial"), pytest.param(["-n", "2"], id="xdist")]
)
def test_file_names_not_utf8_newline_control_are_checked_and_escaped(
    project: pytest.Pytester, mode: list[str]
) -> None:
    package = project.path / "src" / "corepkg"
    names = {
        os.fsencode(package) + b"/bad\xff.py": "src/corepkg/bad\\xff.py",
        os.fsencode(package / "new\nline.py"): "src/corepkg/new\\nline.py",
        os.fsencode(package / "ctl\x1b[31m.py"): "src/corepkg/ctl\\x1b[31m.py",
    }
    for raw in names:
        with open(raw, "wb") as fh:
            fh.write(b"import subprocess\nsubprocess.Popen(input(), shell=True)\n")
    result = project.runpytest(*STATIC, "--fwmon-no-history", *mode)
    assert "Traceback" not in result.stdout.str() and "UnicodeEncodeError" not in (
        result.stdout.str()
    )
    raw = (project.path / ".fwmon" / "report.json").read_bytes()
    raw.decode("utf-8")  # valid UTF-8 throughout
    report = read_report(project.path / ".fwmon" / "report.json")
    assert report["run"]["completed"] is True
    for escaped in names.values():
        checks = {c["checker"]: c for c in report["checks"] if c["path"] == escaped}
        assert set(checks) == {"bandit", "pydocstyle"}, escaped
        assert checks["bandit"]["outcome"] == "failed"  # checked: B602, shell=True
        assert checks["bandit"]["nodeid"] == f"{escaped}::fwmon[bandit]"
        assert {f["path"] for f in checks["bandit"]["findings"]} == {escaped}
    # fwmon's own failure text shows the escaped name, never the raw escape byte
    assert "in src/corepkg/ctl\\x1b[31m.py" in result.stdout.str()
    assert "severity in src/corepkg/ctl\x1b" not in result.stdout.str()


def test_escape_name_is_plain_and_reversible_text() -> None:
    assert escape_name("src/app.py") == "src/app.py"
    assert escape_name("ok/é.py") == "ok/é.py"
    assert escape_name(os.fsdecode(b"bad\xff.py")) == "bad\\xff.py"
    assert escape_name("a\nb\tc\rd\x1b\x7f\x85") == "a\\nb\\tc\\rd\\x1b\\x7f\\x85"
    assert escape_name("back\\slash") == "back\\\\slash"  # so "\\xff" stays distinct
    assert escape_name("\u202eevil\u2028") == "\\u202eevil\\u2028"
    assert escape_name("\ud800") == "\\ud800"


# -- no measurement, no score -------------------------------------------------------------


def test_a_skipped_pipeline_has_no_score_and_says_why() -> None:
    skipped = CheckResult(
        "a.py::fwmon[bandit]",
        "security",
        "bandit",
        "skipped",
        path="a.py",
        loc=10,
        reason="Skipping non-benchmark (--benchmark-only active).",
    )
    summary = summarise_pipelines([skipped], ["security", "docs"])
    assert summary["security"]["status"] == "skipped"
    assert summary["security"]["score"] is None
    assert summary["security"]["reason"] == "Skipping non-benchmark (--benchmark-only active)."
    assert summary["docs"]["score"] is None


def test_benchmark_only_skips_the_checks_without_a_score(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    result = project.runpytest(*STATIC, "--fwmon-no-history", "--benchmark-only")
    report = report_of(project)
    for name in ("security", "docs"):
        pipeline = report["pipelines"][name]
        assert (pipeline["status"], pipeline["score"]) == ("skipped", None)
        assert pipeline["reason"] == "Skipping non-benchmark (--benchmark-only active)."
    result.stdout.re_match_lines([r"security +\d+ .* +- +skipped \(Skipping non-benchmark"])
    code = cli.main([".fwmon/report.json", "--root", str(project.path), "--policy", "default"])
    assert code == EXIT_REPORT
    assert (
        "lacks required pipeline security (status skipped: Skipping non-benchmark "
        "(--benchmark-only active).)" in capsys.readouterr().err
    )


# -- where a skip points, and the progress line -------------------------------------------


def test_perf_skip_under_xdist_points_at_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_p="def test_fast(perf):\n    perf(sum, [1, 2, 3])\n")
    result = pytester.runpytest("-n", "2", "-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED [[]1[]] test_p.py:2: perf not run: *"])
    assert "pytest_fwmon" not in "".join(
        line for line in result.stdout.lines if line.startswith("SKIPPED")
    )


@pytest.mark.parametrize(
    "mode", [pytest.param([], id="serial"), pytest.param(["-n", "2"], id="xdist")]
)
def test_nothing_is_printed_after_100_percent(project: pytest.Pytester, mode: list[str]) -> None:
    result = project.runpytest("--fwmon", "-p", "no:cacheprovider", "--fwmon-no-history", *mode)
    progress = [line for line in result.stdout.lines if re.search(r"\[\s*\d+%\]", line)]
    assert progress and progress[-1].endswith("[100%]"), progress
    assert not any(re.search(r"\[\s*\d+%\]\S", line) for line in progress), progress


# -- the gate's provenance checks ---------------------------------------------------------


def _gate(root: Path, report: dict[str, Any], *argv: str) -> int:
    (root / "report.json").write_text(json.dumps(report), encoding="utf-8")
    return cli.main(
        [
            str(root / "report.json"),
            "--root",
            str(root),
            "--policy",
            "legacy",
            "--no-baseline",
            *argv,
        ]
    )


def test_gate_refuses_a_report_of_another_commit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "one")
    head = git(tmp_path, "rev-parse", "HEAD").strip()
    report = make_report()
    report["run"]["git"]["sha"] = head
    assert _gate(tmp_path, report) == EXIT_OK
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "two")
    capsys.readouterr()
    assert _gate(tmp_path, report) == EXIT_REPORT
    assert f"was written at commit {head[:12]}, but" in capsys.readouterr().err
    assert _gate(tmp_path, report, "--allow-other-commit") == EXIT_OK
    assert "judged anyway (--allow-other-commit)" in capsys.readouterr().out
    report["run"]["git"]["sha"] = None
    assert _gate(tmp_path, report) == EXIT_REPORT
    assert "records no commit" in capsys.readouterr().err


def test_outside_a_git_work_tree_the_commit_is_noted(tmp_path: Path) -> None:
    notes = check_provenance(make_report(), "r.json", tmp_path)
    assert notes == [
        f"report commit not checked: {tmp_path} is not a git work tree (or git is missing)"
    ]


@pytest.mark.parametrize(
    ("run", "message"),
    [
        pytest.param(
            {"completed": False, "stopped": "interrupted (...)"},
            "is from a run that did not complete: interrupted (...)",
            id="incomplete",
        ),
        pytest.param(
            {"completed": None, "stopped": None},
            "does not say whether its run completed",
            id="unknown",
        ),
    ],
)
def test_gate_refuses_a_run_that_did_not_complete(
    tmp_path: Path, run: dict[str, Any], message: str
) -> None:
    report = make_report()
    report["run"].update(run)
    with pytest.raises(ReportError, match=re.escape(message)):
        check_provenance(report, "r.json", tmp_path)


def test_a_version_1_report_is_read_and_refused_by_the_gate(tmp_path: Path) -> None:
    report = make_report(statuses={"performance": "skipped"})
    report["schema_version"] = 1
    for key in ("completed", "stopped"):
        del report["run"][key]
    del report["tests"]["exitstatus_note"]
    report["pipelines"]["performance"]["score"] = 100.0  # what version 1 wrote
    path = tmp_path / "old.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    upgraded = load_report(path)  # history import and the dashboard still read it
    assert upgraded["schema_version"] == 2 and upgraded["run"]["completed"] is None
    assert upgraded["pipelines"]["performance"]["score"] is None
    with pytest.raises(ReportError, match="schema_version 1, written by an older fwmon"):
        run_gate(path, "legacy", root=tmp_path, use_default_baseline=False)
    with pytest.raises(ReportError, match="this fwmon reads versions 1, 2"):
        parse_report(json.dumps(dict(report, schema_version=3)))


@pytest.mark.parametrize(
    ("status", "note", "verdict"),
    [
        pytest.param(0, None, "pass", id="0"),
        pytest.param(1, None, "pass", id="1-judged-by-conditions"),
        pytest.param(4, "UsageError", "blocked", id="4"),
        pytest.param(None, "unknown: PerformanceRegression", "blocked", id="unknown"),
    ],
)
def test_default_preset_judges_pytests_exit_status(
    tmp_path: Path, status: int | None, note: str | None, verdict: str
) -> None:
    report = make_report()
    report["tests"].update(exitstatus=status, exitstatus_note=note)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    result = run_gate(path, "default", root=tmp_path, use_default_baseline=False)
    assert result.verdict == verdict
    finished = next(r for r in result.conditions if r.condition.id == "pytest-finished")
    assert finished.verdict == (
        "pass" if verdict == "pass" else "missing" if status is None else "fail"
    )
    if status is None:
        assert any("pytest's exit status is not known" in n for n in result.notes)


def test_python_m_gate_takes_allow_other_commit(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest_fwmon.gate", "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1])),
    )
    assert "--allow-other-commit" in done.stdout


def test_files_with_the_same_content_keep_their_own_findings(project: pytest.Pytester) -> None:
    package = project.path / "src" / "corepkg"
    for name in ("one.py", "two.py"):
        (package / name).write_text("import subprocess\nsubprocess.Popen(input(), shell=True)\n")
    project.runpytest(*STATIC, "--fwmon-no-history")
    report = report_of(project)
    for name in ("one.py", "two.py"):
        check = next(c for c in report["checks"] if c["nodeid"].endswith(f"{name}::fwmon[bandit]"))
        assert {f["path"] for f in check["findings"]} == {f"src/corepkg/{name}"}


@pytest.mark.parametrize("version", [1, 2])
def test_history_and_dashboard_show_no_score_for_a_skipped_pipeline(
    tmp_path: Path, version: int
) -> None:
    """A skipped pipeline's score stays out of the history and the dashboard, also for runs
    stored from version 1 reports, which gave it a score."""
    from pytest_fwmon.dashboard.data import Dashboard
    from pytest_fwmon.dashboard.sources import ReportSource
    from pytest_fwmon.history import open_store
    from pytest_fwmon.history.metrics import extract

    report = make_report(statuses={"security": "skipped"})
    report["pipelines"]["security"]["score"] = 100.0 if version == 1 else None
    store = open_store(str(tmp_path / "history.db"), tmp_path)
    try:
        store.add_run(report)
    finally:
        store.close()
    assert "pipeline.security.score" not in extract(report)
    assert "pipeline.docs.score" in extract(report)
    rows = Dashboard(ReportSource(report, "r.json")).pipelines(report)
    scores = {row["name"]: row["score"] for row in rows}
    assert scores["security"] is None and scores["docs"] == 90.0
