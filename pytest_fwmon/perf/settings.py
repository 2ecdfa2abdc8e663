"""Settings of the performance pipeline: ``[tool.fwmon.perf]`` keys and ``@pytest.mark.perf``.

Standard library only. Sources, later ones win: the defaults in :data:`SETTINGS` and
:data:`LIMITS` (no limit by default), ``[tool.fwmon.perf]``, then the marker's keyword arguments.
Unknown keys and bad values raise :class:`PerfSettingsError` naming the valid keys.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Final

from .stats import DEFAULT_SEED, REPORTED_QUANTILES


class PerfSettingsError(ValueError):
    """A perf setting or limit is unknown or has a bad value (the message names the valid ones)."""


@dataclass(frozen=True, slots=True)
class Limit:
    """One gate metric: its unit, the statistic it reads and the direction of a breach."""

    #: What the limit applies to: a key of the stats ("p95"), "ops" or "mem".
    statistic: str
    #: Unit of the limit as written ("ms", "ops/s", "MB").
    unit: str
    #: Factor from the limit's unit to the stored unit (seconds, ops/s, bytes).
    scale: float
    #: True when the measured value must stay at or above the limit (throughput).
    minimum: bool = False


#: Gate metrics a marker or ``[tool.fwmon.perf]`` may set, by key.
LIMITS: Final[dict[str, Limit]] = {
    **{f"{name}_ms": Limit(name, "ms", 1e-3) for name in REPORTED_QUANTILES},
    "mean_ms": Limit("mean", "ms", 1e-3),
    "min_ops": Limit("ops", "ops/s", 1.0, minimum=True),
    "max_mem_mb": Limit("mem", "MB", 1024.0 * 1024.0),
}

_SHIFT_RE: Final = re.compile(r"^\s*(?:(p\d+)\s*:)?\s*(\d+(?:\.\d+)?)\s*%\s*$")


@dataclass(frozen=True, slots=True)
class Shift:
    """A relative change of one quantile, written ``"p95:10%"``."""

    #: Name of the quantile ("p95").
    metric: str
    #: Relative change as a fraction (0.10 for 10%).
    fraction: float

    @property
    def q(self) -> float:
        """The quantile as a fraction (0.95)."""
        return REPORTED_QUANTILES[self.metric]

    def __str__(self) -> str:
        """Return the gate as written in configuration: ``metric:percent%``."""
        return f"{self.metric}:{self.fraction * 100:g}%"


def parse_shift(text: str, where: str) -> Shift:
    """Parse ``"p95:10%"`` (the metric defaults to p95)."""
    match = _SHIFT_RE.match(text) if isinstance(text, str) else None
    if match is None:
        raise PerfSettingsError(
            f"{where} must look like 'p95:10%' (quantile: percent), got {text!r}"
        )
    metric = match.group(1) or "p95"
    if metric not in REPORTED_QUANTILES:
        raise PerfSettingsError(
            f"{where} has unknown quantile {metric!r}; valid: {', '.join(REPORTED_QUANTILES)}"
        )
    fraction = float(match.group(2)) / 100.0
    if fraction <= 0:
        raise PerfSettingsError(f"{where} must be a positive percentage, got {text!r}")
    return Shift(metric, fraction)


@dataclass(frozen=True, slots=True)
class Setting:
    """Specification of one non-limit setting."""

    default: Any
    #: "float", "int", "bool", "shift" or "str".
    kind: str
    #: Exclusive lower bound for numbers (None: no bound).
    above: float | None = None
    #: Inclusive lower bound for numbers.
    minimum: float | None = None
    #: Exclusive upper bound for numbers.
    below: float | None = None
    #: False for keys only ``[tool.fwmon.perf]`` may set.
    per_test: bool = True
    help: str = ""


#: Every non-limit key, with its default.
SETTINGS: Final[dict[str, Setting]] = {
    "time_budget": Setting(1.0, "float", above=0, help="seconds for the latency rounds"),
    "throughput_time": Setting(0.2, "float", minimum=0, help="seconds of the throughput loop"),
    "warmup_rounds": Setting(10, "int", minimum=0, help="untimed calls before the rounds"),
    "min_rounds": Setting(20, "int", minimum=1, help="fewest latency samples"),
    "max_rounds": Setting(100_000, "int", minimum=1, help="most latency samples"),
    "memory": Setting(True, "bool", help="measure peak memory with tracemalloc"),
    "seed": Setting(DEFAULT_SEED, "int", help="random.seed before each phase"),
    "max_regression": Setting("p95:10%", "shift", help="slowdown that is a regression"),
    "max_improvement": Setting("p95:10%", "shift", help="speed-up that makes a baseline stale"),
    "alpha": Setting(0.01, "float", above=0, below=1, help="Mann-Whitney significance level"),
    "fail_on_stale": Setting(True, "bool", help="fail a test whose baseline is stale"),
    "confidence": Setting(0.95, "float", above=0, below=1, help="level of every interval"),
    "sample_cap": Setting(2000, "int", minimum=0, per_test=False, help="raw samples kept"),
    "baseline": Setting(
        ".fwmon/perf-baseline.json", "str", per_test=False, help="baseline file or report"
    ),
}

#: Keys a marker may not set.
CONFIG_ONLY: Final = frozenset(k for k, s in SETTINGS.items() if not s.per_test)


@dataclass(frozen=True, slots=True)
class PerfSettings:
    """Effective settings of one perf test: limits and measurement settings."""

    #: Gate limits by key of :data:`LIMITS`, in the key's unit.
    limits: dict[str, float] = field(default_factory=dict)
    time_budget: float = 1.0
    throughput_time: float = 0.2
    warmup_rounds: int = 10
    min_rounds: int = 20
    max_rounds: int = 100_000
    memory: bool = True
    seed: int = DEFAULT_SEED
    max_regression: Shift = Shift("p95", 0.10)
    max_improvement: Shift = Shift("p95", 0.10)
    alpha: float = 0.01
    fail_on_stale: bool = True
    confidence: float = 0.95
    sample_cap: int = 2000
    baseline: str = ".fwmon/perf-baseline.json"

    def merged(self, values: Mapping[str, Any], where: str) -> PerfSettings:
        """Return a copy with ``values`` (already validated by :func:`validate`) applied."""
        limits = dict(self.limits)
        others: dict[str, Any] = {}
        for key, value in values.items():
            if key in LIMITS:
                limits[key] = value
            else:
                others[key] = value
        return replace(self, limits=limits, **others)

    def asked_quantiles(self) -> dict[str, float]:
        """Quantiles the gates read, by name ("p99": 0.99)."""
        asked = {}
        for key in self.limits:
            stat = LIMITS[key].statistic
            if stat in REPORTED_QUANTILES:
                asked[stat] = REPORTED_QUANTILES[stat]
        return asked


def settings_to_dict(settings: PerfSettings) -> dict[str, Any]:
    """Return every field of ``settings`` as JSON (shifts as written: ``"p95:10%"``)."""
    data = {f.name: getattr(settings, f.name) for f in fields(settings)}
    data["limits"] = dict(settings.limits)
    for key in ("max_regression", "max_improvement"):
        data[key] = str(data[key])
    return data


def settings_from_dict(data: Mapping[str, Any]) -> PerfSettings:
    """Return the :class:`PerfSettings` that :func:`settings_to_dict` wrote."""
    values = {f.name: data[f.name] for f in fields(PerfSettings) if f.name in data}
    for key in ("max_regression", "max_improvement"):
        if key in values:
            values[key] = parse_shift(str(values[key]), key)
    values["limits"] = {str(k): float(v) for k, v in dict(values.get("limits") or {}).items()}
    return PerfSettings(**values)


def valid_keys(*, per_test: bool) -> list[str]:
    """Keys accepted by a marker (``per_test``) or by ``[tool.fwmon.perf]``."""
    keys = list(LIMITS) + [k for k, s in SETTINGS.items() if s.per_test or not per_test]
    return keys


def validate(values: Mapping[str, Any], where: str, *, per_test: bool) -> dict[str, Any]:
    """Check and convert ``values``; raise :class:`PerfSettingsError` naming the valid keys."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in LIMITS:
            out[key] = _limit(key, value, where)
            continue
        spec = SETTINGS.get(key)
        if spec is None or (per_test and not spec.per_test):
            kind = "metric or setting" if per_test else "key"
            others = [k for k in valid_keys(per_test=per_test) if k not in LIMITS]
            raise PerfSettingsError(
                f"{where} has unknown {kind} {key!r}; valid metrics: {', '.join(LIMITS)}; "
                f"valid settings: {', '.join(others)}"
            )
        out[key] = _setting(key, spec, value, where)
    return out


def _float_like(value: float) -> bool:
    """Return whether ``value`` is a number a float can hold (not NaN, no int overflow)."""
    try:
        return not math.isnan(float(value))
    except OverflowError:
        return False


def _short(value: Any) -> str:
    """Return ``repr(value)``, cut to 40 characters (a 400-digit number is not a message)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


def _limit(key: str, value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not _float_like(value):
        raise PerfSettingsError(f"{where} {key} must be a number, got {_short(value)}")
    if value < 0:
        raise PerfSettingsError(
            f"{where} {key} must not be negative, got {value!r} "
            f"(valid metrics: {', '.join(LIMITS)})"
        )
    return float(value)


def _setting(key: str, spec: Setting, value: Any, where: str) -> Any:
    label = f"{where} {key}"
    if spec.kind == "shift":
        return parse_shift(value, label)
    if spec.kind in _PLAIN:
        kind, wanted = _PLAIN[spec.kind]
        if not isinstance(value, kind):
            raise PerfSettingsError(f"{label} must be {wanted}, got {value!r}")
        return value
    number = _number(spec.kind, value, label)
    _check_range(spec, number, value, label)
    return number


#: Setting kinds whose value is taken as it is once its type is right, and what they must be.
_PLAIN: Final[dict[str, tuple[type, str]]] = {
    "bool": (bool, "true or false"),
    "str": (str, "a string"),
}


def _number(kind: str, value: Any, label: str) -> float:
    """Return ``value`` as an int ("int" settings) or a float; raise when it is not one."""
    is_number = (
        isinstance(value, int | float) and not isinstance(value, bool) and _float_like(value)
    )
    if kind == "int" and not (is_number and float(value).is_integer()):
        raise PerfSettingsError(f"{label} must be a whole number, got {_short(value)}")
    if kind == "float" and (not is_number or math.isnan(value)):
        raise PerfSettingsError(f"{label} must be a number, got {_short(value)}")
    return int(value) if kind == "int" else float(value)


def _check_range(spec: Setting, number: float, value: Any, label: str) -> None:
    """Raise when ``number`` is outside the setting's bounds (the message quotes ``value``)."""
    if spec.above is not None and not number > spec.above:
        raise PerfSettingsError(f"{label} must be greater than {spec.above:g}, got {value!r}")
    if spec.minimum is not None and number < spec.minimum:
        raise PerfSettingsError(f"{label} must be at least {spec.minimum:g}, got {value!r}")
    if spec.below is not None and not number < spec.below:
        raise PerfSettingsError(f"{label} must be less than {spec.below:g}, got {value!r}")


def from_config(table: Mapping[str, Any]) -> PerfSettings:
    """Return the settings from a ``[tool.fwmon.perf]`` table."""
    values = validate(table, "[tool.fwmon.perf]", per_test=False)
    return PerfSettings().merged(values, "[tool.fwmon.perf]")


# -- cheap facts fixture.py needs at configure time, without importing baseline or lockstep --

#: Baseline spec that reads the history store.
HISTORY: Final = "history"
#: Environment variable carrying a ``fwmon perf-ab`` worker's pipe ends (see lockstep.py).
AB_FDS_ENV: Final = "FWMON_PERF_AB_FDS"


def is_history(spec: str) -> bool:
    """Return True for ``history`` and ``history:URL``."""
    return spec == HISTORY or spec.startswith(HISTORY + ":")


def default_path(root: Path, configured: str) -> Path:
    """Return the baseline path: ``configured`` relative to the project root."""
    path = Path(os.path.expanduser(configured))
    return path if path.is_absolute() else root / path
