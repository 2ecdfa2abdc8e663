"""How trustworthy is fwmon's regression gate? False alarms and detection power, measured.

For each condition (unchanged code, 10% slower, 3% slower) and each of ``--trials`` trials:

- **fwmon**: ``fwmon perf-ab`` (the :func:`pytest_fwmon.perf.ab.run_ab` it calls) compares the
  committed base with the working tree, interleaved (``--rounds`` runs per side, ABBA), with
  ``max_regression = p95:5%`` and ``alpha = 0.01``; a trial is *flagged* when the verdict is
  "regression";
- **pytest-benchmark**: the sequential workflow its docs describe, in the same trial: run the
  base with ``--benchmark-autosave``, then the head with ``--benchmark-compare
  --benchmark-compare-fail=mean:5%``; *flagged* when it reports "Performance has regressed".

The slowdown is injected as more work (a loop of 3000 additions becomes 3300 or 3090), so the
real slowdown is slightly below the nominal one (per-call overheads do not grow).

Targets (issue 4): unchanged, at most 1 of 20 flagged; 10% slower, at least 18 of 20 detected.
Usage: ``python benchmarks/regression_power.py [--trials 20] [--rounds 2] [--budget 0.3]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_fwmon.perf import ab
from pytest_fwmon.perf.settings import parse_shift

BASE_LOOPS = 3000

MOD = """\
def work():
    total = 0
    for i in range({loops}):
        total += i
    return total
"""

TEST_PERF = """\
import mod


def test_work(perf):
    perf(mod.work)
"""

TEST_BENCH = """\
import mod


def test_work_bench(benchmark):
    benchmark(mod.work)
"""

PYPROJECT = """\
[tool.fwmon.perf]
throughput_time = 0
memory = false
"""


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def make_repo(root: Path) -> None:
    (root / "mod.py").write_text(MOD.format(loops=BASE_LOOPS))
    (root / "test_perf.py").write_text(TEST_PERF)
    (root / "test_bench.py").write_text(TEST_BENCH)
    (root / "pyproject.toml").write_text(PYPROJECT)
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "base")


def pytest_benchmark_flags(root: Path, factor: float, storage: Path) -> bool:
    """Sequential pytest-benchmark: autosave the base, compare the head with mean:5%."""
    common = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
        "-p", "no:pytest_fwmon.plugin", f"--benchmark-storage=file://{storage}", "test_bench.py",
    ]  # fmt: skip
    (root / "mod.py").write_text(MOD.format(loops=BASE_LOOPS))
    subprocess.run([*common, "--benchmark-autosave"], cwd=root, capture_output=True, check=False)
    (root / "mod.py").write_text(MOD.format(loops=round(BASE_LOOPS * factor)))
    done = subprocess.run(
        [*common, "--benchmark-compare", "--benchmark-compare-fail=mean:5%"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return "Performance has regressed" in done.stdout + done.stderr


ALSO = ("p50:5%", "p95:10%")


def fwmon_flags(
    root: Path, factor: float, rounds: int, budget: float
) -> tuple[bool, float, dict[str, bool]]:
    (root / "mod.py").write_text(MOD.format(loops=round(BASE_LOOPS * factor)))
    shift = parse_shift("p95:5%", "max_regression")
    doc = ab.run_ab(
        cwd=root,
        base_ref="HEAD",
        pytest_args=["test_perf.py"],
        rounds=rounds,
        regression=shift,
        improvement=shift,
        alpha=0.01,
        budget=budget,
        also=[parse_shift(text, "also") for text in ALSO],
    )
    (test,) = doc["tests"]
    ratio = test["comparison"]["ratio"] or 0.0
    also = {k: v["status"] == "regression" for k, v in test["also"].items()}
    return test["status"] == "regression", ratio, also


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="perf-ab runs per side")
    parser.add_argument("--budget", type=float, default=0.3, help="seconds per perf test run")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    conditions = [("unchanged", 1.0), ("10% slower", 1.10), ("3% slower", 1.03)]
    results = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fwmon-power-") as tmp:
        for name, factor in conditions:
            root = Path(tmp) / name.replace("% ", "pct-").replace(" ", "-")
            root.mkdir()
            make_repo(root)
            fw = pb = 0
            ratios = []
            also_counts = dict.fromkeys(ALSO, 0)
            for trial in range(args.trials):
                flagged, ratio, also = fwmon_flags(root, factor, args.rounds, args.budget)
                fw += flagged
                ratios.append(ratio)
                for key, value in also.items():
                    also_counts[key] += value
                storage = Path(tmp) / f"storage-{name}-{trial}"
                pb_flag = pytest_benchmark_flags(root, factor, storage)
                pb += pb_flag
                git(root, "checkout", "-q", "--", "mod.py")
                print(
                    f"{name:<11} trial {trial + 1:>2}: fwmon {'FLAG' if flagged else 'ok  '} "
                    f"(p95 ratio {ratio:.3f}; {also})  "
                    f"pytest-benchmark {'FLAG' if pb_flag else 'ok'}",
                    file=sys.stderr,
                    flush=True,
                )
            ratios.sort()
            results[name] = {
                "factor": factor,
                "trials": args.trials,
                "fwmon_flagged": fw,
                "pytest_benchmark_flagged": pb,
                "fwmon_median_ratio": ratios[len(ratios) // 2],
                "fwmon_other_thresholds": also_counts,
            }
    elapsed = time.perf_counter() - started
    print(f"\nregression power, {args.trials} trials per condition, perf-ab rounds={args.rounds}, "
          f"budget={args.budget}s, max_regression=p95:5%, alpha=0.01 ({elapsed:.0f}s)")  # fmt: skip
    print(f"{'condition':<12} {'fwmon perf-ab':>14} {'pytest-benchmark mean:5%':>26} "
          f"{'median p95 ratio':>17}")  # fmt: skip
    for name, r in results.items():
        print(
            f"{name:<12} {r['fwmon_flagged']:>6}/{r['trials']:<7} "
            f"{r['pytest_benchmark_flagged']:>14}/{r['trials']:<11} "
            f"{r['fwmon_median_ratio']:>17.3f}"
            f"   same samples, other thresholds: {r['fwmon_other_thresholds']}"
        )
    unchanged, ten = results["unchanged"], results["10% slower"]
    ok = unchanged["fwmon_flagged"] <= max(1, args.trials // 20) and ten["fwmon_flagged"] >= round(
        0.9 * args.trials
    )
    print(
        f"targets (unchanged <= 1/20 flagged, 10% >= 18/20 detected): {'met' if ok else 'MISSED'}"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
