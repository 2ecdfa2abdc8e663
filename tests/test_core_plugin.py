"""End-to-end tests of ``pytest --fwmon`` on the fixture project, with and without xdist."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

import pytest_fwmon.example
from pytest_fwmon.core.cache import CACHE_FORMAT
from tests.reportcheck import (
    LOADGROUP_PINS,
    copy_project,
    normalised,
    perf_outcome,
    read_report,
    without_times,
)

EXAMPLE = Path(pytest_fwmon.example.__file__).parent / "project"
STATIC = ["--fwmon", "--fwmon-pipelines", "security,docs", "-p", "no:cacheprovider"]


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    copy_project("core_project", pytester.path)
    return pytester


@pytest.fixture(params=[pytest.param([], id="serial"), pytest.param(["-n", "2"], id="xdist")])
def mode(request: pytest.FixtureRequest) -> list[str]:
    args: list[str] = request.param
    return args


def report_of(pytester: pytest.Pytester) -> dict:  # type: ignore[type-arg]
    return read_report(pytester.path / ".fwmon" / "report.json")


def outcomes(report: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {c["nodeid"]: c["outcome"] for c in report["checks"]}


def test_items_pass_and_fail_as_the_findings_say(project: pytest.Pytester, mode: list[str]) -> None:
    result = project.runpytest(*STATIC, *mode)
    result.assert_outcomes(passed=7, failed=3)
    report = report_of(project)
    assert outcomes(report) == {
        "pyproject.toml::fwmon[docstring-accuracy]": "failed",
        "pyproject.toml::fwmon[docstring-coverage]": "passed",
        "src/corepkg/__init__.py::fwmon[bandit]": "passed",
        "src/corepkg/__init__.py::fwmon[pydocstyle]": "passed",
        "src/corepkg/clean.py::fwmon[bandit]": "passed",
        "src/corepkg/clean.py::fwmon[pydocstyle]": "passed",
        "src/corepkg/shell.py::fwmon[bandit]": "failed",
        "src/corepkg/shell.py::fwmon[pydocstyle]": "passed",
        "src/corepkg/style.py::fwmon[bandit]": "passed",
        "src/corepkg/style.py::fwmon[pydocstyle]": "failed",
    }
    assert report["pipelines"]["security"]["status"] == "fail"
    assert report["pipelines"]["docs"]["status"] == "fail"
    assert report["pipelines"]["quality"]["status"] == "not-run"
    assert report["pipelines"]["security"]["counts"] == {
        "critical": 0,
        "high": 1,
        "medium": 0,
        "low": 3,
        "info": 0,
    }


def test_every_finding_is_in_the_report_whatever_the_threshold(project: pytest.Pytester) -> None:
    project.runpytest(*STATIC)
    report = report_of(project)
    shell = next(
        c for c in report["checks"] if c["nodeid"] == "src/corepkg/shell.py::fwmon[bandit]"
    )
    found = sorted(
        (f["rule"], f["line"], f["severity"], f["confidence"], f["cwe"]) for f in shell["findings"]
    )
    assert found == [
        ("B101", 13, "low", "high", 703),
        ("B105", 14, "low", "medium", 259),
        ("B404", 3, "low", "high", 78),
        ("B602", 8, "high", "high", 78),
    ]
    fingerprints = [f["fingerprint"] for c in report["checks"] for f in c["findings"]]
    assert len(set(fingerprints)) == len(fingerprints)


def test_failure_shows_a_compact_table_pointing_at_the_file(project: pytest.Pytester) -> None:
    result = project.runpytest(*STATIC)
    result.stdout.fnmatch_lines(
        [
            "*_ fwmon[[]bandit[]] _*",
            "bandit: 1 finding(s) at or above medium severity and medium confidence in "
            "src/corepkg/shell.py",
            "  rule  line  severity  confidence  message",
            "  B602     8  high      high        subprocess call with shell=True identified, "
            "security issue. [CWE-78]",
            "  (3 more finding(s) below the threshold are in the report)",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "  DOC103  src/corepkg/style.py:13  medium    high        documented parameter `factr` "
            "looks like a misspelling of `factor` (function `scale`)",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    result.stdout.fnmatch_lines(["FAILED src/corepkg/shell.py::fwmon[[]bandit[]] - *"])


def test_thresholds_come_from_configuration(project: pytest.Pytester) -> None:
    result = project.runpytest(
        *STATIC, "--fwmon-option", "security.fail_on_severity=low", "-k", "bandit"
    )
    result.assert_outcomes(failed=1, passed=3)
    result = project.runpytest(
        *STATIC, "--fwmon-option", "security.fail_on_severity=critical", "-k", "bandit"
    )
    result.assert_outcomes(passed=4)


def test_cached_results_replay_the_same_outcome(project: pytest.Pytester, mode: list[str]) -> None:
    project.runpytest(*STATIC, *mode).assert_outcomes(passed=7, failed=3)
    first = report_of(project)
    assert not any(c["cached"] for c in first["checks"])
    result = project.runpytest(*STATIC, *mode)
    result.assert_outcomes(passed=7, failed=3)
    second = report_of(project)
    assert all(c["cached"] for c in second["checks"])
    assert normalised(first) == normalised(second)
    assert "skipped" not in result.stdout.str()


def _analysis_keys(project: pytest.Pytester) -> dict[str, str]:
    entries = json.loads((project.path / ".fwmon/cache/results.json").read_text())["entries"]
    return {e["path"]: key for key, e in entries.items() if e["checker"] == "analysis:docstrings"}


def test_changed_file_is_recomputed_and_others_replayed(project: pytest.Pytester) -> None:
    project.runpytest(*STATIC)
    analyses = _analysis_keys(project)
    assert sorted(analyses) == [
        "src/corepkg/__init__.py",
        "src/corepkg/clean.py",
        "src/corepkg/shell.py",
        "src/corepkg/style.py",
    ]
    style = project.path / "src/corepkg/style.py"
    style.write_text(
        style.read_text().replace(
            "def undocumented(value):\n", 'def undocumented(value):\n    """Now documented."""\n'
        )
    )
    project.runpytest(*STATIC).assert_outcomes(passed=8, failed=2)
    cached = {c["nodeid"]: c["cached"] for c in report_of(project)["checks"]}
    assert cached["src/corepkg/style.py::fwmon[pydocstyle]"] is False
    assert cached["src/corepkg/shell.py::fwmon[bandit]"] is True
    assert cached["pyproject.toml::fwmon[docstring-coverage]"] is False
    # the docstring items re-analysed the changed file only: the others' analyses are kept
    changed = {path for path, key in _analysis_keys(project).items() if analyses[path] != key}
    assert changed == {"src/corepkg/style.py"}


def test_project_items_run_after_the_file_items(project: pytest.Pytester) -> None:
    result = project.runpytest(*STATIC, "--collect-only", "-q")
    nodeids = [line for line in result.outlines if "::fwmon[" in line]
    assert len(nodeids) == 10
    assert nodeids[-2:] == [
        "pyproject.toml::fwmon[docstring-coverage]",
        "pyproject.toml::fwmon[docstring-accuracy]",
    ]


def test_no_cache_option_recomputes(project: pytest.Pytester) -> None:
    project.runpytest(*STATIC)
    project.runpytest(*STATIC, "--fwmon-no-cache")
    assert not any(c["cached"] for c in report_of(project)["checks"])


def test_corrupt_cache_is_recomputed_with_a_message(project: pytest.Pytester) -> None:
    project.runpytest(*STATIC)
    cache = project.path / ".fwmon/cache/results.json"
    cache.write_text('{"format": 1, "entries": {tru')
    result = project.runpytest(*STATIC)
    result.assert_outcomes(passed=7, failed=3)
    result.stdout.fnmatch_lines(["fwmon cache */results.json is corrupt; recomputing every result"])
    assert not any(c["cached"] for c in report_of(project)["checks"])
    assert json.loads(cache.read_text())["format"] == CACHE_FORMAT


def test_corrupt_cache_entry_is_recomputed(project: pytest.Pytester) -> None:
    project.runpytest(*STATIC)
    cache = project.path / ".fwmon/cache/results.json"
    data = json.loads(cache.read_text())
    for entry in data["entries"].values():
        entry["value"] = {"findings": [{"bogus": 1}]} if "findings" in entry["value"] else 7
    cache.write_text(json.dumps(data))
    result = project.runpytest(*STATIC)
    result.assert_outcomes(passed=7, failed=3)
    result.stdout.fnmatch_lines(["fwmon cache entry * is corrupt; recomputed"])


def test_syntax_error_errors_its_items_and_the_run_goes_on(
    project: pytest.Pytester, mode: list[str]
) -> None:
    (project.path / "src/corepkg/broken.py").write_text('"""Broken."""\ndef oops(:\n    pass\n')
    result = project.runpytest(*STATIC, *mode)
    result.assert_outcomes(passed=7, failed=3, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*bandit could not analyse src/corepkg/broken.py: syntax error while parsing AST *",
            "*pydocstyle could not parse src/corepkg/broken.py: *",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    report = report_of(project)
    broken = [c for c in report["checks"] if c["path"] == "src/corepkg/broken.py"]
    assert {c["outcome"] for c in broken} == {"error"}
    assert all(c["reason"] for c in broken)
    assert report["pipelines"]["security"]["status"] == "error"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        pytest.param(
            "[tool.fwmon]\ncolour = 1\n",
            "fwmon: unknown key [tool.fwmon] colour; valid keys: baseline, cache, cache_dir, "
            "exclude, freeze_gc, history_url, paths, pipelines, record_history, report, workers",
            id="unknown-top-key",
        ),
        pytest.param(
            "[tool.fwmon.security]\nfail_on_severity = 'severe'\n",
            "fwmon: [tool.fwmon.security] fail_on_severity has invalid value 'severe'; "
            "valid choices: critical, high, medium, low, info",
            id="bad-choice",
        ),
        pytest.param(
            "[tool.fwmon.docs]\nmin_coverage = 140\n",
            "fwmon: [tool.fwmon.docs] min_coverage must be at most 100, got 140",
            id="out-of-range",
        ),
        pytest.param(
            "[tool.fwmon.lint]\nx = 1\n",
            "fwmon: unknown section [tool.fwmon.lint]; valid sections: alerts, dashboard, docs, "
            "gate, history, integration, kpis, perf, quality, security, slo",
            id="unknown-section",
        ),
    ],
)
def test_bad_configuration_is_a_usage_error(
    pytester: pytest.Pytester, toml: str, message: str
) -> None:
    pytester.makefile(".toml", pyproject='[project]\nname = "x"\n' + toml)
    pytester.makepyfile(x='"""X."""\n')
    result = pytester.runpytest("--fwmon")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_bad_command_line_values_are_usage_errors(project: pytest.Pytester) -> None:
    result = project.runpytest("--fwmon", "--fwmon-pipelines", "security,speed")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --fwmon-pipelines: unknown pipeline speed; valid pipelines: security, docs, "
            "quality, performance, integration"
        ]
    )
    result = project.runpytest("--fwmon", "--fwmon-option", "security.level=high")
    result.stderr.fnmatch_lines(
        [
            "ERROR: fwmon: unknown key [tool.fwmon.security] level; valid keys: backend, "
            "fail_on_confidence, fail_on_severity, secrets"
        ]
    )


def test_unwritable_report_path_is_a_usage_error(project: pytest.Pytester) -> None:
    (project.path / "afile").write_text("x")
    result = project.runpytest(*STATIC, "--fwmon-report", "afile/report.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: fwmon: cannot create the report folder */afile: * "
            "(choose another path with --fwmon-report)"
        ]
    )
    result = project.runpytest(*STATIC, "--fwmon-report", "src")
    result.stderr.fnmatch_lines(
        [
            "ERROR: fwmon: cannot write the report to */src: not writable "
            "(choose another path with --fwmon-report)"
        ]
    )


def test_xdist_gives_the_same_report_as_serial(project: pytest.Pytester) -> None:
    project.makepyfile(test_mod="def test_ok():\n    pass\n\ndef test_bad():\n    assert 0\n")
    project.runpytest(*STATIC, "--fwmon-no-cache")
    serial = report_of(project)
    project.runpytest(*STATIC, "--fwmon-no-cache", "-n", "2")
    parallel = report_of(project)
    assert parallel["run"]["xdist_workers"] == 2
    assert serial["run"]["xdist_workers"] == 0
    assert normalised(serial) == normalised(parallel)
    assert serial["tests"]["total"] == 2 and serial["tests"]["failed"] == 1


@pytest.mark.slow  # two runs of every pipeline on the example project
def test_xdist_gives_the_same_report_as_serial_for_every_pipeline(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Security, docs, quality with coverage, integration and performance: ``-n 2`` under
    ``--dist loadgroup`` (the documented way to pin perf tests to one worker) writes the report
    a serial run writes, up to measured times and the perf engine's figures. Where xdist
    cannot apply the pin (pytest >= 9.2), perf tests are reported not-run, as documented."""
    shutil.copytree(EXAMPLE, pytester.path, dirs_exist_ok=True)
    pyproject = pytester.path / "pyproject.toml"
    text = pyproject.read_text()
    assert 'pythonpath = ["src"]' in text  # the example runs with a plain `pytest --fwmon`
    pyproject.write_text(text + '\n[tool.coverage.run]\nsource = ["demoapp"]\n')
    src = str(pytester.path / "src")
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    )
    # under an outer `pytest -n`, pytest-benchmark in the inner run would see the outer
    # worker's variables and disable itself: the perf test would not be measured
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
    args = ["--fwmon", "--fwmon-no-cache", "-p", "no:cacheprovider"]
    # in subprocesses: coverage's C tracer cannot start twice in one interpreter
    serial_run = pytester.runpytest_subprocess(*args)
    counts = serial_run.parseoutcomes()
    # the one failure is the example's new B602 finding; no error, nothing skipped
    assert counts.get("failed") == 1 and "errors" not in counts and "skipped" not in counts
    serial_run.stdout.fnmatch_lines(["FAILED src/demoapp/api.py::fwmon[[]bandit[]]*"])
    passed = counts["passed"]
    serial = report_of(pytester)
    parallel_run = pytester.runpytest_subprocess(*args, "-n", "2", "--dist", "loadgroup", "-rs")
    parallel = report_of(pytester)
    assert parallel["run"]["xdist_workers"] == 2 and serial["run"]["xdist_workers"] == 0
    pipelines = {"security", "docs", "quality", "integration", "performance"}
    assert {k for k, v in serial["pipelines"].items() if v["status"] != "not-run"} == pipelines
    assert serial["coverage"]["covered_lines"] > 0
    assert {c["checker"] for c in serial["checks"]} >= {"coverage", "commands", "import-health"}
    assert [b["verdict"] for b in serial["benchmarks"]] == ["passed"]
    one, two = without_times(normalised(serial)), without_times(normalised(parallel))
    if LOADGROUP_PINS:
        parallel_run.assert_outcomes(passed=passed, failed=1)
        assert [b["engine"] for b in parallel["benchmarks"]] == ["fwmon"]
    else:  # the performance pipeline is not-run, never a silent pass
        parallel_run.assert_outcomes(passed=passed - 1, failed=1, skipped=1)
        parallel_run.stdout.fnmatch_lines(["*perf not run: xdist did not apply the xdist_group*"])
        assert parallel["pipelines"]["performance"]["status"] == "not-run"
        assert [b["verdict"] for b in parallel["benchmarks"]] == ["not-run"]
        perf_items = {"tests/test_api.py::test_get_is_fast"}
        for doc in (one, two):
            del doc["pipelines"]["performance"], doc["tests"]
            doc["checks"] = [c for c in doc["checks"] if c["nodeid"] not in perf_items]
            results = doc.get("test_results", [])
            doc["test_results"] = [r for r in results if r["nodeid"] not in perf_items]
            doc["benchmarks"] = []
    assert [perf_outcome(b) for b in one.pop("benchmarks")] == [
        perf_outcome(b) for b in two.pop("benchmarks")
    ]
    assert one == two


def test_ordinary_tests_are_summarised(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_things="""
        import pytest

        def test_pass(): pass
        def test_fail(): assert 0
        @pytest.mark.skip(reason="no")
        def test_skip(): pass
        @pytest.mark.xfail(strict=False)
        def test_xfail(): assert 0
        @pytest.mark.xfail(strict=False)
        def test_xpass(): pass
        @pytest.fixture
        def broken(): raise RuntimeError
        def test_error(broken): pass
        """
    )
    project.runpytest(*STATIC)
    tests = report_of(project)["tests"]
    assert {k: v for k, v in tests.items() if k != "duration"} == {
        "total": 6,
        "passed": 1,
        "failed": 1,
        "errors": 1,
        "skipped": 1,
        "xfailed": 1,
        "xpassed": 1,
        "flaky": 0,
        "exitstatus": 1,
        "exitstatus_note": None,
    }


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["-m", "fwmon_security"], 4, id="marker"),
        pytest.param(["-m", "not fwmon"], 0, id="not-fwmon"),
        pytest.param(["--fwmon-pipelines", "security"], 4, id="pipelines"),
        pytest.param(["-k", "shell"], 2, id="keyword"),
        pytest.param(["src/corepkg/shell.py::fwmon[bandit]"], 1, id="node-id"),
        pytest.param(["src/corepkg/style.py"], 2, id="file-argument"),
    ],
)
def test_selection_works_like_for_any_item(
    project: pytest.Pytester, args: list[str], expected: int
) -> None:
    # one run: the "pipelines" case selects by its own --fwmon-pipelines
    pipelines = [] if args[0] == "--fwmon-pipelines" else ["--fwmon-pipelines", "security,docs"]
    result = project.runpytest("--fwmon", *pipelines, *args)
    counts = result.parseoutcomes()
    ran = counts.get("passed", 0) + counts.get("failed", 0) + counts.get("errors", 0)
    assert ran == expected


def test_last_failed_reruns_only_failed_items(project: pytest.Pytester) -> None:
    project.runpytest("--fwmon", "--fwmon-pipelines", "security,docs")
    result = project.runpytest("--fwmon", "--fwmon-pipelines", "security,docs", "--lf")
    result.assert_outcomes(failed=3)


def test_plugins_can_update_the_report(project: pytest.Pytester) -> None:
    project.makeconftest(
        """
        def pytest_fwmon_update_report(config, report):
            report["extensions"]["myplugin"] = {"answer": 42}
        """
    )
    project.runpytest(*STATIC)
    assert report_of(project)["extensions"]["myplugin"] == {"answer": 42}


def test_plugins_listening_for_payloads_get_every_one(
    project: pytest.Pytester, mode: list[str]
) -> None:
    """With a second pytest_fwmon_payload implementation fwmon dispatches through the hook
    (alone, it stores its own payloads directly); both must see every check."""
    project.makeconftest(
        """
        import json

        SEEN = []

        def pytest_fwmon_payload(config, kind, data):
            if kind == "check":
                SEEN.append(data["nodeid"])

        def pytest_fwmon_update_report(config, report):
            report["extensions"]["seen"] = sorted(SEEN)
        """
    )
    project.runpytest(*STATIC, *mode).assert_outcomes(passed=7, failed=3)
    report = report_of(project)
    assert report["extensions"]["seen"] == sorted(c["nodeid"] for c in report["checks"])
    assert len(report["checks"]) == 10


def test_a_plugin_that_breaks_the_schema_gets_a_clear_message(project: pytest.Pytester) -> None:
    project.makeconftest(
        """
        def pytest_fwmon_update_report(config, report):
            report["tests"]["total"] = "many"
        """
    )
    result = project.runpytest(*STATIC)
    result.stdout.fnmatch_lines(
        [
            "fwmon: the report does not match its schema at $.tests.total: expected integer, got a "
            "string; not written",
        ]
    )
    assert not (project.path / ".fwmon/report.json").exists()


def test_report_metadata(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/widgets")
    monkeypatch.setenv("GITHUB_RUN_ID", "1234")
    monkeypatch.setenv("GITHUB_REF", "refs/pull/7/merge")
    monkeypatch.setenv("GITHUB_HEAD_REF", "feature")
    monkeypatch.setenv("SECRET_TOKEN", "s3cr3t-value")
    project.runpytest(*STATIC, "--fwmon-report", "out/custom.json")
    report = read_report(project.path / "out/custom.json")
    run = report["run"]
    assert run["ci"]["provider"] == "github-actions"
    assert run["ci"]["run_url"] == "https://github.com/acme/widgets/actions/runs/1234"
    assert run["ci"]["pull_request"] == "7"
    assert run["project"] == "corepkg"
    assert run["versions"]["bandit"] and run["versions"]["pytest"] == pytest.__version__
    assert run["selected_pipelines"] == ["security", "docs"]
    assert len(run["machine"]["fingerprint"]) == 16
    assert "s3cr3t-value" not in (project.path / "out/custom.json").read_text()


def test_scorecard_in_terminal_summary(project: pytest.Pytester) -> None:
    result = project.runpytest(*STATIC)
    result.stdout.fnmatch_lines(
        [
            "*fwmon scorecard*",
            "pipeline     items  crit  high   med   low  info  score  status",
            "security         4     0     1     0     3     0   33.0  fail",
            "docs             6     0     0     2     2     0   84.7  fail",
            "quality          -     0     0     0     0     0      -  not-run",
            "report: .fwmon/report.json",
        ]
    )


def test_without_fwmon_nothing_is_added(project: pytest.Pytester) -> None:
    project.makepyfile(test_one="def test_one():\n    pass\n")
    result = project.runpytest()
    result.assert_outcomes(passed=1)
    assert not (project.path / ".fwmon").exists()


def test_bandit_configuration_is_honoured(project: pytest.Pytester) -> None:
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.bandit]\nskips = ["B602", "B404"]\n')
    (project.path / "src/corepkg/nosec.py").write_text(
        '"""Nosec."""\nimport pickle  # nosec B403\n\n\ndef load(data: bytes) -> object:\n'
        '    """Load."""\n    return pickle.loads(data)\n'
    )
    project.runpytest(*STATIC)
    report = report_of(project)
    rules = sorted(
        f["rule"] for c in report["checks"] if c["checker"] == "bandit" for f in c["findings"]
    )
    assert rules == ["B101", "B105", "B301"]


def test_pydocstyle_configuration_is_honoured(project: pytest.Pytester) -> None:
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + '\n[tool.pydocstyle]\nconvention = "google"\nadd-ignore = "D103"\n'
    )
    project.runpytest(*STATIC)
    report = report_of(project)
    rules = sorted(
        f["rule"] for c in report["checks"] if c["checker"] == "pydocstyle" for f in c["findings"]
    )
    assert "D103" not in rules


def test_paths_and_exclude_override_discovery(project: pytest.Pytester) -> None:
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[tool.fwmon.docs]",
            '[tool.fwmon]\npaths = ["src"]\nexclude = ["*/shell.py"]\n\n[tool.fwmon.docs]',
        )
    )
    project.runpytest(*STATIC)
    paths = {c["path"] for c in report_of(project)["checks"]}
    assert paths == {
        None,
        "src/corepkg/__init__.py",
        "src/corepkg/clean.py",
        "src/corepkg/style.py",
    }


def test_default_discovery_leaves_tests_and_venvs_out(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", pyproject='[project]\nname = "flat"\n')
    for rel in [
        "flat/__init__.py",
        "flat/core.py",
        "tests/test_core.py",
        ".venv/lib/x.py",
        "build/lib/flat/core.py",
        "docs/conf.py",
        "flat/tests/helper.py",
    ]:
        path = pytester.path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('"""M."""\n')
    pytester.runpytest("--fwmon", "--fwmon-pipelines", "security", "-p", "no:cacheprovider")
    report = read_report(pytester.path / ".fwmon/report.json")
    # the secrets checker also reads the configuration files of the root
    assert {c["path"] for c in report["checks"]} == {
        "flat/__init__.py",
        "flat/core.py",
        "pyproject.toml",
    }


def test_runs_with_pytest_cacheprovider_disabled(project: pytest.Pytester) -> None:
    result = project.runpytest("--fwmon", "--fwmon-pipelines", "security", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=1)
    assert not (project.path / ".pytest_cache").exists()
    assert (Path(project.path) / ".fwmon/cache/results.json").exists()


def test_source_is_never_imported(pytester: pytest.Pytester) -> None:
    """Static items neither need nor trigger an import of the project (pytest's Package
    setup and its import of file arguments as test modules are both avoided)."""
    pytester.makefile(".toml", pyproject='[project]\nname = "needsdep"\n')
    package = pytester.mkpydir("needsdep")
    (package / "__init__.py").write_text('"""P."""\nimport not_installed_dependency\n')
    (package / "mod.py").write_text('"""M."""\nraise SystemExit("imported!")\n')
    args = ["--fwmon", "--fwmon-pipelines", "security", "-p", "no:cacheprovider"]
    # bandit and secrets on both modules, secrets on pyproject.toml
    pytester.runpytest(*args).assert_outcomes(passed=5)
    pytester.runpytest(*args, "needsdep/mod.py::fwmon[bandit]").assert_outcomes(passed=1)
    pytester.runpytest(*args, "needsdep/mod.py").assert_outcomes(passed=2)


def test_alerts_option_evaluates_after_the_run_is_stored(project: pytest.Pytester) -> None:
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + '\n[tool.fwmon.alerts.channels.digest]\ntype = "file"\npath = ".fwmon/alerts.log"\n'
    )
    result = project.runpytest(*STATIC, "--fwmon-alerts")
    result.stdout.fnmatch_lines(
        [
            "fwmon alerts: run * (corepkg *): 1 firing, 0 pending",
            "  SecurityHighFindings *: firing",
        ]
    )
    assert (project.path / ".fwmon/history.db").exists()


def test_project_items_are_added_when_pytest_walks_only_the_tests(
    project: pytest.Pytester,
) -> None:
    """With testpaths = ["tests"], pytest lists pyproject.toml on its way and drops it."""
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + '\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
    )
    project.mkdir("tests")
    (project.path / "tests" / "test_one.py").write_text("def test_one():\n    pass\n")
    result = project.runpytest(*STATIC)
    result.assert_outcomes(passed=8, failed=3)
    nodeids = {c["nodeid"] for c in report_of(project)["checks"]}
    assert "pyproject.toml::fwmon[docstring-coverage]" in nodeids


def test_owned_sections_can_be_overridden_on_the_command_line(project: pytest.Pytester) -> None:
    result = project.runpytest("--fwmon", "--fwmon-option", "quality.no_such_key=1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: fwmon: unknown key [[]tool.fwmon.quality[]] no_such_key; *"]
    )


def test_a_skipped_fwmon_item_is_reported_at_its_own_place(
    pytester: pytest.Pytester, mode: list[str]
) -> None:
    """``-rs`` names the item's file, not the line inside fwmon that called pytest.skip()."""
    pytester.makepyprojecttoml('[project]\nname = "nothing-here"\nversion = "0"\n')
    args = ["--fwmon", "--fwmon-pipelines", "integration", "--fwmon-no-history", "-rs"]
    result = pytester.runpytest_subprocess(*args, "-p", "no:cacheprovider", *mode)
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]1[]] pyproject.toml:1: no package found: set [[]tool.fwmon.integration[]] "
            "packages",
        ]
    )
    assert "pytest_fwmon" not in result.stdout.str()


@pytest.mark.parametrize(("option", "frozen"), [([], True), (["freeze_gc=false"], False)])
def test_collection_objects_are_frozen_unless_configured_not_to(
    pytester: pytest.Pytester, option: list[str], frozen: bool
) -> None:
    """``gc.freeze()`` when the run starts (a fresh process: freezing is for good)."""
    pytester.makepyprojecttoml('[project]\nname = "x"\nversion = "0"\n')
    pytester.makepyfile(
        test_gc="import gc\n\ndef test_frozen():\n    print('FROZEN', gc.get_freeze_count())\n"
    )
    args = ["--fwmon", "--fwmon-pipelines", "performance", "--fwmon-no-history", "-s"]
    args += [f"--fwmon-option={o}" for o in option]
    result = pytester.runpytest_subprocess(*args, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    found = re.search(r"FROZEN (\d+)", result.stdout.str())
    assert found is not None
    assert (int(found.group(1)) > 1000) is frozen


def test_first_run_without_baseline_ends_with_the_adoption_command(
    project: pytest.Pytester,
) -> None:
    """Items fail on findings the code already has: the summary says how to record them; once
    recorded, the same run passes and the hint is gone."""
    result = project.runpytest(*STATIC, "--fwmon-no-history")
    result.assert_outcomes(passed=7, failed=3)
    result.stdout.fnmatch_lines(
        [
            "fwmon: 3 item(s) failed on * finding(s) the code already has: there is no "
            "baseline yet. To adopt fwmon on this project, record them:",
            "    fwmon baseline write .fwmon/report.json -o fwmon-baseline.json",
            "  then commit the baseline: * `fwmon gate` blocks only findings that are not in it*",
        ]
    )
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "pytest_fwmon.cli", "baseline", "write", ".fwmon/report.json"],
        cwd=project.path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = project.runpytest(*STATIC, "--fwmon-no-history")
    result.assert_outcomes(passed=10)
    assert "no baseline yet" not in result.stdout.str()


def test_a_missing_explicit_baseline_is_a_usage_error_that_names_the_plugin_option(
    project: pytest.Pytester,
) -> None:
    result = project.runpytest(*STATIC, "--fwmon-no-history", "--fwmon-baseline", "none.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        f"fwmon: baseline {project.path / 'none.json'} not found "
        "(write one, or leave out --fwmon-baseline)"
    ) in result.stderr.str()
