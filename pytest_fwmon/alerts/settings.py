"""The validated ``[tool.fwmon.alerts]`` settings, read once. Standard library only.

:meth:`AlertSettings.from_config` reads the raw ``[tool.fwmon.alerts]`` table
(``FwmonConfig.raw_sections["alerts"]``); an unknown key anywhere raises
:class:`~pytest_fwmon.core.errors.ConfigError` naming the valid keys, a bad value says what is
expected. The reference is docs/reference/alerts.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import ConfigError
from .channels import validate_channel
from .response import DEFAULT_RESPOND_WITHIN, parse_response
from .ruleparse import builtin_rules, parse_inhibit, parse_routes, parse_rule, rule_defaults
from .rules import (
    BUILTIN_NAMES,
    DEFAULT_INHIBIT,
    LABEL_NAME,
    RULE_NAME,
    SECTION,
    SETTINGS_KEYS,
    ChannelConfig,
    InhibitRule,
    Route,
    Rule,
)
from .values import as_table, check_keys, number, parse_duration, strings, text, whole


def _scalar_values(section: Mapping[str, Any]) -> dict[str, Any]:
    """Return the validated plain settings: enabled, labels, group_by and repeat_interval."""
    values: dict[str, Any] = {}
    if "enabled" in section:
        if not isinstance(section["enabled"], bool):
            raise ConfigError(f"{SECTION} enabled must be true or false")
        values["enabled"] = section["enabled"]
    for key in ("repo", "main_branch", "external_url"):
        if key in section:
            values[key] = text(section[key], f"{SECTION} {key}", empty=key != "main_branch")
    if "group_by" in section:
        group_by = strings(section["group_by"], f"{SECTION} group_by")
        for name in group_by:
            if not LABEL_NAME.match(name):
                raise ConfigError(f"{SECTION} group_by: {name!r} is not a label name")
        values["group_by"] = tuple(sorted(set(group_by)))
    if "repeat_interval" in section:
        values["repeat_interval"] = parse_duration(
            section["repeat_interval"], f"{SECTION} repeat_interval"
        )
    return values


def _number_values(section: Mapping[str, Any]) -> dict[str, Any]:
    """Return the validated numeric settings: coverage target and delivery limits."""
    values: dict[str, Any] = {}
    if "coverage_target" in section:
        target = number(section["coverage_target"], f"{SECTION} coverage_target", 0)
        if target > 100:
            raise ConfigError(f"{SECTION} coverage_target must be at most 100, got {target:g}")
        values["coverage_target"] = target
    if "delivery_timeout" in section:
        timeout = number(section["delivery_timeout"], f"{SECTION} delivery_timeout", 0)
        if timeout <= 0:
            raise ConfigError(f"{SECTION} delivery_timeout must be more than 0 seconds")
        values["delivery_timeout"] = timeout
    if "max_attempts" in section:
        values["max_attempts"] = whole(section["max_attempts"], f"{SECTION} max_attempts", 1)
    if "backoff" in section:
        values["backoff"] = number(section["backoff"], f"{SECTION} backoff", 0)
    return values


def _enabled_builtins(
    section: Mapping[str, Any], main: str, coverage: float, defaults: Mapping[str, Any]
) -> dict[str, Rule]:
    """Return the built-in rules by name, less those ``disable_builtin`` names."""
    disabled = set(strings(section.get("disable_builtin", []), f"{SECTION} disable_builtin"))
    for name in disabled:
        if name != "all" and name not in BUILTIN_NAMES:
            raise ConfigError(
                f"{SECTION} disable_builtin: unknown rule {name!r}; built-in rules: "
                + ", ".join(BUILTIN_NAMES)
                + " (or 'all')"
            )
    if "all" in disabled:
        return {}
    return {
        rule.name: rule
        for rule in builtin_rules(main, coverage, defaults)
        if rule.name not in disabled
    }


def _merge_rules(
    section: Mapping[str, Any], rules: dict[str, Rule], defaults: Mapping[str, Any]
) -> None:
    """Add the ``[[rules]]`` tables to ``rules``; a rule parsed to None drops its namesake."""
    raw_rules = section.get("rules", [])
    if not isinstance(raw_rules, list):
        raise ConfigError(
            f"{SECTION} rules must be an array of tables ([[tool.fwmon.alerts.rules]])"
        )
    seen: set[str] = set()
    for index, raw in enumerate(raw_rules):
        parsed = parse_rule(raw, index, defaults)
        if parsed is None:
            dropped = raw.get("name") if isinstance(raw, Mapping) else None
            rules.pop(str(dropped), None)
            continue
        if parsed.name in seen:
            raise ConfigError(f"{SECTION} rules: two rules are named {parsed.name!r}")
        seen.add(parsed.name)
        rules[parsed.name] = parsed


def _all_rules(section: Mapping[str, Any], values: Mapping[str, Any]) -> tuple[Rule, ...]:
    """Return the built-in rules still enabled followed by the configured ones."""
    defaults = rule_defaults(section)
    main = values.get("main_branch", "main")
    coverage = values.get("coverage_target", 80.0)
    rules = _enabled_builtins(section, main, coverage, defaults)
    _merge_rules(section, rules, defaults)
    return tuple(rules.values())


def _channels(section: Mapping[str, Any]) -> dict[str, ChannelConfig]:
    """Return the validated ``[tool.fwmon.alerts.channels.<name>]`` tables by name."""
    channels: dict[str, ChannelConfig] = {}
    raw_channels = as_table(section.get("channels", {}), f"{SECTION} channels")
    for name, raw in raw_channels.items():
        where = f"[tool.fwmon.alerts.channels.{name}]"
        if not RULE_NAME.match(name):
            raise ConfigError(f"{where}: {name!r} is not a valid receiver name")
        kind, options = validate_channel(as_table(raw, where), where)
        channels[name] = ChannelConfig(name, kind, options)
    return channels


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
    #: Seconds (per current level) to acknowledge a firing alert in; 0 = immediately.
    respond_within: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_RESPOND_WITHIN)
    )
    #: Escalate a firing alert one level when nobody acknowledged it within its response time.
    escalate_unacknowledged: bool = True
    #: Seconds an acknowledgement lasts (0: until the alert resolves).
    ack_expires: float = 0.0
    #: Notes about the configuration (e.g. a default route whose receiver is not configured).
    notes: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> AlertSettings:
        """Validate ``[tool.fwmon.alerts]``; raises ConfigError naming the key at fault."""
        section = as_table(section or {}, SECTION)
        check_keys(section, SETTINGS_KEYS, SECTION)
        notes: list[str] = []
        values = _scalar_values(section)
        values.update(_number_values(section))
        values.update(parse_response(section, SECTION))
        values["rules"] = _all_rules(section, values)
        if "inhibit" in section:
            values["inhibit"] = parse_inhibit(section["inhibit"])
        channels = _channels(section)
        values["channels"] = channels
        values["routes"] = parse_routes(section.get("routes"), channels, notes)
        values["notes"] = tuple(notes)
        return cls(**values)

    def rule(self, name: str) -> Rule:
        """Return the rule named ``name`` (KeyError when there is none)."""
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)
