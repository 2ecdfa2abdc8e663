"""Parsing ``[[tool.fwmon.alerts.rules]]``, inhibition and routes; the built-in rules.

Every function raises :class:`~pytest_fwmon.core.errors.ConfigError` naming the key at fault.
Standard library only.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

from ..core.errors import ConfigError
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


def parse_rule(raw: Any, index: int, defaults: Mapping[str, Any]) -> Rule | None:
    """One ``[[tool.fwmon.alerts.rules]]`` table as a Rule; None for ``enabled = false``."""
    where = f"[[tool.fwmon.alerts.rules]] #{index + 1}"
    table = as_table(raw, where)
    if "name" in table and isinstance(table["name"], str):
        where = f"[[tool.fwmon.alerts.rules]] {table['name']!r}"
    check_keys(table, RULE_KEYS, where)
    name = text(table.get("name"), f"{where} name", empty=False)
    if not RULE_NAME.match(name):
        raise ConfigError(f"{where} name must be letters, digits and _ : . - (no spaces)")
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where} enabled must be true or false")
    if not enabled:
        return None
    severity = table.get("severity")
    if severity not in LEVELS:
        raise ConfigError(f"{where} severity must be one of {', '.join(LEVELS)}, got {severity!r}")
    kinds = [k for k in KINDS if k in table]
    if len(kinds) != 1:
        raise ConfigError(
            f"{where} needs exactly one condition key of {', '.join(KINDS)} "
            f"(found {', '.join(kinds) or 'none'})"
        )
    condition = parse_condition(table, kinds[0], where)
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
    summary = text(table.get("summary", "{alertname} on {branch}"), f"{where} summary")
    description = text(table.get("description", ""), f"{where} description")
    check_template(summary, f"{where} summary", tuple(labels))
    check_template(description, f"{where} description", tuple(labels))
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
    branches = strings(table.get("branches", []), f"{where} branches")
    return Rule(
        name=name,
        severity=str(severity),
        condition=condition,
        labels=labels,
        summary=summary,
        description=description,
        branches=branches,
        **values,
    )


def parse_condition(table: Mapping[str, Any], kind: str, where: str) -> Condition:
    """Return the Condition of kind ``kind`` from a rule table, keys checked."""
    allowed = {
        "metric": ("op", "threshold"),
        "trend": ("change", "recent_runs"),
        "slo": ("op", "threshold"),
        "gate": (),
    }[kind]
    for key in ("op", "threshold", "change", "recent_runs"):
        if key in table and key not in allowed:
            raise ConfigError(f"{where} {key} does not apply to a {kind} condition")
    op = table.get("op", "gt")
    if op not in OPS:
        raise ConfigError(f"{where} op must be one of {', '.join(OPS)}, got {op!r}")
    if kind == "gate":
        if table["gate"] != "blocked":
            raise ConfigError(f'{where} gate must be "blocked", got {table["gate"]!r}')
        return Condition("gate")
    if kind == "slo":
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
        return Condition("slo", op=str(op), threshold=value, figure=figure)
    raw = table[kind]
    names = [raw] if isinstance(raw, str) else raw
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise ConfigError(f"{where} {kind} must be a metric name or a list of names, got {raw!r}")
    if kind == "trend":
        if len(names) != 1:
            raise ConfigError(f"{where} trend must be one metric name or glob")
        change = table.get("change", "worse")
        if change not in CHANGES:
            raise ConfigError(f"{where} change must be one of {', '.join(CHANGES)}, got {change!r}")
        recent = whole(table.get("recent_runs", 10), f"{where} recent_runs", 1)
        return Condition("trend", (names[0],), change=str(change), recent_runs=recent)
    if len(names) > 1 and any(is_glob(n) for n in names):
        raise ConfigError(f"{where} metric: a glob cannot be summed with other metrics")
    if "threshold" not in table:
        raise ConfigError(f"{where} threshold is required for a metric condition")
    threshold_value = number(table["threshold"], f"{where} threshold")
    return Condition("metric", tuple(names), str(op), threshold_value)


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


def parse_routes(
    raw: Any, channels: Mapping[str, ChannelConfig], notes: list[str]
) -> dict[str, Route]:
    """Routes by severity: the defaults, then ``[tool.fwmon.alerts.routes]``."""
    where = "[tool.fwmon.alerts.routes]"
    table = as_table(raw if raw is not None else {}, where)
    check_keys(table, LEVELS, where)
    routes: dict[str, Route] = {}
    for level in LEVELS:
        if level not in table:
            receivers = tuple(r for r in DEFAULT_ROUTES[level] if r in channels)
            missing = [r for r in DEFAULT_ROUTES[level] if r not in channels]
            if channels and missing:
                notes.append(
                    f"default route {level} names receiver(s) {', '.join(missing)} that are "
                    "not configured; they are left out"
                )
            routes[level] = Route(level, receivers, frozenset(receivers))
            continue
        entry = table[level]
        here = f"{where} {level}"
        if isinstance(entry, list):
            entry = {"receivers": entry}
        entry = as_table(entry, here)
        check_keys(entry, ROUTE_KEYS, here)
        receivers = strings(entry.get("receivers", []), f"{here} receivers")
        for name in receivers:
            if name not in channels:
                raise ConfigError(
                    f"{here} names receiver {name!r}, which is not configured; configured "
                    f"receivers: {', '.join(sorted(channels)) or 'none'} "
                    "(add [tool.fwmon.alerts.channels." + name + "])"
                )
        resolved_raw = entry.get("send_resolved", True)
        if isinstance(resolved_raw, bool):
            send_resolved = frozenset(receivers) if resolved_raw else frozenset()
        else:
            chosen = strings(resolved_raw, f"{here} send_resolved")
            for name in chosen:
                if name not in receivers:
                    raise ConfigError(
                        f"{here} send_resolved names {name!r}, which is not a receiver of "
                        f"this route ({', '.join(receivers) or 'none'})"
                    )
            send_resolved = frozenset(chosen)
        routes[level] = Route(level, receivers, send_resolved)
    return routes
