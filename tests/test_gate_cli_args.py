"""The gate's command line in-process, so mutation testing sees it: options, exits, outputs.

Runs ``pytest_fwmon.gate.cli.main`` and ``pytest_fwmon.cli.main`` in this interpreter (a new
interpreter would load the unmutated package). Pins what a user sees: the help text of each
option, where each output is written, the baseline commands' lines, and the exact one-line
error of each way the gate cannot judge.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import locale
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon import __version__
from pytest_fwmon import cli as fwmon_cli
from pytest_fwmon.gate import cli
from tests.test_gate_support import POLICY_NEW_HIGH, baseline_of, finding, make_report, time_zone

HIGH = finding("B602", "app.py", 5)
LOW = finding("B101", "app.py", 9, severity="low", message="assert used")
TODAY = dt.datetime.now(dt.UTC).date()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder as the working directory, outside GitHub Actions."""
    for name in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("FWMON_MAX_INPUT_MB", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def put(path: Path, data: Any) -> Path:
    """Write JSON (or text) to ``path``, making its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def run(
    argv: list[str], capsys: pytest.CaptureFixture[str], fwmon: bool = False
) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of one in-process run (argparse exits too)."""
    try:
        code = fwmon_cli.main(argv) if fwmon else cli.main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def flat(text: str) -> str:
    """Help text with its wrapping undone."""
    return " ".join(text.split())


# --- the options users read in --help --------------------------------------------------------


def test_version_is_printed_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"], capsys) == (0, f"fwmon {__version__}\n", "")


GATE_HELP = [
    "usage: python -m pytest_fwmon.gate [-h] [--version]",
    "Judge a fwmon report against a policy (standard library only).",
    "report report.json (default: .fwmon/report.json)",
    "--policy FILE|PRESET policy TOML file or preset (default, strict, legacy); default: "
    "[tool.fwmon.gate] of pyproject.toml, else the default preset",
    "[--baseline FILE | --no-baseline]",
    "--baseline FILE baseline JSON (default: fwmon-baseline.json when it exists)",
    "--no-baseline use no baseline at all",
    "--base-ref REF judge scope=diff conditions on lines changed since the merge base with REF, "
    "and guard the policy against weakening",
    "--allow-policy-change accept a policy weaker than at the merge base (a reviewer's decision)",
    "--allow-other-commit judge a report written at another commit than the checked-out HEAD",
    "--sarif PATH write SARIF 2.1.0 here",
    "--result-json PATH write gate-result.json here",
    "--markdown PATH write a PR-comment markdown here",
    "--root ROOT project root: pyproject.toml, baseline, git (default: .)",
    "--max-input-mb MIB refuse a report, policy or baseline larger than this "
    "(default: $FWMON_MAX_INPUT_MB, else 256)",
]


def test_gate_help_names_every_option_with_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    for text in GATE_HELP:
        assert text in flat(out)
    assert GATE_HELP[1] in out.splitlines()
    code, out, _ = run(["gate", "--help"], capsys, fwmon=True)
    assert code == 0
    assert flat(out).startswith("usage: fwmon gate [-h]")
    assert "Judge a fwmon report against a policy and a baseline." in out.splitlines()
    for text in GATE_HELP[2:]:
        assert text in flat(out)


BASELINE_HELP = [
    "report report.json (default: .fwmon/report.json)",
    "--baseline FILE, -o FILE baseline file (default: fwmon-baseline.json)",
    "--root ROOT project root (default: .)",
]


def test_baseline_help_of_each_action(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--help"], capsys, fwmon=True)
    assert code == 0
    assert "gate judge a report against a policy: exit 0 pass, 1 blocked, 2 config, 3 report" in (
        flat(out)
    )
    assert "baseline write or check the baseline of known findings and waivers" in flat(out)
    code, out, _ = run(["baseline", "--help"], capsys, fwmon=True)
    assert code == 0
    assert "usage: fwmon baseline [-h] ACTION ..." in flat(out)
    assert "Write or check the baseline (known findings and waivers)." in out.splitlines()
    assert "write record the report's findings, keeping waivers" in flat(out)
    assert "check list stale entries and expired waivers (exit 1 if any)" in flat(out)
    code, out, _ = run(["baseline", "write", "--help"], capsys, fwmon=True)
    assert code == 0
    assert (
        "usage: fwmon baseline write [-h] [--baseline FILE] [--root ROOT] [--prune] [report]"
        in (flat(out))
    )
    assert "--prune only drop stale entries and waivers; never add a finding" in flat(out)
    for text in BASELINE_HELP:
        assert text in flat(out)
    code, out, _ = run(["baseline", "check", "--help"], capsys, fwmon=True)
    assert code == 0
    assert "usage: fwmon baseline check [-h] [--baseline FILE] [--root ROOT] [report]" in flat(out)
    assert "list stale entries and expired waivers (exit 1 if any)" in flat(out)
    for text in BASELINE_HELP:
        assert text in flat(out)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["baseline"],
            "fwmon: error: the following arguments are required: ACTION "
            "(see `fwmon baseline --help`)",
        ),
        (
            ["baseline", "merge"],
            "fwmon: error: argument ACTION: invalid choice: 'merge' (choose from 'write', 'check') "
            "(see `fwmon baseline --help`)",
        ),
        (
            ["gate", "--baseline", "b.json", "--no-baseline"],
            "fwmon: error: argument --no-baseline: not allowed with argument --baseline "
            "(see `fwmon gate --help`)",
        ),
        (
            ["baseline", "check", "--prune"],
            "fwmon: error: unrecognized arguments: --prune (see `fwmon --help`)",
        ),
        (
            ["gate", "--max-input-mb", "lots"],
            "fwmon: error: argument --max-input-mb: invalid float value: 'lots' "
            "(see `fwmon gate --help`)",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    project: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert run(argv, capsys, fwmon=True) == (2, "", message + "\n")


def test_gate_usage_error_names_the_gate_module(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--baseline", "b.json", "--no-baseline"], capsys) == (
        2,
        "",
        "python -m pytest_fwmon.gate: error: argument --no-baseline: not allowed with argument "
        "--baseline (see `python -m pytest_fwmon.gate --help`)\n",
    )


# --- fwmon baseline write | check -------------------------------------------------------------


def fwmon(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``fwmon ARGV`` in-process."""
    return run(argv, capsys, fwmon=True)


def test_baseline_paths_are_relative_to_root_and_default_to_the_documented_files(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put(project / "sub" / ".fwmon" / "report.json", make_report([dict(HIGH)]))
    code, out, err = fwmon(["baseline", "write", "--root", "sub"], capsys)
    assert (code, err) == (0, "")
    assert out == "fwmon baseline: wrote sub/fwmon-baseline.json: 1 entries, 0 waivers\n"
    written = json.loads((project / "sub" / "fwmon-baseline.json").read_text(encoding="utf-8"))
    assert written["tool"] == f"fwmon {__version__}"
    assert [e["fingerprint"] for e in written["entries"]] == [HIGH["fingerprint"]]
    code, out, _ = fwmon(["baseline", "check", "--root", "sub"], capsys)
    assert code == 0
    assert out.splitlines()[0] == (
        "fwmon baseline: sub/fwmon-baseline.json: 1 findings in 1 entries, 0 waivers; "
        "report: 1 baselined, 0 waived, 0 new"
    )
    # -o names the baseline; absolute paths ignore --root
    report = project / "sub" / ".fwmon" / "report.json"
    wrote = f"fwmon baseline: wrote {project / 'b.json'}: 1 entries, 0 waivers\n"
    argv = [str(report), "--root", "elsewhere", "-o", str(project / "b.json")]
    assert fwmon(["baseline", "write", *argv], capsys) == (0, wrote, "")
    code, out, _ = fwmon(["baseline", "check", *argv], capsys)
    assert (code, out.splitlines()[-1]) == (0, "fwmon baseline: ok")


def test_baseline_commands_exit_2_and_3_with_one_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert fwmon(["baseline", "check"], capsys) == (
        2,
        "",
        "fwmon: error: baseline fwmon-baseline.json not found (write one with "
        "`fwmon baseline write`, or name another with --baseline)\n",
    )
    put(project / "fwmon-baseline.json", baseline_of([]))
    assert fwmon(["baseline", "check"], capsys) == (
        3,
        "",
        "fwmon: error: report .fwmon/report.json not found (run `pytest --fwmon` first, or "
        "pass the right path)\n",
    )
    put(project / "r.json", make_report([]))
    assert fwmon(["baseline", "write", "r.json", "-o", "no.json", "--prune"], capsys) == (
        2,
        "",
        "fwmon: error: --prune needs an existing baseline, and no.json does not exist\n",
    )
    assert not (project / "no.json").exists()


def waiver(days: int, **target: str) -> dict[str, Any]:
    """A waiver expiring ``days`` from today, by fingerprint or by rule and path."""
    expires = (TODAY + dt.timedelta(days=days)).isoformat()
    return {**target, "reason": "r", "owner": "ops", "expires": expires}


def test_baseline_check_lists_each_problem_and_the_waivers_about_to_expire(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = finding("B603", "b.py", 2)
    fourth = finding("B603", "c.py", 2)
    put(project / "r.json", make_report([dict(x) for x in (HIGH, LOW, other, fourth)]))
    document = baseline_of([HIGH])
    document["entries"][0]["count"] = 3
    document["entries"].append({"fingerprint": "f" * 16})  # no rule, path or line
    document["waivers"] = [
        waiver(-1, fingerprint=LOW["fingerprint"]),  # expired, hides one finding
        waiver(-2, rule="B603", path="c.py"),  # expired, hides one (a rule waiver)
        waiver(-3, rule="B999", path="app.py"),  # expired, hides nothing
        waiver(0, rule="B604", path="app.py"),  # stale, expires today
        waiver(14, rule="B605", path="app.py"),  # stale, expires at the window's edge
        waiver(15, fingerprint=other["fingerprint"]),  # hides `other`, outside the window
    ]
    put(project / "b.json", document)
    code, out, err = fwmon(["baseline", "check", "r.json", "-o", "b.json"], capsys)
    assert (code, err) == (1, "")
    day = {n: (TODAY + dt.timedelta(days=n)).isoformat() for n in (-3, -2, -1, 0, 14)}
    assert out.splitlines() == [
        "fwmon baseline: b.json: 4 findings in 2 entries, 6 waivers; "
        "report: 1 baselined, 1 waived, 2 new",
        f"stale: entry {HIGH['fingerprint']} (B602 app.py:5) matches nothing (2 unused)",
        f"stale: entry {'f' * 16} (? ?:?) matches nothing",
        "stale: waiver 3 (B604 in app.py, owner ops) matches nothing",
        "stale: waiver 4 (B605 in app.py, owner ops) matches nothing",
        f"expired: waiver 0 (fingerprint {LOW['fingerprint']}, owner ops) expired on {day[-1]} "
        "(1 finding no longer hidden)",
        f"expired: waiver 1 (B603 in c.py, owner ops) expired on {day[-2]} "
        "(1 finding no longer hidden)",
        f"expired: waiver 2 (B999 in app.py, owner ops) expired on {day[-3]} "
        "(0 findings no longer hidden)",
        f"expiring: waiver 3 (B604 in app.py, owner ops) expires on {day[0]}",
        f"expiring: waiver 4 (B605 in app.py, owner ops) expires on {day[14]}",
        "fwmon baseline: 7 problems; drop stale items with `fwmon baseline write --prune`, "
        "renew or remove expired waivers",
    ]


def test_baseline_write_prune_drops_stale_waivers_and_keeps_live_ones(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = finding("B101", "gone.py", 3, severity="low")
    put(project / "r.json", make_report([dict(HIGH), dict(LOW)]))
    document = baseline_of([HIGH, gone])
    document["waivers"] = [
        waiver(30, rule="B999", path="app.py"),  # stale
        waiver(30, fingerprint=LOW["fingerprint"]),  # live
        waiver(-1, rule="B998", path="app.py"),  # expired, kept for a person to renew
    ]
    put(project / "b.json", document)
    code, out, _ = fwmon(["baseline", "write", "r.json", "-o", "b.json"], capsys)
    assert out == "fwmon baseline: wrote b.json: 1 entries, 3 waivers\n"  # no waiver dropped
    put(project / "b.json", document)
    put(project / "r.json", make_report([dict(LOW), dict(finding("B607", "new.py", 1))]))
    code, out, _ = fwmon(["baseline", "write", "r.json", "-o", "b.json", "--prune"], capsys)
    assert code == 0
    assert out == (
        "fwmon baseline: wrote b.json: 0 entries, 2 waivers; dropped 3 stale; "
        "1 new findings not added (--prune)\n"
    )
    written = json.loads((project / "b.json").read_text(encoding="utf-8"))
    assert [w.get("rule", w.get("fingerprint")) for w in written["waivers"]] == [
        LOW["fingerprint"],
        "B998",
    ]
    code, out, _ = fwmon(["baseline", "write", "r.json", "-o", "b.json", "--prune"], capsys)
    assert out == (
        "fwmon baseline: wrote b.json: 0 entries, 2 waivers; dropped 0 stale; "
        "1 new findings not added (--prune)\n"
    )


@pytest.fixture
def far_timezone() -> Iterator[int]:
    """A local time zone whose date is not UTC's now; yields local minus UTC date in days."""
    zone = "Etc/GMT-14" if dt.datetime.now(dt.UTC).hour >= 10 else "Etc/GMT+12"
    with time_zone(zone):
        yield (dt.datetime.now().date() - dt.datetime.now(dt.UTC).date()).days


def test_baseline_dates_are_utc_whatever_the_local_time_zone(
    project: Path, capsys: pytest.CaptureFixture[str], far_timezone: int
) -> None:
    assert far_timezone != 0
    utc_today = dt.datetime.now(dt.UTC).date()
    # expires on the one of the two dates that is earlier: expired by the later date only
    expires = utc_today if far_timezone > 0 else utc_today - dt.timedelta(days=1)
    w = {"fingerprint": HIGH["fingerprint"], "reason": "r", "owner": "o", "expires": str(expires)}
    put(project / "r.json", make_report([dict(HIGH)]))
    put(project / "b.json", baseline_of([], [w]))
    code, out, _ = fwmon(["baseline", "check", "r.json", "-o", "b.json"], capsys)
    assert code == (1 if far_timezone < 0 else 0), out
    assert fwmon(["baseline", "write", "r.json", "-o", "b.json"], capsys)[0] == 0
    generated = json.loads((project / "b.json").read_text(encoding="utf-8"))["generated"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", generated)
    stamp = dt.datetime.strptime(generated, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert abs(stamp - dt.datetime.now(dt.UTC)) < dt.timedelta(hours=1)


# --- fwmon gate: where each output goes --------------------------------------------------------

ODD_TEXT = "naïve quote \u2019"
ODD = finding("B603", "app.py", 7, message=ODD_TEXT)


def gate_project(root: Path) -> None:
    """A blocking report (one non-ASCII message) and the one-condition policy under ``root``."""
    put(root / "report.json", make_report([dict(HIGH), dict(ODD), dict(LOW)]))
    put(root / "policy.toml", POLICY_NEW_HIGH)


def sarif_uris(path: Path) -> set[str]:
    """The file of each result in a SARIF 2.1.0 log."""
    log = json.loads(path.read_text(encoding="utf-8"))
    assert log["version"] == "2.1.0"
    return {
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for run_ in log["runs"]
        for result in run_["results"]
    }


@pytest.fixture
def umask_022() -> Iterator[None]:
    """Run with the usual umask, 022."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_outputs_are_written_where_asked_beside_their_target(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    umask_022: None,
) -> None:
    gate_project(project)
    # the temp file of each atomic write is made beside its target (os.replace must not
    # cross file systems), never in the system's temp folder
    monkeypatch.setattr(tempfile, "tempdir", str(project / "no-such-temp-folder"))
    monkeypatch.setenv("GITHUB_WORKSPACE", str(project.parent))  # no prefix outside Actions
    argv = ["report.json", "--policy", "policy.toml", "--sarif", "out/deep/g.sarif"]
    argv += ["--result-json", "out/deep/r.json", "--markdown", "out/c.md"]
    code, out, err = run(argv, capsys)
    assert (code, err) == (1, "")
    assert out.startswith("fwmon gate: BLOCKED\n")
    assert sorted(p.name for p in (project / "out").rglob("*")) == [
        "c.md",
        "deep",
        "g.sarif",
        "r.json",
    ]
    for name in ("out/deep/g.sarif", "out/deep/r.json", "out/c.md"):
        assert (project / name).stat().st_mode & 0o777 == 0o644, name
    text = (project / "out/deep/r.json").read_text(encoding="utf-8")
    result = json.loads(text)
    # one line, keys sorted, text as is: a reviewable, greppable file
    assert text == json.dumps(result, sort_keys=True, ensure_ascii=False) + "\n"
    assert ODD_TEXT in text
    assert (result["verdict"], result["exit_code"]) == ("blocked", 1)
    assert sarif_uris(project / "out/deep/g.sarif") == {"app.py"}
    markdown = (project / "out/c.md").read_text(encoding="utf-8")
    assert markdown.startswith("<!-- fwmon-gate -->\n## fwmon gate: ❌ blocked\n")
    assert ODD_TEXT in markdown


def test_the_gate_reads_the_default_report_under_the_root(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put(project / "sub" / ".fwmon" / "report.json", make_report([dict(LOW)]))
    put(project / "sub" / "policy.toml", POLICY_NEW_HIGH)
    code, out, err = run(["--root", "sub", "--policy", "policy.toml"], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines()[:2] == [
        "fwmon gate: PASS",
        "report: .fwmon/report.json   policy: policy.toml   baseline: none",
    ]


@pytest.fixture
def ascii_locale() -> Iterator[None]:
    """A locale whose encoding is ASCII, as ``open()`` without an encoding would use."""
    old = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        yield
    finally:
        locale.setlocale(locale.LC_CTYPE, old)


@pytest.mark.skipif(bool(sys.flags.utf8_mode), reason="UTF-8 mode ignores the locale")
def test_outputs_are_utf8_whatever_the_locale(
    project: Path, capsys: pytest.CaptureFixture[str], ascii_locale: None
) -> None:
    gate_project(project)
    argv = ["report.json", "--policy", "policy.toml", "--sarif", "g.sarif"]
    assert run([*argv, "--result-json", "r.json", "--markdown", "c.md"], capsys)[0] == 1
    assert fwmon(["baseline", "write", "report.json", "-o", "b.json"], capsys)[0] == 0
    for name in ("g.sarif", "r.json", "c.md", "b.json"):
        assert ODD_TEXT in (project / name).read_bytes().decode("utf-8"), name


@pytest.mark.parametrize(
    ("option", "writer"),
    [("--result-json", "the gate result"), ("--sarif", "SARIF"), ("--markdown", "markdown")],
)
def test_an_output_that_cannot_be_written_is_exit_2_with_one_line(
    project: Path, capsys: pytest.CaptureFixture[str], option: str, writer: str
) -> None:
    gate_project(project)
    argv = ["report.json", "--policy", "policy.toml", option]
    code, _, err = run([*argv, "report.json/x"], capsys)
    assert (code, err) == (
        2,
        f"fwmon: error: cannot write {writer} to report.json/x: File exists\n",
    )
    (project / "taken").mkdir()
    code, _, err = run([*argv, "taken"], capsys)
    assert (code, err) == (2, f"fwmon: error: cannot write {writer} to taken: Is a directory\n")
    assert sorted(p.name for p in project.iterdir()) == ["policy.toml", "report.json", "taken"]


def test_an_unwritable_baseline_is_exit_2_with_one_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put(project / "r.json", make_report([dict(HIGH)]))
    assert fwmon(["baseline", "write", "r.json", "-o", "r.json/b.json"], capsys) == (
        2,
        "",
        "fwmon: error: cannot write the baseline to r.json/b.json: File exists\n",
    )


def test_a_terminal_that_cannot_show_a_message_gets_escapes_not_a_crash(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate_project(project)
    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="ascii"))
    assert cli.main(["report.json", "--policy", "policy.toml"]) == 1
    # the gate flushed its summary itself; nothing was left in the text buffer
    shown = raw.getvalue().decode("ascii")
    assert shown.startswith("fwmon gate: BLOCKED\n")
    assert "na\\xefve quote \\u2019" in shown


def actions_env(monkeypatch: pytest.MonkeyPatch, root: Path) -> dict[str, str]:
    """Set the variables GitHub Actions sets; return them."""
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(root),
        "GITHUB_OUTPUT": str(root / "gh-output"),
        "GITHUB_STEP_SUMMARY": str(root / "gh-summary.md"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_in_actions_paths_are_relative_to_the_workspace_not_the_root(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    gate_project(project / "sub")
    actions_env(monkeypatch, project)
    argv = ["report.json", "--root", "sub", "--policy", "policy.toml", "--sarif", "g.sarif"]
    code, out, err = run(argv, capsys)
    assert (code, err) == (1, "")
    assert "::error file=sub/app.py,line=5," in out
    assert sarif_uris(project / "g.sarif") == {"sub/app.py"}
    assert "verdict=blocked\n" in (project / "gh-output").read_text(encoding="utf-8")
    summary = (project / "gh-summary.md").read_text(encoding="utf-8")
    assert summary.startswith("<!-- fwmon-gate -->\n## fwmon gate: ❌ blocked\n")


def test_write_outputs_reads_the_environment_it_is_given(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_fwmon.gate.evaluate import run_gate

    gate_project(project / "sub")
    result = run_gate(project / "sub/report.json", str(project / "sub/policy.toml"), None)
    env = {"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(project)}
    env["GITHUB_OUTPUT"] = str(project / "gh-output")
    monkeypatch.chdir(project / "sub")  # no root: the working directory is the project
    cli.write_outputs(result, sarif=str(project / "g.sarif"), environ=env)
    assert "::error file=sub/app.py,line=5," in capsys.readouterr().out
    assert "verdict=blocked\n" in (project / "gh-output").read_text(encoding="utf-8")
    assert sarif_uris(project / "g.sarif") == {"sub/app.py"}


def test_in_actions_a_gate_that_cannot_judge_says_so_in_an_annotation_and_an_output(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    actions_env(monkeypatch, project)
    put(project / "policy.toml", POLICY_NEW_HIGH)
    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="utf-8"))
    assert cli.main(["report.json", "--policy", "policy.toml"]) == 3
    why = "report report.json not found (run `pytest --fwmon` first, or pass the right path)"
    assert raw.getvalue().decode() == f"::error title=fwmon gate::{why}\n"
    assert capsys.readouterr().err == f"fwmon: error: {why}\n"
    assert (project / "gh-output").read_text(encoding="utf-8") == "verdict=error\n"


def test_a_report_of_another_commit_is_judged_only_when_allowed(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.test_gate_cli import git

    gate_project(project)
    git(project, "init", "-q", "-b", "main")
    git(project, "commit", "-q", "--allow-empty", "-m", "c")
    head = git(project, "rev-parse", "HEAD").strip()
    code, _, err = run(["report.json", "--policy", "policy.toml"], capsys)
    assert code == 3
    assert err == (
        f"fwmon: error: report report.json was written at commit {'0' * 12}, but . is at "
        f"{head[:12]}: it is not this commit's report (re-run `pytest --fwmon` at this commit, "
        "or pass --allow-other-commit to judge it anyway)\n"
    )
    code, out, err = run(["report.json", "--policy", "policy.toml", "--allow-other-commit"], capsys)
    assert (code, err) == (1, "")
    assert "judged anyway (--allow-other-commit)" in out
