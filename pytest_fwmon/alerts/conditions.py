"""Evaluating a rule's condition on one run: which alerts it raises and whether each is active.

:func:`evaluate_rule` returns a :class:`RuleResult`: a list of :class:`Instance` (one per alert
the rule knows this run: its extra labels, active or not, value, template context), or
``instances=None`` when the run has no data for the rule (metric absent, no gate verdict,
branch not covered, SLO of another branch). Alerts of a rule without data keep their state;
alerts of a rule with data that it did not list count as inactive this run.

* ``metric``: values from :func:`pytest_fwmon.history.metrics.extract` of the report (the
  same extraction the store records); a list is summed, a glob gives one alert per metric.
* ``trend``: :func:`pytest_fwmon.history.trends.analyse` on the branch's series up to this run
  (the newest ``recent_runs + 2 * CP_WINDOW`` points); active while a change point in the
  requested direction lies among the newest ``recent_runs`` runs. ``worse`` means up for
  metrics where lower is better (P95, durations, findings) and down otherwise.
* ``slo``: :func:`pytest_fwmon.history.slo.compute` over the branch's runs up to this run with
  ``[tool.fwmon.slo]`` targets; ``burn_rate`` gives one alert per burn window that is full
  (holds ``w`` runs; ``metric = burn_rate.<w>``), active when its rate is over the threshold
  (default: that window's ``max_burn_rates`` entry).
* ``gate``: active when the gate verdict is "blocked".
* ``flaky``, ``quarantine``, ``culprit``: the run's tests, see
  :mod:`pytest_fwmon.alerts.testconds`.
"""

from __future__ import annotations

import fnmatch
import math
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..history.changepoint import CP_WINDOW
from ..history.metrics import higher_is_better
from ..history.store import Store
from ..history.trends import analyse
from . import testconds
from .instances import Instance, RunContext
from .rules import Condition, Rule

if TYPE_CHECKING:
    from ..history.slo import SloResult
    from ..history.trends import TrendChangePoint


@dataclass(slots=True)
class RuleResult:
    """What one rule says about one run."""

    rule: Rule
    #: None: no data on this run (the rule's alerts keep their state).
    instances: list[Instance] | None


def compare(value: float, op: str, threshold: float) -> bool:
    """``value <op> threshold`` for lt le gt ge eq ne."""
    if op == "lt":
        return value < threshold
    if op == "le":
        return value <= threshold
    if op == "gt":
        return value > threshold
    if op == "ge":
        return value >= threshold
    if op == "eq":
        return value == threshold
    return value != threshold


class _Formatter(string.Formatter):
    """``str.format`` that shows None as ``n/a`` and never fails on a format spec."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None:
            return "n/a"
        try:
            return str(super().format_field(value, format_spec))
        except (ValueError, TypeError):
            return str(value)

    def get_value(self, key: int | str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        if isinstance(key, str):
            return kwargs.get(key)
        return super().get_value(key, args, kwargs)


_FORMATTER = _Formatter()


def render(template: str, context: Mapping[str, Any]) -> str:
    """Fill an annotation template (placeholders were checked when the config was read)."""
    if not template:
        return ""
    try:
        return _FORMATTER.vformat(template, (), dict(context))
    except (ValueError, IndexError, KeyError, AttributeError):
        return template


def evaluate_rule(rule: Rule, run: RunContext, store: Store | None) -> RuleResult:
    """Return the rule's instances on ``run`` (see the module docstring)."""
    if rule.branches and run.branch not in rule.branches:
        return RuleResult(rule, None)
    condition = rule.condition
    if condition.kind == "gate":
        if run.gate_passed is None:
            return RuleResult(rule, None)
        passed = run.gate_passed
        return RuleResult(
            rule,
            [Instance({"metric": "gate.passed"}, not passed, 1.0 if passed else 0.0)],
        )
    if condition.kind == "metric":
        return RuleResult(rule, _metric(condition, run.values))
    if condition.kind == "trend":
        return RuleResult(rule, _trend(condition, run, store))
    if condition.kind in ("flaky", "quarantine", "culprit"):
        return RuleResult(rule, _tests(condition, run, store))
    return RuleResult(rule, _slo(condition, run, store))


def _tests(condition: Condition, run: RunContext, store: Store | None) -> list[Instance] | None:
    """Return the instances of a condition on the run's tests (:mod:`.testconds`)."""
    if condition.kind == "flaky":
        return testconds.flaky_instances(condition, run, store)
    if condition.kind == "quarantine":
        return testconds.quarantine_instances(condition, run)
    return testconds.red_instances(run, store)


def _metric(condition: Condition, values: Mapping[str, float]) -> list[Instance] | None:
    threshold = float(condition.threshold or 0.0)
    context = {"threshold": threshold, "op": condition.op}
    label = condition.metric_label()
    if label is not None:
        if any(name not in values for name in condition.metrics):
            return None
        value = math.fsum(values[name] for name in condition.metrics)
        return [
            Instance({"metric": label}, compare(value, condition.op, threshold), value, context)
        ]
    pattern = condition.metrics[0]
    names = sorted(n for n in values if fnmatch.fnmatchcase(n, pattern))
    if not names:
        return None
    return [
        Instance({"metric": n}, compare(values[n], condition.op, threshold), values[n], context)
        for n in names
    ]


def _direction_ok(change: str, metric: str, before: float, after: float) -> bool:
    if change == "any":
        return after != before
    if change == "up":
        return after > before
    if change == "down":
        return after < before
    return after < before if higher_is_better(metric) else after > before


def _trend_context(change: str, matching: Sequence[TrendChangePoint]) -> dict[str, Any]:
    """Return a trend alert's template context, from the newest matching change point."""
    context: dict[str, Any] = {"change": change}
    if matching:
        newest = matching[-1]
        context.update(
            before=newest.before,
            after=newest.after,
            magnitude=newest.magnitude,
            change="up" if newest.after > newest.before else "down",
            change_run=newest.run_id,
        )
    return context


def _trend_instance(condition: Condition, run: RunContext, store: Store, name: str) -> Instance:
    """Return the trend instance of one metric: active when a recent change point matches."""
    limit = condition.recent_runs + 2 * CP_WINDOW
    series = [p for p in store.series(name, branch=run.branch) if p[0] <= run.ts]
    series = series[-limit:]
    result = analyse(series, metric=name)
    n = len(series)
    matching = [
        cp
        for cp in result.change_points
        if cp.index >= n - condition.recent_runs
        and _direction_ok(condition.change, name, cp.before, cp.after)
    ]
    context = _trend_context(condition.change, matching)
    value = series[-1][2] if series else run.values.get(name)
    return Instance({"metric": name}, bool(matching), value, context)


def _trend(condition: Condition, run: RunContext, store: Store | None) -> list[Instance] | None:
    """Return a trend instance per metric the glob matches (None: no such metric or store)."""
    pattern = condition.metrics[0]
    names = sorted(n for n in run.values if fnmatch.fnmatchcase(n, pattern))
    if not names or store is None:
        return None
    return [_trend_instance(condition, run, store, name) for name in names]


def _burn_instances(condition: Condition, result: SloResult) -> list[Instance] | None:
    """Return an instance per full burn-rate window the figure names (None: no such window)."""
    figure = condition.figure
    op = condition.op
    wanted = None if figure == "burn_rate" else int(figure.split(".", 1)[1])
    instances = []
    for burn in result.burn_rates:
        if wanted is not None and burn.window != wanted:
            continue
        if burn.rate is None or burn.runs < burn.window:
            continue  # a window not yet full says little about the pace
        threshold = burn.threshold if condition.threshold is None else condition.threshold
        instances.append(
            Instance(
                {"metric": f"burn_rate.{burn.window}"},
                compare(burn.rate, op, threshold),
                burn.rate,
                {"threshold": threshold, "op": op},
            )
        )
    return instances or None


def _figure_instances(condition: Condition, result: SloResult) -> list[Instance] | None:
    """Return the one instance of an SLO figure against its threshold (None: no value)."""
    figure = condition.figure
    op = condition.op
    value = result.figure(figure)
    if value is None or condition.threshold is None:
        return None
    return [
        Instance(
            {"metric": figure},
            compare(value, op, condition.threshold),
            value,
            {"threshold": condition.threshold, "op": op},
        )
    ]


def _slo(condition: Condition, run: RunContext, store: Store | None) -> list[Instance] | None:
    """Return the instances of an SLO condition on the branch's runs (None: no data)."""
    from ..history.scope import configured_branch, resolve_branch
    from ..history.slo import SloTargets, compute

    if store is None:
        return None
    targets = SloTargets.from_config(run.slo_section)
    # the branch `fwmon slo` resolves (a store without branches: every run)
    branch = resolve_branch(store, None, configured_branch(run.slo_section), root=run.root).branch
    if branch is not None and run.branch != branch:
        return None
    runs = [r for r in store.list_runs(branch=branch) if r.ts <= run.ts]
    if not runs:
        return None
    result = compute(runs, targets)
    figure = condition.figure
    if figure == "burn_rate" or figure.startswith("burn_rate."):
        return _burn_instances(condition, result)
    return _figure_instances(condition, result)


__all__ = ["Instance", "RuleResult", "RunContext", "compare", "evaluate_rule", "render"]
