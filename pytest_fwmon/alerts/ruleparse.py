"""Parsing ``[[tool.fwmon.alerts.rules]]``, inhibition and routes; the built-in rules.

Every function raises :class:`~pytest_fwmon.core.errors.ConfigError` naming the key at fault.
Standard library only.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from ..core.errors import ConfigError
from ..history.metrics import is_known, unknown_metric_message
from .matchers import parse_matchers
from .rules import (
    BASE_LABELS,
    CHANGES,
    DEFAULT_ROUTES,
    INHIBIT_KEYS,
    KINDS,
    LABEL_NAME,
    LEVELS,
    OPS,
    PLACEHOLDERS,
    ROUTE_KEYS,
    RULE_KEYS,
    RULE_NAME,
    SECTION,
    ChannelConfig,
    Condition,
    InhibitRule,
    Route,
    Rule,
    is_glob,
)
from .values import as_table, check_keys, number, parse_duration, strings, text, whole


def rule_defaults(section: Mapping[str, Any]) -> dict[str, Any]:
    """Return the section's rule defaults: ``for_runs``, ``resolve_after_runs``, escalation."""
    defaults: dict[str, Any] = {
        "for_runs": 1,
        "resolve_after_runs": 1,
        "escalate_after_runs": 0,
        "escalate_after": 0.0,
    }
    for key in ("for_runs", "resolve_after_runs"):
        if key in section:
            defaults[key] = whole(section[key], f"{SECTION} {key}", 1)
    if "escalate_after_runs" in section:
        defaults["escalate_after_runs"] = whole(
            section["escalate_after_runs"], f"{SECTION} escalate_after_runs", 0
        )
    if "escalate_after" in section:
        defaults["escalate_after"] = parse_duration(
            section["escalate_after"], f"{SECTION} escalate_after"
        )
    return defaults


def builtin_rules(
    main_branch: str = "main", coverage_target: float = 80.0, defaults: Mapping[str, Any] = {}
) -> list[Rule]:
    """Return the rules fwmon ships (see docs/reference/alerts.md), with the section's defaults."""
    common = dict(defaults)
    return [
        Rule(
            name="GateBlockedMain",
            severity="critical",
            condition=Condition("gate"),
            summary="The merge gate blocked {repo} on {branch}",
            description="Run {run_id} ({sha}) of {repo} on {branch} was blocked by the gate. "
            "{run_url}",
            branches=(main_branch,),
            builtin=True,
            **common,
        ),
        Rule(
            name="SecurityHighFindings",
            severity="high",
            condition=Condition(
                "metric", ("findings.security.critical", "findings.security.high"), "gt", 0.0
            ),
            summary="{value:g} high or critical security findings in {repo} on {branch}",
            description="Run {run_id} of {repo} on {branch} has {value:g} security findings "
            "of high or critical severity. {run_url}",
            builtin=True,
            **common,
        ),
        Rule(
            name="BenchmarkP95ChangePoint",
            severity="medium",
            condition=Condition("trend", ("benchmark.*.p95",), change="worse", recent_runs=10),
            summary="{metric} shifted {change} on {branch}",
            description="{metric} of {repo} moved from {before:.6g} s to {after:.6g} s "
            "({magnitude:+.1%}) at run {run_id} on {branch}.",
            builtin=True,
            **common,
        ),
        Rule(
            name="CoverageBelowTarget",
            severity="medium",
            condition=Condition("metric", ("coverage.percent",), "lt", coverage_target),
            summary="Coverage {value:.1f}% is below {threshold:g}% in {repo} on {branch}",
            description="Run {run_id} of {repo} on {branch} covers {value:.2f}% of the code; "
            "the target is {threshold:g}%. {run_url}",
            builtin=True,
            **common,
        ),
        Rule(
            name="SloBurnRate",
            severity="high",
            condition=Condition("slo", figure="burn_rate", op="gt"),
            summary="Error budget of {repo} burns at {value:.1f}x on {branch} ({metric})",
            description="The red-run rate of {repo} on {branch} spends the error budget "
            "{value:.2f} times faster than allowed (maximum {threshold:g}).",
            builtin=True,
            **common,
        ),
        *_test_rules(main_branch, common),
    ]


def _test_rules(main_branch: str, common: Mapping[str, Any]) -> list[Rule]:
    """Return the built-in rules on tests: flaky, quarantine expiry, red main branch."""
    from ..flaky.classify import WINDOW

    return [
        Rule(
            name="NewFlakyTest",
            severity="medium",
            condition=Condition("flaky", recent_runs=WINDOW),
            summary="Flaky test {test} in {repo} on {branch}",
            description="{test} both passed and failed ({evidence}; flip rate "
            "{flip_rate:.2f}, {runs} runs). Fix it, or quarantine it with an owner and an "
            "expiry: fwmon flaky quarantine. {run_url}",
            branches=(main_branch,),
            builtin=True,
            **common,
        ),
        Rule(
            name="QuarantineExpiring",
            severity="medium",
            condition=Condition("quarantine", threshold=7.0),
            summary="Quarantine of {test} {expiry} ({expires}) in {repo}",
            description="The quarantine of {test} (owner {owner}) {expiry}, on {expires}; "
            "an expired entry blocks the gate. Fix the test and release it, or extend the "
            "entry in fwmon-quarantine.toml.",
            branches=(main_branch,),
            builtin=True,
            **common,
        ),
        Rule(
            name="MainBranchRed",
            severity="critical",
            condition=Condition("culprit"),
            summary="{branch} of {repo} is red since run {first_red} (culprit {culprit})",
            description="{value:g} tests fail on {branch} of {repo}. First red run "
            "{first_red}, commit {culprit}; last green run {last_green}, commit "
            "{last_green_sha}. Turned red: {failing}. fwmon culprit --bisect names the "
            "first bad commit between the two. {run_url}",
            branches=(main_branch,),
            builtin=True,
            **common,
        ),
    ]


def check_template(template: str, where: str, extra: Sequence[str] = ()) -> None:
    """Raise ConfigError when ``template`` is not a valid format string of known placeholders."""
    valid = set(PLACEHOLDERS) | set(extra)
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(f"{where} is not a valid template ({exc}); write {{value}}") from None
    for _literal, name, _spec, _conversion in parts:
        if name is None:
            continue
        if name not in valid:
            raise ConfigError(
                f"{where} uses unknown placeholder {{{name}}}; valid placeholders: "
                + ", ".join(sorted(valid))
            )


def _rule_table(raw: Any, index: int) -> tuple[Mapping[str, Any], str]:
    """Return a rule table, keys checked, and how errors name it (by name when it has one)."""
    where = f"[[tool.fwmon.alerts.rules]] #{index + 1}"
    table = as_table(raw, where)
    if "name" in table and isinstance(table["name"], str):
        where = f"[[tool.fwmon.alerts.rules]] {table['name']!r}"
    check_keys(table, RULE_KEYS, where)
    return table, where


def _rule_name(table: Mapping[str, Any], where: str) -> str:
    """Return the rule's name; ConfigError when it is missing or not a valid name."""
    name = text(table.get("name"), f"{where} name", empty=False)
    if not RULE_NAME.match(name):
        raise ConfigError(f"{where} name must be letters, digits and _ : . - (no spaces)")
    return name


def _rule_enabled(table: Mapping[str, Any], where: str) -> bool:
    """Return the rule's ``enabled`` flag (default true)."""
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where} enabled must be true or false")
    return enabled


def _rule_severity(table: Mapping[str, Any], where: str) -> str:
    """Return the rule's severity, one of the levels."""
    severity = table.get("severity")
    if severity not in LEVELS:
        raise ConfigError(f"{where} severity must be one of {', '.join(LEVELS)}, got {severity!r}")
    return str(severity)


def _rule_kind(table: Mapping[str, Any], where: str) -> str:
    """Return the one condition key the rule has; ConfigError for none or several."""
    kinds = [k for k in KINDS if k in table]
    if len(kinds) != 1:
        raise ConfigError(
            f"{where} needs exactly one condition key of {', '.join(KINDS)} "
            f"(found {', '.join(kinds) or 'none'})"
        )
    return kinds[0]


def _rule_labels(table: Mapping[str, Any], where: str) -> dict[str, str]:
    """Return the rule's extra labels; the labels fwmon sets itself are refused."""
    labels_raw = as_table(table.get("labels", {}), f"{where} labels")
    labels: dict[str, str] = {}
    for key, value in labels_raw.items():
        if not LABEL_NAME.match(key):
            raise ConfigError(f"{where} labels: {key!r} is not a label name")
        if key in BASE_LABELS or key == "metric":
            raise ConfigError(
                f"{where} labels: {key!r} is set by fwmon; reserved: "
                + ", ".join([*BASE_LABELS, "metric"])
            )
        labels[key] = text(value, f"{where} labels.{key}")
    return labels


def _rule_timing(
    table: Mapping[str, Any], where: str, defaults: Mapping[str, Any]
) -> dict[str, Any]:
    """Return the defaults overridden by the rule's run counts and escalation delay."""
    values = dict(defaults)
    for key in ("for_runs", "resolve_after_runs"):
        if key in table:
            values[key] = whole(table[key], f"{where} {key}", 1)
    if "escalate_after_runs" in table:
        values["escalate_after_runs"] = whole(
            table["escalate_after_runs"], f"{where} escalate_after_runs", 0
        )
    if "escalate_after" in table:
        values["escalate_after"] = parse_duration(
            table["escalate_after"], f"{where} escalate_after"
        )
    return values


def parse_rule(raw: Any, index: int, defaults: Mapping[str, Any]) -> Rule | None:
    """Return one ``[[tool.fwmon.alerts.rules]]`` table as a Rule; None for ``enabled = false``."""
    table, where = _rule_table(raw, index)
    name = _rule_name(table, where)
    if not _rule_enabled(table, where):
        return None
    severity = _rule_severity(table, where)
    condition = parse_condition(table, _rule_kind(table, where), where)
    labels = _rule_labels(table, where)
    summary = text(table.get("summary", "{alertname} on {branch}"), f"{where} summary")
    description = text(table.get("description", ""), f"{where} description")
    check_template(summary, f"{where} summary", tuple(labels))
    check_template(description, f"{where} description", tuple(labels))
    values = _rule_timing(table, where, defaults)
    branches = strings(table.get("branches", []), f"{where} branches")
    return Rule(
        name=name,
        severity=severity,
        condition=condition,
        labels=labels,
        summary=summary,
        description=description,
        branches=branches,
        **values,
    )


#: Per condition kind, the condition keys it accepts.
_CONDITION_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    "metric": ("op", "threshold"),
    "trend": ("change", "recent_runs"),
    "slo": ("op", "threshold"),
    "gate": (),
    "flaky": ("threshold", "recent_runs"),
    "quarantine": ("threshold",),
    "culprit": (),
}


def _gate_condition(table: Mapping[str, Any], where: str, op: str) -> Condition:
    """Return a gate condition (``gate = "blocked"``)."""
    if table["gate"] != "blocked":
        raise ConfigError(f'{where} gate must be "blocked", got {table["gate"]!r}')
    return Condition("gate")


def _slo_condition(table: Mapping[str, Any], where: str, op: str) -> Condition:
    """Return an SLO condition; a threshold is required except for burn rates."""
    from ..history.slo import FIGURES

    figure = text(table["slo"], f"{where} slo", empty=False)
    valid = [*FIGURES, "burn_rate", "burn_rate.<window>"]
    ok = figure in FIGURES or figure == "burn_rate"
    ok = ok or bool(re.fullmatch(r"burn_rate\.[1-9][0-9]*", figure))
    if not ok:
        raise ConfigError(f"{where} slo {figure!r} is unknown; valid: {', '.join(valid)}")
    threshold = table.get("threshold")
    if threshold is None and figure != "burn_rate" and not figure.startswith("burn_rate."):
        raise ConfigError(f"{where} threshold is required for slo {figure!r}")
    value = None if threshold is None else number(threshold, f"{where} threshold")
    return Condition("slo", op=op, threshold=value, figure=figure)


def _metric_names(table: Mapping[str, Any], kind: str, where: str) -> list[str]:
    """Return the metric names (or globs) of a metric or trend condition."""
    raw = table[kind]
    names = [raw] if isinstance(raw, str) else raw
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise ConfigError(f"{where} {kind} must be a metric name or a list of names, got {raw!r}")
    for name in names:
        if not is_glob(name) and not is_known(name):
            # Checked when the configuration loads, before any store is open: the message
            # gives the namespace, not the stored metrics.
            raise ConfigError(unknown_metric_message(name, None, f"{where} {kind}:"))
    return names


def _trend_condition(table: Mapping[str, Any], where: str, op: str) -> Condition:
    """Return a trend condition on one metric name or glob."""
    names = _metric_names(table, "trend", where)
    if len(names) != 1:
        raise ConfigError(f"{where} trend must be one metric name or glob")
    change = table.get("change", "worse")
    if change not in CHANGES:
        raise ConfigError(f"{where} change must be one of {', '.join(CHANGES)}, got {change!r}")
    recent = whole(table.get("recent_runs", 10), f"{where} recent_runs", 1)
    return Condition("trend", (names[0],), change=str(change), recent_runs=recent)


def _metric_condition(table: Mapping[str, Any], where: str, op: str) -> Condition:
    """Return a metric condition (one glob, or names summed) with its threshold."""
    names = _metric_names(table, "metric", where)
    if len(names) > 1 and any(is_glob(n) for n in names):
        raise ConfigError(f"{where} metric: a glob cannot be summed with other metrics")
    if "threshold" not in table:
        raise ConfigError(f"{where} threshold is required for a metric condition")
    threshold_value = number(table["threshold"], f"{where} threshold")
    return Condition("metric", tuple(names), op, threshold_value)


def _flaky_condition(table: Mapping[str, Any], where: str, op: str) -> Condition:
    """Return a flaky-test condition (``flaky = "new"``) with its window and flip rate."""
    from ..flaky.classify import THRESHOLD, WINDOW

    if table["flaky"] != "new":
        raise ConfigError(f'{where} flaky must be "new", got {table["flaky"]!r}')
    window = whole(table.get("recent_runs", WINDOW), f"{where} recent_runs", 2)
    rate = number(table.get("threshold", THRESHOLD), f"{where} threshold", 0)
    return Condition("flaky", threshold=rate, recent_runs=window)


def _quarantine_condition(table: Mapping[str, Any], where: str, op: str) -> Condition:
    """Return a quarantine condition (``quarantine = "expiring"``, ``threshold`` in days)."""
    if table["quarantine"] != "expiring":
        raise ConfigError(f'{where} quarantine must be "expiring", got {table["quarantine"]!r}')
    days = number(table.get("threshold", 7), f"{where} threshold", 0)
    return Condition("quarantine", threshold=days)


def _culprit_condition(table: Mapping[str, Any], where: str, op: str) -> Condition:
    """Return a red-branch condition (``culprit = "red"``)."""
    if table["culprit"] != "red":
        raise ConfigError(f'{where} culprit must be "red", got {table["culprit"]!r}')
    return Condition("culprit")


#: Per condition kind, the function that reads it.
_CONDITIONS: Final[Mapping[str, Callable[[Mapping[str, Any], str, str], Condition]]] = {
    "metric": _metric_condition,
    "trend": _trend_condition,
    "slo": _slo_condition,
    "gate": _gate_condition,
    "flaky": _flaky_condition,
    "quarantine": _quarantine_condition,
    "culprit": _culprit_condition,
}


def parse_condition(table: Mapping[str, Any], kind: str, where: str) -> Condition:
    """Return the Condition of kind ``kind`` from a rule table, keys checked."""
    allowed = _CONDITION_KEYS[kind]
    for key in ("op", "threshold", "change", "recent_runs"):
        if key in table and key not in allowed:
            raise ConfigError(f"{where} {key} does not apply to a {kind} condition")
    op = table.get("op", "gt")
    if op not in OPS:
        raise ConfigError(f"{where} op must be one of {', '.join(OPS)}, got {op!r}")
    return _CONDITIONS[kind](table, where, str(op))


def parse_inhibit(raw: Any) -> tuple[InhibitRule, ...]:
    """Return the ``[[tool.fwmon.alerts.inhibit]]`` tables as InhibitRules."""
    if not isinstance(raw, list):
        raise ConfigError(
            f"{SECTION} inhibit must be an array of tables ([[tool.fwmon.alerts.inhibit]])"
        )
    rules = []
    for index, item in enumerate(raw):
        where = f"[[tool.fwmon.alerts.inhibit]] #{index + 1}"
        table = as_table(item, where)
        check_keys(table, INHIBIT_KEYS, where)
        for key in ("source", "target"):
            if key not in table:
                raise ConfigError(
                    f"{where} needs {key} matchers, e.g. {key} = ['severity=critical']"
                )
        equal = strings(table.get("equal", []), f"{where} equal")
        rules.append(
            InhibitRule(
                parse_matchers(table["source"], f"{where} source"),
                parse_matchers(table["target"], f"{where} target"),
                equal,
            )
        )
    return tuple(rules)


def _default_route(level: str, channels: Mapping[str, ChannelConfig], notes: list[str]) -> Route:
    """Return the default route of a level, less (and noting) receivers not configured."""
    receivers = tuple(r for r in DEFAULT_ROUTES[level] if r in channels)
    missing = [r for r in DEFAULT_ROUTES[level] if r not in channels]
    if channels and missing:
        notes.append(
            f"default route {level} names receiver(s) {', '.join(missing)} that are "
            "not configured; they are left out"
        )
    return Route(level, receivers, frozenset(receivers))


def _route_receivers(
    entry: Mapping[str, Any], here: str, channels: Mapping[str, ChannelConfig]
) -> tuple[str, ...]:
    """Return a route's receivers; each must be a configured channel."""
    receivers = strings(entry.get("receivers", []), f"{here} receivers")
    for name in receivers:
        if name not in channels:
            raise ConfigError(
                f"{here} names receiver {name!r}, which is not configured; configured "
                f"receivers: {', '.join(sorted(channels)) or 'none'} "
                "(add [tool.fwmon.alerts.channels." + name + "])"
            )
    return receivers


def _send_resolved(
    entry: Mapping[str, Any], here: str, receivers: tuple[str, ...]
) -> frozenset[str]:
    """Return the receivers told of resolved alerts: all, none, or those named."""
    resolved_raw = entry.get("send_resolved", True)
    if isinstance(resolved_raw, bool):
        return frozenset(receivers) if resolved_raw else frozenset()
    chosen = strings(resolved_raw, f"{here} send_resolved")
    for name in chosen:
        if name not in receivers:
            raise ConfigError(
                f"{here} send_resolved names {name!r}, which is not a receiver of "
                f"this route ({', '.join(receivers) or 'none'})"
            )
    return frozenset(chosen)


def _configured_route(
    level: str, entry: Any, where: str, channels: Mapping[str, ChannelConfig]
) -> Route:
    """Return the route a ``routes`` entry (a table or a list of receivers) configures."""
    here = f"{where} {level}"
    if isinstance(entry, list):
        entry = {"receivers": entry}
    entry = as_table(entry, here)
    check_keys(entry, ROUTE_KEYS, here)
    receivers = _route_receivers(entry, here, channels)
    return Route(level, receivers, _send_resolved(entry, here, receivers))


def parse_routes(
    raw: Any, channels: Mapping[str, ChannelConfig], notes: list[str]
) -> dict[str, Route]:
    """Return the routes by severity: the defaults, then ``[tool.fwmon.alerts.routes]``."""
    where = "[tool.fwmon.alerts.routes]"
    table = as_table(raw if raw is not None else {}, where)
    check_keys(table, LEVELS, where)
    routes: dict[str, Route] = {}
    for level in LEVELS:
        if level not in table:
            routes[level] = _default_route(level, channels, notes)
        else:
            routes[level] = _configured_route(level, table[level], where, channels)
    return routes
