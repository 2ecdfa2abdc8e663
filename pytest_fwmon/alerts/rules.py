"""Alert rules and the ``[tool.fwmon.alerts]`` settings, validated once. Standard library only.

:meth:`AlertSettings.from_config` reads the raw ``[tool.fwmon.alerts]`` table
(``FwmonConfig.raw_sections["alerts"]``); an unknown key anywhere raises
:class:`~pytest_fwmon.core.errors.ConfigError` naming the valid keys, a bad value says what is
expected. The reference is docs/reference/alerts.md.

A rule has exactly one condition:

``metric``
    a report metric (a name of :mod:`pytest_fwmon.history.metrics`, a glob such as
    ``benchmark.*.p95`` for one alert per matching metric, or a list whose values are summed)
    compared with ``op`` (lt le gt ge eq ne) and ``threshold``;
``trend``
    a change point (:func:`pytest_fwmon.history.trends.analyse`) of a metric (or glob) among the
    newest ``recent_runs`` runs of the branch, in the direction ``change`` (up down worse any);
``slo``
    an SLO figure of :mod:`pytest_fwmon.history.slo` (``burn_rate`` = any burn-rate window over
    its maximum, ``burn_rate.<w>``, ``availability``...) compared with ``op``/``threshold``;
``gate``
    the gate verdict: ``"blocked"``.

Built-in rules (:data:`BUILTIN_NAMES`) are on unless listed in ``disable_builtin`` (or
``disable_builtin = ["all"]``); a user rule with a built-in's name replaces it.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ..core.errors import ConfigError

#: Rule severities, most severe first; escalation moves one step to the left.
LEVELS: Final = ("critical", "high", "medium", "low")

#: Comparison operators of metric and SLO conditions.
OPS: Final = ("lt", "le", "gt", "ge", "eq", "ne")

#: Directions of a trend condition.
CHANGES: Final = ("up", "down", "worse", "any")

#: Condition kinds; a rule has exactly one of these keys.
KINDS: Final = ("metric", "trend", "slo", "gate")

#: Labels every alert carries (besides ``metric`` when the condition has one).
BASE_LABELS: Final = ("alertname", "repo", "branch", "severity")

#: Placeholders of ``summary`` and ``description`` (plus the rule's own label names).
PLACEHOLDERS: Final = (
    "alertname",
    "severity",
    "repo",
    "branch",
    "metric",
    "value",
    "threshold",
    "op",
    "run_id",
    "run_url",
    "sha",
    "before",
    "after",
    "magnitude",
    "change",
)

SETTINGS_KEYS: Final = (
    "enabled",
    "repo",
    "main_branch",
    "external_url",
    "group_by",
    "repeat_interval",
    "for_runs",
    "resolve_after_runs",
    "escalate_after_runs",
    "escalate_after",
    "coverage_target",
    "disable_builtin",
    "rules",
    "inhibit",
    "routes",
    "channels",
    "delivery_timeout",
    "max_attempts",
    "backoff",
)

RULE_KEYS: Final = (
    "name",
    "severity",
    *KINDS,
    "op",
    "threshold",
    "change",
    "recent_runs",
    "labels",
    "summary",
    "description",
    "for_runs",
    "resolve_after_runs",
    "escalate_after_runs",
    "escalate_after",
    "branches",
    "enabled",
)

INHIBIT_KEYS: Final = ("source", "target", "equal")
ROUTE_KEYS: Final = ("receivers", "send_resolved")

#: Default routes: severity -> receivers (only the receivers that are configured are used).
DEFAULT_ROUTES: Final = {
    "critical": ("pager", "email", "slack"),
    "high": ("slack", "email"),
    "medium": ("email",),
    "low": ("digest",),
}

BUILTIN_NAMES: Final = (
    "GateBlockedMain",
    "SecurityHighFindings",
    "BenchmarkP95ChangePoint",
    "CoverageBelowTarget",
    "SloBurnRate",
)

_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_:.-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS: Final = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")

_WHERE: Final = "[tool.fwmon.alerts]"


# -- small parsers ------------------------------------------------------------------------


def parse_duration(value: Any, what: str) -> float:
    """Seconds from ``"90s" "30m" "4h" "2d" "1w"``, a number of seconds, or ``""``/0 (off)."""
    if isinstance(value, bool):
        raise ConfigError(f"{what} must be a duration like 30m, 4h, 2d, got {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"{what} must be a duration >= 0, got {value!r}")
        return float(value)
    if isinstance(value, str):
        if value.strip() in ("", "0"):
            return 0.0
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNITS[match.group(2)]
    raise ConfigError(f"{what} must be a duration like 90s, 30m, 4h, 2d or 1w, got {value!r}")


def format_duration(seconds: float) -> str:
    """``4h``, ``90m``, ``45s``: the largest unit that divides ``seconds``."""
    if seconds <= 0:
        return "0"
    for unit in ("w", "d", "h", "m"):
        size = _UNITS[unit]
        if seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label matcher, as Alertmanager writes them: ``name=value``, ``!=``, ``=~``, ``!~``."""

    #: Label name.
    name: str
    #: ``=``, ``!=``, ``=~`` or ``!~``.
    op: str
    #: Value or regular expression (anchored at both ends, as in Alertmanager).
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher (a missing label is the empty string)."""
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


def parse_matcher(text: Any, what: str = "matcher") -> Matcher:
    """A :class:`Matcher` from ``name=value`` (the value may be double-quoted)."""
    if not isinstance(text, str):
        raise ConfigError(f"{what} must be a string like alertname=GateBlockedMain, got {text!r}")
    match = _MATCHER.match(text)
    if not match:
        raise ConfigError(
            f"{what} {text!r} is not a label matcher; write name=value, name!=value, "
            "name=~regex or name!~regex"
        )
    name, op, value = match.groups()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise ConfigError(f"{what} {text!r} has a bad regular expression: {exc}") from None
    return Matcher(name, op, value)


def parse_matchers(values: Any, what: str) -> tuple[Matcher, ...]:
    """A list of matcher strings (an inline table ``{name = "value"}`` means equality)."""
    if isinstance(values, Mapping):
        return tuple(parse_matcher(f"{k}={v}", what) for k, v in values.items())
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{what} must be a non-empty list of matchers like ['severity=critical']")
    return tuple(parse_matcher(v, what) for v in values)


def matches_all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches."""
    return all(m.matches(labels) for m in matchers)


def _check_keys(table: Mapping[str, Any], valid: Sequence[str], where: str) -> None:
    for key in table:
        if key not in valid:
            raise ConfigError(f"unknown key {where} {key}; valid keys: {', '.join(sorted(valid))}")


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a table, got {value!r}")
    return value


def _whole(value: Any, where: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{where} must be a whole number >= {minimum}, got {value!r}")
    return value


def _number(value: Any, where: str, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{where} must be a number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{where} must be a number >= {minimum:g}, got {value!r}")
    return float(value)


def _text(value: Any, where: str, *, empty: bool = True) -> str:
    if not isinstance(value, str) or (not empty and not value):
        raise ConfigError(f"{where} must be a {'' if empty else 'non-empty '}string, got {value!r}")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings, got {value!r}")
    return tuple(value)


def env_name(value: Any, where: str) -> str:
    """An environment variable name (secrets are only ever read from the environment)."""
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        raise ConfigError(
            f"{where} must name an environment variable (like FWMON_SLACK_URL), got {value!r}; "
            "secrets are read from the environment, never from the file"
        )
    return value


# -- rules --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Condition:
    """What makes a rule's alert active."""

    #: ``metric``, ``trend``, ``slo`` or ``gate``.
    kind: str
    #: Metric names or globs (``metric``: summed when several; ``trend``: one alert per match).
    metrics: tuple[str, ...] = ()
    #: Comparison of ``metric``/``slo`` conditions.
    op: str = "gt"
    #: Threshold of ``metric``/``slo`` conditions (``slo`` burn rates: None = the configured max).
    threshold: float | None = None
    #: ``trend``: direction of the change point.
    change: str = "worse"
    #: ``trend``: a change point counts while it is among the newest N runs.
    recent_runs: int = 10
    #: ``slo``: figure name (``burn_rate``, ``burn_rate.10``, ``availability``...).
    figure: str = ""

    def metric_label(self) -> str | None:
        """The ``metric`` label of alerts of a non-glob condition (None: per match or none)."""
        if self.kind == "metric" and not any(_is_glob(m) for m in self.metrics):
            return "+".join(self.metrics)
        if self.kind == "slo" and self.figure != "burn_rate":
            return self.figure
        if self.kind == "gate":
            return "gate.passed"
        return None


def _is_glob(name: str) -> bool:
    return any(c in name for c in "*?[")


@dataclass(frozen=True, slots=True)
class Rule:
    """One alert rule."""

    #: The ``alertname`` label.
    name: str
    #: critical | high | medium | low (the ``severity`` label; escalation starts here).
    severity: str
    condition: Condition
    #: Extra labels (part of the alert's identity).
    labels: Mapping[str, str] = field(default_factory=dict)
    #: Annotation templates (``str.format`` placeholders, see :data:`PLACEHOLDERS`).
    summary: str = ""
    description: str = ""
    #: Pending until the condition held for this many consecutive runs.
    for_runs: int = 1
    #: A firing alert resolves after this many consecutive runs without the condition.
    resolve_after_runs: int = 1
    #: Escalate one level after firing for this many runs (0 = never).
    escalate_after_runs: int = 0
    #: Escalate one level after firing for this many seconds (0 = never).
    escalate_after: float = 0.0
    #: Only runs of these branches (empty = every branch).
    branches: tuple[str, ...] = ()
    #: True for rules fwmon ships.
    builtin: bool = False


@dataclass(frozen=True, slots=True)
class InhibitRule:
    """Firing ``source`` alerts mute ``target`` alerts that agree on the ``equal`` labels."""

    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Route:
    """Where alerts of one severity go."""

    severity: str
    receivers: tuple[str, ...]
    #: Receivers of this route that also get resolved notifications.
    send_resolved: frozenset[str]

    @property
    def key(self) -> str:
        """Alertmanager's route key: ``{}/{severity="high"}``."""
        return '{}/{severity="' + self.severity + '"}'


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    """One receiver: a named channel of a type with its (validated) options."""

    name: str
    type: str
    options: Mapping[str, Any]


#: The default inhibition: a critical gate block mutes medium alerts of its repo and branch.
DEFAULT_INHIBIT: Final = (
    InhibitRule(
        source=(Matcher("alertname", "=", "GateBlockedMain"), Matcher("severity", "=", "critical")),
        target=(Matcher("severity", "=", "medium"),),
        equal=("repo", "branch"),
    ),
)


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """The validated ``[tool.fwmon.alerts]`` table (see docs/reference/alerts.md)."""

    enabled: bool = True
    #: ``repo`` label; empty = the report's ``run.project``.
    repo: str = ""
    main_branch: str = "main"
    external_url: str = ""
    group_by: tuple[str, ...] = ("branch", "repo")
    #: Seconds (run clock) before an unchanged firing group is notified again.
    repeat_interval: float = 4 * 3600.0
    coverage_target: float = 80.0
    rules: tuple[Rule, ...] = ()
    inhibit: tuple[InhibitRule, ...] = DEFAULT_INHIBIT
    routes: Mapping[str, Route] = field(default_factory=dict)
    channels: Mapping[str, ChannelConfig] = field(default_factory=dict)
    #: Seconds all deliveries of one evaluation may take together.
    delivery_timeout: float = 30.0
    #: Attempts per notification (first try included).
    max_attempts: int = 3
    #: Seconds before the second attempt; doubled for each further one.
    backoff: float = 1.0
    #: Notes about the configuration (e.g. a default route whose receiver is not configured).
    notes: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> AlertSettings:
        """Validate ``[tool.fwmon.alerts]``; raises ConfigError naming the key at fault."""
        from .channels import validate_channel

        section = _table(section or {}, _WHERE)
        _check_keys(section, SETTINGS_KEYS, _WHERE)
        values: dict[str, Any] = {}
        notes: list[str] = []
        if "enabled" in section:
            if not isinstance(section["enabled"], bool):
                raise ConfigError(f"{_WHERE} enabled must be true or false")
            values["enabled"] = section["enabled"]
        for key in ("repo", "main_branch", "external_url"):
            if key in section:
                values[key] = _text(section[key], f"{_WHERE} {key}", empty=key != "main_branch")
        if "group_by" in section:
            group_by = _strings(section["group_by"], f"{_WHERE} group_by")
            for name in group_by:
                if not _LABEL_NAME.match(name):
                    raise ConfigError(f"{_WHERE} group_by: {name!r} is not a label name")
            values["group_by"] = tuple(sorted(set(group_by)))
        if "repeat_interval" in section:
            values["repeat_interval"] = parse_duration(
                section["repeat_interval"], f"{_WHERE} repeat_interval"
            )
        if "coverage_target" in section:
            target = _number(section["coverage_target"], f"{_WHERE} coverage_target", 0)
            if target > 100:
                raise ConfigError(f"{_WHERE} coverage_target must be at most 100, got {target:g}")
            values["coverage_target"] = target
        if "delivery_timeout" in section:
            timeout = _number(section["delivery_timeout"], f"{_WHERE} delivery_timeout", 0)
            if timeout <= 0:
                raise ConfigError(f"{_WHERE} delivery_timeout must be more than 0 seconds")
            values["delivery_timeout"] = timeout
        if "max_attempts" in section:
            values["max_attempts"] = _whole(section["max_attempts"], f"{_WHERE} max_attempts", 1)
        if "backoff" in section:
            values["backoff"] = _number(section["backoff"], f"{_WHERE} backoff", 0)
        defaults = _rule_defaults(section)
        main = values.get("main_branch", "main")
        coverage = values.get("coverage_target", 80.0)
        disabled = set(_strings(section.get("disable_builtin", []), f"{_WHERE} disable_builtin"))
        for name in disabled:
            if name != "all" and name not in BUILTIN_NAMES:
                raise ConfigError(
                    f"{_WHERE} disable_builtin: unknown rule {name!r}; built-in rules: "
                    + ", ".join(BUILTIN_NAMES)
                    + " (or 'all')"
                )
        rules: dict[str, Rule] = {}
        if "all" not in disabled:
            for rule in builtin_rules(main, coverage, defaults):
                if rule.name not in disabled:
                    rules[rule.name] = rule
        raw_rules = section.get("rules", [])
        if not isinstance(raw_rules, list):
            raise ConfigError(
                f"{_WHERE} rules must be an array of tables ([[tool.fwmon.alerts.rules]])"
            )
        seen: set[str] = set()
        for index, raw in enumerate(raw_rules):
            parsed = _parse_rule(raw, index, defaults)
            if parsed is None:
                dropped = raw.get("name") if isinstance(raw, Mapping) else None
                rules.pop(str(dropped), None)
                continue
            if parsed.name in seen:
                raise ConfigError(f"{_WHERE} rules: two rules are named {parsed.name!r}")
            seen.add(parsed.name)
            rules[parsed.name] = parsed
        values["rules"] = tuple(rules.values())
        if "inhibit" in section:
            values["inhibit"] = _parse_inhibit(section["inhibit"])
        channels: dict[str, ChannelConfig] = {}
        raw_channels = _table(section.get("channels", {}), f"{_WHERE} channels")
        for name, raw in raw_channels.items():
            where = f"[tool.fwmon.alerts.channels.{name}]"
            if not _RULE_NAME.match(name):
                raise ConfigError(f"{where}: {name!r} is not a valid receiver name")
            kind, options = validate_channel(_table(raw, where), where)
            channels[name] = ChannelConfig(name, kind, options)
        values["channels"] = channels
        values["routes"] = _parse_routes(section.get("routes"), channels, notes)
        values["notes"] = tuple(notes)
        return cls(**values)

    def rule(self, name: str) -> Rule:
        """The rule named ``name`` (KeyError when there is none)."""
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)


def _rule_defaults(section: Mapping[str, Any]) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "for_runs": 1,
        "resolve_after_runs": 1,
        "escalate_after_runs": 0,
        "escalate_after": 0.0,
    }
    for key in ("for_runs", "resolve_after_runs"):
        if key in section:
            defaults[key] = _whole(section[key], f"{_WHERE} {key}", 1)
    if "escalate_after_runs" in section:
        defaults["escalate_after_runs"] = _whole(
            section["escalate_after_runs"], f"{_WHERE} escalate_after_runs", 0
        )
    if "escalate_after" in section:
        defaults["escalate_after"] = parse_duration(
            section["escalate_after"], f"{_WHERE} escalate_after"
        )
    return defaults


def builtin_rules(
    main_branch: str = "main", coverage_target: float = 80.0, defaults: Mapping[str, Any] = {}
) -> list[Rule]:
    """The rules fwmon ships (see docs/reference/alerts.md), with the section's defaults."""
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
    """ConfigError when ``template`` is not a valid format string of known placeholders."""
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


def _parse_rule(raw: Any, index: int, defaults: Mapping[str, Any]) -> Rule | None:
    where = f"[[tool.fwmon.alerts.rules]] #{index + 1}"
    table = _table(raw, where)
    if "name" in table and isinstance(table["name"], str):
        where = f"[[tool.fwmon.alerts.rules]] {table['name']!r}"
    _check_keys(table, RULE_KEYS, where)
    name = _text(table.get("name"), f"{where} name", empty=False)
    if not _RULE_NAME.match(name):
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
    condition = _parse_condition(table, kinds[0], where)
    labels_raw = _table(table.get("labels", {}), f"{where} labels")
    labels: dict[str, str] = {}
    for key, value in labels_raw.items():
        if not _LABEL_NAME.match(key):
            raise ConfigError(f"{where} labels: {key!r} is not a label name")
        if key in BASE_LABELS or key == "metric":
            raise ConfigError(
                f"{where} labels: {key!r} is set by fwmon; reserved: "
                + ", ".join([*BASE_LABELS, "metric"])
            )
        labels[key] = _text(value, f"{where} labels.{key}")
    summary = _text(table.get("summary", "{alertname} on {branch}"), f"{where} summary")
    description = _text(table.get("description", ""), f"{where} description")
    check_template(summary, f"{where} summary", tuple(labels))
    check_template(description, f"{where} description", tuple(labels))
    values = dict(defaults)
    for key in ("for_runs", "resolve_after_runs"):
        if key in table:
            values[key] = _whole(table[key], f"{where} {key}", 1)
    if "escalate_after_runs" in table:
        values["escalate_after_runs"] = _whole(
            table["escalate_after_runs"], f"{where} escalate_after_runs", 0
        )
    if "escalate_after" in table:
        values["escalate_after"] = parse_duration(
            table["escalate_after"], f"{where} escalate_after"
        )
    branches = _strings(table.get("branches", []), f"{where} branches")
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


def _parse_condition(table: Mapping[str, Any], kind: str, where: str) -> Condition:
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

        figure = _text(table["slo"], f"{where} slo", empty=False)
        valid = [*FIGURES, "burn_rate", "burn_rate.<window>"]
        ok = figure in FIGURES or figure == "burn_rate"
        ok = ok or bool(re.fullmatch(r"burn_rate\.[1-9][0-9]*", figure))
        if not ok:
            raise ConfigError(f"{where} slo {figure!r} is unknown; valid: {', '.join(valid)}")
        threshold = table.get("threshold")
        if threshold is None and figure != "burn_rate" and not figure.startswith("burn_rate."):
            raise ConfigError(f"{where} threshold is required for slo {figure!r}")
        value = None if threshold is None else _number(threshold, f"{where} threshold")
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
        recent = _whole(table.get("recent_runs", 10), f"{where} recent_runs", 1)
        return Condition("trend", (names[0],), change=str(change), recent_runs=recent)
    if len(names) > 1 and any(_is_glob(n) for n in names):
        raise ConfigError(f"{where} metric: a glob cannot be summed with other metrics")
    if "threshold" not in table:
        raise ConfigError(f"{where} threshold is required for a metric condition")
    threshold_value = _number(table["threshold"], f"{where} threshold")
    return Condition("metric", tuple(names), str(op), threshold_value)


def _parse_inhibit(raw: Any) -> tuple[InhibitRule, ...]:
    if not isinstance(raw, list):
        raise ConfigError(
            f"{_WHERE} inhibit must be an array of tables ([[tool.fwmon.alerts.inhibit]])"
        )
    rules = []
    for index, item in enumerate(raw):
        where = f"[[tool.fwmon.alerts.inhibit]] #{index + 1}"
        table = _table(item, where)
        _check_keys(table, INHIBIT_KEYS, where)
        for key in ("source", "target"):
            if key not in table:
                raise ConfigError(
                    f"{where} needs {key} matchers, e.g. {key} = ['severity=critical']"
                )
        equal = _strings(table.get("equal", []), f"{where} equal")
        rules.append(
            InhibitRule(
                parse_matchers(table["source"], f"{where} source"),
                parse_matchers(table["target"], f"{where} target"),
                equal,
            )
        )
    return tuple(rules)


def _parse_routes(
    raw: Any, channels: Mapping[str, ChannelConfig], notes: list[str]
) -> dict[str, Route]:
    where = "[tool.fwmon.alerts.routes]"
    table = _table(raw if raw is not None else {}, where)
    _check_keys(table, LEVELS, where)
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
        entry = _table(entry, here)
        _check_keys(entry, ROUTE_KEYS, here)
        receivers = _strings(entry.get("receivers", []), f"{here} receivers")
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
            chosen = _strings(resolved_raw, f"{here} send_resolved")
            for name in chosen:
                if name not in receivers:
                    raise ConfigError(
                        f"{here} send_resolved names {name!r}, which is not a receiver of "
                        f"this route ({', '.join(receivers) or 'none'})"
                    )
            send_resolved = frozenset(chosen)
        routes[level] = Route(level, receivers, send_resolved)
    return routes


__all__ = [
    "BUILTIN_NAMES",
    "CHANGES",
    "DEFAULT_ROUTES",
    "KINDS",
    "LEVELS",
    "OPS",
    "PLACEHOLDERS",
    "AlertSettings",
    "ChannelConfig",
    "Condition",
    "InhibitRule",
    "Matcher",
    "Route",
    "Rule",
    "builtin_rules",
    "check_template",
    "env_name",
    "format_duration",
    "matches_all",
    "parse_duration",
    "parse_matcher",
    "parse_matchers",
]
