"""Precision and recall of ``fwmon flaky list`` on the classification fixture, per run mode.

The fixture is the one of ``tests/test_flaky_classify.py`` (issue 17, acceptance 1): two tests
failing at a seeded rate, one order-dependent test, one deterministic failure, stable tests.
Each seed is a fresh git repository with one commit, run ``--runs`` times (default 20) in a
mode, then ``fwmon flaky list --json`` on its history store. Modes:

* ``serial``: ``pytest --fwmon``;
* ``serial-reruns``: plus ``--fwmon-reruns 2`` (pytest-rerunfailures);
* ``xdist``: ``-n 2``;
* ``xdist-reruns``: ``-n 2 --fwmon-reruns 2``.

Every listed intermittent test is a true positive, every other listed test a false positive,
every unlisted intermittent test a miss. A run is one pytest process (seconds on a quiet
machine): all four modes over 5 seeds are 400 runs. Run from the repository root::

    .venv/bin/python benchmarks/flaky_precision.py                     # 4 modes, seeds 1-5
    .venv/bin/python benchmarks/flaky_precision.py --modes xdist --seeds 1,2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess  # nosec B404 # pytest and fwmon, argument lists, no shell
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.test_flaky_classify import BASE, CONFTEST, INTERMITTENT, TESTS  # noqa: E402
from tests.test_gate_cli import git  # noqa: E402

#: Extra pytest options of each mode.
MODES: Final = {
    "serial": [],
    "serial-reruns": ["--fwmon-reruns", "2"],
    "xdist": ["-n", "2"],
    "xdist-reruns": ["-n", "2", "--fwmon-reruns", "2"],
}


@dataclass
class Score:
    """True positives, false positives and misses of one mode."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, listed: set[str]) -> None:
        """Count one seed's listed node ids."""
        self.tp += len(listed & INTERMITTENT)
        self.fp += len(listed - INTERMITTENT)
        self.fn += len(INTERMITTENT - listed)

    def precision(self) -> float:
        """Return tp / (tp + fp) (1.0 when nothing was listed)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    def recall(self) -> float:
        """Return tp / (tp + fn)."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def one_seed(mode: str, seed: str, runs: int) -> set[str]:
    """Run the fixture ``runs`` times in ``mode``; return the node ids listed as flaky."""
    with tempfile.TemporaryDirectory(prefix=f"fwmon-flaky-{mode}-{seed}-") as tmp:
        return _listed(Path(tmp), mode, seed, runs)


def _listed(root: Path, mode: str, seed: str, runs: int) -> set[str]:
    """Run the fixture in ``root``; return what ``fwmon flaky list --json`` lists."""
    (root / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (root / "test_fx.py").write_text(TESTS, encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "fixture")
    store = str(root / "history.db")
    env = dict(os.environ, PYTHONPATH=str(ROOT), FLAKY_SEED=seed, FWMON_HISTORY_URL=store)
    for run in range(runs):
        env["FLAKY_RUN"] = str(run)
        subprocess.run(  # nosec B603 # this interpreter, argument list
            [sys.executable, "-m", "pytest", *BASE, *MODES[mode], "-q"],
            cwd=root,
            env=env,
            capture_output=True,
            check=False,
        )
    out = subprocess.run(  # nosec B603 # this interpreter, argument list
        [sys.executable, "-m", "pytest_fwmon.cli", "flaky", "list", "--json", "--store", store],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {str(r["nodeid"]) for r in json.loads(out)}


def main(argv: list[str] | None = None) -> int:
    """Measure and print precision and recall per mode."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated modes")
    parser.add_argument("--seeds", default="1,2,3,4,5", help="comma-separated seeds")
    parser.add_argument("--runs", type=int, default=20, help="runs per seed (default 20)")
    args = parser.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        parser.error(f"unknown mode {unknown[0]!r}; modes: {', '.join(MODES)}")
    seeds = [s for s in args.seeds.split(",") if s]
    for mode in modes:
        score = Score()
        started = time.monotonic()
        for seed in seeds:
            listed = one_seed(mode, seed, args.runs)
            score.add(listed)
            exact = "exact" if listed == INTERMITTENT else "NOT exact"
            print(f"{mode} seed {seed}: {exact} {sorted(listed)}", flush=True)
        print(
            f"{mode}: precision {score.precision():.3f} recall {score.recall():.3f} "
            f"(tp={score.tp} fp={score.fp} fn={score.fn}; {len(seeds)} seeds x {args.runs} runs, "
            f"{time.monotonic() - started:.0f} s)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
