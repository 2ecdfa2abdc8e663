"""Same-run A/B comparison: ``fwmon perf-ab --base REF``.

Two sequential runs of identical code can differ by several percent (frequency scaling, other
load, cache state), so a regression check against an old baseline raises false alarms. This
mode measures the base revision and the working tree **interleaved**:

1. ``git worktree add --detach`` checks REF out into a temporary folder (removed at the end);
2. for each of ``rounds`` rounds, the perf tests of both trees run **at the same time** in two
   fresh ``python -m pytest -p pytest_fwmon.plugin.perf -p no:xdist --benchmark-disable
   --fwmon-perf-samples-out ...`` processes, whose working directory and ``PYTHONPATH`` (the
   tree, and its ``src`` folder when there is one) point at their tree, so the package under
   test is imported from it. Their latency rounds are interleaved by the lockstep protocol
   (:mod:`pytest_fwmon.perf.lockstep`): batches of about 1 ms of calls, base then head then
   head then base..., so both sides are sampled under the same machine load;
3. per test, the pairwise ratios ``p(head_i) / p(base_i)`` of the compared quantile over the
   rounds are formed; their median is the effect, the pooled samples of all rounds give the
   Mann-Whitney p-value and the bootstrap interval, and
   :func:`pytest_fwmon.perf.baseline.compare` decides regression / stale / ok / inconclusive
   with ``max_regression`` and ``alpha``.

Standard library only; no pytest import (pytest runs in the child processes).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess  # nosec B404 # runs git and pytest with argument lists, no shell
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError, FwmonError
from . import lockstep, stats
from .baseline import Comparison, compare
from .settings import Shift

#: Version of ``perf-ab.json``. History: 1. first release.
FORMAT_VERSION = 1


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # git from PATH, as the user runs it; fwmon's own argument list, no shell
    return subprocess.run(  # nosec B603 B607
        ["git", *args], cwd=root, capture_output=True, text=True, check=False
    )


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
    """Return a detached worktree of ``sha`` in a temporary folder, removed afterwards."""
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
    for name in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):
        env.pop(name, None)
    return env


def _command(out: Path, pytest_args: Sequence[str], budget: float | None) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "pytest_fwmon.plugin.perf",
        "-p",
        "no:xdist",
        "-p",
        "no:cacheprovider",
        "-q",
        "--benchmark-disable",
        "--fwmon-perf-samples-out",
        str(out),
        *(["--fwmon-perf-budget", str(budget)] if budget is not None else []),
        *pytest_args,
    ]


def run_round(
    trees: dict[str, Path],
    rel_cwd: Path,
    outs: dict[str, Path],
    pytest_args: Sequence[str],
    budget: float | None,
    first: str,
) -> dict[str, dict[str, Any]]:
    """Both sides at once, in lockstep; the samples each wrote, by side."""
    procs: dict[str, subprocess.Popen[str]] = {}
    channels: dict[str, lockstep.Channel] = {}
    try:
        for side, tree in trees.items():
            to_child_r, to_child_w = os.pipe()
            from_child_r, from_child_w = os.pipe()
            env = _env(tree)
            env[lockstep.ENV] = f"{to_child_r},{from_child_w}"
            procs[side] = subprocess.Popen(  # nosec B603 # this interpreter running pytest
                _command(outs[side], pytest_args, budget),
                cwd=tree / rel_cwd,
                env=env,
                pass_fds=(to_child_r, from_child_w),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            os.close(to_child_r)
            os.close(from_child_w)
            channels[side] = lockstep.Channel(from_child_r, to_child_w)
        lockstep.Controller(channels["base"], channels["head"]).run(first=first)
        results: dict[str, dict[str, Any]] = {}
        for side, proc in procs.items():
            output, _ = proc.communicate()
            out = outs[side]
            if not out.exists():
                tail = (output.strip().splitlines() or [""])[-1]
                raise FwmonError(
                    f"pytest in {trees[side]} wrote no perf samples (exit {proc.returncode}): "
                    f"{tail}",
                    hint="check that the selected tests use the perf fixture and run on both "
                    "revisions",
                )
            results[side] = json.loads(out.read_text(encoding="utf-8"))
        return results
    finally:
        for channel in channels.values():
            channel.close()
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


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
    with worktree(root, sha) as base_tree, tempfile.TemporaryDirectory() as tmp:
        trees = {"base": base_tree, "head": root}
        tests = _measure(trees, rel_cwd, Path(tmp), pytest_args, budget, rounds, progress)
    results = [
        _test_result(nodeid, test, rounds, regression, improvement, alpha, also)
        for nodeid, test in sorted(tests.items())
    ]
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


def _measure(
    trees: dict[str, Path],
    rel_cwd: Path,
    tmp: Path,
    pytest_args: Sequence[str],
    budget: float | None,
    rounds: int,
    progress: Any,
) -> dict[str, TestAB]:
    """Run the rounds, base first in even ones; return each test's paired samples per round."""
    tests: dict[str, TestAB] = {}
    for i in range(rounds):
        if progress is not None:
            progress(f"round {i + 1}/{rounds}")
        outs = {side: tmp / f"{side}-{i}.json" for side in trees}
        first = "base" if i % 2 == 0 else "head"
        done = run_round(trees, rel_cwd, outs, pytest_args, budget, first)
        for side, samples in done.items():
            for nodeid, data in samples.items():
                entry = tests.setdefault(nodeid, TestAB())
                if data.get("paired"):
                    getattr(entry, side).append([float(v) for v in data["samples"]])
    return tests


def _test_result(
    nodeid: str,
    test: TestAB,
    rounds: int,
    regression: Shift,
    improvement: Shift,
    alpha: float,
    also: Sequence[Shift],
) -> dict[str, Any]:
    """Return the ``tests[]`` entry of one test: inconclusive unless paired in every round."""
    extra = {}
    if len(test.base) != rounds or len(test.head) != rounds:
        missing = "base" if len(test.base) != rounds else "head"
        comparison = Comparison(
            status="inconclusive",
            reason=f"the test was not measured in lockstep on the {missing} side",
        )
        ratios: list[float] = []
    else:
        comparison, ratios = decide(
            test, regression=regression, improvement=improvement, alpha=alpha
        )
        for shift in also:
            other, _ = decide(test, regression=shift, improvement=shift, alpha=alpha)
            extra[str(shift)] = other.to_dict()
    return {
        "nodeid": nodeid,
        "also": extra,
        "status": comparison.status,
        "comparison": comparison.to_dict(),
        "pair_ratios": [round(r, 6) for r in ratios],
        "n_base": sum(len(r) for r in test.base),
        "n_head": sum(len(r) for r in test.head),
    }
