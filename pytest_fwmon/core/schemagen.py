"""Generated predicates of flat JSON objects, the quick path of :mod:`.schema`.

A flat object is a closed object schema whose properties are all simple leaves (a finding, a
baseline entry). Reports and baselines hold tens of thousands of them, so each such schema
gets one Python function, compiled from an expression over its keys; see :func:`_generated`
for why generated code and why it is safe. The predicate answers True only for a valid value;
False sends the value to the full validator of :mod:`.schema`, which finds the message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

#: JSON Schema keywords that only annotate (ignored by the validator).
ANNOTATIONS: Final = frozenset(
    {"title", "description", "$id", "$schema", "format", "default", "examples", "$comment"}
)


def _leaf_kind(sub: Any) -> str:
    """Return how a leaf is tested inline.

    One of ``string``, ``enum``, ``count``, ``long``, ``typed`` or ``other`` (through its
    ``quick`` predicate from ``schema._quick``).
    """
    test = _KIND_TESTS.get(frozenset(sub) - ANNOTATIONS)
    return "other" if test is None else test(sub)


def _enum_kind(sub: Any) -> str:
    return "enum" if all(type(o) is str for o in sub["enum"]) else "other"


def _type_kind(sub: Any) -> str:
    if sub["type"] == "string":
        return "string"
    return "typed" if set(_names(sub["type"])) <= _PYTHON_TYPES.keys() else "other"


def _count_kind(sub: Any) -> str:
    whole = sub["type"] == "integer" and type(sub["minimum"]) is int
    return "count" if whole else "other"


def _long_kind(sub: Any) -> str:
    return "long" if sub["type"] == "string" else "other"


#: A leaf's keywords (annotations left out) -> the test that names its kind.
_KIND_TESTS: Final[dict[frozenset[str], Callable[[Any], str]]] = {
    frozenset({"enum"}): _enum_kind,
    frozenset({"type"}): _type_kind,
    frozenset({"type", "minimum"}): _count_kind,
    frozenset({"type", "minLength"}): _long_kind,
}


#: The Python types the json module gives for each JSON Schema type ("integer" without the
#: floats like 3.0 that JSON Schema also counts as integers: the full check decides those).
_PYTHON_TYPES: Final = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
    "object": (dict,),
    "array": (list,),
}


def _names(types: Any) -> list[Any]:
    """Return a ``type`` keyword's value as a list of type names."""
    return types if isinstance(types, list) else [types]


def flat_predicate(
    props: Mapping[str, Any],
    quicks: Mapping[str, Callable[[Any], bool]],
    required: frozenset[str],
) -> Callable[[Any], bool]:
    """Return the predicate of ``schema._Compiler._fast_object``.

    One expression tests each required leaf, each optional leaf that is present, and that no
    other key is there.
    """
    names: dict[str, Any] = {}
    terms = [
        _leaf_term(f"r{i}", key, props[key], quicks[key], names)
        for i, key in enumerate(sorted(required))
    ]
    optional = [k for k in quicks if k not in required]
    for i, key in enumerate(optional):
        terms.append(
            f"({key!r} not in v or {_leaf_term(f'o{i}', key, props[key], quicks[key], names)})"
        )
    # no key beyond the required and the optional ones present
    present = "".join(f" + ({key!r} in v)" for key in optional)
    terms.append(f"len(v) == {len(required)}{present}")
    return _generated(" and ".join(terms), names)


def _leaf_term(
    tag: str, key: str, sub: Any, quick: Callable[[Any], bool], names: dict[str, Any]
) -> str:
    """Return the Python expression testing leaf ``key``; its constants go in ``names``."""
    kind = _leaf_kind(sub)
    item = f"v[{key!r}]"  # repr of a str is a Python string literal: no code from the schema
    if kind == "string":
        return f"type({item}) is str"
    if kind == "count":
        names[f"lo_{tag}"] = int(sub["minimum"])
        return f"(type(x := {item}) is int and x >= lo_{tag})"
    if kind == "long":
        names[f"lo_{tag}"] = int(sub["minLength"])
        return f"(type(x := {item}) is str and len(x) >= lo_{tag})"
    if kind == "enum":
        names[f"options_{tag}"] = frozenset(sub["enum"])
        return f"{item} in options_{tag}"
    if kind == "typed":
        names[f"types_{tag}"] = frozenset(t for n in _names(sub["type"]) for t in _PYTHON_TYPES[n])
        return f"type({item}) in types_{tag}"
    names[f"quick_{tag}"] = quick
    return f"quick_{tag}({item})"


_TEMPLATE = """
def fast(v):
    try:
        return type(v) is dict and {terms}
    except (KeyError, TypeError):  # TypeError: an unhashable value tested in an enum
        return False
"""


def _generated(terms: str, names: dict[str, Any]) -> Callable[[Any], bool]:
    """Return the predicate compiled from ``terms``, one Python function for the whole object.

    Why generated code: a finding has 13 required keys, and one expression over them runs
    about four times faster than loops over lists of keys (what ``dataclasses`` and
    fastjsonschema do for the same reason). The text holds only fixed code, ``repr`` of
    property names from a schema shipped in this package, and names of constants passed in
    ``names``; no value from a document ever reaches it.
    """
    namespace = dict(names)
    code = compile(_TEMPLATE.format(terms=terms), "<fwmon schema predicate>", "exec")
    exec(code, namespace)  # nosec B102 # fixed template and schema key literals, see docstring
    fast: Callable[[Any], bool] = namespace["fast"]
    return fast
