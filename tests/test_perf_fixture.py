"""The perf fixture and marker end to end, on the fixture projects in tests/data/perf_*."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.core.environment import machine_fingerprint
from pytest_fwmon.core.schema import first_error

DATA = Path(__file__).parent / "data"
PLUGIN = ("-p", "pytest_fwmon.plugin.perf", "-p", "no:cacheprovider")
REPORT = ("--fwmon", "--fwmon-pipelines", "performance", "--fwmon-no-history")


@pytest.fixture(autouse=True)
def not_an_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner runs must not look like xdist workers when this suite itself runs under -n."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)


def copy_project(pytester: pytest.Pytester, name: str) -> Path:
    """Copy tests/data/<name> into the pytester folder."""
    shutil.copytree(DATA / name, pytester.path, dirs_exist_ok=True)
    return pytester.path


def read_report(root: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((root / ".fwmon" / "report.json").read_text())
    assert first_error("report", report) is None
    return report


def by_nodeid(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["nodeid"].split("::")[-1]: e for e in entries}


def test_gate_pass_breach_and_inconclusive(pytester: pytest.Pytester) -> None:
    root = copy_project(pytester, "perf_gates")
    json_out = root / "bench.json"
    result = pytester.runpytest(*PLUGIN, *REPORT, f"--benchmark-json={json_out}")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*perf failed: p95_ms * ms exceeds the limit 0 ms*",
            "metric*limit*measured*95% CI*",
            "p95_ms*0 ms*BREACH*",
            "*perf inconclusive: p999 needs 10000 samples, got *",
        ]
    )
    # nothing raised in the terminal summary: pytest-benchmark's table, then the outcome line
    assert "INTERNALERROR" not in result.stdout.str()
    report = read_report(root)
    benches = by_nodeid(report["benchmarks"])
    assert benches["test_gate_pass"]["verdict"] == "passed"
    assert benches["test_p95_breach"]["verdict"] == "failed"
    assert benches["test_inconclusive"]["verdict"] == "inconclusive"
    passing = benches["test_gate_pass"]
    assert passing["engine"] == "pytest-benchmark"
    assert passing["n"] >= 20 and passing["n"] == passing["stats"]["n"]
    assert {g["metric"] for g in passing["gates"]} == {"p50_ms", "min_ops", "max_mem_mb"}
    assert all(g["passed"] for g in passing["gates"])
    assert passing["p95_ci"][0] <= passing["stats"]["p95"] <= passing["p95_ci"][1]
    assert passing["ops"] > 10 and passing["mem_peak_bytes"] >= 0
    assert passing["baseline"]["status"] == "no-baseline"
    checks = by_nodeid([c for c in report["checks"] if c["pipeline"] == "performance"])
    assert checks["test_gate_pass"]["outcome"] == "passed"
    assert checks["test_p95_breach"]["outcome"] == "failed"
    assert [f["rule"] for f in checks["test_p95_breach"]["findings"]] == ["PERF001"]
    assert checks["test_inconclusive"]["outcome"] == "error"  # inconclusive never passes
    assert [f["rule"] for f in checks["test_inconclusive"]["findings"]] == ["PERF002"]
    perf = report["pipelines"]["performance"]
    assert (perf["status"], perf["passed"], perf["failed"], perf["errors"]) == ("error", 1, 1, 1)
    assert perf["score"] == pytest.approx(33.3)
    # our figures ride along in pytest-benchmark's own JSON
    bench_json = {b["name"]: b for b in json.loads(json_out.read_text())["benchmarks"]}
    assert bench_json["test_gate_pass"]["fwmon"]["verdict"] == "passed"
    assert bench_json["test_gate_pass"]["stats"]["rounds"] == passing["n"]
    assert "samples" not in bench_json["test_gate_pass"]["fwmon"]


def test_perf_runs_without_the_core_report(pytester: pytest.Pytester) -> None:
    copy_project(pytester, "perf_gates")
    result = pytester.runpytest(*PLUGIN, "-k", "pass or breach", "--benchmark-disable")
    # --benchmark-disable: the function runs once, nothing is measured or gated
    result.assert_outcomes(passed=2)


def _write_baseline(root: Path, machine: str, fast: float, slow: float, n: int = 300) -> Path:
    path = root / ".fwmon" / "perf-baseline.json"
    path.parent.mkdir(exist_ok=True)
    entries = {
        "test_base.py::test_fast": {"samples": [fast] * n, "stats": {}},
        "test_base.py::test_slow": {"samples": [slow] * n, "stats": {}},
    }
    doc = {
        "format": "fwmon-perf-baseline",
        "version": 1,
        "machines": {machine: {"benchmarks": entries}},
    }
    path.write_text(json.dumps(doc))
    return path


def test_baseline_regression_and_stale(pytester: pytest.Pytester) -> None:
    root = copy_project(pytester, "perf_baseline")
    # test_fast's baseline is 1 s per call (so it got faster: stale); test_slow's is 100 ns,
    # below what a 0.2 ms sleep can take (a regression)
    _write_baseline(root, machine_fingerprint(), fast=1.0, slow=1e-7)
    result = pytester.runpytest(*PLUGIN, *REPORT)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*perf failed: baseline stale: p95 is *x the baseline, faster than 0.900x*",
            "p95 vs baseline*<= 1.1x*stale*",
            "*perf failed: regression: p95 is *x the baseline (limit 1.100x, Mann-Whitney p=*",
        ]
    )
    report = read_report(root)
    benches = by_nodeid(report["benchmarks"])
    fast, slow = benches["test_fast"]["baseline"], benches["test_slow"]["baseline"]
    assert (fast["status"], slow["status"]) == ("stale", "regression")
    assert fast["ratio"] < 0.9 and slow["ratio"] > 1.1
    assert slow["p_value"] < 0.01 and slow["ci"][0] > 1.1
    checks = by_nodeid(report["checks"])
    assert [f["rule"] for f in checks["test_slow"]["findings"]] == ["PERF003"]
    assert [f["rule"] for f in checks["test_fast"]["findings"]] == ["PERF004"]


def test_stale_baseline_may_be_allowed(pytester: pytest.Pytester) -> None:
    root = copy_project(pytester, "perf_baseline")
    with (root / "pyproject.toml").open("a") as fh:
        fh.write("fail_on_stale = false\n")
    _write_baseline(root, machine_fingerprint(), fast=1.0, slow=1.0)
    pytester.runpytest(*PLUGIN).assert_outcomes(passed=2)


def test_foreign_machine_baseline_is_refused_unless_forced(pytester: pytest.Pytester) -> None:
    root = copy_project(pytester, "perf_baseline")
    _write_baseline(root, "0123456789abcdef", fast=1.0, slow=1e-7)
    result = pytester.runpytest(*PLUGIN, *REPORT)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "fwmon perf: 2 perf test(s) not compared: baseline *perf-baseline.json was recorded "
            "on machine 0123456789abcdef, this machine is *; comparison refused (write a "
            "baseline on this machine with `fwmon perf baseline write`, or pass "
            "--fwmon-perf-force)"
        ]
    )
    report = read_report(root)
    assert {b["baseline"]["status"] for b in report["benchmarks"]} == {"refused"}
    assert {f["rule"] for c in report["checks"] for f in c["findings"]} == {"PERF005"}
    forced = pytester.runpytest(*PLUGIN, "--fwmon-perf-force")
    forced.assert_outcomes(failed=2)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            "{not json",
            "ERROR: fwmon: *bad.json is not a usable perf baseline: invalid JSON at line 1 "
            "column 2 (rewrite it with `fwmon perf baseline write` or delete it)",
            id="corrupt",
        ),
        pytest.param(
            '{"format": "fwmon-perf-baseline", "version": 7, "machines": {}}',
            "ERROR: fwmon: *bad.json is not a usable perf baseline: version 7 is not "
            "supported (1)*",
            id="version",
        ),
        pytest.param(
            '{"hello": 1}',
            "ERROR: fwmon: *bad.json is not a usable perf baseline: it is neither a "
            "fwmon-perf-baseline file nor a fwmon report*",
            id="foreign-file",
        ),
        pytest.param(
            '{"format": "fwmon-perf-baseline", "version": 1, "machines": {"m": {"benchmarks":'
            ' {"t": {"samples": [-1]}}}}}',
            "ERROR: fwmon: *bad.json is not a usable perf baseline: entry 't' has no list of "
            "non-negative 'samples'*",
            id="bad-samples",
        ),
        pytest.param(
            None,
            "ERROR: fwmon: perf baseline *bad.json does not exist (write one with `fwmon perf "
            "baseline write` or fix the path)",
            id="missing",
        ),
    ],
)
def test_unusable_baseline_is_a_usage_error(
    pytester: pytest.Pytester, content: str | None, message: str
) -> None:
    root = copy_project(pytester, "perf_baseline")
    if content is not None:
        (root / "bad.json").write_text(content)
    result = pytester.runpytest(*PLUGIN, "--fwmon-perf-baseline", str(root / "bad.json"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stderr.str()


def test_bad_markers_are_collection_errors(pytester: pytest.Pytester) -> None:
    copy_project(pytester, "perf_badmarker")
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines_random(
        [
            "*test_unknown_metric.py::test_unknown: @pytest.mark.perf has unknown metric or "
            "setting 'p97_ms'; valid metrics: p50_ms, p90_ms, p95_ms, p99_ms, p999_ms, "
            "mean_ms, min_ops, max_mem_mb; valid settings: *",
            "*test_negative_limit.py::test_negative: @pytest.mark.perf p95_ms must not be "
            "negative, got -1 (valid metrics: p50_ms, *)",
            "*test_no_fixture.py::test_without_fixture: @pytest.mark.perf needs the perf "
            "fixture: add a `perf` argument and measure with perf(fn, *args)",
        ]
    )


VALID = (
    "valid metrics: p50_ms, p90_ms, p95_ms, p99_ms, p999_ms, mean_ms, min_ops, max_mem_mb; "
    "valid settings: time_budget, throughput_time, warmup_rounds, min_rounds, max_rounds, "
    "memory, seed, max_regression, max_improvement, alpha, fail_on_stale, confidence, "
    "sample_cap, baseline"
)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        pytest.param(
            "p95 = 1", f"[tool.fwmon.perf] has unknown key 'p95'; {VALID}", id="unknown-key"
        ),
        pytest.param(
            "time_budget = 0",
            "[tool.fwmon.perf] time_budget must be greater than 0, got 0",
            id="zero-budget",
        ),
        pytest.param(
            'max_regression = "ten percent"',
            "[tool.fwmon.perf] max_regression must look like 'p95:10%' "
            "(quantile: percent), got 'ten percent'",
            id="bad-shift",
        ),
        pytest.param(
            'max_regression = "p42:10%"',
            "[tool.fwmon.perf] max_regression has unknown quantile 'p42'; "
            "valid: p50, p90, p95, p99, p999",
            id="bad-quantile",
        ),
        pytest.param(
            "p99_ms = -2",
            "[tool.fwmon.perf] p99_ms must not be negative, got -2 (valid metrics: p50_ms, "
            "p90_ms, p95_ms, p99_ms, p999_ms, mean_ms, min_ops, max_mem_mb)",
            id="negative-default",
        ),
        pytest.param(
            "min_rounds = 2.5",
            "[tool.fwmon.perf] min_rounds must be a whole number, got 2.5",
            id="fractional-rounds",
        ),
        pytest.param(
            "perf = 1",
            "[tool.fwmon.perf] has unknown key 'perf'; " + VALID,
            id="unknown-key-2",
        ),
    ],
)
def test_bad_perf_config_is_a_usage_error(
    pytester: pytest.Pytester, table: str, message: str
) -> None:
    pytester.makefile(".toml", pyproject=f"[tool.fwmon.perf]\n{table}\n")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest(*PLUGIN)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0] == f"ERROR: fwmon: {message}"


def test_a_perf_table_in_dotted_key_form_is_read_too(pytester: pytest.Pytester) -> None:
    """Without --fwmon the perf plugin parses pyproject.toml only when its text mentions
    fwmon (every pytest run with fwmon installed gets here); any TOML form of the table does."""
    pytester.makefile(".toml", pyproject='[tool]\nfwmon = { perf = { "p95" = 1 } }\n')
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest(*PLUGIN)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        result.stderr.lines[0] == f"ERROR: fwmon: [tool.fwmon.perf] has unknown key 'p95'; {VALID}"
    )


def test_config_defaults_apply_and_markers_override_them(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".toml",
        pyproject="[tool.fwmon.perf]\np50_ms = 0\ntime_budget = 0.02\nthroughput_time = 0\n",
    )
    pytester.makepyfile(
        """
        import pytest

        def test_default_gate(perf):
            perf(sum, range(10))

        @pytest.mark.perf(p50_ms=1000)
        def test_marker_wins(perf):
            perf(sum, range(10))
        """
    )
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_default_gate*", "*p50_ms * exceeds the limit 0 ms*"])


def test_perf_fixture_is_used_once_and_marked_tests_must_measure(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.perf(time_budget=0.01, throughput_time=0)
        def test_twice(perf):
            perf(sum, range(3))
            perf(sum, range(3))

        @pytest.mark.perf(p50_ms=5)
        def test_never(perf):
            pass
        """
    )
    result = pytester.runpytest(*PLUGIN)
    # test_never: its call passes, then its teardown errors (pytest counts both)
    result.assert_outcomes(passed=1, failed=1, errors=1)
    result.stdout.fnmatch_lines_random(
        [
            "*RuntimeError: the perf fixture can be called once per test",
            "*@pytest.mark.perf test never called perf(fn): nothing was measured",
        ]
    )


#: pytest-xdist 3.8 groups by rewriting node ids, which pytest >= 9.2 ignores (xdist#1386).
LOADGROUP_PINS = tuple(int(p) for p in pytest.__version__.split(".")[:2]) < (9, 2)


@pytest.mark.slow
def test_xdist_default_load_reports_perf_tests_not_run(pytester: pytest.Pytester) -> None:
    root = copy_project(pytester, "perf_gates")
    result = pytester.runpytest_subprocess(*PLUGIN, *REPORT, "-n", "2", "-rs")
    result.assert_outcomes(skipped=3)
    result.stdout.fnmatch_lines(
        ["*perf not run: perf tests are measured under xdist only with `--dist loadgroup`*"]
    )
    report = read_report(root)
    assert {b["verdict"] for b in report["benchmarks"]} == {"not-run"}
    assert report["pipelines"]["performance"]["status"] == "not-run"
    assert {f["rule"] for c in report["checks"] for f in c["findings"]} == {"PERF006"}


@pytest.mark.slow
def test_xdist_loadgroup_pins_perf_tests_or_reports_them_not_run(
    pytester: pytest.Pytester,
) -> None:
    root = copy_project(pytester, "perf_gates")
    args = (*PLUGIN, *REPORT, "-n", "2", "--dist", "loadgroup", "-rs", "-v")
    result = pytester.runpytest_subprocess(*args)
    report = read_report(root)
    if LOADGROUP_PINS:
        result.assert_outcomes(passed=1, failed=2)
        workers = {line.split("]")[0] for line in result.stdout.lines if line.startswith("[gw")}
        assert len(workers) == 1  # all perf tests on one worker
        assert {b["engine"] for b in report["benchmarks"]} == {"fwmon"}
        assert {b["nodeid"] for b in report["benchmarks"]} == {
            "test_gates.py::test_gate_pass",
            "test_gates.py::test_p95_breach",
            "test_gates.py::test_inconclusive",
        }
    else:  # never a silent pass
        result.assert_outcomes(skipped=3)
        result.stdout.fnmatch_lines(
            ["*perf not run: xdist did not apply the xdist_group pin under --dist loadgroup*"]
        )
        assert {b["verdict"] for b in report["benchmarks"]} == {"not-run"}


def test_resources_without_fwmon_is_a_usage_error(pytester: pytest.Pytester) -> None:
    copy_project(pytester, "perf_resources")
    result = pytester.runpytest(*PLUGIN, "--fwmon-resources")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*fwmon: --fwmon-resources records per-test figures in the fwmon report; add --fwmon*"]
    )
    assert "Traceback" not in result.stderr.str()


_LISTENER = """
SEEN = []

def pytest_fwmon_payload(config, kind, data):
    if kind == "resource":
        SEEN.append([data["nodeid"].split("::")[-1], data["outcome"]])

def pytest_fwmon_update_report(config, report):
    report["extensions"]["seen"] = sorted(SEEN)
"""


@pytest.mark.parametrize("xdist", [False, True], ids=["in-process", "xdist"])
def test_resources_for_every_outcome(pytester: pytest.Pytester, xdist: bool) -> None:
    """In one process the figures are kept as tuples and handed over at the end; on xdist
    workers each record rides on its teardown report. Either way a payload listener sees every
    record, and the controller fills in the outcome."""
    root = copy_project(pytester, "perf_resources")
    pytester.makeconftest(_LISTENER)
    if xdist:
        result = pytester.runpytest_subprocess(*PLUGIN, *REPORT, "--fwmon-resources", "-n", "2")
    else:
        result = pytester.runpytest(*PLUGIN, *REPORT, "--fwmon-resources")
    result.assert_outcomes(passed=2, failed=1, skipped=1, errors=2, xfailed=1)
    report = read_report(root)
    res = by_nodeid(report["resources"])
    assert report["extensions"]["seen"] == sorted([name, None] for name in res)
    assert {k: v["outcome"] for k, v in res.items()} == {
        "test_passes": "passed",
        "test_fails": "failed",
        "test_skipped": "skipped",
        "test_errors": "error",
        "test_xfails": "xfailed",
        "test_teardown_errors": "error",
    }
    big = res["test_passes"]
    # the test burns at least 50 ms of user CPU in one thread: the span covers it, and CPU
    # time of one thread cannot exceed the wall time it ran in
    assert big["wall"] >= big["cpu_user"] >= 0.05
    if big["peak_method"] == "vmhwm":  # Linux: the 10 MB bytearray shows in the test's peak
        assert big["rss_peak"] >= big["rss_start"] + 9_000_000
    assert big["io_read_bytes"] is not None  # Linux provides I/O counters
    summary = report["extensions"]["resources_summary"]
    assert summary["tests"] == 6
    assert summary["error_rate"] == pytest.approx(3 / 4, abs=1e-6)
    assert summary["tests_per_second"] > 0 and summary["p95_duration"] >= 0


def test_resources_of_fwmon_items_get_their_outcome_too(pytester: pytest.Pytester) -> None:
    """fwmon's own check items are tests for --fwmon-resources, not for ``tests``."""
    pytester.makepyprojecttoml('[project]\nname = "widget"\nversion = "0"\n')
    pytester.mkpydir("widget").joinpath("__init__.py").write_text("def f():\n    return 1\n")
    pytester.makepyfile(test_a="def test_a():\n    pass\n")
    args = ("--fwmon", "--fwmon-pipelines", "docs,performance", "--fwmon-no-history")
    pytester.runpytest(*PLUGIN, *args, "--fwmon-resources").assert_outcomes(passed=2, failed=2)
    report = read_report(pytester.path)
    outcomes = {r["nodeid"]: r["outcome"] for r in report["resources"]}
    assert outcomes == {
        "test_a.py::test_a": "passed",
        "widget/__init__.py::fwmon[pydocstyle]": "failed",
        "pyproject.toml::fwmon[docstring-coverage]": "failed",
        "pyproject.toml::fwmon[docstring-accuracy]": "passed",
    }
    assert report["tests"]["total"] == 1


def test_without_the_option_no_resources_are_recorded(pytester: pytest.Pytester) -> None:
    root = copy_project(pytester, "perf_resources")
    pytester.runpytest(*PLUGIN, *REPORT)
    assert read_report(root)["resources"] == []


@pytest.mark.slow  # three pytest runs
def test_history_store_as_baseline(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makefile(
        ".toml",
        pyproject="[tool.fwmon.perf]\ntime_budget = 0.05\nthroughput_time = 0\nmin_rounds = 250\n",
    )
    pytester.makepyfile(
        test_hist="""
        import os

        def test_hist(perf):
            perf(sum, range(int(os.environ.get("WORK", "10"))))
        """
    )
    empty = pytester.runpytest(*PLUGIN, "--fwmon-perf-baseline", "history")
    assert empty.ret == pytest.ExitCode.USAGE_ERROR
    empty.stderr.fnmatch_lines(["ERROR: fwmon: no history at *history.db: run `pytest --fwmon`*"])
    first = pytester.runpytest(*PLUGIN, "--fwmon", "--fwmon-pipelines", "performance")
    first.assert_outcomes(passed=1)
    # 2,000 times the work per call: a regression whatever the machine's speed or load
    monkeypatch.setenv("WORK", "20000")
    second = pytester.runpytest(*PLUGIN, "--fwmon-perf-baseline", "history")
    second.assert_outcomes(failed=1)
    second.stdout.fnmatch_lines(["*perf failed: regression: p95 is *x the baseline*"])
