"""Alert rules: their names, conditions, inhibition, routes and channels. Standard library only.

The validated ``[tool.fwmon.alerts]`` table is :class:`pytest_fwmon.alerts.settings.AlertSettings`;
rules are parsed by :mod:`pytest_fwmon.alerts.ruleparse`.

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
    the gate verdict: ``"blocked"``;
``flaky``
    ``"new"``: a flaky test that is not quarantined, one alert per test
    (:mod:`pytest_fwmon.alerts.testconds`);
``quarantine``
    ``"expiring"``: a quarantine entry expiring within ``threshold`` days, one per entry;
``culprit``
    ``"red"``: the branch's run is red; the annotations name the culprit when it is known.

Built-in rules (:data:`BUILTIN_NAMES`) are on unless listed in ``disable_builtin`` (or
``disable_builtin = ["all"]``); a user rule with a built-in's name replaces it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .matchers import Matcher

LEVELS: Final = ("critical", "high", "medium", "low")

#: Comparison operators of metric and SLO conditions.
OPS: Final = ("lt", "le", "gt", "ge", "eq", "ne")

#: Directions of a trend condition.
CHANGES: Final = ("up", "down", "worse", "any")

#: Condition kinds; a rule has exactly one of these keys.
KINDS: Final = ("metric", "trend", "slo", "gate", "flaky", "quarantine", "culprit")

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
    "test",
    "flip_rate",
    "runs",
    "commits",
    "evidence",
    "owner",
    "expires",
    "days_left",
    "expiry",
    "first_red",
    "culprit",
    "last_green",
    "last_green_sha",
    "failing",
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
    "respond_within",
    "escalate_unacknowledged",
    "ack_expires",
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
    "low": ("email",),
}

BUILTIN_NAMES: Final = (
    "GateBlockedMain",
    "SecurityHighFindings",
    "BenchmarkP95ChangePoint",
    "CoverageBelowTarget",
    "SloBurnRate",
    "NewFlakyTest",
    "QuarantineExpiring",
    "MainBranchRed",
)

#: Valid label and rule (receiver) names.
LABEL_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RULE_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_:.-]*$")

#: The section's name in messages.
SECTION: Final = "[tool.fwmon.alerts]"


@dataclass(frozen=True, slots=True)
class Condition:
    """What makes a rule's alert active."""

    #: One of :data:`KINDS`.
    kind: str
    #: Metric names or globs (``metric``: summed when several; ``trend``: one alert per match).
    metrics: tuple[str, ...] = ()
    #: Comparison of ``metric``/``slo`` conditions.
    op: str = "gt"
    #: Threshold of ``metric``/``slo`` conditions (``slo`` burn rates: None = the configured max);
    #: ``flaky``: the flip rate (None = the classification's); ``quarantine``: days (None = 7).
    threshold: float | None = None
    #: ``trend``: direction of the change point.
    change: str = "worse"
    #: ``trend``: a change point counts while it is among the newest N runs; ``flaky``: the
    #: runs of the branch the classification reads.
    recent_runs: int = 10
    #: ``slo``: figure name (``burn_rate``, ``burn_rate.10``, ``availability``...).
    figure: str = ""

    def metric_label(self) -> str | None:
        """Return the ``metric`` label of alerts of a non-glob condition (None: per match/none)."""
        if self.kind == "metric" and not any(is_glob(m) for m in self.metrics):
            return "+".join(self.metrics)
        if self.kind == "slo" and self.figure != "burn_rate":
            return self.figure
        if self.kind == "gate":
            return "gate.passed"
        return None


def is_glob(name: str) -> bool:
    """Return True when ``name`` has glob characters (``*``, ``?``, ``[``)."""
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
