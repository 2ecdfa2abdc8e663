"""Overhead of fwmon on a suite of 2,000 trivial tests, against plain pytest in the same run.

Variants, each a fresh ``python -m pytest -q -p no:cacheprovider -p no:xdist`` in a generated
project of 20 files x 100 ``assert True`` tests (no perf tests, no source package):

- ``plain``: ``-p no:pytest_fwmon.plugin`` (fwmon not loaded at all);
- ``loaded``: fwmon installed and loaded, no option (what every pytest run of a project with
  fwmon installed pays);
- ``resources``: ``--fwmon --fwmon-pipelines performance --fwmon-resources`` (per-test
  figures in the report, no checks; ``--fwmon-resources`` alone is a usage error, as its
  figures only go into the report);
- ``fwmon``: ``--fwmon --fwmon-no-history`` (the core plugin writes its report, and runs its
  own check items on the project files it finds: a handful here);
- ``fwmon-no-coverage``: ``--fwmon`` without coverage tracing;
- ``fwmon+resources``: both.

The realistic case, in a second generated project: the same 2,000 tests, each calling a
function of a small source package ``trivial/`` that fwmon finds and coverage measures
(``[tool.coverage.run] source = ["trivial"]``, as docs/how-to/coverage.md tells users; without
it coverage would also measure the test files and, in this editable development install,
fwmon's own hooks, which a wheel install puts in site-packages where coverage does not look):

- ``pkg-plain``: plain pytest there;
- ``pkg-coverage-run``: ``coverage run --branch -m pytest`` without fwmon (the raw tool);
- ``pkg-fwmon``: ``--fwmon --fwmon-no-history`` (coverage traced: what a project with code pays);
- ``pkg-fwmon-no-coverage``: the same without coverage tracing.

``--coverage-core sysmon`` sets ``COVERAGE_CORE`` for every run (coverage.py's
``sys.monitoring`` core, Python 3.12+); coverage measures branches with it only on Python
3.14+ and otherwise warns and falls back to its default core, so ``--line-only`` compares
line coverage (``coverage run`` without ``--branch``, fwmon with ``quality.branch=false``).

Runs are interleaved (the order rotates every repetition) and the median wall time of
``--repeat`` runs (default 7) is compared, as is the median CPU time. Targets (issue 4):
resources / plain <= 1.10; fwmon / plain <= 1.05. The ``pkg-`` ratios are against
``pkg-plain`` and have no target; they are the figure to quote for a project with code.

Every run uses the bytecode caches a user's machine has: ``PYTHONDONTWRITEBYTECODE`` is
removed from the children's environment (the first, untimed run writes them). With it set
every run recompiles pytest's, pytest-benchmark's and fwmon's modules from source, and the
ratios measure the compiler.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMON = ["-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
PLAIN = ["-p", "no:pytest_fwmon.plugin"]  # fwmon not loaded at all (nor its perf module)
FWMON = ["--fwmon", "--fwmon-no-history"]
VARIANTS: dict[str, list[str]] = {
    "plain": PLAIN,
    "loaded": [],
    "resources": [*FWMON, "--fwmon-pipelines", "performance", "--fwmon-resources"],
    "fwmon": FWMON,
    # coverage.py tracing every test is the quality pipeline's own cost (issue 3 target <= 1.5)
    "fwmon-no-coverage": [*FWMON, "--fwmon-no-coverage"],
    "fwmon+resources": [*FWMON, "--fwmon-resources"],
    "pkg-plain": PLAIN,
    "pkg-coverage-run": PLAIN,
    "pkg-fwmon": FWMON,
    "pkg-fwmon-no-coverage": [*FWMON, "--fwmon-no-coverage"],
}
#: What runs pytest: ``python -m pytest`` unless named here.
RUNNER: dict[str, list[str]] = {"pkg-coverage-run": ["-m", "coverage", "run", "--branch"]}
#: Environment of every run (see the module doc); fwmon/coverage state of an outer run removed.
ENV = {
    k: v
    for k, v in os.environ.items()
    if k not in ("PYTHONDONTWRITEBYTECODE", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")
    and not k.startswith(("COV_CORE", "COVERAGE", "FWMON_"))
}

PACKAGE = '''"""A small package for the overhead benchmark."""


def identity(value: object) -> object:
    """Return ``value``."""
    return value


def parity(number: int) -> str:
    """``"even"`` or ``"odd"``."""
    if number % 2:
        return "odd"
    return "even"
'''


def make_suite(root: Path, files: int = 20, tests: int = 100, package: bool = False) -> None:
    """20 files x 100 trivial tests; with ``package``, each calls into ``trivial/``."""
    header = "from trivial import identity, parity\n\n\n" if package else ""
    check = "assert identity(parity({n}))" if package else "assert True"
    for f in range(files):
        body = "".join(f"def test_{f}_{t}():\n    {check.format(n=t)}\n\n\n" for t in range(tests))
        (root / f"test_trivial_{f:02d}.py").write_text(header + body)
    pyproject = '[project]\nname = "trivial"\nversion = "0"\n'
    if package:
        pyproject += '\n[tool.coverage.run]\nsource = ["trivial"]\n'
    (root / "pyproject.toml").write_text(pyproject)
    if package:
        (root / "trivial").mkdir()
        (root / "trivial" / "__init__.py").write_text(PACKAGE)


def run(root: Path, variant: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the pytest process) of one run."""
    root = root / ("pkg" if variant.startswith("pkg-") else "flat")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *RUNNER.get(variant, []), "-m", "pytest", *COMMON, *VARIANTS[variant]],
        cwd=root,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    passed = re.search(r"(\d+) passed", done.stdout)
    if done.returncode != 0 or passed is None or int(passed.group(1)) < 2000:
        raise SystemExit(f"{variant} run failed ({done.returncode}):\n{done.stdout[-2000:]}")
    return elapsed, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--coverage-core",
        help="COVERAGE_CORE for every run (sysmon, ctrace, pytrace); without it coverage's default",
    )
    parser.add_argument(
        "--line-only",
        action="store_true",
        help="line coverage only: coverage run without --branch, fwmon with quality.branch=false "
        "(coverage's sysmon core measures branches only on Python 3.14+)",
    )
    args = parser.parse_args()
    if args.coverage_core:
        ENV["COVERAGE_CORE"] = args.coverage_core
    if args.line_only:
        RUNNER["pkg-coverage-run"] = ["-m", "coverage", "run"]
        VARIANTS["pkg-fwmon"] = [*FWMON, "--fwmon-option", "quality.branch=false"]
    print(
        f"Python {sys.version.split()[0]}, COVERAGE_CORE={ENV.get('COVERAGE_CORE', '(default)')}, "
        f"{'line coverage only' if args.line_only else 'branch coverage'}"
    )
    wall: dict[str, list[float]] = {v: [] for v in VARIANTS}
    cpu: dict[str, list[float]] = {v: [] for v in VARIANTS}
    names = list(VARIANTS)
    with tempfile.TemporaryDirectory(prefix="fwmon-overhead-") as tmp:
        root = Path(tmp)
        for name in ("flat", "pkg"):
            (root / name).mkdir()
            make_suite(root / name, package=name == "pkg")
        for variant in ("plain", "fwmon", "pkg-plain", "pkg-fwmon"):
            run(root, variant)  # warm the file system, bytecode and fwmon result caches
        for i in range(args.repeat):
            order = names[i % len(names) :] + names[: i % len(names)]
            for variant in order:
                w, c = run(root, variant)
                wall[variant].append(w)
                cpu[variant].append(c)
            print(f"repetition {i + 1}/{args.repeat} done", file=sys.stderr, flush=True)
    print(f"2,000 trivial tests, median of {args.repeat} interleaved runs")
    ratios: dict[str, dict[str, float]] = {}
    for label, times in (("wall", wall), ("cpu", cpu)):
        med = {v: statistics.median(t) for v, t in times.items()}
        ratios[label] = {
            v: med[v] / med["pkg-plain" if v.startswith("pkg-") else "plain"] for v in med
        }
        note = " (CPU time of the pytest process: less sensitive to other load)"
        print(f"{label} seconds{note if label == 'cpu' else ''}:")
        for variant, value in med.items():
            spread = f"{min(times[variant]):.2f}-{max(times[variant]):.2f}"
            ratio = ratios[label][variant]
            print(f"  {variant:<21} {value:6.2f}s  (range {spread})  ratio {ratio:.3f}")
        ratio = med["resources"] / med["loaded"]
        print(f"  resources / loaded = {ratio:.3f} (the report and the probes)")
        print(f"  fwmon+resources / fwmon = {med['fwmon+resources'] / med['fwmon']:.3f}")
    for label in ("wall", "cpu"):
        r_res, r_fw = ratios[label]["resources"], ratios[label]["fwmon"]
        r_nc = ratios[label]["fwmon-no-coverage"]
        print(
            f"{label}: resources / plain = {r_res:.3f} (target <= 1.10: "
            f"{'met' if r_res <= 1.10 else 'MISSED'}); fwmon / plain = {r_fw:.3f} "
            f"(target <= 1.05: {'met' if r_fw <= 1.05 else 'MISSED'}); fwmon without coverage "
            f"tracing / plain = {r_nc:.3f}"
        )
    for label in ("wall", "cpu"):
        r_pkg, r_pkg_nc = ratios[label]["pkg-fwmon"], ratios[label]["pkg-fwmon-no-coverage"]
        r_cov = ratios[label]["pkg-coverage-run"]
        print(
            f"{label}: with a source package (no target): fwmon / plain = {r_pkg:.3f} "
            f"(coverage traced), {r_pkg_nc:.3f} without coverage tracing; "
            f"coverage run{'' if args.line_only else ' --branch'} alone / plain = {r_cov:.3f}"
        )
    return 0 if ratios["cpu"]["resources"] <= 1.10 else 1


if __name__ == "__main__":
    sys.exit(main())
