"""Key performance indicators: configured targets against the history. Standard library only.

``evaluate(store, kpis_section, slo_section=None, *, branch=None) -> list[Kpi]``.

Configuration (``[tool.fwmon.kpis]``; without any ``kpi`` entry the defaults below apply)::

    [tool.fwmon.kpis]
    branch = "main"          # runs of this branch ("" = every branch); default: the SLO branch
    window = 20              # newest runs used for the trend arrow

    [[tool.fwmon.kpis.kpi]]
    name = "security score"
    metric = "pipeline.security.score"   # a history metric, a glob such as benchmark.*.p95,
    op = "gt"                            # or an SLO figure: slo.availability, ...
    target = 90
    unit = ""                            # optional, shown after the numbers

Defaults (the set the project asked for):

=========================  ===============================  ==========================
KPI                        metric                           target
=========================  ===============================  ==========================
framework response time    ``benchmarks.p95_max``           < 0.5 s (the largest P95 of
                                                            a run's benchmarks, newest)
security score             ``pipeline.security.score``      > 90
quality-gate pass rate     ``slo.gate_pass_rate``           > 98 %
availability               ``slo.availability``             > 99.99 % (the SLO's runs)
documentation accuracy     ``docs.accuracy_percent``        > 90 %
=========================  ===============================  ==========================

**Metric names.** A ``metric`` that is neither an SLO figure, nor a glob, nor a name of the
history namespace (:func:`pytest_fwmon.history.metrics.is_known`) is a configuration error
(:class:`~pytest_fwmon.core.errors.ConfigError`, exit 2) naming the stored metrics. A known
name without stored values (no benchmark yet, the docs pipeline not run), or a glob that
matches no stored metric, gives one KPI whose status is ``not measured``: no value, no
achievement, no verdict, never ``missed``.

Per KPI:

* **value**: the newest value of the metric on the branch (SLO figures: computed over the
  branch's runs with the ``[tool.fwmon.slo]`` settings; below its ``min_runs`` there is a
  value but no ``met``/``achievement``, status ``insufficient data``, and ``note`` says
  ``insufficient data: N runs, M needed``; availability and gate pass rate carry
  ``interval``: numerator, denominator and 95 % Wilson interval);
* **branch**: resolved as every surface does (:mod:`pytest_fwmon.history.scope`);
* **met**: ``value op target``; **status** ``met``, ``missed``, ``not measured`` (no value) or
  ``insufficient data`` (an SLO figure below its minimum sample);
* **achievement** in percent: ``100 * value / target`` for ``gt``/``ge`` and
  ``100 * target / value`` for ``lt``/``le`` (100 when both are 0; None when the divisor is 0),
  capped at :data:`MAX_ACHIEVEMENT` (1000 %): a P95 of 0.4 µs against a 500 ms target would
  otherwise read 116,000,000 %, a ratio that says nothing more than "ten times better";
* **trend**: for history metrics the Mann-Kendall direction (p < 0.05) over the newest
  ``window`` runs (None below 3 runs); for SLO figures the figure over the newest ``window``
  runs against the ``window`` runs before them (``up``/``down``/``flat``); **better** says
  whether that direction moves towards meeting the target; the **arrow** is ``↑``, ``↓`` or ``→``.

A glob metric gives one KPI per matching stored metric, named ``<name> (<metric>)`` (one
``not measured`` KPI when none matches).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Final

from ..core.errors import ConfigError
from .metrics import is_known, unknown_metric_message
from .scope import kpi_scope
from .slo import FIGURES, SloTargets, compute
from .store import Store
from .trends import analyse

OPS: Final = ("gt", "ge", "lt", "le")
VALID_KEYS: Final = ("branch", "kpi", "window")
KPI_KEYS: Final = ("metric", "name", "op", "target", "unit")
ARROWS: Final = {"up": "↑", "down": "↓", "flat": "→"}

#: KPIs used when ``[tool.fwmon.kpis]`` lists none (see the module docstring).
DEFAULT_KPIS: Final = (
    {
        "name": "framework response time",
        "metric": "benchmarks.p95_max",
        "op": "lt",
        "target": 0.5,
        "unit": "s",
    },
    {"name": "security score", "metric": "pipeline.security.score", "op": "gt", "target": 90.0},
    {
        "name": "quality-gate pass rate",
        "metric": "slo.gate_pass_rate",
        "op": "gt",
        "target": 98.0,
        "unit": "%",
    },
    {
        "name": "availability",
        "metric": "slo.availability",
        "op": "gt",
        "target": 99.99,
        "unit": "%",
    },
    {
        "name": "documentation accuracy",
        "metric": "docs.accuracy_percent",
        "op": "gt",
        "target": 90.0,
        "unit": "%",
    },
)

#: :attr:`Kpi.status` values.
MET: Final = "met"
MISSED: Final = "missed"
NOT_MEASURED: Final = "not measured"
INSUFFICIENT: Final = "insufficient data"


@dataclass(frozen=True, slots=True)
class KpiSpec:
    """One configured KPI."""

    name: str
    metric: str
    op: str
    target: float
    unit: str = ""


@dataclass(frozen=True, slots=True)
class Kpi:
    """One KPI evaluated."""

    #: Display name.
    name: str
    #: History metric or ``slo.<figure>``.
    metric: str
    #: gt | ge | lt | le.
    op: str
    target: float
    unit: str
    #: Current value (None without data).
    value: float | None
    #: Percent of the target reached (see module docstring).
    achievement: float | None
    #: value op target (None without data).
    met: bool | None
    #: up | down | flat (None without data).
    trend: str | None
    #: ↑ ↓ → ("" without data).
    arrow: str
    #: Whether the trend moves towards meeting the target (None when flat or unknown).
    better: bool | None
    #: Runs the value and trend come from.
    runs: int
    #: met | missed | not measured (no value: the metric is not recorded on the branch) |
    #: insufficient data (an SLO figure below its minimum sample: no verdict).
    status: str = NOT_MEASURED
    #: SLO rates: numerator, denominator and 95 % Wilson interval (:class:`.rates.Rate`).
    interval: dict[str, Any] | None = None
    #: "insufficient data: N runs, M needed" when met/achievement are withheld, else None.
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


_WHERE: Final = "[tool.fwmon.kpis]"


def _check_section(section: Mapping[str, Any]) -> None:
    """Raise ConfigError for an unknown key, a bad ``branch`` or a bad ``window``."""
    for key in section:
        if key not in VALID_KEYS:
            raise ConfigError(f"unknown key {_WHERE} {key}; valid keys: {', '.join(VALID_KEYS)}")
    branch = section.get("branch")
    if branch is not None and not isinstance(branch, str):
        raise ConfigError(f"{_WHERE} branch must be a string, got {branch!r}")
    window = section.get("window")
    if window is not None and (
        isinstance(window, bool) or not isinstance(window, int) or window < 2
    ):
        raise ConfigError(f"{_WHERE} window must be a whole number >= 2, got {window!r}")


def _check_entry_keys(here: str, entry: Any) -> None:
    """Raise ConfigError unless ``entry`` is a table with the required and only known keys."""
    if not isinstance(entry, dict):
        raise ConfigError(f"{here} must be a table")
    for key in entry:
        if key not in KPI_KEYS:
            raise ConfigError(f"unknown key {here} {key}; valid keys: {', '.join(KPI_KEYS)}")
    for key in ("metric", "op", "target"):
        if key not in entry:
            raise ConfigError(f"{here} needs {key}")


def _check_metric(here: str, metric: Any) -> None:
    """Raise ConfigError unless ``metric`` is a metric name (``slo.*``: a known figure)."""
    if not isinstance(metric, str) or not metric:
        raise ConfigError(f"{here} metric must be a metric name, got {metric!r}")
    if not metric.startswith("slo."):
        return
    figure = metric[4:]
    if figure not in FIGURES and not figure.startswith("burn_rate."):
        raise ConfigError(
            f"{here} metric {metric!r} is not an SLO figure; valid: "
            + ", ".join(f"slo.{f}" for f in (*FIGURES, "burn_rate.<window>"))
        )


def _parse_entry(here: str, entry: Any) -> KpiSpec:
    """Validate one ``[[tool.fwmon.kpis.kpi]]`` table into a KpiSpec."""
    _check_entry_keys(here, entry)
    metric, op, target = entry["metric"], entry["op"], entry["target"]
    _check_metric(here, metric)
    if op not in OPS:
        raise ConfigError(f"{here} op {op!r} is invalid; valid: {', '.join(OPS)}")
    if isinstance(target, bool) or not isinstance(target, int | float):
        raise ConfigError(f"{here} target must be a number, got {target!r}")
    name = entry.get("name", metric)
    unit = entry.get("unit", "")
    if not isinstance(name, str) or not isinstance(unit, str):
        raise ConfigError(f"{here} name and unit must be strings")
    return KpiSpec(name, metric, op, float(target), unit)


def parse_config(section: Mapping[str, Any]) -> tuple[list[KpiSpec], str | None, int | None]:
    """Validate ``[tool.fwmon.kpis]``: (specs, branch or None when not set, window)."""
    _check_section(section)
    branch = section.get("branch")
    window = section.get("window")
    entries = section.get("kpi", list(DEFAULT_KPIS))
    if not isinstance(entries, list):
        raise ConfigError(f"{_WHERE} kpi must be an array of tables ([[tool.fwmon.kpis.kpi]])")
    specs = [
        _parse_entry(f"{_WHERE} kpi #{number}", entry) for number, entry in enumerate(entries, 1)
    ]
    return specs, (branch or None) if branch is not None else None, window


def _met(value: float, op: str, target: float) -> bool:
    return {
        "gt": value > target,
        "ge": value >= target,
        "lt": value < target,
        "le": value <= target,
    }[op]


#: Achievement above this many percent is shown as this (ten times the target).
MAX_ACHIEVEMENT: Final = 1000.0


def achievement(value: float, op: str, target: float) -> float | None:
    """Percent of the target reached, at most MAX_ACHIEVEMENT (see the module docstring)."""
    if op in ("gt", "ge"):
        if target == 0:
            return 100.0 if value == 0 else None
        ratio = value / target
    else:
        if value == 0:
            return 100.0 if target == 0 else None
        ratio = target / value
    return min(100.0 * ratio, MAX_ACHIEVEMENT)


def _kpi(
    spec: KpiSpec, name: str, metric: str, value: float | None, trend: str | None, runs: int
) -> Kpi:
    higher = spec.op in ("gt", "ge")
    better = None if trend in (None, "flat") else (trend == "up") == higher
    return Kpi(
        name=name,
        metric=metric,
        op=spec.op,
        target=spec.target,
        unit=spec.unit,
        value=value,
        achievement=None if value is None else achievement(value, spec.op, spec.target),
        met=None if value is None else _met(value, spec.op, spec.target),
        trend=trend,
        arrow="" if trend is None else ARROWS[trend],
        better=better,
        runs=runs,
        status=_status(value, spec),
    )


def _status(value: float | None, spec: KpiSpec) -> str:
    """Return the KPI's status: met, missed, or not measured without a value."""
    if value is None:
        return NOT_MEASURED
    return MET if _met(value, spec.op, spec.target) else MISSED


def evaluate(
    store: Store,
    kpis_section: Mapping[str, Any],
    slo_section: Mapping[str, Any] | None = None,
    *,
    branch: str | None = None,
    window: int | None = None,
    scope: Any = None,
) -> list[Kpi]:
    """Every configured KPI against the history in ``store``.

    The branch is ``scope.branch`` when a :class:`~pytest_fwmon.history.scope.Scope` is
    given, else resolved from ``branch`` and the configuration by
    :func:`~pytest_fwmon.history.scope.kpi_scope` (the order every surface uses).
    """
    specs, _config_branch, config_window = parse_config(kpis_section)
    targets = SloTargets.from_config(slo_section or {})
    if scope is None:
        scope = kpi_scope(store, kpis_section, slo_section or {}, branch=branch)
    branch = scope.branch
    window = window or config_window or 20
    results: list[Kpi] = []
    cache: dict[str, Any] = {}
    _check_known(store, specs, cache)
    for spec in specs:
        results.extend(_spec_kpis(store, spec, branch, window, targets, cache))
    return results


def _is_glob(metric: str) -> bool:
    return any(ch in metric for ch in "*?[")


def _stored(store: Store, cache: dict[str, Any]) -> list[str]:
    """Return the store's metric names, read once per evaluation."""
    if "stored_metrics" not in cache:
        cache["stored_metrics"] = store.metrics()
    stored: list[str] = cache["stored_metrics"]
    return stored


def _check_known(store: Store, specs: Sequence[KpiSpec], cache: dict[str, Any]) -> None:
    """Raise ConfigError for a KPI naming a metric outside the history namespace."""
    for number, spec in enumerate(specs, 1):
        metric = spec.metric
        if metric.startswith("slo.") or _is_glob(metric) or is_known(metric):
            continue
        stored = _stored(store, cache)
        if metric in stored:  # recorded by another fwmon version: still a metric
            continue
        raise ConfigError(unknown_metric_message(metric, stored, f"{_WHERE} kpi #{number}"))


def _spec_kpis(
    store: Store,
    spec: KpiSpec,
    branch: str | None,
    window: int,
    targets: SloTargets,
    cache: dict[str, Any],
) -> list[Kpi]:
    """Evaluate one spec: an SLO figure, every stored metric a glob matches, or one metric."""
    if spec.metric.startswith("slo."):
        return [_slo_kpi(store, spec, branch, window, targets, cache)]
    if _is_glob(spec.metric):
        matches = fnmatch.filter(_stored(store, cache), spec.metric)
        if not matches:  # nothing recorded yet: one KPI, not measured
            return [_kpi(spec, spec.name, spec.metric, None, None, 0)]
        return [
            _metric_kpi(store, spec, f"{spec.name} ({metric})", metric, branch, window)
            for metric in matches
        ]
    return [_metric_kpi(store, spec, spec.name, spec.metric, branch, window)]


def _metric_kpi(
    store: Store, spec: KpiSpec, name: str, metric: str, branch: str | None, window: int
) -> Kpi:
    points = store.series(metric, branch=branch, limit=window)
    if not points:
        return _kpi(spec, name, metric, None, None, 0)
    result = analyse(points, metric=metric)
    trend = None if result.insufficient else result.direction
    return _kpi(spec, name, metric, points[-1][2], trend, len(points))


def _slo_kpi(
    store: Store,
    spec: KpiSpec,
    branch: str | None,
    window: int,
    targets: SloTargets,
    cache: dict[str, Any],
) -> Kpi:
    if "runs" not in cache:
        cache["runs"] = store.list_runs(branch=branch)
        cache["all"] = compute(cache["runs"], replace(targets, branch=branch))
        runs: Sequence[Any] = cache["runs"]
        plain = replace(targets, branch=branch, window_runs=0)
        cache["recent"] = compute(runs[-window:], plain)
        previous = runs[-2 * window : -window] if len(runs) > window else []
        cache["older"] = compute(previous, plain) if previous else None
    figure = spec.metric[4:]
    value = cache["all"].figure(figure)
    recent = cache["recent"].figure(figure)
    older = cache["older"].figure(figure) if cache["older"] is not None else None
    trend: str | None = None
    if value is not None:
        trend = "flat"
        if recent is not None and older is not None and recent != older:
            trend = "up" if recent > older else "down"
    kpi = _kpi(spec, spec.name, spec.metric, value, trend, len(cache["runs"]))
    return _with_sample(kpi, cache["all"], figure)


def _with_sample(kpi: Kpi, result: Any, figure: str) -> Kpi:
    """Add the rate's sample to an SLO KPI; withhold its verdict below the minimum sample."""
    rate = {"availability": result.availability, "gate_pass_rate": result.gate_pass}
    interval = rate[figure].to_dict() if figure in rate else None
    note = result.insufficient
    if note is None:
        return replace(kpi, interval=interval)
    # a value, but no verdict on a sample this small
    return replace(
        kpi,
        met=None,
        achievement=None,
        trend=None,
        arrow="",
        better=None,
        status=INSUFFICIENT,
        interval=interval,
        note=note,
    )


__all__ = [
    "DEFAULT_KPIS",
    "INSUFFICIENT",
    "MET",
    "MISSED",
    "NOT_MEASURED",
    "Kpi",
    "KpiSpec",
    "achievement",
    "evaluate",
    "parse_config",
]
