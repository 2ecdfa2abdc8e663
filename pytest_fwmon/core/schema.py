"""A small JSON Schema validator (the subset fwmon's own schemas use), standard library only.

The gate must validate reports in a bare CI job without ``jsonschema`` installed, and fast on
reports with tens of thousands of findings, so a schema is compiled once into nested closures,
and the items of a long array of flat objects (findings, baseline entries) are first tested by
one generated predicate (``core/schemagen.py``). The test suite checks that this validator and
``jsonschema`` agree on every schema we ship, and the generated predicate on findings.

Supported keywords: ``type`` (string or list), ``enum``, ``const``, ``required``,
``properties``, ``additionalProperties`` (bool or schema), ``items``, ``minimum``,
``maximum``, ``minLength``, ``pattern``, ``anyOf``, ``$ref`` to ``#/$defs/NAME``.
Annotations (``title``, ``description``, ``$id``, ``$schema``, ``format``) are ignored.
Any other keyword is a programming error raised when compiling.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import cache
from importlib import resources
from typing import Any, Final

from .schemagen import ANNOTATIONS as _ANNOTATIONS
from .schemagen import flat_predicate

#: A compiled validator returns None when valid, else (json path, message).
Validator = Callable[[Any, str], "tuple[str, str] | None"]
#: Inside the compiler: value -> None, or (path relative to the value, message). Paths are
#: built only on the way out of an error: a valid report builds no path string at all.
_Check = Callable[[Any], "tuple[str, str] | None"]

_SUPPORTED = frozenset(
    {
        "type",
        "enum",
        "const",
        "required",
        "properties",
        "additionalProperties",
        "items",
        "minimum",
        "maximum",
        "minLength",
        "pattern",
        "anyOf",
        "$ref",
        "$defs",
    }
)


def _is_number(value: Any) -> bool:
    if type(value) is int or type(value) is float:
        return True
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    if type(value) is int:
        return True
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool)


#: One predicate per type name, for the common single-type schemas (called for every value
#: of a report: a 2,000-test report with resources has 30,000 of them).
_PREDICATES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": _is_integer,
    "number": _is_number,
}


def _type_predicate(names: list[str]) -> Callable[[Any], bool]:
    """``value -> bool``: whether the value has one of the JSON Schema types ``names``."""
    for name in names:
        if name not in _PREDICATES:
            raise ValueError(f"unknown JSON Schema type {name!r}")
    if len(names) == 1:
        return _PREDICATES[names[0]]
    if len(names) == 2 and "null" in names:
        other = _PREDICATES[names[0] if names[1] == "null" else names[1]]
        return lambda v: v is None or other(v)
    predicates = [_PREDICATES[n] for n in names]
    return lambda v: any(pred(v) for pred in predicates)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _type_check(schema: Mapping[str, Any]) -> _Check | None:
    if "type" not in schema:
        return None
    names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    type_ok = _type_predicate(names)

    def check_type(v: Any) -> tuple[str, str] | None:
        if type_ok(v):
            return None
        return "", f"expected {' or '.join(names)}, got {_describe(v)}"

    return check_type


def _enum_check(schema: Mapping[str, Any]) -> _Check | None:
    if "enum" not in schema:
        return None
    options = list(schema["enum"])

    def check_enum(v: Any) -> tuple[str, str] | None:
        if any(v == o and type(v) is type(o) for o in options):
            return None
        return "", f"{v!r} is not one of {', '.join(map(repr, options))}"

    return check_enum


def _const_check(schema: Mapping[str, Any]) -> _Check | None:
    if "const" not in schema:
        return None
    const = schema["const"]

    def check_const(v: Any) -> tuple[str, str] | None:
        if v == const and type(v) is type(const):
            return None
        return "", f"expected {const!r}, got {v!r}"

    return check_const


def _range_check(schema: Mapping[str, Any]) -> _Check | None:
    if "minimum" not in schema and "maximum" not in schema:
        return None
    lo = schema.get("minimum")
    hi = schema.get("maximum")

    def check_range(v: Any) -> tuple[str, str] | None:
        if not isinstance(v, int | float) or isinstance(v, bool):
            return None
        if lo is not None and v < lo:
            return "", f"{v} is less than the minimum {lo}"
        if hi is not None and v > hi:
            return "", f"{v} is more than the maximum {hi}"
        return None

    return check_range


def _string_check(schema: Mapping[str, Any]) -> _Check | None:
    if "minLength" not in schema and "pattern" not in schema:
        return None
    min_len = schema.get("minLength", 0)
    regex = re.compile(schema["pattern"]) if "pattern" in schema else None

    def check_string(v: Any) -> tuple[str, str] | None:
        if not isinstance(v, str):
            return None
        if len(v) < min_len:
            return "", f"string shorter than {min_len} characters"
        if regex is not None and not regex.search(v):
            return "", f"{v!r} does not match {regex.pattern!r}"
        return None

    return check_string


def _all_of(checks: list[_Check]) -> _Check:
    def check_all(v: Any) -> tuple[str, str] | None:
        for check in checks:
            error = check(v)
            if error is not None:
                return error
        return None

    return check_all


class _Compiler:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, _Check] = {}

    def ref(self, target: str) -> _Check:
        if target not in self.refs:
            if not target.startswith("#/$defs/"):
                raise ValueError(f"unsupported $ref {target!r}")
            name = target[len("#/$defs/") :]
            holder: list[_Check] = []
            self.refs[target] = lambda v: holder[0](v)
            holder.append(self.compile(self.root["$defs"][name]))
        return self.refs[target]

    def compile(self, schema: Mapping[str, Any]) -> _Check:
        unknown = set(schema) - _SUPPORTED - _ANNOTATIONS
        if unknown:
            raise ValueError(f"unsupported JSON Schema keywords: {sorted(unknown)}")
        builders = (
            self._ref_check,
            _type_check,
            _enum_check,
            _const_check,
            _range_check,
            _string_check,
            self._any_check,
            self._items_check,
            self._object_check,
        )
        checks = [check for check in (build(schema) for build in builders) if check is not None]
        return checks[0] if len(checks) == 1 else _all_of(checks)

    def _resolve(self, schema: Any) -> Any:
        """Return ``schema`` with a lone ``$ref`` followed (for the quick predicates)."""
        seen = 0  # a chain of refs longer than 8 keeps its last ref: no quick predicate
        while isinstance(schema, Mapping) and set(schema) == {"$ref"} and seen < 8:
            # every ref is "#/$defs/NAME": compile refuses any other before a validator
            # exists, and quick_check reads only shipped schemas, which all compile
            schema = self.root["$defs"][schema["$ref"].removeprefix("#/$defs/")]
            seen += 1
        return schema

    def _fast_object(self, schema: Mapping[str, Any]) -> Callable[[Any], bool] | None:
        """Return one predicate for an object of leaf properties and no other keys (a finding).

        It is True only for a valid value; False means "let the full check find the message".
        """
        if not _is_flat_object(schema):
            return None
        props = {k: self._resolve(v) for k, v in schema.get("properties", {}).items()}
        quicks = _leaf_quicks(props)
        required = frozenset(schema.get("required", ()))
        if quicks is None or not required <= quicks.keys():
            return None
        return flat_predicate(props, quicks, required)

    def _ref_check(self, schema: Mapping[str, Any]) -> _Check | None:
        return self.ref(schema["$ref"]) if "$ref" in schema else None

    def _any_check(self, schema: Mapping[str, Any]) -> _Check | None:
        if "anyOf" not in schema:
            return None
        options_v = [self.compile(s) for s in schema["anyOf"]]

        def check_any(v: Any) -> tuple[str, str] | None:
            errors = []
            for option in options_v:
                error = option(v)
                if error is None:
                    return None
                errors.append(error)
            # the most specific: deepest path, and a branch whose type matched
            return max(errors, key=lambda e: (len(e[0]), not e[1].startswith("expected ")))

        return check_any

    def _items_check(self, schema: Mapping[str, Any]) -> _Check | None:
        if "items" not in schema:
            return None
        item_v = self.compile(schema["items"])
        fast = _LazyFast(self, schema["items"])

        def check_items(v: Any) -> tuple[str, str] | None:
            if not isinstance(v, list):
                return None
            if len(v) > _FEW and fast.check_all(v):
                return None  # every item valid at one Python call each (findings of a check)
            for item in v:
                error = item_v(item)
                if error is not None:
                    return f"[{_index(v, item)}]{error[0]}", error[1]
            return None

        return check_items

    def _object_check(self, schema: Mapping[str, Any]) -> _Check | None:
        if {"properties", "required", "additionalProperties"} & set(schema):
            return self._object(schema)
        return None

    def _object(self, schema: Mapping[str, Any]) -> _Check:
        props = {k: self.compile(s) for k, s in schema.get("properties", {}).items()}
        required = list(schema.get("required", ()))
        extra = schema.get("additionalProperties", True)
        extra_v = self.compile(extra) if isinstance(extra, dict) else None
        # (key, validator, quick): ``quick`` answers True for a valid leaf value in one call;
        # anything else (and every failure, for its message) goes through the validator
        prop_items = [(k, props[k], _quick(s)) for k, s in schema.get("properties", {}).items()]

        def check_object(v: Any) -> tuple[str, str] | None:
            if not isinstance(v, dict):
                return None
            for key in required:
                if key not in v:
                    return "", f"missing required key {key!r}"
            for key, validator, quick in prop_items:
                if key in v:
                    value = v[key]
                    if quick is not None and quick(value):
                        continue
                    error = validator(value)
                    if error is not None:
                        return f".{key}{error[0]}", error[1]
            if extra is False:
                for key in v:
                    if key not in props:
                        return "", f"unexpected key {key!r} (allowed: {', '.join(props)})"
            elif extra_v is not None:
                for key, value in v.items():
                    if key not in props:
                        error = extra_v(value)
                        if error is not None:
                            return f".{key}{error[0]}", error[1]
            return None

        return check_object


_FLAT_KEYS = frozenset({"type", "properties", "required", "additionalProperties"}) | _ANNOTATIONS


def _is_flat_object(schema: Mapping[str, Any]) -> bool:
    """Whether ``schema`` is a closed object schema with no keywords beyond its properties."""
    return (
        schema.get("type") == "object"
        and schema.get("additionalProperties", True) is False
        and set(schema) <= _FLAT_KEYS
    )


def _leaf_quicks(props: Mapping[str, Any]) -> dict[str, Callable[[Any], bool]] | None:
    """Return the :func:`_quick` predicate of every property, or None when one has none."""
    quicks = {}
    for key, sub in props.items():
        quick = _quick(sub)
        if quick is None:
            return None
        quicks[key] = quick
    return quicks


_QUICK_KEYS = frozenset({"type", "enum", "minimum", "maximum", "minLength"}) | _ANNOTATIONS


def _quick(schema: Any) -> Callable[[Any], bool] | None:
    """Return one fast predicate for a simple leaf schema, or None for any other schema.

    Simple leaves are a ``type`` (with a range only on numbers, a ``minLength`` only on a
    string) or a string ``enum`` (None allowed): the schemas most values of a report have.
    """
    if not isinstance(schema, Mapping) or not set(schema) <= _QUICK_KEYS or not schema:
        return None
    if "minLength" in schema:
        return _quick_string(schema)
    if "enum" in schema:
        return _quick_enum(schema)
    if "type" not in schema:
        return None
    return _quick_type(schema)


def _quick_string(schema: Mapping[str, Any]) -> Callable[[Any], bool] | None:
    """Return a predicate for a string ``type`` with a ``minLength`` alone, else None."""
    if schema.get("type") != "string" or set(schema) & {"enum", "minimum", "maximum"}:
        return None
    least = schema["minLength"]
    return lambda v: type(v) is str and len(v) >= least


def _quick_enum(schema: Mapping[str, Any]) -> Callable[[Any], bool] | None:
    """Return a predicate for an ``enum`` of strings and None alone, else None.

    A ``minimum`` or ``maximum`` beside it cannot refuse a string or None; a ``type`` can.
    """
    options = schema["enum"]
    if "type" in schema or not all(o is None or isinstance(o, str) for o in options):
        return None
    strings = frozenset(o for o in options if o is not None)
    nullable = None in options
    return lambda v: (v is None and nullable) or (type(v) is str and v in strings)


def _quick_type(schema: Mapping[str, Any]) -> Callable[[Any], bool] | None:
    """Return a predicate for a ``type``, with a range only on numbers (else None)."""
    names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    type_ok = _type_predicate(names)
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if lo is None and hi is None:
        return type_ok
    if not set(names) <= {"integer", "number", "null"}:
        return None
    return _in_range(type_ok, lo, hi)


def _in_range(
    type_ok: Callable[[Any], bool], lo: float | None, hi: float | None
) -> Callable[[Any], bool]:
    """Return a predicate: ``type_ok`` and, unless None, from ``lo`` to ``hi`` inclusive."""
    if lo is None:
        return lambda v: type_ok(v) and (v is None or v <= hi)
    if hi is None:
        return lambda v: type_ok(v) and (v is None or v >= lo)
    return lambda v: type_ok(v) and (v is None or lo <= v <= hi)


def compile_schema(schema: Mapping[str, Any]) -> Validator:
    """Compile a schema document into a validator."""
    check = _Compiler(schema).compile(schema)

    def validate(value: Any, path: str) -> tuple[str, str] | None:
        error = check(value)
        return None if error is None else (path + error[0], error[1])

    return validate


#: Arrays longer than this are first tested with the quick predicate of their items.
_FEW: Final = 4


class _LazyFast:
    """The quick predicate of an array's items, generated when a long array first needs it.

    Generating one costs about a millisecond; a report has a dozen array schemas and most of
    its arrays are short, so most are never generated.
    """

    def __init__(self, compiler: _Compiler, items: Any) -> None:
        self.compiler = compiler
        self.items = items
        self.fast: Callable[[Any], bool] | None = None
        self.built = False

    def check_all(self, values: list[Any]) -> bool:
        """Return True when the predicate exists and accepts every one of ``values``."""
        if not self.built:
            resolved = self.compiler._resolve(self.items)
            if isinstance(resolved, Mapping):
                self.fast = self.compiler._fast_object(resolved)
            self.built = True
        return self.fast is not None and all(map(self.fast, values))


def _index(values: list[Any], item: Any) -> int:
    """Position of ``item`` (the very object) in ``values``: looked up only on an error."""
    return next(i for i, v in enumerate(values) if v is item)


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Load a schema shipped in ``pytest_fwmon/schemas`` by file stem, e.g. ``"report"``."""
    text = resources.files("pytest_fwmon.schemas").joinpath(f"{name}.schema.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def validator(name: str) -> Validator:
    """Return the compiled validator of a shipped schema (compiled once, then cached)."""
    return compile_schema(load_schema(name))


@cache
def quick_check(name: str, definition: str) -> Callable[[Any], bool]:
    """Return the quick predicate of ``$defs/<definition>`` in shipped schema ``name``.

    True means valid. False means invalid, or valid only as JSON Schema counts integers: a
    float such as ``3.0`` in an integer field, which the full check accepts and fwmon's own
    files never hold. Meant for many small objects, such as a baseline's entries; the
    definition must be a closed object of leaf properties.
    """
    root = load_schema(name)
    fast = _Compiler(root)._fast_object(root["$defs"][definition])
    if fast is None:
        raise ValueError(f"{name}#/$defs/{definition} is not a closed object of leaves")
    return fast


def first_error(name: str, document: Any) -> str | None:
    """``None`` when ``document`` is valid against schema ``name``, else a one-line reason."""
    error = validator(name)(document, "$")
    if error is None:
        return None
    path, message = error
    return f"at {path}: {message}"
