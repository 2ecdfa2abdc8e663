"""SLA and operations figures from the sequence of runs on a branch. Standard library only.

``compute(runs, targets) -> SloResult``. ``runs`` are objects with ``run_id``, ``ts`` (Unix
seconds), ``green`` and ``gate_passed`` (``None`` when no verdict), e.g.
:class:`~pytest_fwmon.history.store.RunInfo`; they are sorted by ``ts`` here. A run is green
as :func:`pytest_fwmon.history.metrics.is_green` says: its gate verdict when one was recorded,
otherwise no failed or errored tests and every selected pipeline ``pass``.

Definitions (``t_i`` is the start of run ``i``, runs ``0 .. n-1`` in time order):

* **availability (runs)** = green runs / runs * 100.
* **availability (time)** = green time / (t_last - t_first) * 100, where the state of run ``i``
  holds from ``t_i`` to ``t_{i+1}`` (the newest run contributes no time); None for one run.
* **incident**: opens at the first red run that follows a green run and closes at the next
  green run. Red runs before the first green run open no incident (there is nothing to
  compare with).
* **MTTR** = mean over closed incidents of (t_close - t_open).
* **MTTD** = mean over incidents of (t_open - t_last_green), the start of the last green run
  before it: how long a breakage went unseen, at most one run interval.
* **MTBF** = green time / number of incidents.
* **gate pass rate** = runs whose recorded gate verdict passed / runs with a verdict * 100.
* **error budget** against ``target`` (percent, default 99.9): allowed red runs
  ``B = (1 - target/100) * n``; used = red / B * 100 (may exceed 100); remaining = 100 - used.
* **minimum sample**: below ``min_runs`` (default 20) runs no figure gets a verdict and no
  budget or burn rate is given: the result says ``insufficient data: N runs, M needed``. The
  error budget also needs ``n >= 1 / (1 - target/100)`` runs (rounded up), so that at least
  one red run is allowed; below that one red run is several hundred percent of the budget.
  Rates carry numerator, denominator and their 95 % Wilson interval (:mod:`.rates`).
* **burn rate** over the newest ``w`` runs = (red in them / runs in them) / (1 - target/100):
  1.0 spends the budget exactly at the allowed pace. Windows and their maximum burn rates
  default to 10 runs: 14.4 and 100 runs: 6.0 (the fast and slow windows of the Google SRE
  workbook, counted in runs instead of hours).

Targets (``[tool.fwmon.slo]``, all optional except the defaults shown)::

    branch = "main"              # runs of this branch ("" = every branch)
    target = 99.9                # availability objective, percent, run-based; error budget
    window_runs = 0              # only the newest N runs (0 = all; --since also applies)
    min_runs = 20                # fewer runs: "insufficient data", no verdict, no budget
    max_mttr_hours = 24.0
    min_mtbf_hours = 168.0
    max_mttd_hours = 24.0
    min_gate_pass_rate = 98.0
    min_availability_time = 99.0
    burn_windows = [10, 100]
    max_burn_rates = [14.4, 6.0]

Compliance compares each figure with its target; a figure without data (no incident yet, so
no MTTR) is reported as ``ok = None`` and does not break compliance. ``verdict`` is
``compliant``, ``breached`` or ``insufficient`` (below the minimum sample; ``compliant`` is
then None).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Final, Protocol

from ..core.errors import ConfigError
from .rates import Rate, insufficient


class SloRun(Protocol):
    """What :func:`compute` reads from a run."""

    @property
    def run_id(self) -> str: ...
    @property
    def ts(self) -> float: ...
    @property
    def green(self) -> bool: ...
    @property
    def gate_passed(self) -> bool | None: ...


_NUMBER_KEYS: Final = (
    "target",
    "max_mttr_hours",
    "min_mtbf_hours",
    "max_mttd_hours",
    "min_gate_pass_rate",
    "min_availability_time",
)
#: Default burn-rate windows (runs) and their maximum burn rates.
DEFAULT_BURN_WINDOWS: Final = (10, 100)
DEFAULT_MAX_BURN_RATES: Final = (14.4, 6.0)
#: Default minimum sample of a verdict (see the module docstring and the reference page).
DEFAULT_MIN_RUNS: Final = 20

VALID_KEYS: Final = (
    "branch",
    *_NUMBER_KEYS,
    "window_runs",
    "min_runs",
    "burn_windows",
    "max_burn_rates",
)


_WHERE: Final = "[tool.fwmon.slo]"


def _check_keys(section: Mapping[str, Any]) -> None:
    """Raise ConfigError for the first key of ``section`` that is not a valid key."""
    for key in section:
        if key not in VALID_KEYS:
            raise ConfigError(
                f"unknown key {_WHERE} {key}; valid keys: {', '.join(sorted(VALID_KEYS))}"
            )


def _read_branch(section: Mapping[str, Any], values: dict[str, Any]) -> None:
    """Validate ``branch`` into ``values`` (an empty string means every branch)."""
    if "branch" not in section:
        return
    branch = section["branch"]
    if not isinstance(branch, str):
        raise ConfigError(f"{_WHERE} branch must be a string, got {branch!r}")
    values["branch"] = branch or None


def _read_numbers(section: Mapping[str, Any], values: dict[str, Any]) -> None:
    """Validate the numeric targets into ``values``; ``target`` must lie in (0, 100)."""
    for key in _NUMBER_KEYS:
        if key not in section:
            continue
        value = section[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"{_WHERE} {key} must be a number >= 0, got {value!r}")
        values[key] = float(value)
    if "target" in values and not 0 < values["target"] < 100:
        raise ConfigError(
            f"{_WHERE} target must be between 0 and 100 (exclusive), got {values['target']!r}"
        )


def _read_window(section: Mapping[str, Any], values: dict[str, Any]) -> None:
    """Validate ``window_runs`` (a whole number >= 0) and ``min_runs`` (>= 1) into ``values``."""
    for key, lowest in (("window_runs", 0), ("min_runs", 1)):
        if key not in section:
            continue
        number = section[key]
        if isinstance(number, bool) or not isinstance(number, int) or number < lowest:
            raise ConfigError(f"{_WHERE} {key} must be a whole number >= {lowest}, got {number!r}")
        values[key] = number


def _positive(value: Any, *, whole: bool) -> bool:
    """Return True when ``value`` is a number above 0 (a whole number when ``whole``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if whole and not isinstance(value, int):
        return False
    return value > 0


def _positive_list(value: Any, *, whole: bool) -> bool:
    """Return True when ``value`` is a list of numbers above 0 (ints only when ``whole``)."""
    return isinstance(value, list) and all(_positive(v, whole=whole) for v in value)


def _read_burn(section: Mapping[str, Any], values: dict[str, Any]) -> None:
    """Validate ``burn_windows`` and ``max_burn_rates`` (same length) into ``values``."""
    windows = section.get("burn_windows", list(DEFAULT_BURN_WINDOWS))
    rates = section.get("max_burn_rates", list(DEFAULT_MAX_BURN_RATES))
    if not _positive_list(windows, whole=True):
        raise ConfigError(f"{_WHERE} burn_windows must be a list of whole numbers > 0")
    if not _positive_list(rates, whole=False):
        raise ConfigError(f"{_WHERE} max_burn_rates must be a list of numbers > 0")
    if len(windows) != len(rates):
        raise ConfigError(
            f"{_WHERE} burn_windows and max_burn_rates must have the same length "
            f"({len(windows)} != {len(rates)})"
        )
    values["burn_windows"] = tuple(windows)
    values["max_burn_rates"] = tuple(float(r) for r in rates)


@dataclass(frozen=True, slots=True)
class SloTargets:
    """Targets from ``[tool.fwmon.slo]`` (see the module docstring)."""

    #: Branch whose runs count; None for every branch.
    branch: str | None = "main"
    #: Availability objective in percent (run-based); the error budget is against it.
    target: float = 99.9
    #: Newest runs to use; 0 for all.
    window_runs: int = 0
    #: Fewer runs than this: no verdict, no budget, no burn rate ("insufficient data").
    min_runs: int = DEFAULT_MIN_RUNS
    max_mttr_hours: float | None = None
    min_mtbf_hours: float | None = None
    max_mttd_hours: float | None = None
    min_gate_pass_rate: float | None = None
    min_availability_time: float | None = None
    #: Burn-rate windows in runs, and the maximum burn rate of each.
    burn_windows: tuple[int, ...] = DEFAULT_BURN_WINDOWS
    max_burn_rates: tuple[float, ...] = DEFAULT_MAX_BURN_RATES

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> SloTargets:
        """Validate ``[tool.fwmon.slo]``; unknown keys and bad values raise ConfigError."""
        _check_keys(section)
        values: dict[str, Any] = {}
        _read_branch(section, values)
        _read_numbers(section, values)
        _read_window(section, values)
        _read_burn(section, values)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Incident:
    """A stretch of red runs after a green one."""

    #: First red run, and its start.
    opened_run: str
    opened_ts: float
    #: Green run that closed it, and its start (None while open).
    closed_run: str | None
    closed_ts: float | None
    #: Last green run before it, and its start.
    last_green_run: str
    last_green_ts: float
    #: Red runs in it.
    red_runs: int

    @property
    def repair_seconds(self) -> float | None:
        """Time to repair (None while open)."""
        return None if self.closed_ts is None else self.closed_ts - self.opened_ts

    @property
    def detect_seconds(self) -> float:
        """Time to detect."""
        return self.opened_ts - self.last_green_ts

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with the derived durations."""
        data = asdict(self)
        data["repair_seconds"] = self.repair_seconds
        data["detect_seconds"] = self.detect_seconds
        return data


@dataclass(frozen=True, slots=True)
class BurnRate:
    """Error-budget burn rate over the newest runs."""

    #: Window size in runs, runs actually in it, red runs in it.
    window: int
    runs: int
    red: int
    #: (red / runs) / (1 - target / 100); None without runs.
    rate: float | None
    #: Maximum allowed, and whether the rate is within it.
    threshold: float
    ok: bool | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Compliance:
    """One figure against its target."""

    #: Figure name as in :class:`SloResult` (``burn_rate.10`` for a burn window).
    name: str
    value: float | None
    #: "ge" (at least) or "le" (at most).
    op: str
    target: float
    #: True/False, or None when the figure has no data.
    ok: bool | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass(slots=True)
class SloResult:
    """Every SLA figure of a run sequence and its compliance."""

    branch: str | None
    target: float
    runs: int
    green_runs: int
    red_runs: int
    first_ts: float | None
    last_ts: float | None
    #: Percent; None without runs (time: with fewer than two runs).
    availability_runs: float | None
    availability_time: float | None
    green_seconds: float
    red_seconds: float
    incidents: list[Incident]
    #: True while the newest run is red after a green one.
    incident_open: bool
    #: Seconds; None without (closed) incidents.
    mttr_seconds: float | None
    mtbf_seconds: float | None
    mttd_seconds: float | None
    #: Percent of runs with a recorded verdict that passed; None without verdicts.
    gate_pass_rate: float | None
    gate_runs: int
    #: Allowed red runs, and the budget used / remaining in percent.
    budget_allowed_runs: float
    budget_used: float | None
    budget_remaining: float | None
    burn_rates: list[BurnRate] = field(default_factory=list)
    compliance: list[Compliance] = field(default_factory=list)
    #: Runs a verdict needs, and runs the error budget needs (see the module docstring).
    min_runs: int = DEFAULT_MIN_RUNS
    budget_min_runs: int = DEFAULT_MIN_RUNS
    #: Green runs of runs, and passed verdicts of verdicts, with their Wilson intervals.
    availability: Rate = field(default_factory=lambda: Rate.of(0, 0))
    gate_pass: Rate = field(default_factory=lambda: Rate.of(0, 0))
    #: "insufficient data: N runs, M needed" below ``min_runs`` (the budget's own below
    #: ``budget_min_runs``), else None.
    insufficient: str | None = None
    budget_insufficient: str | None = None
    #: Which runs the figures are over, when that needs saying (set by :mod:`.figures`).
    note: str | None = None

    @property
    def compliant(self) -> bool | None:
        """No figure breaks its target (None below the minimum sample)."""
        if self.insufficient is not None:
            return None
        return all(c.ok is not False for c in self.compliance)

    @property
    def verdict(self) -> str:
        """``compliant``, ``breached`` or ``insufficient``."""
        compliant = self.compliant
        return "insufficient" if compliant is None else ("compliant" if compliant else "breached")

    def figure(self, name: str) -> float | None:
        """Return a figure by name.

        The names are ``availability`` (runs), ``availability_time``, ``gate_pass_rate``,
        ``mttr_hours``, ``mtbf_hours``, ``mttd_hours``, ``error_budget_remaining``,
        ``error_budget_used`` and ``burn_rate.<window>``.
        """
        hours = {
            "mttr_hours": self.mttr_seconds,
            "mtbf_hours": self.mtbf_seconds,
            "mttd_hours": self.mttd_seconds,
        }
        if name in hours:
            seconds = hours[name]
            return None if seconds is None else seconds / 3600.0
        if name.startswith("burn_rate."):
            for burn in self.burn_rates:
                if str(burn.window) == name.split(".", 1)[1]:
                    return burn.rate
            return None
        simple = {
            "availability": self.availability_runs,
            "availability_runs": self.availability_runs,
            "availability_time": self.availability_time,
            "gate_pass_rate": self.gate_pass_rate,
            "error_budget_remaining": self.budget_remaining,
            "error_budget_used": self.budget_used,
            "runs": float(self.runs),
            "incidents": float(len(self.incidents)),
        }
        if name not in simple:
            raise KeyError(name)
        return simple[name]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        data = asdict(self)
        data["incidents"] = [i.to_dict() for i in self.incidents]
        data["compliant"] = self.compliant
        data["verdict"] = self.verdict
        return data


#: Names :meth:`SloResult.figure` knows (besides ``burn_rate.<window>``).
FIGURES: Final = (
    "availability",
    "availability_time",
    "gate_pass_rate",
    "mttr_hours",
    "mtbf_hours",
    "mttd_hours",
    "error_budget_remaining",
    "error_budget_used",
    "runs",
    "incidents",
)


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _ordered(runs: Sequence[SloRun], targets: SloTargets) -> list[SloRun]:
    """Return ``runs`` in time order, cut to the newest ``window_runs`` when one is set."""
    ordered = sorted(runs, key=lambda r: (r.ts, r.run_id))
    if targets.window_runs:
        ordered = ordered[-targets.window_runs :]
    return ordered


def _state_seconds(ordered: Sequence[SloRun]) -> tuple[float, float]:
    """Return the green and the red seconds: run ``i``'s state holds until run ``i+1``."""
    green_seconds = red_seconds = 0.0
    for run, after in itertools.pairwise(ordered):
        if run.green:
            green_seconds += after.ts - run.ts
        else:
            red_seconds += after.ts - run.ts
    return green_seconds, red_seconds


def _incidents(ordered: Sequence[SloRun]) -> tuple[list[Incident], bool]:
    """Return the incidents of ``ordered``, and whether the newest one is still open."""
    incidents: list[Incident] = []
    current: dict[str, Any] | None = None
    for previous, run in itertools.pairwise(ordered):
        if not run.green and previous.green:
            current = {
                "opened_run": run.run_id,
                "opened_ts": run.ts,
                "last_green_run": previous.run_id,
                "last_green_ts": previous.ts,
                "red_runs": 1,
            }
        elif not run.green and current is not None:
            current["red_runs"] += 1
        elif run.green and current is not None:
            incidents.append(Incident(closed_run=run.run_id, closed_ts=run.ts, **current))
            current = None
    if current is not None:
        incidents.append(Incident(closed_run=None, closed_ts=None, **current))
    return incidents, current is not None


def _percent(part: float, whole: float) -> float | None:
    """Return ``part`` / ``whole`` in percent, or None when ``whole`` is not above 0."""
    return part / whole * 100.0 if whole > 0 else None


def _burn_rates(ordered: Sequence[SloRun], targets: SloTargets) -> list[BurnRate]:
    """Return the error-budget burn rate of every burn window (rate None below ``min_runs``)."""
    budget_fraction = 1 - targets.target / 100.0
    enough = len(ordered) >= targets.min_runs
    rates: list[BurnRate] = []
    for window, threshold in zip(targets.burn_windows, targets.max_burn_rates, strict=True):
        recent = ordered[-window:]
        bad = sum(1 for r in recent if not r.green)
        rate = (bad / len(recent)) / budget_fraction if recent and enough else None
        ok = None if rate is None else rate <= threshold
        rates.append(BurnRate(window, len(recent), bad, rate, threshold, ok))
    return rates


def _span(ordered: Sequence[SloRun]) -> tuple[float | None, float | None]:
    """Return the start of the first and of the newest run (None, None without runs)."""
    if not ordered:
        return None, None
    return ordered[0].ts, ordered[-1].ts


def _mttr(incidents: Sequence[Incident]) -> float | None:
    """Return the mean repair time of the closed incidents, or None without one."""
    return _mean([i.repair_seconds for i in incidents if i.repair_seconds is not None])


def budget_min_runs(targets: SloTargets) -> int:
    """Return the runs an error budget needs: ``min_runs``, and one allowed red run."""
    # 1 / (1 - 0.999) is 1000.0000000000009 in floating point: round before the ceiling
    one_red = math.ceil(round(1.0 / (1.0 - targets.target / 100.0), 6))
    return max(targets.min_runs, one_red)


def _budget(red: int, n: int, targets: SloTargets) -> tuple[float, float | None, float | None]:
    """Return the allowed red runs and the budget used and remaining (None below the minimum)."""
    allowed = (1 - targets.target / 100.0) * n
    if n < budget_min_runs(targets) or allowed <= 0:
        return allowed, None, None
    used = red / allowed * 100.0
    return allowed, used, 100.0 - used


def compute(runs: Sequence[SloRun], targets: SloTargets | None = None) -> SloResult:
    """SLA figures of ``runs`` (any order) against ``targets``."""
    targets = targets or SloTargets()
    ordered = _ordered(runs, targets)
    n = len(ordered)
    green = sum(1 for r in ordered if r.green)
    green_seconds, red_seconds = _state_seconds(ordered)
    first_ts, last_ts = _span(ordered)
    span = ordered[-1].ts - ordered[0].ts if n else 0.0
    incidents, incident_open = _incidents(ordered)
    verdicts = [r.gate_passed for r in ordered if r.gate_passed is not None]
    red = n - green
    allowed, used, remaining = _budget(red, n, targets)
    passed = sum(verdicts)
    result = SloResult(
        branch=targets.branch,
        target=targets.target,
        runs=n,
        green_runs=green,
        red_runs=red,
        first_ts=first_ts,
        last_ts=last_ts,
        availability_runs=_percent(green, n),
        availability_time=_percent(green_seconds, span),
        green_seconds=green_seconds,
        red_seconds=red_seconds,
        incidents=incidents,
        incident_open=incident_open,
        mttr_seconds=_mttr(incidents),
        mtbf_seconds=green_seconds / len(incidents) if incidents else None,
        mttd_seconds=_mean([i.detect_seconds for i in incidents]),
        gate_pass_rate=_percent(passed, len(verdicts)),
        gate_runs=len(verdicts),
        budget_allowed_runs=allowed,
        budget_used=used,
        budget_remaining=remaining,
        min_runs=targets.min_runs,
        budget_min_runs=budget_min_runs(targets),
        availability=Rate.of(green, n),
        gate_pass=Rate.of(passed, len(verdicts)),
    )
    result.burn_rates.extend(_burn_rates(ordered, targets))
    result.compliance = _compliance(result, targets)
    _apply_minimum(result, targets)
    return result


def _apply_minimum(result: SloResult, targets: SloTargets) -> None:
    """Say "insufficient data" below the minimum samples, and then drop every verdict."""
    n = result.runs
    if n < result.budget_min_runs:
        result.budget_insufficient = insufficient(n, result.budget_min_runs)
    if n < targets.min_runs:
        result.insufficient = insufficient(n, targets.min_runs)
        result.compliance = [replace(c, ok=None) for c in result.compliance]


def _check(name: str, value: float | None, op: str, target: float) -> Compliance:
    if value is None:
        return Compliance(name, None, op, target, None)
    ok = value >= target if op == "ge" else value <= target
    return Compliance(name, value, op, target, ok)


def _compliance(result: SloResult, targets: SloTargets) -> list[Compliance]:
    checks = [
        _check("availability", result.availability_runs, "ge", targets.target),
        _check("error_budget_remaining", result.budget_remaining, "ge", 0.0),
    ]
    optional = (
        ("availability_time", "min_availability_time", "ge"),
        ("mttr_hours", "max_mttr_hours", "le"),
        ("mtbf_hours", "min_mtbf_hours", "ge"),
        ("mttd_hours", "max_mttd_hours", "le"),
        ("gate_pass_rate", "min_gate_pass_rate", "ge"),
    )
    for figure, key, op in optional:
        target = getattr(targets, key)
        if target is not None:
            checks.append(_check(figure, result.figure(figure), op, target))
    for burn in result.burn_rates:
        checks.append(_check(f"burn_rate.{burn.window}", burn.rate, "le", burn.threshold))
    return checks


__all__ = [
    "FIGURES",
    "VALID_KEYS",
    "BurnRate",
    "Compliance",
    "Incident",
    "SloResult",
    "SloTargets",
    "compute",
]
