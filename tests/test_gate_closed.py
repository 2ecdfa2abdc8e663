"""The gate fails closed on every exit path, judges the effective policy, and escapes text.

Points 2, 3 and 5 of the fail-closed issue; each case here passed or crashed before.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon import cli as fwmon_cli
from pytest_fwmon.gate import cli
from tests.test_gate_cli import BLOCKING, CLEAN, _write, make_repo
from tests.test_gate_support import POLICY_NEW_HIGH, baseline_of, finding, make_report, write_json

REPORT_TEXT = json.dumps(BLOCKING)


def _gate(root: Path, *argv: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """The gate in-process; output is stdout and stderr together."""
    out = io.StringIO()
    old = dict(os.environ)
    os.environ.pop("GITHUB_ACTIONS", None)
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = cli.main([*argv, "--root", str(root)])
    finally:
        os.environ.clear()
        os.environ.update(old)
    return code, out.getvalue()


# --- point 2: every exit path ------------------------------------------------------------------


@pytest.mark.parametrize("module", ["pytest_fwmon.gate", "pytest_fwmon.cli"])
def test_closed_stdout_keeps_a_blocked_gate_non_zero(tmp_path: Path, module: str) -> None:
    (tmp_path / "report.json").write_text(REPORT_TEXT, encoding="utf-8")
    (tmp_path / "policy.toml").write_text(POLICY_NEW_HIGH, encoding="utf-8")
    read, write = os.pipe()
    os.close(read)  # the reader has quit before the gate prints
    argv = ["gate"] if module == "pytest_fwmon.cli" else []
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    done = subprocess.run(
        [sys.executable, "-m", module, *argv, "report.json", "--policy", "policy.toml"],
        cwd=tmp_path,
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    os.close(write)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == "fwmon: error: stdout was closed before the output was written"


def test_fifo_and_device_are_refused_without_reading(tmp_path: Path) -> None:
    (tmp_path / "policy.toml").write_text(POLICY_NEW_HIGH, encoding="utf-8")
    os.mkfifo(tmp_path / "fifo.json")
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    for report in ("fifo.json", "/dev/zero"):
        done = subprocess.run(
            [sys.executable, "-m", "pytest_fwmon.gate", report, "--policy", "policy.toml"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=env,
        )
        assert done.returncode == 3, done.stderr
        assert done.stderr == (
            f"fwmon: error: report {report} is not a regular file; give the path of a "
            "regular file\n"
        )


def test_size_cap_by_option_and_environment(tmp_path: Path) -> None:
    (tmp_path / "report.json").write_text(REPORT_TEXT, encoding="utf-8")
    (tmp_path / "policy.toml").write_text(POLICY_NEW_HIGH, encoding="utf-8")
    args = ("report.json", "--policy", "policy.toml")
    code, out = _gate(tmp_path, *args, "--max-input-mb", "0.001")
    assert code == 3 and "more than the cap of 1048 bytes" in out, out
    code, out = _gate(tmp_path, *args, env={"FWMON_MAX_INPUT_MB": "0.001"})
    assert code == 3 and "FWMON_MAX_INPUT_MB=MiB" in out, out
    code, out = _gate(tmp_path, *args, "--max-input-mb", "1")
    assert code == 1, out
    code, out = _gate(tmp_path, *args, env={"FWMON_MAX_INPUT_MB": "lots"})
    assert code == 2 and "is not a positive number of MiB" in out, out


def _report_bytes(**change: Any) -> bytes:
    text = REPORT_TEXT
    for old, new in change.items():
        text = text.replace(old, new, 1)
    return text.encode("utf-8")


NUMBER = '"duration": 0.0'
BAD_REPORTS = [
    pytest.param(REPORT_TEXT.replace(NUMBER, '"duration": NaN', 1).encode(), "NaN", id="nan"),
    pytest.param(
        REPORT_TEXT.replace(NUMBER, '"duration": Infinity', 1).encode(), "Infinity", id="inf"
    ),
    pytest.param(
        REPORT_TEXT.replace(NUMBER, '"duration": -Infinity', 1).encode(), "-Infinity", id="-inf"
    ),
    pytest.param(
        REPORT_TEXT.replace(NUMBER, '"duration": 1e400', 1).encode(), "too large", id="1e400"
    ),
    pytest.param(
        REPORT_TEXT.replace(NUMBER, '"duration": ' + "9" * 5000, 1).encode(),
        "digits",
        id="huge-int",
    ),
    pytest.param(
        REPORT_TEXT.replace("{", '{"schema_version": 1, ', 1).encode(), "duplicate", id="dup-key"
    ),
    pytest.param(
        REPORT_TEXT.replace('"extensions": {}', '"extensions": {"x": ' + "[" * 100_000, 1).encode(),
        "nested too deeply",
        id="deep",
    ),
    pytest.param(
        REPORT_TEXT.replace("shell=True", "shell=\\ud800", 1).encode(),
        "lone surrogate",
        id="surrogate-escape",
    ),
    pytest.param(
        REPORT_TEXT.replace("shell=True", "shell=\udc80", 1).encode("utf-8", "surrogatepass"),
        "not UTF-8",
        id="surrogate-bytes",
    ),
]


@pytest.mark.parametrize(("raw", "why"), BAD_REPORTS)
def test_not_json_by_rfc_8259_is_refused(tmp_path: Path, raw: bytes, why: str) -> None:
    assert NUMBER in REPORT_TEXT and '"extensions": {}' in REPORT_TEXT
    (tmp_path / "report.json").write_bytes(raw)
    (tmp_path / "policy.toml").write_text(POLICY_NEW_HIGH.replace("le", "ge"), encoding="utf-8")
    code, out = _gate(
        tmp_path,
        "report.json",
        "--policy",
        "policy.toml",
        "--result-json",
        str(tmp_path / "r.json"),
    )
    assert code == 3, out
    assert why in out and "Traceback" not in out and len(out.splitlines()) == 1, out


def test_a_leading_byte_order_mark_is_ignored_and_any_other_refused(tmp_path: Path) -> None:
    """RFC 8259 section 8.1: a parser MAY ignore a leading BOM; one inside is not JSON."""
    (tmp_path / "policy.toml").write_text(POLICY_NEW_HIGH.replace("le", "ge"), encoding="utf-8")
    bom = "\ufeff".encode()
    for raw, expected in (
        (bom + REPORT_TEXT.encode(), 0),
        (REPORT_TEXT.encode(), 0),
        (REPORT_TEXT.replace("{", "{" + "\ufeff", 1).encode(), 3),
        (bom + bom + REPORT_TEXT.encode(), 3),
    ):
        (tmp_path / "report.json").write_bytes(raw)
        code, out = _gate(tmp_path, "report.json", "--policy", "policy.toml")
        assert code == expected, out
        assert "Traceback" not in out


def _blocking_with(edit: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(REPORT_TEXT)
    check = next(c for c in doc["checks"] if c["findings"])
    target = {"finding": check["findings"][0], "check": check}[edit.split(".")[0]]
    target[edit.split(".")[1]] = "securitx"
    return doc


@pytest.mark.parametrize(
    "edit", ["finding.pipeline", "check.pipeline", "finding.severity", "finding.status"]
)
def test_a_value_the_gate_cannot_classify_is_refused(tmp_path: Path, edit: str) -> None:
    """The gate counts findings by pipeline, severity and status; an unknown one would vanish."""
    write_json(tmp_path / "report.json", _blocking_with(edit))
    (tmp_path / "policy.toml").write_text(POLICY_NEW_HIGH, encoding="utf-8")
    code, out = _gate(tmp_path, "report.json", "--policy", "policy.toml")
    assert code == 3, out
    assert "securitx" in out and len(out.splitlines()) == 1, out


@pytest.mark.parametrize("expires", ["20990101", "2099-1-01", "+2099-01-01", "2099-W01-1"])
def test_waiver_dates_are_strictly_yyyy_mm_dd(tmp_path: Path, expires: str) -> None:
    write_json(tmp_path / "report.json", BLOCKING)
    (tmp_path / "policy.toml").write_text(POLICY_NEW_HIGH, encoding="utf-8")
    base = baseline_of([])
    base["waivers"] = [
        {"rule": "B602", "path": "*", "reason": "r", "owner": "o", "expires": expires}
    ]
    write_json(tmp_path / "b.json", base)
    code, out = _gate(tmp_path, "report.json", "--policy", "policy.toml", "--baseline", "b.json")
    assert code == 2, out
    assert "expires must be a date like 2025-12-31" in out


def test_one_handler_for_both_commands(tmp_path: Path) -> None:
    outs = []
    for main, argv in ((cli.main, []), (fwmon_cli.main, ["gate"])):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = main([*argv, str(tmp_path / "missing\x1b[31m.json"), "--policy", "default"])
        outs.append((code, out.getvalue()))
    assert outs[0] == outs[1]
    assert outs[0][0] == 3 and "\x1b" not in outs[0][1] and "missing\\x1b[31m.json" in outs[0][1]


# --- point 3: the effective policy -------------------------------------------------------------

PYPROJECT = "[project]\nname = 'x'\n\n[tool.fwmon.gate]\n" + POLICY_NEW_HIGH.replace(
    "[[conditions]]", "[[tool.fwmon.gate.conditions]]"
)


def _guarded(tmp_path: Path, base: dict[str, Any], head: dict[str, Any], *argv: str) -> str:
    make_repo(tmp_path, {"app.py": "x = 1\n", **base}, head)
    for name, value in head.items():
        if value is None:
            subprocess.run(["git", "rm", "-q", name], cwd=tmp_path, check=True)
    _write(tmp_path, {"report.json": CLEAN})
    code, out = _gate(tmp_path, "report.json", "--base-ref", "main", *argv)
    allowed, _ = _gate(
        tmp_path, "report.json", "--base-ref", "main", *argv, "--allow-policy-change"
    )
    assert code == 1 and allowed == 0, out
    return out


def test_removing_the_gate_table_is_a_weakening(tmp_path: Path) -> None:
    out = _guarded(tmp_path, {"pyproject.toml": PYPROJECT}, {"pyproject.toml": "[project]\n"})
    assert "blocked: policy weakened: condition no-new-high removed" in out


def test_deleting_pyproject_is_a_weakening(tmp_path: Path) -> None:
    out = _guarded(tmp_path, {"pyproject.toml": PYPROJECT}, {"pyproject.toml": None})
    assert "condition no-new-high removed" in out


def test_a_weaker_preset_is_held_against_the_project_policy(tmp_path: Path) -> None:
    out = _guarded(tmp_path, {}, {}, "--policy", "legacy")
    assert "blocked: policy weakened:" in out


def test_a_symlinked_policy_file_is_a_change(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    weak = tmp_path / "elsewhere" / "weak.toml"
    weak.write_text(POLICY_NEW_HIGH.replace("threshold = 0", "threshold = 99"), encoding="utf-8")
    (tmp_path / "r").mkdir()
    make_repo(tmp_path / "r", {"policy.toml": POLICY_NEW_HIGH, "app.py": "x = 1\n"}, {})
    (tmp_path / "r" / "policy.toml").unlink()
    (tmp_path / "r" / "policy.toml").symlink_to(weak)
    _write(tmp_path / "r", {"report.json": CLEAN})
    code, out = _gate(
        tmp_path / "r", "report.json", "--policy", "policy.toml", "--base-ref", "main"
    )
    assert code == 1, out
    assert "policy file policy.toml is a symbolic link; commit the policy as a regular file" in out
    assert "condition no-new-high relaxed from le 0 to le 99" in out


# --- point 5 / acceptance 2: hostile text through every channel of the gate ---------------------

PAYLOADS = [
    "a\nb",
    "x\r\n::set-output name=verdict::pass",
    "::stop-commands::tok",
    "  ::error::forged",
    "##[error]old style",
    "100%0A::warning::y",
    "\x1b[2J\x1b]0;title\x07red\x1b[31m",
    "<script>alert(1)</script><img src=x onerror=alert(1)>",
    "[click](javascript:alert(1)) **bold** `code` | cell |",
    "\u2028sep\x85nel\x00nul",
]
ANNOTATION = re.compile(r"^::(error|warning|notice)( [^:]*)?::")


def _hostile_report() -> dict[str, Any]:
    findings = [
        finding(
            rule=f"R{i}{p[:8]}",
            path=f"src/{p}.py",
            line=i + 1,
            message=p,
            checker=f"bandit{p[:4]}",
            rule_name=p,
            help_url="javascript:alert(1)" if i % 2 else f"https://x.test/{p}",
        )
        for i, p in enumerate(PAYLOADS)
    ]
    return make_report(findings)


def test_hostile_text_escapes_no_channel(tmp_path: Path) -> None:
    write_json(tmp_path / "report.json", _hostile_report())
    policy = POLICY_NEW_HIGH.replace('id = "no-new-high"', 'id = "no-new-high"\ndescription = "d"')
    (tmp_path / "policy.toml").write_text(policy, encoding="utf-8")
    base = baseline_of([])
    base["waivers"] = [
        {"rule": "R0a", "path": p, "reason": p, "owner": p, "expires": "2000-01-01"}
        for p in PAYLOADS
    ]
    write_json(tmp_path / "b.json", base)
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs.txt"
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_WORKSPACE": str(tmp_path),
    }
    code, out = _gate(
        tmp_path,
        "report.json",
        "--policy",
        "policy.toml",
        "--baseline",
        "b.json",
        "--sarif",
        str(tmp_path / "r.sarif"),
        "--result-json",
        str(tmp_path / "r.json"),
        "--markdown",
        str(tmp_path / "r.md"),
        env=env,
    )
    assert code == 1, out
    # stdout/stderr: no control byte, no line a runner would take as a command but ours
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]", out), out
    for line in out.splitlines():
        if line.lstrip().startswith("::"):
            assert ANNOTATION.match(line), line
            head = line.split("::", 2)[1]
            assert "\r" not in line and "%0A::" not in head
        else:
            assert "##[" not in line, line
    assert sum(1 for line in out.splitlines() if ANNOTATION.match(line)) >= len(PAYLOADS)
    # each payload stays inside the line that names it, escaped
    assert "x\\r\\n::set-output name=verdict::pass" in out
    assert not any(
        line.lstrip().startswith(("::set-output", "::stop-commands", "::error::forged"))
        for line in out.splitlines()
    )
    # markdown, step summary: no HTML, no link to a javascript: URL, no control byte
    for path in (tmp_path / "r.md", summary):
        text = path.read_text(encoding="utf-8")
        assert "<script" not in text and "<img" not in text and "](javascript" not in text
        assert "\x1b" not in text and "\x00" not in text
    assert outputs.read_text(encoding="utf-8").startswith("verdict=blocked\n")
    sarif = json.loads((tmp_path / "r.sarif").read_text(encoding="utf-8"))
    for rule in sarif["runs"][0]["tool"]["driver"]["rules"]:
        help_md, help_text = rule["help"]["markdown"], rule["help"]["text"]
        assert "<" not in help_md and "](javascript" not in help_md, help_md
        assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f]", help_text), help_text
        assert rule.get("helpUri", "https://").startswith("https://")
    result = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert {f["message"] for f in result["findings"]["new"]} == set(PAYLOADS)


def test_surrogates_are_refused_before_any_output(tmp_path: Path) -> None:
    text = json.dumps(_hostile_report()).replace("a\\nb", "a\\ud800b", 1)
    (tmp_path / "report.json").write_text(text, encoding="utf-8")
    code, out = _gate(
        tmp_path, "report.json", "--policy", "default", "--sarif", str(tmp_path / "s.sarif")
    )
    assert code == 3 and "lone surrogate" in out
    assert not (tmp_path / "s.sarif").exists()


def test_hostile_text_escapes_no_dashboard_page(tmp_path: Path) -> None:
    """The same payloads in a report, through the dashboard built from it."""
    from html.parser import HTMLParser

    from pytest_fwmon.dashboard.build import build_site
    from pytest_fwmon.dashboard.data import Dashboard, Options
    from pytest_fwmon.dashboard.sources import open_source

    write_json(tmp_path / "report.json", _hostile_report())
    dash = Dashboard(
        open_source(tmp_path, report=tmp_path / "report.json", no_history=True), Options()
    )
    build_site(dash, tmp_path / "site")

    class Tags(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: list[str] = []
            self.links: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.tags.append(tag)
            self.links += [v or "" for k, v in attrs if k in ("href", "src")]

    pages = sorted((tmp_path / "site").rglob("*.html"))
    assert pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "\x1b" not in text and "\x00" not in text, page
        parser = Tags()
        parser.feed(text)
        assert "img" not in parser.tags, page
        assert not any(link.lower().startswith("javascript:") for link in parser.links), page


@pytest.mark.parametrize(
    "text", ["threshold = 1" + "0" * 5000, "x = " + "[" * 5000 + "]" * 5000, "x = '\udcff'"]
)
def test_a_toml_file_tomllib_cannot_convert_is_a_usage_error(tmp_path: Path, text: str) -> None:
    """tomllib raises ValueError (not TOMLDecodeError) for an over-long integer."""
    write_json(tmp_path / "report.json", BLOCKING)
    raw = text.encode("utf-8", "surrogateescape")
    (tmp_path / "policy.toml").write_bytes(raw)
    code, out = _gate(tmp_path, "report.json", "--policy", "policy.toml")
    assert code == 2 and "Traceback" not in out and len(out.splitlines()) == 1, out
    (tmp_path / "pyproject.toml").write_bytes(raw)
    code, out = _gate(tmp_path, "report.json")
    assert code == 2 and "pyproject.toml" in out and len(out.splitlines()) == 1, out


def test_a_threshold_beyond_the_float_range_is_a_usage_error(tmp_path: Path) -> None:
    """math.isfinite raises OverflowError on such an int: it was a traceback."""
    write_json(tmp_path / "report.json", BLOCKING)
    policy = POLICY_NEW_HIGH.replace("threshold = 0", "threshold = 1" + "0" * 400)
    (tmp_path / "policy.toml").write_text(policy, encoding="utf-8")
    code, out = _gate(tmp_path, "report.json", "--policy", "policy.toml")
    assert code == 2 and len(out.splitlines()) == 1, out
    assert "threshold must be a finite number, got 1000000000" in out and len(out) < 300, out


def test_an_integer_beyond_the_float_range_is_refused_in_a_report(tmp_path: Path) -> None:
    """RFC 7493 (I-JSON): numbers a float cannot hold are refused, like 1e400."""
    huge = "1" + "0" * 400
    text = REPORT_TEXT.replace('"line": 5', f'"line": {huge}', 1)
    assert huge in text
    (tmp_path / "report.json").write_text(text, encoding="utf-8")
    (tmp_path / "policy.toml").write_text(POLICY_NEW_HIGH, encoding="utf-8")
    code, out = _gate(tmp_path, "report.json", "--policy", "policy.toml")
    assert code == 3 and "is too large for a float" in out and len(out) < 400, out


def test_numbers_beyond_the_float_range_in_settings_are_usage_errors() -> None:
    from pytest_fwmon.alerts.values import number, parse_duration
    from pytest_fwmon.core.errors import ConfigError
    from pytest_fwmon.perf.settings import PerfSettingsError, _limit, _number

    huge = 10**400
    with pytest.raises(ConfigError, match=r"must be a number, got 1000.*\.\.\.$"):
        number(huge, "threshold")
    with pytest.raises(ConfigError, match="must be a duration >= 0"):
        parse_duration(huge, "for")
    with pytest.raises(PerfSettingsError, match="must be a number"):
        _limit("max_p95", huge, "[tool.fwmon.perf]")
    with pytest.raises(PerfSettingsError, match="must be a whole number"):
        _number("int", huge, "rounds")
