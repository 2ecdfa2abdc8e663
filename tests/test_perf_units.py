"""Units of the performance pipeline without pytest in the loop: settings, plans, decisions."""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pytest_fwmon.core.errors import ConfigError
from pytest_fwmon.perf import baseline, gates, lockstep, measure, resources, stats
from pytest_fwmon.perf.settings import (
    LIMITS,
    SETTINGS,
    PerfSettings,
    PerfSettingsError,
    Shift,
    from_config,
    parse_shift,
    validate,
)


def test_settings_defaults_match_the_spec() -> None:
    defaults = PerfSettings()
    for key, spec in SETTINGS.items():
        value = getattr(defaults, key)
        expected = parse_shift(spec.default, key) if spec.kind == "shift" else spec.default
        assert value == expected, key


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("p95:10%", Shift("p95", 0.10)),
        ("5%", Shift("p95", 0.05)),
        ("p99 : 2.5 %", Shift("p99", 0.025)),
    ],
)
def test_parse_shift(text: str, expected: Shift) -> None:
    assert parse_shift(text, "x") == expected
    assert str(expected) == f"{expected.metric}:{expected.fraction * 100:g}%"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param({"p97_ms": 1}, "unknown metric or setting 'p97_ms'", id="unknown"),
        pytest.param({"p95_ms": -0.1}, "p95_ms must not be negative", id="negative"),
        pytest.param({"p95_ms": "1"}, "p95_ms must be a number", id="text"),
        pytest.param({"p95_ms": True}, "p95_ms must be a number", id="bool"),
        pytest.param({"baseline": "x"}, "unknown metric or setting 'baseline'", id="config-only"),
        pytest.param({"alpha": 1}, "alpha must be less than 1", id="alpha"),
        pytest.param({"memory": 1}, "memory must be true or false", id="memory"),
        pytest.param({"max_regression": "p95:0%"}, "positive percentage", id="zero-shift"),
    ],
)
def test_marker_validation(values: dict[str, object], message: str) -> None:
    with pytest.raises(PerfSettingsError, match=message):
        validate(values, "@pytest.mark.perf", per_test=True)


def test_config_then_marker_merge() -> None:
    base = from_config({"p95_ms": 2, "time_budget": 0.5, "max_regression": "p99:5%"})
    merged = base.merged(validate({"p95_ms": 1, "min_ops": 3}, "m", per_test=True), "m")
    assert merged.limits == {"p95_ms": 1.0, "min_ops": 3.0}
    assert merged.time_budget == 0.5 and merged.max_regression == Shift("p99", 0.05)
    assert merged.asked_quantiles() == {"p95": 0.95}
    assert set(LIMITS) >= set(merged.limits)


@pytest.mark.parametrize(
    ("estimate", "asked", "rounds", "needed", "warmup"),
    [
        pytest.param(1e-3, [0.95], 1000, 200, 10, id="budget-fits-needed"),
        pytest.param(1e-2, [0.95], 100, 200, 10, id="budget-too-small"),  # inconclusive
        pytest.param(1e-6, [], 100_000, 0, 10, id="capped-by-max-rounds"),
        pytest.param(1e-6, [0.9999], 100_000, 100_000, 10, id="needed-equals-max-rounds"),
        pytest.param(1e-7, [0.99999], 1_000_000, 1_000_000, 10, id="needed-beats-max-rounds"),
        pytest.param(1.0, [], 20, 0, 0, id="slow-call-min-rounds"),
    ],
)
def test_plan_rounds(
    estimate: float, asked: list[float], rounds: int, needed: int, warmup: int
) -> None:
    plan = measure.plan_rounds(
        estimate, time_budget=1.0, warmup_rounds=10, min_rounds=20, max_rounds=100_000, asked=asked
    )
    assert (plan.rounds, plan.needed, plan.warmup) == (rounds, needed, warmup)


def test_measure_pauses_gc_seeds_and_counts() -> None:
    seen: list[tuple[bool, float]] = []

    def fn() -> int:
        seen.append((gc.isenabled(), random.random()))
        return 7

    m = measure.measure(fn, time_budget=0.01, throughput_time=0.005, warmup_rounds=3, seed=42)
    assert m.result == 7 and m.engine == "fwmon"
    assert len(m.samples) == m.plan.rounds >= 20
    assert not any(enabled for enabled, _ in seen)
    first_draw = random.Random(42).random()
    assert seen[0][1] == first_draw  # the estimate call: first draw after seeding
    assert gc.isenabled()
    assert m.ops is not None and m.ops_ci is not None and m.ops_ci[0] <= m.ops <= m.ops_ci[1]
    assert m.throughput_calls >= measure.MIN_BATCHES


def test_peak_memory_sees_an_allocation() -> None:
    assert measure.peak_memory(lambda: bytearray(5_000_000), (), {}, 1) >= 5_000_000


def _summary_and_measurement(samples: list[float]) -> tuple[stats.Summary, measure.Measurement]:
    plan = measure.Plan(estimate=samples[0], warmup=0, rounds=len(samples), needed=0)
    m = measure.Measurement(samples=samples, plan=plan, ops=1000.0, ops_ci=(900.0, 1100.0))
    m.mem_peak_bytes = 2 * 1024 * 1024
    return stats.summarise(samples), m


@pytest.mark.parametrize(
    ("limits", "n", "verdict"),
    [
        pytest.param({"p95_ms": 2.0}, 300, "passed", id="pass"),
        pytest.param({"p95_ms": 0.5}, 300, "failed", id="breach"),
        pytest.param({"p95_ms": 2.0}, 100, "inconclusive", id="small-sample"),
        pytest.param({"p95_ms": 0.5}, 100, "inconclusive", id="breach-on-small-sample"),
        pytest.param({"p95_ms": 2.0, "max_mem_mb": 1}, 100, "failed", id="memory-breach"),
        pytest.param({"min_ops": 2000}, 10, "failed", id="throughput-breach"),
        pytest.param({"mean_ms": 2}, 5, "passed", id="mean-needs-no-tail"),
    ],
)
def test_verdicts(limits: dict[str, float], n: int, verdict: str) -> None:
    samples = [0.001] * n
    s, m = _summary_and_measurement(samples)
    settings = dataclasses.replace(PerfSettings(), limits=limits)
    result = gates.evaluate(
        nodeid="t.py::t",
        name="t",
        measurement=m,
        settings=settings,
        comparison=baseline.Comparison(status="no-baseline"),
        machine="m",
    )
    assert result.verdict == verdict
    assert gates.check_payload(result, 0.1)["outcome"] == gates.CHECK_OUTCOME[verdict]
    text = gates.table(result)
    assert text.splitlines()[0].startswith(f"perf {verdict}" if verdict != "passed" else "passed")
    assert text.splitlines()[1].split() == ["metric", "limit", "measured", "95%", "CI"]
    del s


def test_compare_rules() -> None:
    rng = random.Random(5)
    base = [rng.lognormvariate(0, 0.1) for _ in range(1000)]
    same = [rng.lognormvariate(0, 0.1) for _ in range(1000)]
    kw = {"regression": Shift("p95", 0.10), "improvement": Shift("p95", 0.10), "alpha": 0.01}
    assert baseline.compare(base, same, **kw).status == "ok"  # type: ignore[arg-type]
    slow = baseline.compare(base, [x * 1.3 for x in same], **kw)  # type: ignore[arg-type]
    assert slow.status == "regression" and slow.p_value is not None and slow.p_value < 0.01
    fast = baseline.compare(base, [x * 0.7 for x in same], **kw)  # type: ignore[arg-type]
    assert fast.status == "stale"
    # an effect beyond the threshold without evidence is not a regression
    tiny = baseline.compare(base[:200], [x * 1.12 for x in base[:200]], **kw)  # type: ignore[arg-type]
    assert tiny.status in ("regression", "ok")
    small = baseline.compare(base[:50], same[:50], **kw)  # type: ignore[arg-type]
    assert small.status == "inconclusive" and "needs 200 samples" in (small.reason or "")
    json.dumps(slow.to_dict(), allow_nan=False)


def test_baseline_file_round_trip_and_machines(tmp_path: Path) -> None:
    report = {
        "run": {"id": "r1", "machine": {"fingerprint": "aaaa"}},
        "benchmarks": [
            {"nodeid": "t.py::a", "samples": [0.1, 0.2], "stats": {"p95": 0.2}},
            {"nodeid": "t.py::skipped", "samples": [], "stats": None},
        ],
    }
    out = tmp_path / "b.json"
    assert baseline.write_from_report(report, out) == ("aaaa", 1)
    report["run"]["machine"]["fingerprint"] = "bbbb"  # type: ignore[index]
    baseline.write_from_report(report, out)
    loaded = baseline.load(out)
    assert sorted(loaded.machines) == ["aaaa", "bbbb"]
    entries, _ = loaded.select("aaaa", force=False)
    assert entries is not None and entries["t.py::a"].samples == [0.1, 0.2]
    refused, why = loaded.select("cccc", force=False)
    assert refused is None and "comparison refused" in why
    forced, why = loaded.select("cccc", force=True)
    assert forced is not None and "forced" in why
    with pytest.raises(ConfigError, match="no benchmark with samples"):
        baseline.write_from_report({"run": {"machine": {"fingerprint": "x"}}}, out)


def test_a_report_is_a_baseline(tmp_path: Path) -> None:
    doc = {
        "schema_version": 1,
        "run": {"machine": {"fingerprint": "ffff"}},
        "benchmarks": [{"nodeid": "t.py::a", "samples": [1.0], "stats": {}}],
    }
    path = tmp_path / "report.json"
    path.write_text(json.dumps(doc))
    loaded = baseline.load(path)
    assert loaded.kind == "report" and list(loaded.machines["ffff"]) == ["t.py::a"]


def test_resources_summary_and_probe() -> None:
    summary = resources.summary([0.1, 0.2, 0.3, 0.4], ["passed", "failed", "error", "skipped"], 2.0)
    assert summary["tests"] == 4 and summary["tests_per_second"] == 2.0
    assert summary["error_rate"] == pytest.approx(2 / 3, abs=1e-6)
    assert summary["p95_duration"] == pytest.approx(stats.quantile([0.1, 0.2, 0.3, 0.4], 0.95))
    empty = resources.summary([], [], 0.0)
    assert empty["error_rate"] is None and empty["tests_per_second"] is None
    probe = resources.Probe()
    probe.start()
    block = bytearray(20_000_000)
    entry = probe.finish("t.py::x", "passed")
    del block
    assert entry["rss_peak"] is not None and entry["rss_peak"] >= entry["rss_start"]
    assert entry["peak_method"] in ("vmhwm", "endpoints")


def _churn(stop: threading.Event) -> None:
    while not stop.is_set():
        blocks = [bytearray(65_536) for _ in range(50)]
        del blocks


@pytest.mark.parametrize("churn", [False, True], ids=["alone", "thread-allocating"])
def test_probe_peak_is_never_below_its_own_readings(churn: bool) -> None:
    """The kernel sets the high-water mark from its approximate RSS total while ``statm`` sums
    the per-CPU counters: a test that allocates nothing (or whose memory another thread gives
    back) read ``ru_maxrss`` below ``rss_start`` and reported it as the peak."""
    stop = threading.Event()
    thread = threading.Thread(target=_churn, args=(stop,), daemon=True)
    if churn:
        thread.start()
    probe = resources.Probe()
    try:
        entries = []
        for n in range(300):
            probe.start()
            entries.append(probe.finish(f"t.py::x{n}", "passed"))
    finally:
        stop.set()
    if churn:
        thread.join()
    low = [e for e in entries if e["rss_peak"] < max(e["rss_start"], e["rss_end"])]
    assert low == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux only")
def test_nested_probe_hands_the_mark_so_far_to_the_open_one() -> None:
    """A pytest run in-process with --fwmon-resources inside a probed test resets the mark the
    outer probe relies on: the outer probe still sees the memory freed before that reset."""
    outer, inner = resources.Probe(), resources.Probe()
    outer.start()
    block = b"x" * 40_000_000
    del block
    inner.start()
    inner.finish("inner.py::x", "passed")
    entry = outer.finish("t.py::x", "passed")
    if entry["peak_method"] != "vmhwm":
        pytest.skip("this kernel refused the VmHWM reset")
    assert entry["rss_peak"] >= entry["rss_start"] + 30_000_000 > entry["rss_end"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux only")
def test_probe_peak_sees_memory_freed_before_the_test_ends() -> None:
    probe = resources.Probe()
    probe.start()
    block = b"x" * 40_000_000  # touched pages, unmapped again by the del
    del block
    entry = probe.finish("t.py::x", "passed")
    if entry["peak_method"] != "vmhwm":
        pytest.skip("this kernel refused the VmHWM reset")
    assert entry["rss_peak"] >= entry["rss_start"] + 30_000_000 > entry["rss_end"]


def _pair_of_channels() -> tuple[lockstep.Channel, lockstep.Channel]:
    """(controller end, worker end) of one lockstep link."""
    to_worker_r, to_worker_w = os.pipe()
    to_ctl_r, to_ctl_w = os.pipe()
    return lockstep.Channel(to_ctl_r, to_worker_w), lockstep.Channel(to_worker_r, to_ctl_w)


@pytest.mark.parametrize(
    ("base_tests", "head_tests", "paired"),
    [
        pytest.param(["a", "b"], ["a", "b"], ["a", "b"], id="same-tests"),
        pytest.param(["a", "b"], ["b"], ["b"], id="base-has-more"),
        pytest.param(["a"], ["x", "a"], ["a"], id="head-has-more"),
        pytest.param(["a"], [], [], id="head-has-none"),
        pytest.param(["a", "b", "c"], ["c", "b"], ["c"], id="other-order"),
    ],
)
def test_lockstep_pairs_common_tests_and_runs_the_rest_solo(
    base_tests: list[str], head_tests: list[str], paired: list[str]
) -> None:
    ctl_base, work_base = _pair_of_channels()
    ctl_head, work_head = _pair_of_channels()
    calls: dict[str, list[str]] = {"base": [], "head": []}
    outcome: dict[str, dict[str, tuple[int, bool]]] = {"base": {}, "head": {}}

    def worker(side: str, channel: lockstep.Channel, tests: list[str]) -> None:
        w = lockstep.Worker(channel)
        w.hello(tests)
        for nodeid in tests:
            samples, _, ok = w.rounds(nodeid, calls[side].append, (nodeid,), {}, rounds=7, warmup=1)
            outcome[side][nodeid] = (len(samples), ok)
        w.bye()

    threads = [
        threading.Thread(target=worker, args=("base", work_base, base_tests)),
        threading.Thread(target=worker, args=("head", work_head, head_tests)),
    ]
    for t in threads:
        t.start()
    controller = lockstep.Controller(ctl_base, ctl_head, timeout=30)
    controller.run()
    for t in threads:
        t.join(30)
    assert controller.paired == paired
    for side, tests in (("base", base_tests), ("head", head_tests)):
        assert outcome[side] == {n: (7, n in paired) for n in tests}
    for channel in (ctl_base, ctl_head, work_base, work_head):
        channel.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux only")
def test_proc_files_read_what_psutil_reads(tmp_path: Path) -> None:
    import psutil

    proc = resources.ProcFiles()
    me = psutil.Process()
    probe = resources.Probe()
    probe.start()
    before = me.io_counters()
    (tmp_path / "f").write_bytes(b"x" * 100_000)
    after = me.io_counters()
    entry = probe.finish("t.py::x", "passed")
    # getrusage's block counts are the kernel's read_bytes/write_bytes, in 512-byte units
    assert entry["io_write_bytes"] == after.write_bytes - before.write_bytes
    assert entry["io_read_bytes"] == after.read_bytes - before.read_bytes
    rss = proc.rss()
    assert rss is not None and abs(rss - me.memory_info().rss) < 4_000_000
    if proc.reset_peak():
        block = bytearray(30_000_000)
        peak = proc.peak()
        assert peak is not None and peak >= me.memory_info().rss - 1_000_000
        del block


_EXEC_CHILD = """
import json, resource
from pytest_fwmon.perf import resources
probe = resources.Probe()
probe.start()
entry = probe.finish("t.py::x")
entry["ru_maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(entry))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux only")
def test_probe_peak_is_not_the_high_water_mark_the_exec_left_in_ru_maxrss() -> None:
    """The kernel keeps the high-water mark of the memory an ``exec`` replaced (the parent's,
    after a vfork) in ``signal->maxrss``, and ``getrusage`` reports it after every VmHWM reset:
    a process started by a large one must still get its own call peak (from /proc)."""
    block = b"y" * 150_000_000  # this process is the large parent
    try:
        done = subprocess.run(
            [sys.executable, "-c", _EXEC_CHILD], capture_output=True, text=True, check=True
        )
    finally:
        del block
    entry = json.loads(done.stdout)
    if entry["peak_method"] != "vmhwm":
        pytest.skip("this kernel refused the VmHWM reset")
    assert entry["ru_maxrss"] > 150_000_000  # what a probe trusting ru_maxrss would report
    assert entry["rss_peak"] < entry["rss_start"] + 5_000_000 < 100_000_000
    assert entry["outcome"] is None
