"""The quick predicates of ``core/schema.py`` agree with its full validator.

The validator answers most values of a report through one quick predicate per leaf schema (and
one generated predicate per long array of flat objects), falling back to the full check for the
message. Two promises keep that honest, and both are tested here on a grid of leaf schemas and
values: a quick predicate says True exactly when the full check finds no error (both checked
against ``jsonschema``, the independent oracle), and the simple leaves the module docstring
names get a quick predicate at all (without one, every value takes the slow path: the verdict
is the same, the gate on a 20,000-finding report is not).
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from pytest_fwmon.core.schema import _Compiler, _LazyFast, _quick, _type_predicate, compile_schema

#: Values of every JSON type, at and around the bounds the schemas below use.
_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2,
    3,
    9,
    10,
    0.5,
    1.0,
    3.0,
    -5.5,
    "",
    "a",
    "ab",
    "abc",
    "b",
    "c",
    "None",
    [],
    ["a"],
    {},
    {"a": 1},
]

#: Leaf schemas that must get a quick predicate.
_QUICK: list[dict[str, Any]] = [
    {"type": "string", "minLength": 0},
    {"type": "string", "minLength": 2},
    {"type": "string", "minLength": 1, "title": "a name"},
    {"enum": ["a", "b"]},
    {"enum": ["a", None]},
    {"enum": [None]},
    {"enum": ["a"], "minimum": 5},
    {"enum": ["a", None], "maximum": 0},
    {"type": "string"},
    {"type": "integer"},
    {"type": "number"},
    {"type": "boolean"},
    {"type": "null"},
    {"type": "object"},
    {"type": "array"},
    {"type": ["integer", "null"]},
    {"type": ["null", "string"]},
    {"type": ["string", "integer", "null"]},
    {"type": ["string", "boolean"]},
    {"type": ["null", "boolean", "array"]},
    {"type": "number", "minimum": 0},
    {"type": "integer", "maximum": 9},
    {"type": ["number", "null"], "minimum": 0, "maximum": 1},
    {"type": ["integer", "null"], "maximum": 3},
    {"type": ["null", "integer"], "minimum": 2},
    {"type": "integer", "minimum": -1, "maximum": -1},
    {"type": "number", "minimum": 1, "maximum": 3, "description": "d"},
    {"type": ["integer", "number", "null"], "minimum": 0},
]

#: Schemas that must not: the full check alone knows what they mean.
_NOT_QUICK: list[Any] = [
    {},
    {"title": "only an annotation"},
    "not a schema",
    ["type"],
    {"items": {}},
    {"pattern": "a"},
    {"type": "string", "pattern": "a"},
    {"const": "a"},
    {"minLength": 1},
    {"type": ["string", "null"], "minLength": 1},
    {"type": "string", "minLength": 1, "enum": ["a"]},
    {"type": "string", "minLength": 1, "minimum": 3},
    {"type": "string", "minLength": 1, "maximum": 3},
    {"enum": ["a", 1]},
    {"enum": [True]},
    {"enum": ["a"], "type": "string"},
    {"type": "string", "minimum": 1},
    {"type": ["string", "null"], "maximum": 3},
    {"type": ["integer", "string"], "minimum": 0},
    {"type": "boolean", "maximum": 1},
]


def _ids(schemas: list[Any]) -> list[str]:
    return [repr(s) for s in schemas]


@pytest.mark.parametrize("schema", _QUICK, ids=_ids(_QUICK))
def test_a_quick_predicate_says_true_exactly_when_the_full_check_finds_no_error(
    schema: dict[str, Any],
) -> None:
    quick = _quick(schema)
    assert quick is not None
    full = compile_schema(schema)
    oracle = jsonschema.Draft202012Validator(schema)
    expected = {repr(v): oracle.is_valid(v) for v in _VALUES}
    assert {repr(v): full(v, "$") is None for v in _VALUES} == expected
    assert {repr(v): quick(v) for v in _VALUES} == expected
    assert any(expected.values()), "a schema no value of the grid meets tests one side only"


@pytest.mark.parametrize("schema", _NOT_QUICK, ids=_ids(_NOT_QUICK))
def test_other_schemas_get_no_quick_predicate(schema: Any) -> None:
    assert _quick(schema) is None


@pytest.mark.parametrize(
    ("names", "unknown"),
    [
        (["strng"], "strng"),
        (["string", "strng"], "strng"),
        (["null", "strng"], "strng"),
        (["a", "b", "c"], "a"),
    ],
)
def test_an_unknown_type_name_is_refused_however_many_names(names: list[str], unknown: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        _type_predicate(names)
    assert str(excinfo.value) == f"unknown JSON Schema type {unknown!r}"
    with pytest.raises(ValueError, match=f"unknown JSON Schema type {unknown!r}"):
        _quick({"type": names})


_ENTRY: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {"name": {"type": "string", "minLength": 1}, "n": {"type": "integer"}},
}
_ROOT: dict[str, Any] = {
    "type": "array",
    "items": {"$ref": "#/$defs/entry"},
    "$defs": {"entry": _ENTRY},
}


def test_a_long_array_of_flat_objects_gets_its_generated_predicate_once() -> None:
    lazy = _LazyFast(_Compiler(_ROOT), _ROOT["items"])
    assert lazy.fast is None
    assert lazy.built is False
    good = [{"name": "a", "n": i} for i in range(6)]
    assert lazy.check_all(good) is True
    fast = lazy.fast
    assert fast is not None
    assert lazy.built is True
    assert lazy.check_all([*good, {"name": ""}]) is False
    assert lazy.check_all([*good, {"name": "a", "n": 1.5}]) is False
    assert lazy.fast is fast  # generated once, not per array
    assert lazy.check_all([]) is True


@pytest.mark.parametrize(
    "items",
    [
        pytest.param({"type": "object"}, id="open-object"),
        pytest.param({"type": "string"}, id="not-an-object"),
        pytest.param(True, id="boolean-schema"),
        pytest.param({"$ref": "#/$defs/open"}, id="ref-to-open-object"),
    ],
)
def test_items_that_are_not_flat_objects_get_no_generated_predicate(items: Any) -> None:
    root = {"type": "array", "items": items, "$defs": {"open": {"type": "object"}}}
    lazy = _LazyFast(_Compiler(root), items)
    assert lazy.check_all([{"name": "a"}] * 6) is False
    assert lazy.fast is None
    assert lazy.built is True
