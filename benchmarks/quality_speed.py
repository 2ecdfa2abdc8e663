"""How fast are the quality and integration pipelines? Acceptance 5 of the quality issue.

Three ratios, each the median of ``--runs`` interleaved runs of fwmon and of the raw tools in
the same process, on the same files:

1. quality pipeline, cold (``pytest --fwmon --fwmon-pipelines quality --fwmon-no-cache
   --fwmon-no-coverage``) over ``radon cc`` + ``radon mi`` on the sqlalchemy package
   (target <= 0.7); the complexity checker alone, in process, is printed too;
2. import health (:func:`~pytest_fwmon.checks.imports.probe_imports`, and the whole
   ``pytest --fwmon --fwmon-pipelines integration`` run) over ``python -c "import M"`` run
   serially once per module (target <= 0.5); the per-module results must agree;
3. coverage on (``pytest --fwmon --fwmon-pipelines quality``) over plain ``pytest`` on the
   fixture suite tests/data/quality_cov (target <= 1.5); coverage off is printed too.

The sqlalchemy sdist is downloaded into ``benchmarks/_work/`` (git-ignored) with
``pip download --no-deps --no-binary :all:``.

    python benchmarks/quality_speed.py [--runs 5] [--only quality imports coverage]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from parity_quality import WORK, package_dir, source_tree

from pytest_fwmon.checks.base import SourceFile
from pytest_fwmon.checks.complexity import ComplexityChecker
from pytest_fwmon.checks.imports import probe_imports
from pytest_fwmon.checks.packages import find_packages, package_modules

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
PYPROJECT = """\
[project]
name = "sqla-bench"
version = "0"

[tool.pytest.ini_options]
python_files = ["no_test_modules_here_*.py"]

[tool.fwmon]
paths = ["sqlalchemy"]

[tool.fwmon.integration]
commands = false
import_timeout = 60.0
"""


def env() -> dict[str, str]:
    """A clean environment: no coverage hooks, no xdist markers, no history writes."""
    out = {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE", "COVERAGE"))}
    for name in ("FWMON_COVERAGE_DATA", "PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS"):
        out.pop(name, None)
    return out


def sqla_project() -> Path:
    """A project folder holding only the sqlalchemy package and a pyproject for fwmon."""
    root = WORK / "sqla_project"
    if not (root / "sqlalchemy").is_dir():
        root.mkdir(parents=True, exist_ok=True)
        shutil.copytree(package_dir(source_tree("sqlalchemy"), "sqlalchemy"), root / "sqlalchemy")
    (root / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    return root


def timed(command: list[str], cwd: Path) -> float:
    """Wall seconds of one command (output discarded); fails loudly on a crash."""
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{command} exited {done.returncode}: {done.stderr[-500:]!r}")
    return seconds


def medians(runs: int, **measures: Callable[[], float]) -> dict[str, float]:
    """Run every measure ``runs`` times, interleaved, and return the medians."""
    samples: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(runs):
        for name, measure in measures.items():
            samples[name].append(measure())
    return {name: statistics.median(values) for name, values in samples.items()}


def report(title: str, figures: dict[str, float], ratio: float, target: float) -> bool:
    """Print one block; True when the ratio meets the target."""
    print(f"\n{title}")
    for name, value in figures.items():
        print(f"  {name:<44} {value:8.3f} s")
    ok = ratio <= target
    print(f"  ratio {ratio:.3f} (target <= {target}) {'OK' if ok else 'MISSED'}")
    return ok


def bench_quality(runs: int) -> bool:
    """Quality pipeline cold vs radon cc + radon mi."""
    root = sqla_project()
    files = [
        SourceFile(p, p.relative_to(root).as_posix(), p.read_text(encoding="utf-8"))
        for p in sorted((root / "sqlalchemy").rglob("*.py"))
    ]

    def checker_layer() -> float:
        checker = ComplexityChecker()
        start = time.perf_counter()
        for source in files:
            checker.check(source)
        return time.perf_counter() - start

    pytest_cmd = [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--fwmon",
                  "--fwmon-pipelines", "quality", "--fwmon-no-cache", "--fwmon-no-coverage",
                  "--fwmon-no-history"]  # fmt: skip
    figures = medians(
        runs,
        radon_cc=lambda: timed([PYTHON, "-m", "radon", "cc", "sqlalchemy"], root),
        radon_mi=lambda: timed([PYTHON, "-m", "radon", "mi", "sqlalchemy"], root),
        fwmon_pytest=lambda: timed(pytest_cmd, root),
        fwmon_checker_in_process=checker_layer,
    )
    radon = figures["radon_cc"] + figures["radon_mi"]
    figures = {
        f"radon cc + radon mi ({len(files)} files)": radon,
        "  of which radon cc": figures["radon_cc"],
        "  of which radon mi": figures["radon_mi"],
        "pytest --fwmon quality, cold": figures["fwmon_pytest"],
        "ComplexityChecker in process (no pytest)": figures["fwmon_checker_in_process"],
    }
    return report(
        "1. quality pipeline cold over radon CLIs (sqlalchemy)",
        figures,
        figures["pytest --fwmon quality, cold"] / radon,
        0.7,
    )


def bench_imports(runs: int) -> bool:
    """Import health vs one fresh interpreter per module, serially."""
    root = sqla_project()
    (package,) = find_packages(root, ["sqlalchemy"])
    modules = sorted(package_modules(package))
    modules = [m for m in modules if not m.endswith(".__main__")]

    serial_ok: dict[str, bool] = {}

    def serial() -> float:
        start = time.perf_counter()
        for module in modules:
            done = subprocess.run(
                [PYTHON, "-c", f"import {module}"], cwd=root, env=env(),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
            )  # fmt: skip
            serial_ok[module] = done.returncode == 0
        return time.perf_counter() - start

    probe_ok: dict[str, bool] = {}

    def probe() -> float:
        start = time.perf_counter()
        results = probe_imports(modules, root=root, import_roots=[root], timeout=60.0)
        seconds = time.perf_counter() - start
        probe_ok.update({m: r.status == "ok" for m, r in results.items()})
        return seconds

    pytest_cmd = [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--fwmon",
                  "--fwmon-pipelines", "integration", "--fwmon-no-cache",
                  "--fwmon-no-history"]  # fmt: skip
    figures = medians(
        runs,
        serial=serial,
        probe=probe,
        pytest=lambda: timed(pytest_cmd, root),
    )
    disagree = sorted(m for m in modules if serial_ok.get(m) != probe_ok.get(m))
    failing = sum(1 for ok in serial_ok.values() if not ok)
    print(f"\n   {len(modules)} modules, {failing} fail to import on their own; fork tree "
          f"and fresh interpreters disagree on {len(disagree)}: {disagree[:5]}")  # fmt: skip
    shown = {
        f"python -c 'import M' x {len(modules)}, serially": figures["serial"],
        "import-health probe (checker layer)": figures["probe"],
        "pytest --fwmon integration (import-health)": figures["pytest"],
    }
    ok = report(
        "2. import health over serial fresh imports (sqlalchemy)",
        shown,
        figures["pytest"] / figures["serial"],
        0.5,
    )
    return ok and not disagree


def bench_coverage(runs: int) -> bool:
    """Coverage-on pytest over plain pytest on the fixture suite."""
    root = WORK / "quality_cov"
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(HERE.parent / "tests" / "data" / "quality_cov", root)
    base = [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    fwmon = [*base, "-p", "pytest_fwmon.plugin.quality", "--fwmon", "--fwmon-pipelines",
             "quality", "--fwmon-no-history"]  # fmt: skip
    figures = medians(
        runs,
        plain=lambda: timed(base, root),
        on=lambda: timed(fwmon, root),
        off=lambda: timed([*fwmon, "--fwmon-no-coverage"], root),
    )
    shown = {
        "plain pytest": figures["plain"],
        "pytest --fwmon (quality, coverage on)": figures["on"],
        "pytest --fwmon (quality, coverage off)": figures["off"],
    }
    print(
        f"\n   Python {sys.version.split()[0]}, "
        f"COVERAGE_CORE={os.environ.get('COVERAGE_CORE', '')!r}"
    )
    return report(
        "3. coverage on over plain pytest (tests/data/quality_cov)",
        shown,
        figures["on"] / figures["plain"],
        1.5,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--only", nargs="+", choices=("quality", "imports", "coverage"),
        default=["quality", "imports", "coverage"],
    )  # fmt: skip
    args = parser.parse_args(argv)
    benches = {"quality": bench_quality, "imports": bench_imports, "coverage": bench_coverage}
    results = [benches[name](args.runs) for name in args.only]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
