"""Do fwmon's change points mean steps? Error rates on seeded 40-run series, against ruptures.

Each class has ``--series`` seeded series of 40 runs: level 100, Gaussian noise of sigma 1,

- **noise**: noise only;
- **ramp**: a straight ramp, slope uniform in 0.2 to 2 sigma a run, up or down, plus noise;
- **step**: one step of 4 sigma (up or down) at a run uniform in 8..32, plus noise;
- **ramp+step**: the ramp and the step together;
- **bend** (no target): flat, then a ramp of 0.2 to 2 sigma a run from a run in 8..32.

A series without a step is *right* when no change point is reported; a series with one when a
change point lies within 2 runs of the step (other points allowed; the ``exact`` column counts
series with that one point only).

Targets (issue 15): ramps with noise and noise only, no change point in >= 95 % of the series;
one 4 sigma step, found within 2 runs in >= 90 % (with or without the ramp). Exit 1 when
:func:`pytest_fwmon.history.changepoint.change_points` misses one, 2 without ruptures.

The same series go through ruptures (the dev extra) as a reference, penalised by BIC with the
same robust noise estimate:

- ``ruptures l2``: ``Pelt(model="l2", min_size=5, jump=1)`` on the residuals of the series'
  Theil-Sen line (``scipy.stats.theilslopes``), ``pen = 2 * sigma^2 * ln(n)``;
- ``ruptures linear``: ``Pelt(model="linear", min_size=5, jump=1)`` on ``[y | x, 1]`` (a line per
  segment), ``pen = 3 * sigma^2 * ln(n)``.

Usage: ``python benchmarks/changepoints.py [--series 500]``.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pytest_fwmon.history.changepoint import change_points, noise_sigma  # noqa: E402

N_RUNS = 40
STEP_SIGMAS = 4.0
CLASSES = ("noise", "ramp", "step", "ramp+step", "bend")
#: Least share of right series per class (None: reported only).
TARGETS: dict[str, float | None] = {
    "noise": 0.95,
    "ramp": 0.95,
    "step": 0.90,
    "ramp+step": 0.90,
    "bend": None,
}

Detector = Callable[[list[float]], list[int]]

#: What each detector runs, printed with the rates.
CONFIG = (
    "fwmon: change_points(values) with its defaults (window=30, min_size=5, alpha=0.01, "
    "min_sigmas=2)",
    'ruptures l2: Pelt(model="l2", min_size=5, jump=1) on y - Theil-Sen line, pen = 2 sigma^2 ln n',
    'ruptures linear: Pelt(model="linear", min_size=5, jump=1) on [y | x, 1], pen = 3 sigma^2 ln n',
    "sigma: pytest_fwmon.history.changepoint.noise_sigma(values) for all three",
)


def series(kind: str, seed: int, n: int = N_RUNS) -> tuple[list[float], int | None]:
    """Return one seeded series of ``kind`` and the index of its step (None without one)."""
    rng = random.Random(f"{kind}-{seed}")
    slope = rng.uniform(0.2, 2.0) * rng.choice((-1, 1))
    at = rng.randint(8, n - 8)
    step = STEP_SIGMAS * rng.choice((-1, 1))
    values = []
    for i in range(n):
        level = 100.0
        if kind in ("ramp", "ramp+step"):
            level += slope * i
        if kind == "bend" and i >= at:
            level += slope * (i - at)
        if kind in ("step", "ramp+step") and i >= at:
            level += step
        values.append(level + rng.gauss(0.0, 1.0))
    return values, (at if "step" in kind else None)


def ours(values: list[float]) -> list[int]:
    """Change points of fwmon's detector, with its defaults."""
    return [cp.index for cp in change_points(values)]


def ruptures_detectors() -> dict[str, Detector]:
    """Return the ruptures reference detectors (see the module docstring)."""
    import numpy as np
    import ruptures as rpt
    from scipy import stats

    def l2(values: list[float]) -> list[int]:
        y = np.asarray(values)
        x = np.arange(len(y), dtype=float)
        fit = stats.theilslopes(y, x)
        residuals = (y - (fit.intercept + fit.slope * x)).reshape(-1, 1)
        pen = 2.0 * noise_sigma(values) ** 2 * math.log(len(y))
        algo = rpt.Pelt(model="l2", min_size=5, jump=1).fit(residuals)
        return [int(k) for k in algo.predict(pen=pen)[:-1]]

    def linear(values: list[float]) -> list[int]:
        y = np.asarray(values)
        x = np.arange(len(y), dtype=float)
        signal = np.column_stack((y, x, np.ones_like(x)))
        pen = 3.0 * noise_sigma(values) ** 2 * math.log(len(y))
        algo = rpt.Pelt(model="linear", min_size=5, jump=1).fit(signal)
        return [int(k) for k in algo.predict(pen=pen)[:-1]]

    return {"ruptures l2": l2, "ruptures linear": linear}


def rates(detect: Detector, kind: str, count: int) -> tuple[float, float]:
    """Return (right, exact) shares of ``detect`` over ``count`` series of ``kind``."""
    right = exact = 0
    for seed in range(count):
        values, at = series(kind, seed)
        found = detect(values)
        if at is None:
            right += not found
            exact += not found
        else:
            near = [k for k in found if abs(k - at) <= 2]
            right += bool(near)
            exact += len(found) == 1 and bool(near)
    return right / count, exact / count


def main(argv: list[str] | None = None) -> int:
    """Print the rates of every detector per class; exit 1 when fwmon misses a target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=500, help="seeded series per class")
    args = parser.parse_args(argv)
    try:
        detectors: dict[str, Detector] = {"fwmon": ours, **ruptures_detectors()}
    except ImportError as exc:
        print(f"changepoints: the reference needs the dev extra ({exc})", file=sys.stderr)
        return 2
    print(
        f"{args.series} series of {N_RUNS} runs per class, noise 1 sigma, "
        f"step {STEP_SIGMAS:g} sigma"
    )
    for line in CONFIG:
        print(f"  {line}")
    print(f"{'class':10} {'target':>7} " + " ".join(f"{name:>22}" for name in detectors))
    missed = []
    for kind in CLASSES:
        target = TARGETS[kind]
        cells = []
        for name, detect in detectors.items():
            right, exact = rates(detect, kind, args.series)
            cells.append(f"{right:7.1%} (exact {exact:6.1%})")
            if name == "fwmon" and target is not None and right < target:
                missed.append(f"{kind}: {right:.1%} < {target:.0%}")
        shown = f">={target:.0%}" if target is not None else "-"
        print(f"{kind:10} {shown:>7} " + " ".join(f"{cell:>22}" for cell in cells))
    for line in missed:
        print(f"MISSED {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
