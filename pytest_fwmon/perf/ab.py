"""Same-run A/B comparison: ``fwmon perf-ab --base REF``.

Two sequential runs of identical code can differ by several percent (frequency scaling, other
load, cache state), so a regression check against an old baseline raises false alarms. This
mode measures the base revision and the working tree **interleaved**:

1. ``git worktree add --detach`` checks REF out into a temporary folder (removed at the end);
2. for round ``i = 0 .. rounds-1`` the perf tests run once in each tree, in the order
   base, head for even ``i`` and head, base for odd ``i`` (ABBA), each a fresh
   ``python -m pytest -p pytest_fwmon.perf.fixture -p no:xdist --fwmon-perf-samples-out ...``
   whose working directory and ``PYTHONPATH`` (the tree, and its ``src`` folder when there is
   one) point at that tree, so the package under test is imported from it;
3. per test, the pairwise ratios ``p(head_i) / p(base_i)`` of the compared quantile are formed;
   their median is the effect, the pooled samples of all rounds give the Mann-Whitney p-value
   and the bootstrap interval, and :func:`pytest_fwmon.perf.baseline.compare` decides
   regression / stale / ok / inconclusive with ``max_regression`` and ``alpha``.

Standard library only; no pytest import (pytest runs in the child processes).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, FwmonError
from . import stats
from .baseline import Comparison, compare
from .settings import Shift

#: Version of ``perf-ab.json``. History: 1. first release.
FORMAT_VERSION = 1


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)


def repo_root(start: Path) -> Path:
    """Top folder of the git work tree holding ``start``."""
    done = _git(start, "rev-parse", "--show-toplevel")
    if done.returncode != 0:
        raise ConfigError(f"{start} is not inside a git work tree; perf-ab compares git revisions")
    return Path(done.stdout.strip())


def resolve(root: Path, ref: str) -> str:
    """Commit sha of ``ref``."""
    done = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if done.returncode != 0 or not done.stdout.strip():
        raise ConfigError(
            f"unknown git revision {ref!r}", hint="pass a branch, tag or commit, e.g. --base HEAD~1"
        )
    return done.stdout.strip()


@contextmanager
def worktree(root: Path, sha: str) -> Iterator[Path]:
    """A detached worktree of ``sha`` in a temporary folder, removed afterwards."""
    parent = Path(tempfile.mkdtemp(prefix="fwmon-perf-ab-"))
    path = parent / "base"
    done = _git(root, "worktree", "add", "--detach", str(path), sha)
    if done.returncode != 0:
        shutil.rmtree(parent, ignore_errors=True)
        raise FwmonError(f"git worktree add failed: {done.stderr.strip() or done.stdout.strip()}")
    try:
        yield path
    finally:
        _git(root, "worktree", "remove", "--force", str(path))
        shutil.rmtree(parent, ignore_errors=True)
        _git(root, "worktree", "prune")


@dataclass(slots=True)
class TestAB:
    """Samples of one perf test on both sides."""

    base: list[list[float]] = field(default_factory=list)
    head: list[list[float]] = field(default_factory=list)


def _env(tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(tree)]
    if (tree / "src").is_dir():
        paths.insert(0, str(tree / "src"))
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.pop("PYTEST_ADDOPTS", None)
    return env


def run_side(
    tree: Path, rel_cwd: Path, out: Path, pytest_args: Sequence[str], budget: float | None
) -> dict[str, Any]:
    """One pytest run of the perf tests in ``tree``; the samples it wrote."""
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "pytest_fwmon.perf.fixture",
        "-p",
        "no:xdist",
        "-p",
        "no:cacheprovider",
        "-q",
        "--fwmon-perf-samples-out",
        str(out),
        *(["--fwmon-perf-budget", str(budget)] if budget is not None else []),
        *pytest_args,
    ]
    done = subprocess.run(
        cmd, cwd=tree / rel_cwd, env=_env(tree), capture_output=True, text=True, check=False
    )
    if not out.exists():
        tail = (done.stdout.strip().splitlines() or [""])[-1]
        raise FwmonError(
            f"pytest in {tree} wrote no perf samples (exit {done.returncode}): {tail}",
            hint="check that the selected tests use the perf fixture and pass on both revisions",
        )
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data


def decide(
    test: TestAB,
    *,
    regression: Shift,
    improvement: Shift,
    alpha: float,
    confidence: float = 0.95,
    seed: int = stats.DEFAULT_SEED,
    sample_cap: int = 2000,
) -> tuple[Comparison, list[float]]:
    """Comparison of one test over all rounds, and its pairwise ratios."""
    q = regression.q
    ratios = []
    for base, head in zip(test.base, test.head, strict=False):
        if base and head:
            b = stats.quantile(base, q)
            ratios.append(stats.quantile(head, q) / b if b > 0 else float("inf"))
    pooled_base = [v for run in test.base for v in stats.capped(run, sample_cap)]
    pooled_head = [v for run in test.head for v in stats.capped(run, sample_cap)]
    effect = stats.quantile(ratios, 0.5) if ratios else None
    comparison = compare(
        pooled_base,
        pooled_head,
        regression=regression,
        improvement=improvement,
        alpha=alpha,
        confidence=confidence,
        seed=seed,
        effect=effect,
    )
    return comparison, ratios


def run_ab(
    *,
    cwd: Path,
    base_ref: str,
    pytest_args: Sequence[str],
    rounds: int,
    regression: Shift,
    improvement: Shift,
    alpha: float,
    budget: float | None,
    progress: Any = None,
    also: Sequence[Shift] = (),
) -> dict[str, Any]:
    """Run the A/B comparison; return the ``perf-ab.json`` document.

    ``also`` adds the verdicts for other thresholds (``tests[].also["p50:5%"]``) from the
    same samples.
    """
    root = repo_root(cwd)
    sha = resolve(root, base_ref)
    rel_cwd = cwd.resolve().relative_to(root.resolve())
    tests: dict[str, TestAB] = {}
    with worktree(root, sha) as base_tree, tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds):
            order = [("base", base_tree), ("head", root)]
            if i % 2:
                order.reverse()
            for side, tree in order:
                if progress is not None:
                    progress(f"round {i + 1}/{rounds}: {side}")
                out = Path(tmp) / f"{side}-{i}.json"
                for nodeid, data in run_side(tree, rel_cwd, out, pytest_args, budget).items():
                    entry = tests.setdefault(nodeid, TestAB())
                    getattr(entry, side).append([float(v) for v in data.get("samples", [])])
    results = []
    for nodeid, test in sorted(tests.items()):
        if len(test.base) != rounds or len(test.head) != rounds:
            missing = "base" if len(test.base) != rounds else "head"
            comparison = Comparison(
                status="inconclusive", reason=f"the test did not run on the {missing} side"
            )
            ratios: list[float] = []
        else:
            comparison, ratios = decide(
                test, regression=regression, improvement=improvement, alpha=alpha
            )
        extra = {}
        if len(test.base) == rounds and len(test.head) == rounds:
            for shift in also:
                other, _ = decide(test, regression=shift, improvement=shift, alpha=alpha)
                extra[str(shift)] = other.to_dict()
        results.append(
            {
                "nodeid": nodeid,
                "also": extra,
                "status": comparison.status,
                "comparison": comparison.to_dict(),
                "pair_ratios": [round(r, 6) for r in ratios],
                "n_base": sum(len(r) for r in test.base),
                "n_head": sum(len(r) for r in test.head),
            }
        )
    return {
        "format": "fwmon-perf-ab",
        "version": FORMAT_VERSION,
        "base": {"ref": base_ref, "sha": sha},
        "head": {"tree": str(root)},
        "rounds": rounds,
        "max_regression": str(regression),
        "max_improvement": str(improvement),
        "alpha": alpha,
        "tests": results,
    }
