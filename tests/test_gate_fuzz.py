"""Arbitrary and mutated reports, policies and baselines never crash the gate and never pass it.

(Except a mutated policy that is valid and weaker than the original, or a mutated baseline whose
waiver became live: they may pass, by right.)

Real documents are mutated at the byte level (RFC 8259's forbidden tokens, huge numbers, lone
surrogates as escapes and as bytes, duplicate keys, deep nesting, random bytes) and at the
structure level (one value anywhere replaced by such a value), and the gate runs in-process
with every output (SARIF, gate-result.json, markdown, GitHub annotations and step summary):
an exception escaping ``main`` fails the example, so a traceback cannot go unnoticed. A
report the gate accepts must be valid by an independent oracle (``jsonschema`` on a strict
parse); an invalid one must exit 3. About 2,400 examples in all; marked slow.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_fwmon.core.schema import load_schema
from pytest_fwmon.gate import cli
from pytest_fwmon.gate.policy import parse_policy, weakenings
from tests.test_gate_support import POLICY_NEW_HIGH, finding, make_report

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(["schema_version", "run", "checks", "conditions", "entries", "new", 1]),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(
                [
                    "schema_version",
                    "run",
                    "pipelines",
                    "checks",
                    "findings",
                    "conditions",
                    "id",
                    "metric",
                    "op",
                    "threshold",
                    "entries",
                    "waivers",
                    "fingerprint",
                    "count",
                    "x",
                ]
            )
            | st.text(max_size=8),
            children,
            max_size=6,
        )
    ),
    max_leaves=30,
)


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return json.dumps(value).encode("utf-8")


PAYLOAD = st.one_of(JSON.map(_as_bytes), st.binary(max_size=300))
# also near-misses: a valid document with one value replaced
VALID_REPORT = make_report([finding()])


def _mutated_report(key: str, value: Any) -> bytes:
    doc = json.loads(json.dumps(VALID_REPORT))
    doc[key] = value
    return json.dumps(doc).encode()


NEAR_REPORT = st.builds(
    _mutated_report,
    # not "checks": replacing it can remove the blocking finding and make a clean, valid report
    st.sampled_from(["schema_version", "run", "pipelines", "tests", "coverage", "extensions"]),
    JSON,
)

pytestmark = pytest.mark.slow


def _settings(n: int) -> Any:
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


SETTINGS = _settings(150)


def run(report: bytes, policy: bytes, baseline: bytes | None) -> tuple[int, str]:
    """Run the gate in-process on the three files; return (exit code, stderr)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "report.json").write_bytes(report)
        (root / "policy.toml").write_bytes(policy)
        argv = ["report.json", "--root", tmp, "--policy", str(root / "policy.toml")]
        if baseline is None:
            argv.append("--no-baseline")
        else:
            (root / "base.json").write_bytes(baseline)
            argv += ["--baseline", str(root / "base.json")]
        argv += ["--sarif", f"{tmp}/o.sarif", "--result-json", f"{tmp}/o.json"]
        argv += ["--markdown", f"{tmp}/o.md"]
        env = {
            "GITHUB_ACTIONS": "true",
            "GITHUB_STEP_SUMMARY": f"{tmp}/summary.md",
            "GITHUB_OUTPUT": f"{tmp}/outputs",
        }
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = cli.main(argv)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        if code in (0, 1):  # every output was written and is valid
            json.loads((root / "o.sarif").read_bytes())
            json.loads((root / "o.json").read_bytes())
            (root / "o.md").read_text(encoding="utf-8")
    return code, err.getvalue()


GOOD_REPORT = json.dumps(VALID_REPORT).encode()
GOOD_POLICY = POLICY_NEW_HIGH.encode()


def _check(code: int, err: str) -> None:
    assert code in (1, 2, 3)
    assert "Traceback" not in err
    if code in (2, 3):
        assert err.startswith("fwmon: error: ")
        assert err.count("\n") == 1  # one line


@SETTINGS
@given(PAYLOAD | NEAR_REPORT)
def test_arbitrary_report(report: bytes) -> None:
    _check(*run(report, GOOD_POLICY, None))


@SETTINGS
@given(PAYLOAD)
def test_arbitrary_policy(policy: bytes) -> None:
    _check(*run(GOOD_REPORT, policy, None))


@SETTINGS
@given(PAYLOAD)
def test_arbitrary_baseline(baseline: bytes) -> None:
    _check(*run(GOOD_REPORT, GOOD_POLICY, baseline))


def test_the_fuzz_harness_can_pass() -> None:
    """The harness itself is not what blocks: a clean report passes with exit 0."""
    clean = json.dumps(make_report([])).encode()
    assert run(clean, GOOD_POLICY, None) == (0, "")
    assert run(GOOD_REPORT, GOOD_POLICY, None)[0] == 1


# --- mutations of real documents ---------------------------------------------------------------

#: Text that is not RFC 8259 JSON, or that no output can carry, or that strains a parser.
HOSTILE_TOKENS = [
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1e400",
    b"-1e999",
    b"9" * 5000,
    b"1" + b"0" * 400,
    b'"\\ud800"',
    b'"a\\udfffb"',
    b'"\xed\xa0\x80"',
    b"\xff",
    b"\xc3",
    b"[" * 3000,
    b'{"a":' * 3000,
    b'"schema_version": 1, ',
    b'"x": 1, "x": 2, ',
    b"\x00",
    "\ufeff".encode(),
]


def _byte_mutant(doc: bytes) -> Any:
    @st.composite
    def build(draw: Any) -> bytes:
        data = bytearray(doc)
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.integers(0, len(data)))
            kind = draw(st.sampled_from(["insert", "replace", "delete", "byte"]))
            token = draw(st.sampled_from(HOSTILE_TOKENS))
            if kind == "insert":
                data[at:at] = token
            elif kind == "replace":
                data[at : at + draw(st.integers(1, 12))] = token
            elif kind == "delete":
                del data[at : at + draw(st.integers(1, 12))]
            else:
                data[at:at] = bytes([draw(st.integers(0, 255))])
        return bytes(data)

    return build()


PLACEHOLDER = "\u0000fwmon-hostile\u0000"
HOSTILE_VALUES = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "9" * 5000,
    '"\\ud800"',
    "[" * 3000 + "]" * 3000,
    '{"a": 1, "a": 2}',
    '{"fingerprint": "x", "fingerprint": "y"}',
]


def _structure_mutant(doc: Any) -> Any:
    """One value anywhere in ``doc`` (a parsed document) replaced by a hostile JSON text."""

    @st.composite
    def build(draw: Any) -> bytes:
        copy = json.loads(json.dumps(doc))
        node = copy
        while True:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not keys:
                break
            key = draw(st.sampled_from(keys))
            inner = node[key]
            if isinstance(inner, dict | list) and inner and draw(st.booleans()):
                node = inner
                continue
            node[key] = PLACEHOLDER
            break
        text = json.dumps(copy)
        return text.replace(json.dumps(PLACEHOLDER), draw(st.sampled_from(HOSTILE_VALUES))).encode()

    return build()


def _strict_oracle(raw: bytes) -> Any:
    """The document, parsed by an oracle independent of fwmon's reader; None if not RFC 8259."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({k for k, _ in items}) != len(items):
            raise ValueError("duplicate")
        return dict(items)

    def bad(_: str) -> Any:
        raise ValueError("constant")

    try:
        text = raw.decode("utf-8")
        # RFC 8259 section 8.1: a parser may ignore one leading byte order mark (fwmon does)
        text = text.removeprefix("\ufeff")
        data = json.loads(text, object_pairs_hook=pairs, parse_constant=bad)
        json.dumps(data, allow_nan=False).encode("utf-8")
    except (ValueError, RecursionError, UnicodeError):
        return None
    return data


REPORT_SCHEMA = load_schema("report")


def _valid_report(raw: bytes) -> bool:
    data = _strict_oracle(raw)
    if data is None:
        return False
    return jsonschema.Draft202012Validator(REPORT_SCHEMA).is_valid(data)


GOOD_BASELINE = json.dumps(
    {
        "schema_version": 1,
        "entries": [{"fingerprint": "0123456789abcdef", "count": 1, "rule": "B602"}],
        "waivers": [
            {"rule": "B602", "path": "*.py", "reason": "r", "owner": "o", "expires": "2000-01-01"}
        ],
    }
).encode()


def _check_report(raw: bytes) -> None:
    code, err = run(raw, GOOD_POLICY, None)
    _check(code, err)
    if not _valid_report(raw):
        assert code == 3, err


# At least 2,000 examples each for reports, policies and baselines (with the 150 arbitrary
# payloads of each above); the baseline's structure mutants run out at about 120 distinct ones.
@_settings(1000)
@given(_byte_mutant(GOOD_REPORT))
def test_report_byte_mutations(report: bytes) -> None:
    _check_report(report)


@_settings(1000)
@given(_structure_mutant(VALID_REPORT))
def test_report_structure_mutations(report: bytes) -> None:
    _check_report(report)


@_settings(1850)
@given(_byte_mutant(GOOD_POLICY))
def test_policy_byte_mutations(policy: bytes) -> None:
    code, err = run(GOOD_REPORT, policy, None)
    if code == 0:
        # a mutation can make a valid, weaker policy ("threshold = 0" -> "10"), which passes
        # this report by right; anything else that passes would be the gate failing open
        assert weakenings(parse_policy(GOOD_POLICY, "good"), parse_policy(policy, "mutant"))
        return
    _check(code, err)


@_settings(1750)
@given(_byte_mutant(GOOD_BASELINE))
def test_baseline_byte_mutations(baseline: bytes) -> None:
    code, err = run(GOOD_REPORT, GOOD_POLICY, baseline)
    if code == 0:
        # "expires 2000-01-01" -> "2100-01-01" makes the waiver live, which waives the
        # report's findings by right; anything else that passes would be the gate failing open
        assert _hides_findings(baseline), baseline
        return
    _check(code, err)


def _hides_findings(baseline: bytes) -> bool:
    """Whether a baseline has a live waiver, or an entry with one of the report's fingerprints."""
    data = json.loads(baseline)
    today = datetime.now(UTC).date().isoformat()
    fingerprints = {f["fingerprint"] for c in VALID_REPORT["checks"] for f in c.get("findings", [])}
    live = any(str(w.get("expires", "")) >= today for w in data.get("waivers", []))
    return live or any(e.get("fingerprint") in fingerprints for e in data.get("entries", []))


@_settings(250)
@given(_structure_mutant(json.loads(GOOD_BASELINE)))
def test_baseline_structure_mutations(baseline: bytes) -> None:
    _check(*run(GOOD_REPORT, GOOD_POLICY, baseline))
