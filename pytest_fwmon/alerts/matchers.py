"""Label matchers (``name=value``, ``!=``, ``=~``, ``!~``) of silences and inhibition rules."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.errors import ConfigError

_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


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
        """Return the matcher as written in configuration: ``name="value"``."""
        return f'{self.name}{self.op}"{self.value}"'


def parse_matcher(text: Any, what: str = "matcher") -> Matcher:
    """Return a :class:`Matcher` from ``name=value`` (the value may be double-quoted)."""
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
    """Return a list of matcher strings (an inline table ``{name = "value"}`` means equality)."""
    if isinstance(values, Mapping):
        return tuple(parse_matcher(f"{k}={v}", what) for k, v in values.items())
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{what} must be a non-empty list of matchers like ['severity=critical']")
    return tuple(parse_matcher(v, what) for v in values)


def matches_all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    """Return True when every matcher matches."""
    return all(m.matches(labels) for m in matchers)
