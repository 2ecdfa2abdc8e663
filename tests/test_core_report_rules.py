"""Rules of the report model pinned for mutation testing (issue 22): the exact ``report.json``
written, the atomic write and what it leaves on failure, the one-line errors of a bad report,
the upgrade of version 1, and the model's dict round trips, fingerprints and counts."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.core import model
from pytest_fwmon.core.errors import ReportError
from pytest_fwmon.core.inputs import input_limit
from pytest_fwmon.core.model import (
    CheckResult,
    Finding,
    assign_fingerprints,
    confidence_at_least,
    empty_counts,
    fingerprint,
    normalise_source,
    severity_at_least,
)
from pytest_fwmon.core.report import (
    V1_STOPPED,
    load_report,
    parse_report,
    previous_path,
    read_report_bytes,
    readable_json,
    upgrade,
    write_json_atomic,
    write_report,
)
from tests.test_core_units import valid_report

# -- writing ------------------------------------------------------------------------------


def test_written_json_is_exact(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "r.json"
    data = {"b": [1, {"y": 2, "x": [3]}], "a": {}, "é": "ü"}
    write_json_atomic(target, data)
    assert (
        target.read_bytes()
        == (
            '{\n  "a": {},\n  "b": [\n    1,\n    {"x": [3], "y": 2}\n  ],\n  "é": "ü"\n}\n'
        ).encode()
    )
    write_json_atomic(target, data, indent=None)
    assert target.read_bytes() == '{"a": {}, "b": [1, {"x": [3], "y": 2}], "é": "ü"}\n'.encode()
    write_json_atomic(target, {"k": [1]}, indent=4)
    assert target.read_text(encoding="utf-8") == '{\n    "k": [\n        1\n    ]\n}\n'


def test_written_file_has_the_mode_of_an_ordinary_file(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    target = tmp_path / "r.json"
    write_json_atomic(target, {})
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


@pytest.mark.parametrize("indent", [2, None])
def test_failed_first_write_leaves_nothing(tmp_path: Path, indent: int | None) -> None:
    with pytest.raises(TypeError):
        write_json_atomic(tmp_path / "r.json", {"a": object()}, indent=indent)
    assert list(tmp_path.iterdir()) == []


def test_failed_rewrite_keeps_the_old_report(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    write_json_atomic(target, {"a": 1}, indent=None)
    with pytest.raises(TypeError):
        write_json_atomic(target, {"a": object()}, indent=None)
    assert target.read_text(encoding="utf-8") == '{"a": 1}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_write_into_a_file_path_is_an_oserror(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(OSError):
        write_json_atomic(tmp_path / "f" / "r.json", {})


class _Probe(dict[str, Any]):
    """A report that runs ``action`` while the writer walks it, when the temp file exists."""

    def __init__(self, action: Callable[[], None]) -> None:
        super().__init__(a=1)
        self.action = action

    def __iter__(self) -> Iterator[str]:
        self.action()
        return super().__iter__()


def test_temp_file_is_hidden_beside_the_target(tmp_path: Path) -> None:
    seen: list[str] = []
    write_json_atomic(tmp_path / "r.json", _Probe(lambda: seen.extend(os.listdir(tmp_path))))
    [name] = seen
    assert name.startswith(".r.json.")
    assert name.endswith(".tmp")
    assert os.listdir(tmp_path) == ["r.json"]


def test_failure_after_the_temp_file_vanished_raises_the_first_error(tmp_path: Path) -> None:
    def remove_and_fail() -> None:
        for name in os.listdir(tmp_path):
            os.unlink(tmp_path / name)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match=r"^boom$"):
        write_json_atomic(tmp_path / "r.json", _Probe(remove_and_fail))
    assert os.listdir(tmp_path) == []


def test_directory_in_the_way_is_an_oserror_and_leaves_no_temp(tmp_path: Path) -> None:
    (tmp_path / "r.json").mkdir()
    (tmp_path / "r.json" / "x").write_text("")
    with pytest.raises(OSError):
        write_json_atomic(tmp_path / "r.json", {})
    assert os.listdir(tmp_path) == ["r.json"]


def test_previous_path() -> None:
    assert previous_path(Path(".fwmon/report.json")) == Path(".fwmon/report.previous.json")
    assert previous_path(Path("out/r.v1.json")) == Path("out/r.v1.previous.json")


def test_write_report_counts_nothing_for_plain_text(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    assert write_report(target, {"a": "ü"}) == 0
    assert json.loads(target.read_text(encoding="utf-8")) == {"a": "ü"}


def test_write_report_escapes_only_unencodable_strings_and_keys(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    report: dict[str, Any] = {
        "path": "a\udcffb.py",
        "plain": "ok\n",
        "checks": [{"nodeid": "x\ud800", "n": 1, "more": ["\udc80", "fine"]}],
        "k\udcfe": {"v": "é"},
    }
    assert write_report(target, report) == 4
    expected = {
        "path": "a\\xffb.py",
        "plain": "ok\n",
        "checks": [{"nodeid": "x\\ud800", "n": 1, "more": ["\\x80", "fine"]}],
        "k\\xfe": {"v": "é"},
    }
    assert report == expected
    assert json.loads(target.read_text(encoding="utf-8")) == expected


def test_readable_json_depth_and_key_order() -> None:
    value = {"z": {"b": {"c": [1]}}, "a": []}
    assert readable_json(value, depth=1) == '{\n  "a": [],\n  "z": {"b": {"c": [1]}}\n}'
    assert readable_json(value, depth=3, indent=1) == (
        '{\n "a": [],\n "z": {\n  "b": {\n   "c": [1]\n  }\n }\n}'
    )
    assert readable_json([1, 2], depth=0) == "[1, 2]"
    assert readable_json({10: "b", 2: "a"}) == '{\n  "10": "b",\n  "2": "a"\n}'
    assert readable_json("é") == '"é"'
    assert readable_json({"a": {"b": {"c": 1}}}) == '{\n  "a": {\n    "b": {"c": 1}\n  }\n}'
    assert readable_json([{"a": [1]}], depth=3) == '[\n  {\n    "a": [\n      1\n    ]\n  }\n]'


# -- reading ------------------------------------------------------------------------------


def _error(text: str | bytes) -> ReportError:
    with pytest.raises(ReportError) as excinfo:
        parse_report(text, "report r.json")
    return excinfo.value


def test_not_json_names_the_fix() -> None:
    error = _error("{")
    assert error.one_line().startswith("report r.json is not valid JSON (")
    assert error.hint == "re-run `pytest --fwmon` to write it again"
    assert error.exit_code == 3


def test_non_utf8_report_is_one_line() -> None:
    error = _error(b'{"a": "\xff"}')
    assert error.message.startswith("report r.json is not valid JSON (")
    assert "\n" not in error.one_line()


def test_default_source_name() -> None:
    with pytest.raises(ReportError) as excinfo:
        parse_report("[]")
    assert (
        excinfo.value.message == "report is not a fwmon report: the top level is not a JSON object"
    )
    assert excinfo.value.hint is None


@pytest.mark.parametrize(
    "version", [True, False, "2", 2.5, None, 0, 3], ids=lambda v: f"{type(v).__name__}-{v}"
)
def test_other_schema_versions_are_refused(version: Any) -> None:
    report = valid_report()
    report["schema_version"] = version
    error = _error(json.dumps(report))
    assert error.message == (
        f"report r.json has schema_version {version!r}; this fwmon reads versions 1, 2"
    )
    assert error.hint == "produce the report and read it with the same fwmon version"


def test_missing_schema_version_is_refused() -> None:
    report = valid_report()
    del report["schema_version"]
    assert _error(json.dumps(report)).message.startswith("report r.json has schema_version None;")


def test_schema_error_has_no_hint() -> None:
    report = valid_report()
    report["run"]["id"] = 5
    error = _error(json.dumps(report))
    assert error.message.startswith("report r.json does not match the report schema at $.run.id")
    assert error.hint is None


def test_valid_report_reads_back_unchanged() -> None:
    report = valid_report()
    assert parse_report(json.dumps(report)) == report
    assert parse_report(json.dumps(report).encode()) == report


def _v1() -> dict[str, Any]:
    report = valid_report()
    report["schema_version"] = 1
    del report["run"]["completed"], report["run"]["stopped"], report["tests"]["exitstatus_note"]
    report["pipelines"]["docs"]["status"] = "skipped"
    report["pipelines"]["quality"]["status"] = "not-run"
    return report


def test_version_1_is_read_as_version_2() -> None:
    report = parse_report(json.dumps(_v1()))
    expected = valid_report()
    expected["run"].update(completed=None, stopped=V1_STOPPED)
    expected["pipelines"]["docs"].update(status="skipped", score=None)
    expected["pipelines"]["quality"].update(status="not-run", score=None)
    assert report == expected
    assert V1_STOPPED == "unknown: written by an fwmon that did not record it (schema_version 1)"


def test_upgrade_keeps_what_is_there_and_other_shapes() -> None:
    data: dict[str, Any] = {
        "schema_version": 1,
        "run": {"completed": True, "stopped": "x"},
        "tests": {"exitstatus_note": "n"},
        "pipelines": {"a": {"status": "fail", "score": 5.0}, "b": [1]},
    }
    assert upgrade(data) is data
    assert data == {
        "schema_version": 2,
        "run": {"completed": True, "stopped": "x"},
        "tests": {"exitstatus_note": "n"},
        "pipelines": {"a": {"status": "fail", "score": 5.0}, "b": [1]},
    }
    odd: dict[str, Any] = {"run": [1], "tests": None, "pipelines": [2]}
    assert upgrade(odd) == {"schema_version": 2, "run": [1], "tests": None, "pipelines": [2]}


def test_load_report_names_the_file(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.write_text("[]", encoding="utf-8")
    with pytest.raises(ReportError) as excinfo:
        load_report(str(target))
    assert excinfo.value.message == (
        f"report {target} is not a fwmon report: the top level is not a JSON object"
    )
    target.write_text(json.dumps(valid_report()), encoding="utf-8")
    assert load_report(str(target)) == valid_report()


def test_missing_report_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ReportError) as excinfo:
        read_report_bytes(tmp_path / "r.json")
    assert excinfo.value.one_line() == (
        f"report {tmp_path / 'r.json'} not found "
        "(run `pytest --fwmon` first, or pass the right path)"
    )


def test_oversized_report_is_refused_before_reading(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.write_bytes(b" " * (1024 * 1024 + 1))
    with input_limit(1), pytest.raises(ReportError) as excinfo:
        load_report(target)
    assert excinfo.value.message == (
        f"report {target} is 1048577 bytes, more than the cap of 1048576 bytes "
        "(raise it with FWMON_MAX_INPUT_MB=MiB or the command's --max-input-mb)"
    )


# -- model --------------------------------------------------------------------------------


def test_vocabularies() -> None:
    assert model.SCHEMA_VERSION == 2
    assert model.PIPELINES == ("security", "docs", "quality", "performance", "integration")
    assert model.SEVERITIES == ("critical", "high", "medium", "low", "info")
    assert model.SEVERITY_RANK == {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
    assert model.CONFIDENCES == ("high", "medium", "low", "undefined")
    assert model.FINDING_STATUSES == ("new", "baselined", "waived", "suppressed")
    assert model.OUTCOMES == ("passed", "failed", "error", "skipped", "not-run")
    assert model.PIPELINE_STATUSES == ("pass", "fail", "error", "skipped", "not-run")
    assert empty_counts() == {"critical": 0, "high": 0, "medium": 0, "low": 0, "info": 0}
    assert list(empty_counts()) == list(model.SEVERITIES)


@pytest.mark.parametrize(
    ("severity", "threshold", "expected"),
    [
        ("critical", "critical", True),
        ("critical", "info", True),
        ("high", "medium", True),
        ("medium", "high", False),
        ("info", "low", False),
        ("low", "low", True),
    ],
)
def test_severity_at_least(severity: str, threshold: str, expected: bool) -> None:
    assert severity_at_least(severity, threshold) is expected


@pytest.mark.parametrize(
    ("confidence", "threshold", "expected"),
    [
        ("high", "high", True),
        ("high", "undefined", True),
        ("medium", "low", True),
        ("low", "medium", False),
        ("undefined", "low", False),
        ("undefined", "undefined", True),
    ],
)
def test_confidence_at_least(confidence: str, threshold: str, expected: bool) -> None:
    assert confidence_at_least(confidence, threshold) is expected


def _f(**kw: Any) -> Finding:
    base: dict[str, Any] = dict(
        fingerprint="",
        pipeline="security",
        checker="bandit",
        rule="B602",
        severity="high",
        confidence="high",
        path="a.py",
        line=3,
        message="m",
    )
    base.update(kw)
    return Finding(**base)


def test_finding_dict_has_every_field_with_defaults() -> None:
    assert _f().to_dict() == {
        "fingerprint": "",
        "pipeline": "security",
        "checker": "bandit",
        "rule": "B602",
        "severity": "high",
        "confidence": "high",
        "path": "a.py",
        "line": 3,
        "message": "m",
        "end_line": 0,
        "col": 0,
        "cwe": None,
        "status": "new",
        "rule_name": "",
        "help_url": "",
        "symbol": "",
    }


def test_finding_round_trip_ignores_unknown_keys() -> None:
    finding = _f(
        end_line=4, col=2, cwe=78, status="waived", rule_name="r", help_url="u", symbol="s"
    )
    data = finding.to_dict()
    assert Finding.from_dict({**data, "future": 1}) == finding
    short = {k: v for k, v in data.items() if k not in ("symbol", "cwe")}
    assert Finding.from_dict(short) == _f(
        end_line=4, col=2, status="waived", rule_name="r", help_url="u"
    )


def test_finding_sort_key() -> None:
    assert _f(col=5).sort_key() == ("a.py", 3, 5, "bandit", "B602")


def test_check_result_dict_sorts_findings_and_copies_metrics() -> None:
    late, early = _f(line=9), _f(line=1)
    check = CheckResult(nodeid="n", pipeline="docs", checker="c", outcome="failed")
    assert check.to_dict() == {
        "nodeid": "n",
        "pipeline": "docs",
        "checker": "c",
        "outcome": "failed",
        "path": None,
        "cached": False,
        "duration": 0.0,
        "findings": [],
        "reason": None,
        "loc": 0,
        "metrics": {},
    }
    check.findings = [late, early]
    check.metrics = {"coverage": 50.0}
    data = check.to_dict()
    assert data["findings"] == [early.to_dict(), late.to_dict()]
    assert check.findings == [late, early]
    data["metrics"]["coverage"] = 0
    assert check.metrics == {"coverage": 50.0}
    again = CheckResult.from_dict(data)
    assert again.findings == [early, late]
    assert again.metrics == {"coverage": 0}
    assert CheckResult.from_dict(
        {"nodeid": "n", "pipeline": "p", "checker": "c", "outcome": "o"}
    ) == (CheckResult(nodeid="n", pipeline="p", checker="c", outcome="o"))


def test_normalise_source() -> None:
    assert normalise_source(["  a  =\t1 ", "", "\tb"]) == "a = 1\n\nb"


def test_fingerprint_is_the_documented_hash() -> None:
    expected = hashlib.sha256(b"bandit\0B602\0a.py\0x = 1\0" + b"2").hexdigest()[:32]
    assert fingerprint("bandit", "B602", "a.py", "x = 1", 2) == expected
    odd = hashlib.sha256(b"c\0r\0?.py\0s\0" + b"0").hexdigest()[:32]
    assert fingerprint("c", "r", "\udcff.py", "s", 0) == odd


def _hash(text: str, occurrence: int = 0, path: str = "a.py") -> str:
    return fingerprint("bandit", "B602", path, text, occurrence)


def test_assign_fingerprints_bases() -> None:
    lines = ["zero", " one ", "two", "three"]
    ranged = _f(line=2, end_line=3)
    backwards = _f(line=3, end_line=1)
    whole = _f(line=0, message="whole file")
    own = _f(line=2, fingerprint="secret-hash")
    assign_fingerprints([ranged, backwards, whole, own], lines)
    assert ranged.fingerprint == _hash("one\ntwo")
    assert backwards.fingerprint == _hash("two")
    assert whole.fingerprint == _hash("whole file")
    assert own.fingerprint == _hash("secret-hash")


def test_assign_fingerprints_counts_occurrences_per_key() -> None:
    lines = ["x", "x", "y"]
    first, other_rule, second, elsewhere = (
        _f(line=2),
        _f(line=1, rule="B603"),
        _f(line=1),
        _f(line=3),
    )
    assign_fingerprints([first, other_rule, second, elsewhere], lines)
    assert second.fingerprint == _hash("x", 0)
    assert first.fingerprint == _hash("x", 1)
    assert other_rule.fingerprint == fingerprint("bandit", "B603", "a.py", "x", 0)
    assert elsewhere.fingerprint == _hash("y", 0)
