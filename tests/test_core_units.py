"""Unit tests of the core's plain classes: fingerprints, schema validator, docstrings, config,
file discovery, cache, scores."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_fwmon.checks import failure
from pytest_fwmon.checks.base import SourceFile
from pytest_fwmon.checks.docstrings import (
    DocstringCoverage,
    accuracy_findings,
    count_definitions,
    documented_params,
)
from pytest_fwmon.core.cache import ResultCache, cache_key
from pytest_fwmon.core.config import load_config
from pytest_fwmon.core.errors import ConfigError, ReportError
from pytest_fwmon.core.files import iter_python_files, source_roots
from pytest_fwmon.core.model import CheckResult, Finding, assign_fingerprints
from pytest_fwmon.core.report import load_report, parse_report, readable_json, write_json_atomic
from pytest_fwmon.core.schema import (
    _Compiler,
    compile_schema,
    first_error,
    load_schema,
    quick_check,
)
from pytest_fwmon.core.scoring import (
    density_score,
    outcome_score,
    pipeline_status,
    skip_reason,
    summarise_pipelines,
)
from tests.reportcheck import DATA

# -- fingerprints -------------------------------------------------------------------------


def _finding(line: int, rule: str = "B602", path: str = "a.py") -> Finding:
    return Finding("", "security", "bandit", rule, "high", "high", path, line, "m", end_line=line)


def _fingerprints(source: str, lines: list[int]) -> list[str]:
    findings = [_finding(n) for n in lines]
    assign_fingerprints(findings, source.splitlines())
    return [f.fingerprint for f in findings]


def test_fingerprint_survives_code_inserted_above() -> None:
    before = "import os\nos.system(cmd)\n"
    after = "import os\n\n# a comment\nx = 1\nos.system(cmd)\n"
    assert _fingerprints(before, [2]) == _fingerprints(after, [5])


def test_fingerprint_survives_reindentation() -> None:
    assert _fingerprints("os.system(cmd)\n", [1]) == _fingerprints("    os.system(cmd)  \n", [1])


def test_fingerprint_changes_with_the_flagged_code() -> None:
    assert _fingerprints("os.system(cmd)\n", [1]) != _fingerprints("os.system(other)\n", [1])


def test_identical_findings_get_distinct_fingerprints_in_line_order() -> None:
    source = "os.system(cmd)\nx = 1\nos.system(cmd)\n"
    first, second = _fingerprints(source, [1, 3])
    assert first != second
    # the first copy keeps the fingerprint it had when it was alone
    assert first == _fingerprints("os.system(cmd)\n", [1])[0]


# -- schema validator -----------------------------------------------------------------------


def valid_report() -> dict[str, Any]:
    finding = _finding(3).to_dict()
    finding["fingerprint"] = "0123456789abcdef"
    pipeline = {
        "status": "pass",
        "score": 100.0,
        "items": 1,
        "passed": 1,
        "failed": 0,
        "errors": 0,
        "skipped": 0,
        "cached": 0,
        "loc": 10,
        "counts": {"critical": 0, "high": 1, "medium": 0, "low": 0, "info": 0},
    }
    return {
        "schema_version": 2,
        "run": {
            "id": "abcdef0123456789",
            "started": "2026-01-01T00:00:00.000Z",
            "finished": "2026-01-01T00:00:01Z",
            "duration": 1.0,
            "project": "p",
            "git": {"sha": None, "branch": "main", "dirty": False},
            "ci": {"provider": None},
            "machine": {"fingerprint": "f" * 16},
            "versions": {"fwmon": "0.1.0"},
            "selected_pipelines": ["security"],
            "xdist_workers": 0,
            "completed": True,
            "stopped": None,
        },
        "pipelines": {
            p: dict(pipeline) for p in ("security", "docs", "quality", "performance", "integration")
        },
        "checks": [
            {
                "nodeid": "a.py::fwmon[bandit]",
                "pipeline": "security",
                "checker": "bandit",
                "outcome": "failed",
                "path": "a.py",
                "cached": False,
                "duration": 0.1,
                "findings": [finding],
                "reason": None,
                "loc": 10,
                "metrics": {},
            }
        ],
        "benchmarks": [],
        "resources": [
            {
                "nodeid": "tests/test_a.py::test_a",
                "outcome": "passed",
                "wall": 0.002,
                "cpu_user": 0.001,
                "cpu_system": 0.0,
                "rss_start": 40_000_000,
                "rss_end": 40_004_096,
                "rss_peak": 40_004_096,
                "peak_method": "vmhwm",
                "io_read_bytes": 0,
                "io_write_bytes": None,
            }
        ],
        "coverage": None,
        "integration": [],
        "tests": {
            "total": 0,
            "passed": 0,
            "failed": 0,
            "errors": 0,
            "skipped": 0,
            "xfailed": 0,
            "xpassed": 0,
            "duration": 0.0,
            "exitstatus": 0,
            "exitstatus_note": None,
        },
        "extensions": {},
    }


def _jsonschema_valid(doc: Any) -> bool:
    return bool(jsonschema.Draft202012Validator(load_schema("report")).is_valid(doc))


def test_valid_report_passes_both_validators() -> None:
    report = valid_report()
    assert _jsonschema_valid(report)
    assert first_error("report", report) is None


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        pytest.param(lambda r: r.pop("run"), "at $: missing required key 'run'", id="missing"),
        pytest.param(
            lambda r: r["checks"][0].update(outcome="exploded"),
            "at $.checks[0].outcome: 'exploded' is not one of 'passed', 'failed', "
            "'error', 'skipped', 'not-run'",
            id="enum",
        ),
        pytest.param(
            lambda r: r["tests"].update(total=-1),
            "at $.tests.total: -1 is less than the minimum 0",
            id="minimum",
        ),
        pytest.param(
            lambda r: r["checks"][0]["findings"][0].update(line="3"),
            "at $.checks[0].findings[0].line: expected integer, got a string",
            id="type",
        ),
        pytest.param(
            lambda r: r.update(extra=1),
            "at $: unexpected key 'extra' (allowed: schema_version, run, pipelines, "
            "checks, benchmarks, resources, coverage, integration, tests, test_results, "
            "extensions)",
            id="additional",
        ),
        pytest.param(
            lambda r: r["run"].update(started="yesterday"),
            "at $.run.started: 'yesterday' does not match "
            "'^\\\\d{4}-\\\\d\\\\d-\\\\d\\\\dT\\\\d\\\\d:\\\\d\\\\d:\\\\d\\\\d(\\\\.\\\\d+)?Z$'",
            id="pattern",
        ),
        pytest.param(
            lambda r: r["resources"][0].update(rss_peak=-1),
            "at $.resources[0].rss_peak: -1 is less than the minimum 0",
            id="nullable-minimum",
        ),
        pytest.param(
            lambda r: r["resources"][0].update(peak_method="guess"),
            "at $.resources[0].peak_method: 'guess' is not one of 'vmhwm', 'endpoints', None",
            id="nullable-enum",
        ),
        pytest.param(
            lambda r: r["resources"][0].update(wall=True),
            "at $.resources[0].wall: expected number, got a boolean",
            id="bool-is-no-number",
        ),
        pytest.param(
            lambda r: r["resources"].append(r["resources"][0]) or r["resources"].append(5),
            "at $.resources[2]: expected object, got a number",
            id="item-index",
        ),
        pytest.param(
            lambda r: r["pipelines"]["docs"].update(score=101),
            "at $.pipelines.docs.score: 101 is more than the maximum 100",
            id="anyOf",
        ),
    ],
)
def test_validator_names_the_first_problem(mutate: Any, message: str) -> None:
    report = valid_report()
    mutate(report)
    assert not _jsonschema_valid(report)
    assert first_error("report", report) == message


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found += _paths(value, (*prefix, index))
    return found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), replacement=_json)
def test_validator_agrees_with_jsonschema_on_mutated_reports(data: Any, replacement: Any) -> None:
    report = valid_report()
    path = data.draw(st.sampled_from(_paths(report)[1:]))
    target = report
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = replacement
    assert (first_error("report", report) is None) == _jsonschema_valid(report)


def _finding_mutations() -> st.SearchStrategy[Any]:
    """A finding with one key replaced, dropped or added, or the finding replaced outright."""
    keys = [*sorted(load_schema("report")["$defs"]["finding"]["properties"]), "extra", ""]
    replace = st.tuples(st.just("replace"), st.sampled_from(keys), _json)
    drop = st.tuples(st.just("drop"), st.sampled_from(keys), st.none())
    return st.one_of(replace, drop, st.tuples(st.just("whole"), st.just(""), _json))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(change=_finding_mutations(), optional=st.sets(st.sampled_from(["rule_name", "help_url"])))
def test_generated_finding_predicate_agrees_with_jsonschema(
    change: tuple[str, str, Any], optional: set[str]
) -> None:
    """The code-generated quick check of a finding says True exactly for valid findings.

    And the validator that uses it agrees with jsonschema on a report holding the finding.
    """
    schema = load_schema("report")
    fast = _Compiler(schema)._fast_object(schema["$defs"]["finding"])
    assert fast is not None
    finding: Any = dict(valid_report()["checks"][0]["findings"][0])
    for key in optional:
        finding[key] = "x"
    action, key, value = change
    if action == "replace":
        finding[key] = value
    elif action == "drop":
        finding.pop(key, None)
    else:
        finding = value
    expected = jsonschema.Draft202012Validator(
        {"$defs": schema["$defs"], "$ref": "#/$defs/finding"}
    ).is_valid(finding)
    # JSON Schema counts 3.0 as an integer; the quick check leaves such a value to the full one
    integral_float = isinstance(finding, dict) and any(
        type(v) is float and v.is_integer() for v in finding.values()
    )
    assert fast(finding) is (expected and not integral_float)
    assert (first_error("report", _with_finding(finding)) is None) is expected


def _with_finding(finding: Any) -> dict[str, Any]:
    report = valid_report()
    report["checks"][0]["findings"] = [finding] * 5  # long enough for the quick path
    return report


@pytest.mark.parametrize("name", ["report", "baseline", "policy", "gate-result"])
def test_every_shipped_schema_is_a_valid_schema_and_compiles(name: str) -> None:
    schema = load_schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    compile_schema(schema)


# -- schema keywords, one rule each (issue 22: the validator's mutants) ----------------------


def _check(schema: dict[str, Any], value: Any) -> tuple[str, str] | None:
    return compile_schema(schema)(value, "$")


_FLAT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "n"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "n": {"type": "integer", "minimum": 0, "maximum": 9},
        "kind": {"enum": ["a", "b", None]},
        "lo": {"type": ["integer", "null"], "minimum": 0},
        "hi": {"type": "number", "maximum": 1},
        "both": {"type": ["integer", "null"], "minimum": 1, "maximum": 3},
        "flag": {"type": "boolean", "description": "annotations are ignored"},
    },
}
_LIST = {"type": "array", "items": {"$ref": "#/$defs/entry"}, "$defs": {"entry": _FLAT}}


@pytest.mark.parametrize(
    ("schema", "value", "error"),
    [
        ({"type": "string"}, 5, "expected string, got a number"),
        ({"type": ["string", "null"]}, 1.5, "expected string or null, got a number"),
        ({"type": ["null", "integer"]}, "x", "expected null or integer, got a string"),
        (
            {"type": ["string", "integer", "boolean"]},
            None,
            "expected string or integer or boolean, got null",
        ),
        ({"type": "object"}, [], "expected object, got an array"),
        ({"type": "array"}, {}, "expected array, got an object"),
        ({"type": "integer"}, True, "expected integer, got a boolean"),
        ({"type": "integer"}, 3.5, "expected integer, got a number"),
        ({"type": "number"}, False, "expected number, got a boolean"),
        ({"type": "boolean"}, 0, "expected boolean, got a number"),
        ({"type": "null"}, "", "expected null, got a string"),
        ({"enum": [1, "a", None]}, True, "True is not one of 1, 'a', None"),
        ({"enum": [1]}, 1.0, "1.0 is not one of 1"),
        ({"const": 2}, 2.0, "expected 2, got 2.0"),
        ({"const": "a"}, "b", "expected 'a', got 'b'"),
        ({"minimum": 1}, 0, "0 is less than the minimum 1"),
        ({"maximum": 1}, 1.5, "1.5 is more than the maximum 1"),
        ({"minimum": 0, "maximum": 10}, 11, "11 is more than the maximum 10"),
        ({"minimum": 0, "maximum": 10}, -1, "-1 is less than the minimum 0"),
        ({"minLength": 2}, "a", "string shorter than 2 characters"),
        ({"pattern": "^a"}, "ba", "'ba' does not match '^a'"),
        ({"minLength": 1, "pattern": "b"}, "", "string shorter than 1 characters"),
        ({"required": ["a", "b"]}, {"b": 1}, "missing required key 'a'"),
        (
            {"properties": {"a": {}, "b": {}}, "additionalProperties": False},
            {"a": 1, "z": 2},
            "unexpected key 'z' (allowed: a, b)",
        ),
        (
            {"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 0}]},
            -1,
            "-1 is less than the minimum 0",
        ),
        ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, None, "expected string, got null"),
    ],
)
def test_schema_keyword_messages(schema: dict[str, Any], value: Any, error: str) -> None:
    assert _check(schema, value) == ("$", error)


@pytest.mark.parametrize(
    ("schema", "value", "where"),
    [
        ({"properties": {"a": {"items": {"type": "integer"}}}}, {"a": [1, "x"]}, "$.a[1]"),
        (
            {"properties": {"a": {}}, "additionalProperties": {"type": "integer"}},
            {"a": "x", "z": "y"},
            "$.z",
        ),
        (
            {"$defs": {"n": {"type": "integer"}}, "properties": {"a": {"$ref": "#/$defs/n"}}},
            {"a": "x"},
            "$.a",
        ),
        (
            {"anyOf": [{"type": "null"}, {"properties": {"a": {"type": "integer"}}}]},
            {"a": "x"},
            "$.a",
        ),
        (
            {
                "$defs": {"t": {"type": "array", "items": {"$ref": "#/$defs/t"}}},
                "$ref": "#/$defs/t",
            },
            [[], [[1]]],
            "$[1][0][0]",
        ),
    ],
)
def test_schema_error_paths(schema: dict[str, Any], value: Any, where: str) -> None:
    error = _check(schema, value)
    assert error is not None
    assert error[0] == where
    assert error[1].endswith(", got a string") or error[1] == "expected array, got a number"


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        ({"type": "integer"}, 3.0),
        ({"type": "number"}, 2),
        ({"type": ["null", "integer"]}, None),
        ({"type": ["string", "integer", "boolean"]}, False),
        ({"minimum": 1}, 1),
        ({"maximum": 1}, 1),
        ({"minimum": 0}, True),
        ({"maximum": 0}, "x"),
        ({"minLength": 2}, "ab"),
        ({"minLength": 5, "pattern": "z"}, 3),
        ({"pattern": "b"}, "abc"),
        ({"pattern": "^"}, ""),
        ({"required": ["a"]}, [1]),
        ({"properties": {"a": {"type": "string"}}}, {"b": 1}),
        ({"items": {"type": "integer"}}, "x"),
        ({"enum": [None, "a"]}, None),
        ({"const": None}, None),
        ({"anyOf": [{"type": "string"}, {"type": "null"}]}, None),
        ({"title": "t", "description": "d", "$comment": "c", "type": "string"}, "s"),
        (
            {
                "$defs": {"t": {"type": "array", "items": {"$ref": "#/$defs/t"}}},
                "$ref": "#/$defs/t",
            },
            [[], [[]]],
        ),
    ],
)
def test_schema_accepts(schema: dict[str, Any], value: Any) -> None:
    assert _check(schema, value) is None


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"oneOf": []}, "unsupported JSON Schema keywords: ['oneOf']"),
        ({"$ref": "other.json#/x"}, "unsupported $ref 'other.json#/x'"),
        ({"type": "thing"}, "unknown JSON Schema type 'thing'"),
    ],
)
def test_schema_compile_errors(schema: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        compile_schema(schema)
    assert str(excinfo.value) == message


_GOOD = {"name": "a", "n": 0}


@pytest.mark.parametrize(
    ("change", "valid"),
    [
        ({}, True),
        ({"n": 9, "kind": "b", "lo": 0, "hi": 1, "both": 3, "flag": False}, True),
        ({"kind": None, "lo": None, "both": None, "hi": -5.5}, True),
        ({"both": 1, "lo": 7}, True),
        ({"name": ""}, False),
        ({"name": 5}, False),
        ({"n": 10}, False),
        ({"n": -1}, False),
        ({"n": True}, False),
        ({"kind": "c"}, False),
        ({"lo": -1}, False),
        ({"hi": 1.5}, False),
        ({"both": 0}, False),
        ({"both": 4}, False),
        ({"flag": 1}, False),
        ({"extra": 1}, False),
    ],
)
def test_quick_predicate_of_a_flat_object(change: dict[str, Any], valid: bool) -> None:
    fast = _Compiler(_LIST)._fast_object(_FLAT)
    assert fast is not None
    entry = {**_GOOD, **change}
    assert fast(entry) is valid
    entries = [dict(_GOOD) for _ in range(6)] + [entry]
    error = _check(_LIST, entries)
    assert (error is None) is valid
    if error is not None:
        assert error[0].startswith("$[6]")
    assert fast({"name": "a"}) is False
    assert fast([]) is False


_CLOSED: dict[str, Any] = {"type": "object", "additionalProperties": False}


def test_long_arrays_of_closed_objects_without_properties() -> None:
    schema = {"type": "array", "items": _CLOSED}
    assert _check(schema, [{}] * 6) is None
    assert _check(schema, [{}] * 5 + [{"a": 1}]) == ("$[5]", "unexpected key 'a' (allowed: )")


@pytest.mark.parametrize(
    ("schema", "has_quick"),
    [
        pytest.param(_FLAT, True, id="flat"),
        pytest.param(_CLOSED, True, id="no-properties"),
        pytest.param(
            {**_CLOSED, "required": ["a"], "properties": {"a": {"type": "integer"}}},
            True,
            id="all-required",
        ),
        pytest.param({"type": "object", "properties": {}}, False, id="open"),
        pytest.param({"type": "object", "additionalProperties": {}}, False, id="extra-schema"),
        pytest.param({"additionalProperties": False, "properties": {}}, False, id="untyped"),
        pytest.param({**_CLOSED, "anyOf": [{}]}, False, id="other-keyword"),
        pytest.param({**_CLOSED, "properties": {"a": {"items": {}}}}, False, id="deep"),
        pytest.param({**_CLOSED, "required": ["b"], "properties": {}}, False, id="required-absent"),
    ],
)
def test_which_objects_get_a_quick_predicate(schema: dict[str, Any], has_quick: bool) -> None:
    assert (_Compiler(schema)._fast_object(schema) is not None) is has_quick


def test_long_arrays_check_the_type_beside_an_enum() -> None:
    typed = {**_CLOSED, "properties": {"k": {"type": "integer", "enum": ["a"]}}}
    ranged = {**_CLOSED, "properties": {"k": {"enum": ["a", None], "minimum": 5}}}
    assert _check({"items": typed}, [{"k": "a"}] * 6) == (
        "$[0].k",
        "expected integer, got a string",
    )
    assert _check({"items": ranged}, [{"k": "a"}, {"k": None}] * 3) is None
    assert _Compiler(ranged)._fast_object(ranged) is not None


def test_long_arrays_name_the_first_bad_item() -> None:
    entries = [dict(_GOOD) for _ in range(8)]
    entries[5]["n"] = 3.0  # valid as JSON Schema counts integers: the full check decides
    assert _check(_LIST, entries) is None
    entries[6]["n"] = 12
    entries[7]["kind"] = "z"
    assert _check(_LIST, entries) == ("$[6].n", "12 is more than the maximum 9")
    del entries[2]["n"]
    assert _check(_LIST, entries) == ("$[2]", "missing required key 'n'")


def test_quick_check_of_a_shipped_definition() -> None:
    finding = valid_report()["checks"][0]["findings"][0]
    assert quick_check("report", "finding")(finding) is True
    assert quick_check("report", "finding")({**finding, "line": -1}) is False
    with pytest.raises(ValueError) as excinfo:
        quick_check("report", "check")
    assert str(excinfo.value) == "report#/$defs/check is not a closed object of leaves"


# -- report reading and writing --------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            b'{"schema_version": 1, "run": ',
            "is not valid JSON (truncated at line 1 column 30)",
            id="truncated",
        ),
        pytest.param(
            b"{nope}",
            "is not valid JSON (Expecting property name enclosed in double "
            "quotes at line 1 column 2)",
            id="malformed",
        ),
        pytest.param(
            b"[1, 2]", "is not a fwmon report: the top level is not a JSON object", id="array"
        ),
        pytest.param(
            b'{"schema_version": 99}',
            "has schema_version 99; this fwmon reads versions 1, 2",
            id="version",
        ),
        pytest.param(
            b'{"schema_version": 1}',
            "does not match the report schema at $: missing required key 'run'",
            id="schema",
        ),
    ],
)
def test_bad_reports_are_report_errors(content: bytes, message: str) -> None:
    with pytest.raises(ReportError) as excinfo:
        parse_report(content, "report r.json")
    assert excinfo.value.message == f"report r.json {message}"
    assert excinfo.value.exit_code == 3


def test_missing_report(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"report .*nope.json not found"):
        load_report(tmp_path / "nope.json")


def test_write_report_is_atomic(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    write_json_atomic(target, {"a": 1})
    with pytest.raises(TypeError):
        write_json_atomic(target, {"a": object()})
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=20,
    )
)
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_readable_json_is_the_same_json(value: Any) -> None:
    text = readable_json(value)
    assert json.loads(text) == value
    assert json.dumps(json.loads(text), sort_keys=True) == json.dumps(value, sort_keys=True)


def test_written_report_has_one_check_per_line(tmp_path: Path) -> None:
    checks = [{"nodeid": f"a{i}.py::fwmon[bandit]", "findings": [{"line": i}]} for i in range(3)]
    target = tmp_path / "r.json"
    write_json_atomic(target, {"schema_version": 1, "checks": checks, "run": {"id": "x"}})
    lines = target.read_text().splitlines()
    assert lines[1] == '  "checks": ['
    assert lines[2] == '    {"findings": [{"line": 0}], "nodeid": "a0.py::fwmon[bandit]"},'
    assert json.loads(target.read_text())["checks"] == checks


# -- docstrings ---------------------------------------------------------------------------


def _sources(folder: Path, root: Path) -> list[SourceFile]:
    return [
        SourceFile(p, p.relative_to(root).as_posix(), p.read_text())
        for p in sorted(folder.rglob("*.py"))
    ]


def _interrogate(folder: Path) -> tuple[int, int]:
    from interrogate import config, coverage

    conf = config.InterrogateConfig(
        ignore_private=True,
        ignore_semiprivate=True,
        ignore_magic=True,
        ignore_init_method=True,
        ignore_nested_functions=True,
        ignore_nested_classes=True,
        ignore_overloaded_functions=True,
        ignore_property_setters=True,
    )
    results = coverage.InterrogateCoverage(paths=[str(folder)], conf=conf).get_coverage()
    return results.total, results.covered


@pytest.mark.parametrize("folder", ["docstring_cases/dcases", "core_project/src/corepkg"])
def test_docstring_coverage_agrees_with_interrogate(folder: str) -> None:
    path = DATA / folder
    ours = [d for s in _sources(path, DATA) for d in count_definitions(s)]
    assert (len(ours), sum(d.documented for d in ours)) == _interrogate(path)


def test_docstring_coverage_item() -> None:
    sources = _sources(DATA / "docstring_cases/dcases", DATA)
    result = DocstringCoverage(50).run(sources, DATA)
    assert result.outcome == "failed"
    assert result.metrics["coverage_percent"] == 35.0
    assert result.metrics["total"] == 20 and result.metrics["documented"] == 7
    assert result.findings[0].message == (
        "docstring coverage 35.0% (7/20) is below the minimum 50%"
    )
    assert DocstringCoverage(35).run(sources, DATA).outcome == "passed"


GOOGLE = '''
def f(alpha, beta, *args, gamma=1, **kwargs):
    """Do.

    Args:
        alpha (int): First.
            Continued description: not a parameter.
        beta: Second.
        *args: More.
        gama: Misspelled.
        **kwargs: Rest.

    Returns:
        Nothing.
    """
'''

NUMPY = '''
class C:
    def m(self, x, y):
        """Do.

        Parameters
        ----------
        x, y : int
            Both.
        z : int
            Not there.

        Returns
        -------
        int
        """
'''


def test_accuracy_google() -> None:
    findings, checked, accurate = accuracy_findings(SourceFile(Path("g.py"), "g.py", GOOGLE))
    assert (checked, accurate) == (1, 0)
    assert [(f.rule, f.message) for f in findings] == [
        (
            "DOC103",
            "documented parameter `gama` looks like a misspelling of `gamma` (function `f`)",
        ),
    ]
    assert findings[0].line == 10


def test_accuracy_numpy_method() -> None:
    findings, checked, accurate = accuracy_findings(SourceFile(Path("n.py"), "n.py", NUMPY))
    assert (checked, accurate) == (1, 0)
    assert [(f.rule, f.line) for f in findings] == [("DOC102", 10)]


def test_docstrings_without_parameter_sections_are_not_judged() -> None:
    assert documented_params("Just a summary.\n\nMore text.") is None
    source = 'def f(a):\n    """Summary only."""\n'
    assert accuracy_findings(SourceFile(Path("x.py"), "x.py", source)) == ([], 0, 0)


# -- configuration --------------------------------------------------------------------------


def _project(tmp_path: Path, toml: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(toml)
    return tmp_path


def test_config_sources_in_documented_order(tmp_path: Path) -> None:
    root = _project(tmp_path, "[tool.fwmon]\nreport = 'from-file.json'\nworkers = 3\n")
    config = load_config(root, environ={})
    assert config.str("", "report") == "from-file.json"
    config = load_config(root, environ={"FWMON_REPORT": "from-env.json"})
    assert config.str("", "report") == "from-env.json"
    config = load_config(
        root, cli={"report": "from-cli.json"}, environ={"FWMON_REPORT": "from-env.json"}
    )
    assert config.str("", "report") == "from-cli.json"
    config = load_config(
        root,
        overrides=["workers=5", "security.fail_on_severity=high"],
        environ={"FWMON_WORKERS": "4"},
    )
    assert config.int("", "workers") == 5
    assert config.str("security", "fail_on_severity") == "high"


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        pytest.param(
            "[tool.fwmon]\ncache = 'yes'\n",
            {},
            "[tool.fwmon] cache must be true or false, got 'yes'",
            id="bool",
        ),
        pytest.param(
            "[tool.fwmon]\npipelines = ['security', 'speed']\n",
            {},
            "[tool.fwmon] pipelines has invalid value 'speed'; valid choices: security, "
            "docs, quality, performance, integration",
            id="list-choice",
        ),
        pytest.param(
            "[tool.fwmon]\nsecurity = 1\n",
            {},
            "[tool.fwmon] security must be a table ([tool.fwmon.security])",
            id="table",
        ),
        pytest.param(
            "",
            {"FWMON_WORKERS": "many"},
            "environment variable FWMON_WORKERS: [tool.fwmon] workers must be a whole "
            "number, got 'many'",
            id="env",
        ),
        pytest.param("[tool.fwmon\n", {}, "is not valid TOML", id="toml"),
        pytest.param(
            "[tool]\nfwmon = 1\n",
            {},
            "[tool.fwmon] in pyproject.toml must be a table",
            id="not-table",
        ),
        pytest.param(
            "[tool.fwmon.lint]\nx = 1\n",
            {},
            "unknown section [tool.fwmon.lint]; valid sections: alerts, dashboard, docs, ",
            id="section",
        ),
        pytest.param(
            "[tool.fwmon]\nspeed = 1\n",
            {},
            "unknown key [tool.fwmon] speed; valid keys: baseline, cache, ",
            id="key",
        ),
        pytest.param(
            "[tool.fwmon.docs]\nmin_coverage = 'high'\n",
            {},
            "[tool.fwmon.docs] min_coverage must be a number, got 'high'",
            id="float",
        ),
        pytest.param(
            "[tool.fwmon.docs]\nmin_coverage = 101\n",
            {},
            "[tool.fwmon.docs] min_coverage must be at most 100, got 101",
            id="maximum",
        ),
        pytest.param(
            "[tool.fwmon]\nworkers = -1\n",
            {},
            "[tool.fwmon] workers must be at least 0, got -1",
            id="minimum",
        ),
        pytest.param(
            "[tool.fwmon]\nworkers = true\n",
            {},
            "[tool.fwmon] workers must be a whole number, got True",
            id="int-bool",
        ),
        pytest.param(
            "[tool.fwmon]\nreport = 3\n",
            {},
            "[tool.fwmon] report must be a string, got 3",
            id="str",
        ),
        pytest.param(
            "[tool.fwmon]\nexclude = 'a'\n",
            {},
            "[tool.fwmon] exclude must be a list of strings, got 'a'",
            id="list",
        ),
        pytest.param(
            "[tool.fwmon]\nquality = 1\n",
            {},
            "[tool.fwmon] quality must be a table ([tool.fwmon.quality])",
            id="owned-table",
        ),
        pytest.param(
            "[tool.fwmon.quality]\nspeed = 1\n",
            {},
            "unknown key [tool.fwmon.quality] speed; valid keys: ",
            id="owned-key",
        ),
        pytest.param(
            "",
            {"FWMON_CACHE": "maybe"},
            "environment variable FWMON_CACHE: [tool.fwmon] cache must be true or false, "
            "got 'maybe'",
            id="env-bool",
        ),
        pytest.param(
            "",
            {"FWMON_PIPELINES": "security, speed"},
            "environment variable FWMON_PIPELINES: [tool.fwmon] pipelines has invalid value "
            "'speed'",
            id="env-list",
        ),
    ],
)
def test_config_errors(tmp_path: Path, toml: str, env: dict[str, str], message: str) -> None:
    root = _project(tmp_path, toml)
    with pytest.raises(ConfigError) as excinfo:
        load_config(root, environ=env)
    assert message in excinfo.value.message


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            ["workers"], "--fwmon-option 'workers' must look like SECTION.KEY=VALUE", id="no-equals"
        ),
        pytest.param(["lint.x=1"], "unknown section [tool.fwmon.lint]", id="section"),
        pytest.param(["docs.speed=1"], "unknown key [tool.fwmon.docs] speed", id="key"),
        pytest.param(
            ["workers=2.5"], "[tool.fwmon] workers must be a whole number, got '2.5'", id="int"
        ),
        pytest.param(
            ["quality.max_complexity=x"], "[tool.fwmon.quality] max_complexity", id="owned"
        ),
    ],
)
def test_config_option_errors(tmp_path: Path, overrides: list[str], message: str) -> None:
    root = _project(tmp_path, "")
    with pytest.raises(ConfigError) as excinfo:
        load_config(root, overrides=overrides, environ={})
    assert message in excinfo.value.message


def test_config_text_from_the_environment_and_options_is_typed(tmp_path: Path) -> None:
    root = _project(tmp_path, "[tool.fwmon.quality]\nmax_complexity = 12\n")
    config = load_config(
        root,
        overrides=[" docs.min_coverage = 55.5", "exclude= a, ,b ", "quality.no_assert=yes"],
        cli={"report": "r.json", "quality.max_complexity": 15, "cache_dir": None},
        environ={"FWMON_CACHE": " Off ", "FWMON_PACKAGING": "1", "FWMON_REPORT": ""},
    )
    assert config.bool("", "cache") is False
    assert config.float("docs", "min_coverage") == 55.5
    assert config.list("", "exclude") == ["a", "b"]
    assert config.str("", "report") == "r.json"
    assert config.str("", "cache_dir") == ".fwmon/cache"
    assert config.validated("quality")["max_complexity"] == 15
    assert config.validated("quality")["no_assert"] is True
    assert config.raw_sections["integration"] == {"packaging": True}


# -- file discovery ---------------------------------------------------------------------------


def _tree(root: Path, files: list[str], toml: str = "") -> None:
    (root / "pyproject.toml").write_text(toml)
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")


@pytest.mark.parametrize(
    ("toml", "files", "expected"),
    [
        pytest.param(
            '[project]\nname = "my-pkg"\n',
            ["my_pkg/__init__.py", "other/__init__.py"],
            ["my_pkg/__init__.py"],
            id="project-name",
        ),
        pytest.param(
            "",
            ["src/a/__init__.py", "src/a/m.py", "src/b/__init__.py", "tools/t.py"],
            ["src/a/__init__.py", "src/a/m.py", "src/b/__init__.py"],
            id="src-layout",
        ),
        pytest.param(
            '[tool.hatch.build.targets.wheel]\npackages = ["lib/x"]\n',
            ["lib/x/__init__.py", "lib/y/__init__.py"],
            ["lib/x/__init__.py"],
            id="hatch",
        ),
        pytest.param(
            '[tool.setuptools.packages.find]\nwhere = ["code"]\n',
            ["code/p/__init__.py", "code/p/tests/test_p.py", "setup.py"],
            ["code/p/__init__.py"],
            id="setuptools-find",
        ),
        pytest.param(
            "",
            [
                "pkg/__init__.py",
                "tool.py",
                "test_x.py",
                "conftest.py",
                "docs/conf.py",
                "venv/lib/site.py",
                "pkg/mod_test.py",
            ],
            ["pkg/__init__.py", "tool.py"],
            id="fallback",
        ),
    ],
)
def test_default_discovery(
    tmp_path: Path, toml: str, files: list[str], expected: list[str]
) -> None:
    import tomllib

    _tree(tmp_path, files, toml)
    roots = source_roots(tmp_path, tomllib.loads(toml))
    found = iter_python_files(roots, tmp_path, [])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == expected


# -- cache and scores ----------------------------------------------------------------------


def test_cache_keeps_only_the_newest_entry_per_file(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    old, new = cache_key("d1", "bandit", "1", {}), cache_key("d2", "bandit", "1", {})
    cache.put(old, "a.py", "bandit", {"findings": []})
    cache.put(cache_key("d1", "pydocstyle", "1", {}), "a.py", "pydocstyle", {"findings": []})
    cache.save()
    cache = ResultCache(tmp_path)
    assert cache.get(old) == {"findings": []}
    cache.put(new, "a.py", "bandit", {"findings": [1]})
    cache.save()
    entries = json.loads((tmp_path / "results.json").read_text())["entries"]
    assert old not in entries and new in entries and len(entries) == 2


def test_cache_key_covers_everything_that_changes_results() -> None:
    base = cache_key("d", "bandit", "1.9", {"fail_on_severity": "medium"})
    assert base != cache_key("e", "bandit", "1.9", {"fail_on_severity": "medium"})
    assert base != cache_key("d", "bandit", "1.8", {"fail_on_severity": "medium"})
    assert base != cache_key("d", "bandit", "1.9", {"fail_on_severity": "high"})
    assert base == cache_key("d", "bandit", "1.9", copy.deepcopy({"fail_on_severity": "medium"}))


@pytest.mark.parametrize(
    ("findings", "loc", "score"),
    [
        pytest.param([], 100, 100.0, id="clean"),
        pytest.param(["high"], 1000, 50.0, id="half-life"),
        pytest.param(["high", "high"], 1000, 25.0, id="two-half-lives"),
        pytest.param(["high"], 10, 50.0, id="small-files-count-as-1000-lines"),
        pytest.param(["info"] * 50, 1000, 100.0, id="info-weighs-nothing"),
    ],
)
def test_density_score(findings: list[str], loc: int, score: float) -> None:
    found = [Finding("", "security", "bandit", "B1", s, "high", "a.py", 1, "m") for s in findings]
    assert density_score("security", found, loc) == score


@pytest.mark.parametrize(
    ("outcomes", "status"),
    [
        pytest.param(["passed", "passed"], "pass", id="pass"),
        pytest.param(["passed", "failed"], "fail", id="fail"),
        pytest.param(["failed", "error"], "error", id="error-dominates"),
        pytest.param(["skipped"], "skipped", id="skipped"),
        pytest.param([], "not-run", id="no-items"),
        pytest.param(["passed", "not-run"], "error", id="partly-not-run-is-never-a-pass"),
    ],
)
def test_pipeline_status(outcomes: list[str], status: str) -> None:
    assert pipeline_status(outcomes, selected=True) == status


def _scored(severity: str, *, pipeline: str = "security", status: str = "new") -> Finding:
    finding = Finding("", pipeline, "c", "R1", severity, "high", "a.py", 1, "m")
    finding.status = status
    return finding


@pytest.mark.parametrize(
    ("pipeline", "severities", "loc", "score"),
    [
        pytest.param("security", ["critical"], 1000, 25.0, id="critical-weighs-10"),
        pytest.param("security", ["medium", "low"], 1000, 66.0, id="medium-2-low-1"),
        pytest.param("security", ["high"], 2000, 70.7, id="density-per-1000-lines"),
        pytest.param("security", ["high", "high"], 1500, 39.7, id="per-1000-not-about-1000"),
        pytest.param("docs", ["high"] * 5, 1000, 50.0, id="docs-half-life-25"),
        pytest.param("quality", ["high", "high"], 1000, 50.0, id="quality-half-life-10"),
        pytest.param("other", ["high", "high"], 1000, 50.0, id="unknown-pipeline-like-quality"),
        pytest.param("security", ["low"], 1000, 87.1, id="rounded-to-one-decimal"),
    ],
)
def test_density_score_weights_and_half_lives(
    pipeline: str, severities: list[str], loc: int, score: float
) -> None:
    found = [_scored(s, pipeline=pipeline) for s in severities]
    assert density_score(pipeline, found, loc) == score


def test_density_score_leaves_suppressed_findings_out() -> None:
    found = [_scored("high", status="suppressed"), _scored("high", status="baselined")]
    assert density_score("security", found, 1000) == 50.0


@pytest.mark.parametrize(
    ("outcomes", "score"),
    [
        pytest.param(["passed", "passed", "failed"], 66.7, id="share-rounded"),
        pytest.param(["passed", "error", "skipped", "not-run"], 50.0, id="skipped-left-out"),
        pytest.param(["skipped", "not-run"], None, id="nothing-ran"),
        pytest.param([], None, id="no-items"),
        pytest.param(["failed"], 0.0, id="all-failed"),
    ],
)
def test_outcome_score(outcomes: list[str], score: float | None) -> None:
    assert outcome_score(outcomes) == score


@pytest.mark.parametrize(
    ("outcomes", "selected", "status"),
    [
        pytest.param(["passed"], False, "not-run", id="not-selected"),
        pytest.param(["not-run", "not-run"], True, "not-run", id="all-not-run"),
        pytest.param(["skipped", "failed"], True, "fail", id="failed-beats-skipped"),
        pytest.param(["error", "passed"], True, "error", id="error-first-or-not"),
        pytest.param(["passed", "skipped"], True, "pass", id="partly-skipped-is-a-pass"),
        pytest.param(["skipped", "not-run"], True, "error", id="skipped-and-not-run"),
    ],
)
def test_pipeline_status_edges(outcomes: list[str], selected: bool, status: str) -> None:
    assert pipeline_status(outcomes, selected=selected) == status


def _item(pipeline: str, outcome: str, path: str | None, loc: int = 0, **kw: Any) -> CheckResult:
    return CheckResult(f"{path}::{pipeline}", pipeline, "c", outcome, path=path, loc=loc, **kw)


def test_summarise_pipelines_entry_for_every_pipeline() -> None:
    checks = [
        _item("security", "failed", "a.py", 400, findings=[_scored("high"), _scored("low")]),
        _item("security", "failed", "b.py", 700, findings=[_scored("low")]),
        _item("security", "passed", "a.py", 400, cached=True),  # same file, another checker
        _item("security", "error", "b.py", 700, findings=[_scored("medium", status="suppressed")]),
        _item("security", "skipped", None, 0, reason="no tool"),
        _item("security", "not-run", "c.py", 100),
        _item("integration", "passed", None),
        _item("integration", "failed", None),
    ]
    summary = summarise_pipelines(
        checks, ["security", "integration", "performance"], {"performance": ["passed", "failed"]}
    )
    assert list(summary) == ["security", "docs", "quality", "performance", "integration"]
    assert summary["security"] == {
        "status": "error",
        "score": density_score("security", [_scored("high"), *[_scored("low")] * 2], 1200),
        "items": 6,
        "passed": 1,
        "failed": 2,
        "errors": 1,
        "skipped": 2,
        "cached": 1,
        "loc": 1200,
        "counts": {"critical": 0, "high": 1, "medium": 0, "low": 2, "info": 0},
    }
    assert summary["security"]["score"] == 44.5  # 7 weighted points in 1200 lines
    assert summary["docs"] == {
        "status": "not-run",
        "score": None,
        "items": 0,
        "passed": 0,
        "failed": 0,
        "errors": 0,
        "skipped": 0,
        "cached": 0,
        "loc": 0,
        "counts": {"critical": 0, "high": 0, "medium": 0, "low": 0, "info": 0},
    }
    assert summary["performance"]["status"] == "fail"
    assert summary["performance"]["score"] == 50.0
    assert summary["performance"]["items"] == 2
    assert summary["integration"]["score"] == 50.0
    assert summary["integration"]["status"] == "fail"


def test_summarise_pipelines_keeps_a_pipeline_outside_the_standard_five() -> None:
    summary = summarise_pipelines([_item("custom", "passed", "a.py", 10)], ["custom"])
    assert summary["custom"]["status"] == "pass"
    assert summary["custom"]["score"] == 100.0
    assert summary["custom"]["loc"] == 10


def test_summarise_pipelines_not_selected_has_no_score_even_with_items() -> None:
    summary = summarise_pipelines([_item("docs", "failed", "a.py", 10)], ["security"])
    assert summary["docs"]["status"] == "not-run"
    assert summary["docs"]["score"] is None
    assert summary["docs"]["failed"] == 1
    assert "reason" not in summary["docs"]


@pytest.mark.parametrize(
    ("reasons", "expected"),
    [
        pytest.param(["Skipped: no tool"], "no tool", id="prefix-removed"),
        pytest.param(["a\nSkipped: no tool  \n"], "no tool", id="last-line"),
        pytest.param(["same", "same"], "same", id="shared"),
        pytest.param(["first", "second"], "first (and other reasons)", id="different"),
        pytest.param(["   "], "", id="blank-kept-blank"),
    ],
)
def test_skipped_pipeline_reason(reasons: list[str], expected: str) -> None:
    checks = [_item("security", "skipped", f"{i}.py", reason=r) for i, r in enumerate(reasons)]
    checks.append(_item("security", "skipped", "z.py"))  # no reason given
    summary = summarise_pipelines(checks, ["security"])["security"]
    assert summary["status"] == "skipped"
    assert summary["score"] is None
    assert summary["reason"] == expected
    assert skip_reason(checks) == expected


def test_skip_reason_ignores_items_that_were_not_skipped() -> None:
    checks = [_item("security", "error", "a.py", reason="boom")]
    assert skip_reason(checks) is None
    checks.append(_item("security", "skipped", "b.py", reason="later"))
    assert skip_reason(checks) == "later"


# -- failure tables ---------------------------------------------------------------------------


def _bandit_finding(path: str, line: int, rule: str, severity: str, cwe: int | None) -> Finding:
    return Finding(
        fingerprint="",
        pipeline="security",
        checker="bandit",
        rule=rule,
        severity=severity,
        confidence="medium",
        path=path,
        line=line,
        message=f"msg {rule}",
        cwe=cwe,
    )


@pytest.mark.parametrize(
    ("show_path", "rows", "expected"),
    [
        pytest.param(
            False,
            25,
            [
                "  rule  line  severity  confidence  message",
                "  B602    12  medium    medium      msg B602",
                "  B101     7  high      medium      msg B101 [CWE-703]",
                "  B105     3  low       medium      msg B105",
            ],
            id="file-item",
        ),
        pytest.param(
            True,
            25,
            [
                "  rule  location  severity  confidence  message",
                "  B602  -         medium    medium      msg B602",
                "  B101  a.py:7    high      medium      msg B101 [CWE-703]",
                "  B105  b.py:3    low       medium      msg B105",
            ],
            id="project-item",
        ),
        pytest.param(
            False,
            2,
            [
                "  rule  line  severity  confidence  message",
                "  B602    12  medium    medium      msg B602",
                "  B101     7  high      medium      msg B101 [CWE-703]",
                "  ... and 1 more (all of them are in the fwmon report)",
            ],
            id="rows-hidden",
        ),
    ],
)
def test_failure_table(
    monkeypatch: pytest.MonkeyPatch, show_path: bool, rows: int, expected: list[str]
) -> None:
    monkeypatch.setattr(failure, "TABLE_ROWS", rows)
    findings = [
        _bandit_finding("a.py", 7, "B101", "high", 703),
        _bandit_finding("", 12, "B602", "medium", None),
        _bandit_finding("b.py", 3, "B105", "low", None),
    ]
    failed = failure.CheckFailed("bandit", findings, 5, "at or above low severity")
    assert failure.format_table(failed, "pkg/x.py", show_path=show_path).splitlines() == [
        "bandit: 3 finding(s) at or above low severity in pkg/x.py",
        *expected,
        "  (2 more finding(s) below the threshold are in the report)",
    ]
