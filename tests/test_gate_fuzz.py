"""Acceptance 7: arbitrary JSON values and bytes as report, policy or baseline never crash
the gate and never pass it."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_fwmon.gate import cli
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

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


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
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(argv)
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
