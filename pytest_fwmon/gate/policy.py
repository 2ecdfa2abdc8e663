"""Gate policies: parse and validate the TOML, find the one to use, and spot a weakened one.

Standard library only. A policy is a table (a file under ``gates/``, or ``[tool.fwmon.gate]``
in ``pyproject.toml``) with these keys (JSON Schema: ``schemas/policy.schema.json``)::

    version = 1                       # optional, the only version so far
    description = "..."               # optional
    required_pipelines = ["security"] # pipelines the report must hold, having run
    fail_on_stale = false             # block when baseline entries or waivers match nothing
    [[conditions]]                    # at least one
    id = "no-new-high"                # unique; letters, digits, "-", "_", "."
    metric = "findings.high_or_worse" # see metrics.py
    op = "le"                         # lt | le | gt | ge | eq: "metric op threshold" must hold
    threshold = 0                     # a number; a pipeline status word for pipeline.*.status
    scope = "new"                     # overall | new | diff (findings.* metrics only)
    level = "error"                   # error blocks, warn only warns
    missing = "fail"                  # fail | pass: what a metric absent from the report does
    description = "..."               # optional
    [[exemptions]]                    # optional, explicit and printed in the result
    id = "small-change"
    conditions = ["diff-coverage"]    # condition ids it exempts
    metric = "diff.changed_lines"     # exempt when "metric op threshold" holds
    op = "lt"
    threshold = 10
    reason = "changes under 10 lines"
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Final

from ..core.errors import ConfigError
from ..core.inputs import read_input
from ..core.model import PIPELINE_STATUSES, PIPELINES
from .metrics import METRICS, METRICS_HELP, SCOPES, is_findings_metric, is_text_metric

#: Comparison operators; a condition passes when ``actual OP threshold`` holds.
OPS: Final = ("lt", "le", "gt", "ge", "eq")
LEVELS: Final = ("error", "warn")
MISSING: Final = ("fail", "pass")
#: Presets shipped in the package (copies of the files in the repository's ``gates/``).
PRESETS: Final = ("default", "strict", "legacy")

POLICY_KEYS: Final = (
    "version",
    "description",
    "required_pipelines",
    "fail_on_stale",
    "conditions",
    "exemptions",
)
CONDITION_KEYS: Final = (
    "id",
    "metric",
    "op",
    "threshold",
    "scope",
    "level",
    "missing",
    "description",
)
EXEMPTION_KEYS: Final = ("id", "conditions", "metric", "op", "threshold", "reason")

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True, slots=True)
class Condition:
    """One rule of a policy: ``metric op threshold`` must hold."""

    #: Unique id, used in output and to compare policies.
    id: str
    #: A name from :data:`~pytest_fwmon.gate.metrics.METRICS`.
    metric: str
    #: One of :data:`OPS`.
    op: str
    #: A number, or a pipeline status for ``pipeline.*.status``.
    threshold: float | str
    #: One of :data:`~pytest_fwmon.gate.metrics.SCOPES`.
    scope: str = "overall"
    #: "error" blocks the merge, "warn" only reports.
    level: str = "error"
    #: "fail": a metric the report lacks blocks (or warns); "pass": it passes, said in output.
    missing: str = "fail"
    #: Free text shown in the summary.
    description: str = ""

    def holds(self, actual: float | str) -> bool:
        """Return whether ``actual op threshold`` holds."""
        return compare(actual, self.op, self.threshold)


@dataclass(frozen=True, slots=True)
class Exemption:
    """An explicit exemption: listed conditions do not apply while its predicate holds."""

    id: str
    conditions: tuple[str, ...]
    metric: str
    op: str
    threshold: float | str
    reason: str


@dataclass(frozen=True, slots=True)
class Policy:
    """A validated gate policy."""

    conditions: tuple[Condition, ...]
    required_pipelines: tuple[str, ...] = ()
    fail_on_stale: bool = False
    exemptions: tuple[Exemption, ...] = ()
    description: str = ""
    #: Where it came from, for messages: a path, "preset default", "pyproject.toml ...".
    source: str = ""
    #: The file it was read from (None for presets), for the policy guard.
    path: Path | None = field(default=None, compare=False)
    #: The table inside the file (("tool", "fwmon", "gate") in pyproject.toml), else ().
    table: tuple[str, ...] = field(default=(), compare=False)


def compare(actual: float | str, op: str, threshold: float | str) -> bool:
    """Apply one of :data:`OPS`; text values only compare equal or not."""
    if op == "eq":
        return actual == threshold
    if isinstance(actual, str) or isinstance(threshold, str):
        return False
    if op == "lt":
        return actual < threshold
    if op == "le":
        return actual <= threshold
    if op == "gt":
        return actual > threshold
    return actual >= threshold


def _choices(where: str, key: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(
            f"{where}: {key} {value!r} is not valid; valid choices: {', '.join(choices)}"
        )
    return value


def _unknown(where: str, table: Mapping[str, Any], keys: tuple[str, ...]) -> None:
    for key in table:
        if key not in keys:
            raise ConfigError(f"{where}: unknown key {key!r}; valid keys: {', '.join(keys)}")


def _metric(where: str, value: Any) -> str:
    if not isinstance(value, str) or value not in METRICS:
        raise ConfigError(f"{where}: unknown metric {value!r}; valid metrics: {METRICS_HELP}")
    return value


def _threshold(where: str, metric: str, op: str, value: Any) -> float | str:
    if is_text_metric(metric):
        if op != "eq":
            raise ConfigError(f"{where}: metric {metric} is a status word, so op must be 'eq'")
        return _choices(where, "threshold", value, PIPELINE_STATUSES)
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "..."
        raise ConfigError(f"{where}: threshold must be a finite number, got {shown}")
    return value


def _finite(value: float) -> bool:
    """Return whether ``value`` is a finite float, or an int a float can hold."""
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond the float range: no metric can be compared with it
        return False


def _text(where: str, key: str, value: Any, *, required: bool = False) -> str:
    if not isinstance(value, str) or (required and not value.strip()):
        kind = "a non-empty string" if required else "a string"
        raise ConfigError(f"{where}: {key} must be {kind}, got {value!r}")
    return value


def _named(where: str, ident: Any, noun: str) -> str:
    """Return how messages name a table: by its id when that is valid, else by ``where``."""
    if isinstance(ident, str) and _ID.match(ident):
        return f"{noun} {ident!r}"
    return where


def _require(where: str, table: Mapping[str, Any], keys: tuple[str, ...]) -> None:
    """Refuse a table that lacks one of ``keys``."""
    for key in keys:
        if key not in table:
            raise ConfigError(f"{where}: missing required key {key!r}")


def _ident(where: str, ident: Any) -> str:
    """Return a valid id, refusing anything but letters, digits, '-', '_' and '.'."""
    if not isinstance(ident, str) or not _ID.match(ident):
        raise ConfigError(
            f"{where}: id {ident!r} must be a string of letters, digits, '-', '_' and '.'"
        )
    return ident


def _condition(index: int, table: Any) -> Condition:
    where = f"conditions[{index}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table ([[conditions]])")
    where = _named(where, table.get("id"), "condition")
    _unknown(where, table, CONDITION_KEYS)
    _require(where, table, ("id", "metric", "op", "threshold"))
    ident = _ident(where, table.get("id"))
    metric = _metric(where, table["metric"])
    op = _choices(where, "op", table["op"], OPS)
    scope = _choices(where, "scope", table.get("scope", "overall"), SCOPES)
    if scope != "overall" and not is_findings_metric(metric):
        raise ConfigError(
            f"{where}: scope {scope!r} applies only to findings.* metrics; "
            f"use scope 'overall' for {metric}"
        )
    return Condition(
        id=ident,
        metric=metric,
        op=op,
        threshold=_threshold(where, metric, op, table["threshold"]),
        scope=scope,
        level=_choices(where, "level", table.get("level", "error"), LEVELS),
        missing=_choices(where, "missing", table.get("missing", "fail"), MISSING),
        description=_text(where, "description", table.get("description", "")),
    )


def _targets(where: str, targets: Any, ids: set[str]) -> list[str]:
    """Return an exemption's condition ids, refusing an empty list or an unknown id."""
    if not isinstance(targets, list) or not targets or not all(isinstance(t, str) for t in targets):
        raise ConfigError(f"{where}: conditions must be a non-empty list of condition ids")
    for target in targets:
        if target not in ids:
            raise ConfigError(
                f"{where}: unknown condition {target!r}; valid conditions: {', '.join(sorted(ids))}"
            )
    return targets


def _exemption(index: int, table: Any, ids: set[str]) -> Exemption:
    where = f"exemptions[{index}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table ([[exemptions]])")
    where = _named(where, table.get("id"), "exemption")
    _unknown(where, table, EXEMPTION_KEYS)
    _require(where, table, EXEMPTION_KEYS)
    ident = _ident(where, table.get("id"))
    targets = _targets(where, table["conditions"], ids)
    metric = _metric(where, table["metric"])
    op = _choices(where, "op", table["op"], OPS)
    return Exemption(
        id=ident,
        conditions=tuple(targets),
        metric=metric,
        op=op,
        threshold=_threshold(where, metric, op, table["threshold"]),
        reason=_text(where, "reason", table["reason"], required=True),
    )


def policy_from_table(table: Any, source: str) -> Policy:
    """Validate a parsed policy table; raises :class:`ConfigError` naming the problem."""
    try:
        return _policy(table, source)
    except ConfigError as exc:
        raise ConfigError(f"policy {source}: {exc.message}", hint=exc.hint) from None


def validate_gate_section(table: Any) -> Policy:
    """``[tool.fwmon.gate]`` of pyproject.toml as the run's configuration checks it."""
    return policy_from_table(table, "pyproject.toml [tool.fwmon.gate]")


def _version(table: Mapping[str, Any]) -> None:
    """Refuse a policy ``version`` other than 1."""
    version = table.get("version", 1)
    if version != 1 or isinstance(version, bool):
        raise ConfigError(f"version {version!r} is not supported; this fwmon reads version 1")


def _required_pipelines(table: Mapping[str, Any]) -> list[Any]:
    """Return ``required_pipelines`` (default none), each a known pipeline."""
    required = table.get("required_pipelines", [])
    if not isinstance(required, list):
        raise ConfigError(f"required_pipelines must be a list, got {required!r}")
    for name in required:
        _choices("required_pipelines", "pipeline", name, PIPELINES)
    return required


def _fail_on_stale(table: Mapping[str, Any]) -> bool:
    """Return ``fail_on_stale`` (default false), refusing anything but a boolean."""
    fail_on_stale = table.get("fail_on_stale", False)
    if not isinstance(fail_on_stale, bool):
        raise ConfigError(f"fail_on_stale must be true or false, got {fail_on_stale!r}")
    return fail_on_stale


def _conditions(table: Mapping[str, Any]) -> list[Condition]:
    """Return the validated ``[[conditions]]``: at least one, each id used once."""
    raw_conditions = table.get("conditions")
    if not isinstance(raw_conditions, list) or not raw_conditions:
        raise ConfigError(
            "the policy has no conditions; add at least one [[conditions]] table "
            f"(or use a preset: {', '.join(PRESETS)})"
        )
    conditions = [_condition(i, t) for i, t in enumerate(raw_conditions)]
    ids: set[str] = set()
    for condition in conditions:
        if condition.id in ids:
            raise ConfigError(f"condition id {condition.id!r} is used twice")
        ids.add(condition.id)
    return conditions


def _exemptions(table: Mapping[str, Any], ids: set[str]) -> list[Exemption]:
    """Return the validated ``[[exemptions]]`` (default none), each id used once."""
    raw_exemptions = table.get("exemptions", [])
    if not isinstance(raw_exemptions, list):
        raise ConfigError("exemptions must be a list of tables ([[exemptions]])")
    exemptions = [_exemption(i, t, ids) for i, t in enumerate(raw_exemptions)]
    if len({e.id for e in exemptions}) != len(exemptions):
        raise ConfigError("two exemptions have the same id")
    return exemptions


def _policy(table: Any, source: str) -> Policy:
    """Validate a policy table, checking its keys in the order the messages expect."""
    if not isinstance(table, dict):
        raise ConfigError("the policy must be a table")
    _unknown("top level", table, POLICY_KEYS)
    _version(table)
    required = _required_pipelines(table)
    fail_on_stale = _fail_on_stale(table)
    conditions = _conditions(table)
    exemptions = _exemptions(table, {c.id for c in conditions})
    return Policy(
        conditions=tuple(conditions),
        required_pipelines=tuple(dict.fromkeys(required)),
        fail_on_stale=fail_on_stale,
        exemptions=tuple(exemptions),
        description=_text("top level", "description", table.get("description", "")),
        source=source,
    )


def parse_toml(data: bytes, source: str) -> dict[str, Any]:
    """Parse TOML bytes; any problem is a :class:`ConfigError` naming ``source``."""
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source} is not UTF-8 text (byte {exc.start})") from None
    except ValueError as exc:  # TOMLDecodeError, or an integer too long to convert
        raise ConfigError(f"{source} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{source} is not valid TOML: nested too deeply") from None


def dig(document: Mapping[str, Any], table: tuple[str, ...]) -> Any:
    """Return the sub-table of ``document`` at the keys ``table`` (() is all), None if absent."""
    node: Any = document
    for key in table:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


PYPROJECT_TABLE: Final = ("tool", "fwmon", "gate")


def parse_policy(data: bytes, source: str, table: tuple[str, ...] = ()) -> Policy:
    """Parse a policy from a file's bytes; ``table`` selects a sub-table (pyproject.toml)."""
    document = parse_toml(data, source)
    node = dig(document, table)
    if node is None:
        name = ".".join(table)
        raise ConfigError(f"{source.removesuffix(f' [{name}]')} has no [{name}] table")
    return policy_from_table(node, source)


def preset_bytes(name: str) -> bytes:
    """Return the bytes of a shipped preset."""
    return resources.files("pytest_fwmon.gate").joinpath(f"presets/{name}.toml").read_bytes()


def load_preset(name: str) -> Policy:
    """One of :data:`PRESETS`."""
    return parse_policy(preset_bytes(name), f"preset {name}")


def load_policy(spec: str | Path | None, root: Path) -> Policy:
    """Load the policy to use.

    ``spec`` is a preset name (``default``, ``strict``, ``legacy``), a TOML file (a
    ``pyproject.toml`` is read at ``[tool.fwmon.gate]``), or None: ``[tool.fwmon.gate]`` of
    ``root/pyproject.toml`` when it has one, else the ``default`` preset.
    """
    if spec is None:
        pyproject = root / "pyproject.toml"
        if pyproject.is_file():
            document = parse_toml(_read(pyproject), str(pyproject))
            if dig(document, PYPROJECT_TABLE) is not None:
                return _with_origin(
                    policy_from_table(
                        dig(document, PYPROJECT_TABLE), f"{pyproject} [tool.fwmon.gate]"
                    ),
                    pyproject,
                    PYPROJECT_TABLE,
                )
        return load_preset("default")
    path = Path(spec)
    if not path.is_absolute():
        path = root / path
    if str(spec) in PRESETS and not path.exists():
        return load_preset(str(spec))
    if not path.is_file():
        raise ConfigError(
            f"policy file {spec} not found; give a TOML file or a preset: {', '.join(PRESETS)}"
        )
    table = PYPROJECT_TABLE if path.name == "pyproject.toml" else ()
    source = f"{spec} [tool.fwmon.gate]" if table else str(spec)
    return _with_origin(parse_policy(_read(path), source, table), path, table)


def _with_origin(policy: Policy, path: Path, table: tuple[str, ...]) -> Policy:
    return Policy(
        conditions=policy.conditions,
        required_pipelines=policy.required_pipelines,
        fail_on_stale=policy.fail_on_stale,
        exemptions=policy.exemptions,
        description=policy.description,
        source=policy.source,
        path=path,
        table=table,
    )


def _read(path: Path) -> bytes:
    return read_input(path, f"policy file {path}", ConfigError)


# --- the policy guard -------------------------------------------------------------------------

_STRICTNESS: Final = {"overall": 2, "new": 1, "diff": 0}


def _interval(op: str, threshold: float) -> tuple[float, bool, float, bool]:
    """Values that pass, as (low, low included, high, high included)."""
    inf = math.inf
    if op == "lt":
        return (-inf, False, threshold, False)
    if op == "le":
        return (-inf, False, threshold, True)
    if op == "gt":
        return (threshold, False, inf, False)
    if op == "ge":
        return (threshold, True, inf, False)
    return (threshold, True, threshold, True)


def _subset(inner: tuple[float, bool, float, bool], outer: tuple[float, bool, float, bool]) -> bool:
    lo, lo_in, hi, hi_in = inner
    olo, olo_in, ohi, ohi_in = outer
    low_ok = lo > olo or (lo == olo and (olo_in or not lo_in))
    high_ok = hi < ohi or (hi == ohi and (ohi_in or not hi_in))
    return low_ok and high_ok


def _passes_more(old: Condition, new: Condition) -> bool:
    """Return whether ``new`` lets through a value ``old`` would have stopped."""
    if isinstance(old.threshold, str) or isinstance(new.threshold, str):
        return (old.op, old.threshold) != (new.op, new.threshold)
    return not _subset(_interval(new.op, new.threshold), _interval(old.op, old.threshold))


def _fmt(condition: Condition) -> str:
    return f"{condition.op} {condition.threshold}"


def _condition_weakenings(before: Condition, after: Condition | None) -> list[str]:
    """How condition ``after`` is weaker than ``before`` (None: it was removed)."""
    if after is None:
        return [f"condition {before.id} removed"]
    if after.metric != before.metric:
        return [f"condition {before.id} changed metric {before.metric} to {after.metric}"]
    changes: list[str] = []
    if _passes_more(before, after):
        changes.append(f"condition {before.id} relaxed from {_fmt(before)} to {_fmt(after)}")
    if _STRICTNESS[after.scope] < _STRICTNESS[before.scope]:
        changes.append(f"condition {before.id} narrowed scope {before.scope} to {after.scope}")
    if before.level == "error" and after.level == "warn":
        changes.append(f"condition {before.id} downgraded from error to warn")
    if before.missing == "fail" and after.missing == "pass":
        changes.append(f"condition {before.id} now passes when its metric is missing")
    return changes


def weakenings(old: Policy, new: Policy) -> list[str]:
    """How ``new`` is weaker than ``old``, one phrase each; empty when it is not."""
    changes: list[str] = []
    by_id = {c.id: c for c in new.conditions}
    for before in old.conditions:
        changes += _condition_weakenings(before, by_id.get(before.id))
    for pipeline in old.required_pipelines:
        if pipeline not in new.required_pipelines:
            changes.append(f"required pipeline {pipeline} removed")
    if old.fail_on_stale and not new.fail_on_stale:
        changes.append("fail_on_stale switched off")
    old_exemptions = set(old.exemptions)
    for exemption in new.exemptions:
        if exemption not in old_exemptions:
            changes.append(f"exemption {exemption.id} added or changed")
    return changes
