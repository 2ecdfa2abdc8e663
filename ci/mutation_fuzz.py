"""Count what the slow fuzz test adds to a mutation run: run it against every mutant left.

``ci/mutation.sh`` runs the fast tests only; ``tests/test_gate_fuzz.py`` (about 6,000
hypothesis examples, half a minute) would multiply its hour. This takes the mutants that run
left alive (survived, listed as equivalent in tests/mutation-equivalent.txt, or reached by no
test), activates each in mutants/ the way mutmut does (``MUTANT_UNDER_TEST``), runs the fuzz
test against it and prints which ones it kills. A listed equivalent that the fuzz test kills
is not equivalent: its line must go. Run after ``bash ci/mutation.sh``:

    python ci/mutation_fuzz.py [--mutants mutants] [--only GLOB]
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import subprocess  # nosec B404 # runs pytest, fixed argv
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutation_score import classify

FUZZ = "tests/test_gate_fuzz.py"


def left_alive(mutants: Path) -> list[str]:
    """Names of the mutants no test of the run killed (survived or reached by no test)."""
    names = []
    for meta in sorted(mutants.rglob("*.py.meta")):
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        names += [key for key, code in codes.items() if classify(code) in ("survived", "no tests")]
    return names


def fuzz(mutants: Path, name: str, timeout: float) -> str:
    """Run the fuzz test with mutant ``name`` active ("" none): killed, survived or timeout.

    Each run starts in a new empty folder, so hypothesis's example database of one mutant is
    not replayed against the next.
    """
    env = {**os.environ, "MUTANT_UNDER_TEST": name, "PYTHONPATH": str(mutants.resolve())}
    argv = [sys.executable, "-m", "pytest", "-x", "-q", "-m", "slow", "-p", "no:cacheprovider"]
    argv += ["--rootdir", str(mutants.resolve()), str((mutants / FUZZ).resolve())]
    with tempfile.TemporaryDirectory() as scratch:
        try:
            done = subprocess.run(  # nosec B603 # fixed argv, our interpreter
                argv, cwd=scratch, env=env, capture_output=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return "timeout"
    return "survived" if done.returncode == 0 else "killed"


def main(argv: list[str] | None = None) -> int:
    """Print one line per mutant left and the totals; exit 2 without results, or when the fuzz
    test fails with no mutant active."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", default="mutants", help="mutmut's work folder")
    parser.add_argument("--only", default="*", help="a glob of mutant names to check")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant")
    args = parser.parse_args(argv)
    mutants = Path(args.mutants)
    names = [n for n in left_alive(mutants) if fnmatch.fnmatchcase(n, args.only)]
    if not names:
        print(f"mutation_fuzz: no mutant left alive under {mutants}/ (run mutmut first)")
        return 2
    if fuzz(mutants, "", args.timeout) != "survived":
        print(
            "mutation_fuzz: the fuzz test fails without a mutant; fix that first", file=sys.stderr
        )
        return 2
    totals = {"killed": 0, "survived": 0, "timeout": 0}
    for name in names:
        start = time.monotonic()
        outcome = fuzz(mutants, name, args.timeout)
        totals[outcome] += 1
        print(f"{outcome:<9} {time.monotonic() - start:6.1f} s  {name}", flush=True)
    print(", ".join(f"{k} {v}" for k, v in totals.items()), f"of {len(names)} left alive")
    return 0


if __name__ == "__main__":
    sys.exit(main())
