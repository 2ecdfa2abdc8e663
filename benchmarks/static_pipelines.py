"""Speed of the static pipelines against the raw tools, measured in the same run.

On the sqlalchemy source (lib/sqlalchemy, ~255 files, ~250k lines) and the flask source, each
figure the median of ``--repeat`` (default 5) interleaved runs:

* raw       ``bandit -r PKG -f json`` then ``pydocstyle PKG``, one after the other;
* cold-1    ``pytest --fwmon --fwmon-pipelines security,docs`` without cache, one process;
* cold-2    the same with fwmon's own worker pool of 2 processes (``--fwmon-workers 2``);
* cold-n2   the same under ``pytest -n 2`` (pytest-xdist), one process per worker;
* warm      nothing changed since the previous run (cache on);
* one-file  one file changed since the previous run (cache on);
* peak RSS  of the one-process fwmon run (``ru_maxrss``) against bandit's own.

Every run uses the bytecode caches a user's machine has (``PYTHONDONTWRITEBYTECODE``, set in
some sandboxes, is removed from the children's environment; the untimed first run writes them),
for the raw tools as for fwmon.

Targets (issue 2): cold-1/raw <= 0.6, min(cold-2, cold-n2)/raw <= 0.35, warm/cold-1 <= 0.10,
one-file/cold-1 <= 0.15, RSS fwmon/bandit <= 1.3. fwmon's items are the only items (the
projects' own test suites are not collected) and pytest plugins are not auto-loaded, so only
fwmon (+ pytest-benchmark, which it wraps, + xdist for cold-n2) runs.

Secrets (issue 19): ``--secrets`` measures instead the security pipeline alone, cold in one
process, with the secrets checker (the default) against without it
(``--fwmon-option security.secrets=false``), interleaved; then a warm run with secrets, which
must replay every item from the cache. Target: with / without <= 1.15.

    python benchmarks/static_pipelines.py [--repeat 5] [--projects sqlalchemy,flask]
    python benchmarks/static_pipelines.py --secrets [--repeat 5] [--projects sqlalchemy]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sources import project_copy

BIN = Path(sys.executable).parent

RSS_WRAPPER = (
    "import resource, subprocess, sys; "
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)"
    ".returncode; print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def fwmon_command(*extra: str, xdist: bool = False) -> list[str]:
    plugins = ["-p", "pytest_fwmon.plugin", "-p", "pytest_benchmark.plugin"]
    if xdist:
        plugins += ["-p", "xdist.plugin", "-p", "xdist.looponfail", "-n", "2"]
    return [
        sys.executable,
        "-m",
        "pytest",
        *plugins,
        "--fwmon",
        "--fwmon-pipelines",
        "security,docs",
        "--fwmon-no-history",
        "-q",
        "--tb=no",
        "-p",
        "no:cacheprovider",
        "-o",
        "python_files=__no_tests__.py",
        *extra,
    ]


#: Environment of every run (see the module doc); state of an outer pytest run removed.
ENV = {
    k: v
    for k, v in os.environ.items()
    if k not in ("PYTHONDONTWRITEBYTECODE", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")
    and not k.startswith(("COV_CORE", "COVERAGE", "FWMON_"))
}
ENV["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"


#: CPU seconds (user + system) of the last :func:`timed` run, children included.
last_cpu = 0.0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], cwd: Path) -> float:
    """Run ``command``; return its wall time (its CPU time is left in :data:`last_cpu`)."""
    global last_cpu
    env = ENV
    cpu = _children_cpu()
    started = time.perf_counter()
    subprocess.run(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
    )
    elapsed = time.perf_counter() - started
    last_cpu = _children_cpu() - cpu
    return elapsed


def peak_rss_kib(command: list[str], cwd: Path) -> int:
    env = ENV
    out = subprocess.run(
        [sys.executable, "-c", RSS_WRAPPER, *command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip())


def measure(name: str, repeat: int) -> dict[str, float]:
    project = project_copy(name, f"speed-{name}")
    package = name
    files = sorted((project / package).rglob("*.py"))
    bandit = [str(BIN / "bandit"), "-r", package, "-f", "json", "-o", os.devnull, "-q"]
    pydocstyle = [str(BIN / "pydocstyle"), package]
    cold1 = fwmon_command("--fwmon-no-cache", "--fwmon-workers", "1")
    cold2 = fwmon_command("--fwmon-no-cache", "--fwmon-workers", "2")
    coldn2 = fwmon_command("--fwmon-no-cache", xdist=True)
    cached = fwmon_command("--fwmon-workers", "1")
    samples: dict[str, list[float]] = {
        k: [] for k in ("raw", "cold-1", "cold-2", "cold-n2", "warm", "one-file")
    }
    counter = 0

    def change_one_file() -> None:
        nonlocal counter
        counter += 1
        target = files[counter % len(files)]
        target.write_text(target.read_text() + f"\n# fwmon benchmark edit {counter}\n")

    steps: list[tuple[str, Callable[[], float]]] = [
        ("raw", lambda: timed(bandit, project) + timed(pydocstyle, project)),
        ("cold-1", lambda: timed(cold1, project)),
        ("cold-2", lambda: timed(cold2, project)),
        ("cold-n2", lambda: timed(coldn2, project)),
    ]
    timed(bandit, project)  # write the bytecode caches of every module the runs import
    timed(pydocstyle, project)
    timed(coldn2, project)
    timed(cached, project)  # fill the cache
    for _ in range(repeat):
        for label, step in steps:
            samples[label].append(step())
        timed(cached, project)  # the cache is current again
        samples["warm"].append(timed(cached, project))
        change_one_file()
        samples["one-file"].append(timed(cached, project))
    report = json.loads((project / ".fwmon/report.json").read_text())
    items = len(report["checks"])
    med = {k: statistics.median(v) for k, v in samples.items()}
    rss_fwmon = peak_rss_kib(cold1, project)
    rss_bandit = peak_rss_kib(bandit, project)
    lines = sum(len(p.read_text(errors="replace").splitlines()) for p in files)
    print(
        f"\n{name}: {len(files)} files, {lines} lines, {items} fwmon items, "
        f"medians of {repeat} interleaved runs"
    )
    for label, value in med.items():
        print(f"  {label:<9} {value:8.2f} s")
    ratios = {
        "cold-1 / raw (<= 0.60)": med["cold-1"] / med["raw"],
        "cold-2 / raw (<= 0.35)": med["cold-2"] / med["raw"],
        "cold-n2 / raw (<= 0.35)": med["cold-n2"] / med["raw"],
        "warm / cold-1 (<= 0.10)": med["warm"] / med["cold-1"],
        "one-file / cold-1 (<= 0.15)": med["one-file"] / med["cold-1"],
        "peak RSS fwmon / bandit (<= 1.3)": rss_fwmon / rss_bandit,
    }
    print(
        f"  peak RSS: fwmon one process {rss_fwmon / 1024:.0f} MiB, "
        f"bandit {rss_bandit / 1024:.0f} MiB"
    )
    for label, value in ratios.items():
        print(f"  {label:<34} {value:6.3f}")
    return ratios


def _security(*extra: str) -> list[str]:
    command = fwmon_command("--fwmon-workers", "1", *extra)
    command[command.index("security,docs")] = "security"
    return command


def measure_secrets(name: str, repeat: int) -> float:
    """Cold security pipeline with and without the secrets checker; warm replay check.

    Besides the wall times (the figure of the target), the CPU time of each run (user +
    system, of the run's processes) is printed: on a shared, loaded machine it varies far
    less than the wall time, and the secrets checker runs in the same single process.
    """
    project = project_copy(name, f"speed-secrets-{name}")
    with_secrets = _security("--fwmon-no-cache")
    without = _security("--fwmon-no-cache", "--fwmon-option", "security.secrets=false")
    cached = _security()
    timed(with_secrets, project)  # bytecode caches of every module the runs import
    timed(without, project)
    samples: dict[str, list[float]] = {"without": [], "with": [], "warm": []}
    cpu: dict[str, list[float]] = {"without": [], "with": [], "warm": []}
    load = [os.getloadavg()[0]]
    for _ in range(repeat):
        for label, command in (("without", without), ("with", with_secrets)):
            samples[label].append(timed(command, project))
            cpu[label].append(last_cpu)
        load.append(os.getloadavg()[0])
    timed(cached, project)  # fill the cache
    for _ in range(repeat):
        samples["warm"].append(timed(cached, project))
        cpu["warm"].append(last_cpu)
    report = json.loads((project / ".fwmon/report.json").read_text())
    checks = [c for c in report["checks"] if c["checker"] == "secrets"]
    replayed = sum(1 for c in report["checks"] if c["cached"])
    med = {k: statistics.median(v) for k, v in samples.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"\n{name}: security pipeline, one process, medians of {repeat} interleaved runs")
    print("  load average (1 min) during the cold runs: " + ", ".join(f"{x:.2f}" for x in load))
    for label, values in samples.items():
        spread = ", ".join(f"{v:.2f}" for v in values)
        print(f"  {label:<8} {med[label]:7.2f} s   ({spread})   CPU {med_cpu[label]:6.2f} s")
    ratio = med["with"] / med["without"]
    print(f"  secrets items {len(checks)}; warm run: {replayed}/{len(report['checks'])} replayed")
    print(f"  with / without secrets (<= 1.15)   {ratio:6.3f}")
    print(f"  same, CPU time                     {med_cpu['with'] / med_cpu['without']:6.3f}")
    print(f"  warm / cold with secrets           {med['warm'] / med['with']:6.3f}")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--projects", default=None)
    parser.add_argument("--secrets", action="store_true", help="the secrets checker's cost")
    args = parser.parse_args()
    default = "sqlalchemy" if args.secrets else "sqlalchemy,flask"
    for name in (args.projects or default).split(","):
        if args.secrets:
            measure_secrets(name.strip(), args.repeat)
        else:
            measure(name.strip(), args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
