"""A rate with its sample: numerator, denominator, percent and its 95 % Wilson interval.

Standard library only. The Wilson score interval of ``k`` successes in ``n`` trials at
``z = 1.959963984540054`` (the two-sided 95 % normal quantile)::

    centre = (p + z²/2n) / (1 + z²/n)
    half   = z / (1 + z²/n) * sqrt(p(1-p)/n + z²/4n²)        with p = k / n

It is written out here instead of importing scipy or statsmodels, which the history commands
do not depend on; the tests compare it with ``scipy.stats.binomtest(k, n)
.proportion_ci(method="wilson")``. Wilson is used rather than the normal (Wald) interval
because it stays inside [0, 1] and keeps its coverage for a rate near 100 % and a handful of
runs, which is exactly where availability figures live; at ``k = n`` its lower bound is
``n / (n + z²)``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Final

#: The two-sided 95 % quantile of the standard normal distribution.
Z95: Final = 1.959963984540054


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float] | None:
    """Return the Wilson interval of ``successes`` / ``trials`` as fractions (None for 0 trials)."""
    if trials <= 0:
        return None
    p = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True, slots=True)
class Rate:
    """``numerator`` of ``denominator`` in percent, with its 95 % Wilson interval in percent."""

    numerator: int
    denominator: int
    #: Percent; None without a denominator (and so the interval).
    percent: float | None
    low: float | None
    high: float | None

    @classmethod
    def of(cls, numerator: int, denominator: int) -> Rate:
        """Return the rate of ``numerator`` in ``denominator`` with its interval."""
        interval = wilson(numerator, denominator)
        if interval is None:
            return cls(numerator, denominator, None, None, None)
        return cls(
            numerator,
            denominator,
            numerator / denominator * 100.0,
            interval[0] * 100.0,
            interval[1] * 100.0,
        )

    def text(self, digits: int = 2) -> str:
        """``99.50 % (199/200, 95 % CI 97.2-99.9 %)``; ``-`` without a denominator."""
        if self.percent is None or self.low is None or self.high is None:
            return "-"
        return (
            f"{self.percent:.{digits}f} % ({self.numerator}/{self.denominator}, "
            f"95 % CI {self.low:.1f}-{self.high:.1f} %)"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def insufficient(runs: int, needed: int) -> str:
    """Return the one wording of a figure withheld for want of runs, on every surface."""
    return f"insufficient data: {runs} runs, {needed} needed"


__all__ = ["Z95", "Rate", "insufficient", "wilson"]
