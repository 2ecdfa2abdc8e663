"""The secrets checker on the planted corpus: files, findings, pragma, baselines, gate, cache."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_fwmon.checks.base import SourceFile
from pytest_fwmon.checks.redact import redact_message
from pytest_fwmon.checks.registry import file_checkers
from pytest_fwmon.checks.runner import StaticRunner
from pytest_fwmon.checks.secrets import SecretsChecker
from pytest_fwmon.core.cache import ResultCache
from pytest_fwmon.core.config import load_config
from pytest_fwmon.core.errors import ConfigError
from pytest_fwmon.core.files import decode_source
from pytest_fwmon.gate.baseline import load_baseline

CORPUS = Path(__file__).parent / "data" / "secrets_corpus"
BIN = Path(sys.executable).parent


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


def runner_for(root: Path, *, cache: bool = False) -> StaticRunner:
    config = load_config(root)
    checkers = file_checkers(config, ["security"])
    return StaticRunner(config, checkers, [], ResultCache(root / ".fwmon/cache", cache), 1)


def found(runner: StaticRunner) -> dict[str, list[tuple[int, str, str]]]:
    index = [i.checker.name for i in runner.checkers].index("secrets")
    result: dict[str, list[tuple[int, str, str]]] = {}
    for rel in runner.files:
        if index in runner.checkers_for(rel):
            check = runner.file_result(index, rel, f"{rel}::fwmon[secrets]")
            assert check.outcome == "passed", check.reason
            result[rel] = [(f.line, f.rule, f.severity) for f in check.findings]
    return result


def source(path: Path, rel: str) -> SourceFile:
    data = path.read_bytes()
    return SourceFile(path, rel, decode_source(data), data)


def test_files_follow_paths_and_exclude_plus_the_root(corpus: Path) -> None:
    runner = runner_for(corpus)
    secrets = {rel for rel in runner.files if runner.checkers_for(rel)}
    assert set(runner.files) == secrets
    assert secrets == {
        ".env",
        ".env.production",
        "Dockerfile",
        "deploy/app.ini",
        "deploy/config.yaml",
        "deploy/explore.ipynb",
        "deploy/key.toml",
        "deploy/service.json",
        "deploy/values.yml",
        "pkg/__init__.py",
        "pkg/settings.py",
        "pyproject.toml",
        "setup.cfg",
    }
    # bandit stays on Python; README.md is no configuration file
    bandit = [i.checker.name for i in runner.checkers].index("bandit")
    assert {rel for rel in runner.files if bandit in runner.checkers_for(rel)} == {
        "pkg/__init__.py",
        "pkg/settings.py",
    }
    text = (corpus / "pyproject.toml").read_text()
    (corpus / "pyproject.toml").write_text(
        text.replace('paths = ["pkg", "deploy"]', 'paths = ["pkg", "deploy"]\nexclude = ["*.yml"]')
    )
    assert "deploy/values.yml" not in runner_for(corpus).files


def test_findings_types_severities_and_pragma(corpus: Path) -> None:
    result = found(runner_for(corpus))
    assert result["pkg/settings.py"] == [
        (3, "AWS Access Key", "high"),
        (4, "Secret Keyword", "medium"),
    ]  # line 5 has the allowlist pragma
    assert result["deploy/key.toml"] == [(3, "Private Key", "high")]
    assert result["deploy/explore.ipynb"] == [(10, "AWS Access Key", "high")]
    assert (1, "GitHub Token", "high") in result[".env"]
    assert (5, "Stripe Access Key", "high") in result["pyproject.toml"]
    assert result["pkg/__init__.py"] == []


def test_settings_changed_by_other_code_are_set_up_again(corpus: Path) -> None:
    from detect_secrets.settings import cache_bust, get_settings

    assert found(runner_for(corpus))["pkg/settings.py"]
    # what detect-secrets' own baseline loading does to its global settings
    get_settings().clear()
    cache_bust()
    assert found(runner_for(corpus))["pkg/settings.py"] == [
        (3, "AWS Access Key", "high"),
        (4, "Secret Keyword", "medium"),
    ]


def test_fingerprint_from_the_hashed_secret_not_the_line(tmp_path: Path) -> None:
    checker = SecretsChecker(tmp_path)
    path = tmp_path / "a.env"

    def fingerprints(text: str) -> list[str]:
        from pytest_fwmon.core.model import assign_fingerprints

        path.write_text(text)
        src = source(path, "a.env")
        findings = checker.check(src).findings
        assign_fingerprints(findings, src.lines)
        return [f.fingerprint for f in findings]

    first = fingerprints("KEY=AKIAFWMONFAKEKEY0007\n")
    # same secret, other line text and position: same fingerprint
    assert fingerprints("# moved\n\nexport   KEY=AKIAFWMONFAKEKEY0007  \n") == first
    assert fingerprints("KEY=AKIAFWMONFAKEKEY0008\n") != first


def test_secrets_baseline_is_honoured(corpus: Path) -> None:
    scan = subprocess.run(
        [str(BIN / "detect-secrets"), "scan", "--all-files", "--no-verify", "pkg"],
        cwd=corpus,
        capture_output=True,
        text=True,
        check=True,
    )
    (corpus / ".secrets.baseline").write_text(scan.stdout)
    result = found(runner_for(corpus))
    assert result["pkg/settings.py"] == []  # both known to the baseline
    assert result["deploy/key.toml"] == [(3, "Private Key", "high")]  # not in it
    assert ".secrets.baseline" not in result
    (corpus / ".secrets.baseline").write_text("{not json")
    runner = runner_for(corpus)
    index = [i.checker.name for i in runner.checkers].index("secrets")
    check = runner.file_result(index, ".env", ".env::fwmon[secrets]")
    assert check.outcome == "error"
    assert check.reason == (
        "secrets: .secrets.baseline is not a readable detect-secrets baseline (JSONDecodeError); "
        "fix it or remove it"
    )


def test_off_by_configuration(corpus: Path) -> None:
    text = (corpus / "pyproject.toml").read_text()
    (corpus / "pyproject.toml").write_text(text + "\n[tool.fwmon.security]\nsecrets = false\n")
    runner = runner_for(corpus)
    assert [i.checker.name for i in runner.checkers] == ["bandit"]
    assert set(runner.files) == {"pkg/__init__.py", "pkg/settings.py"}


@pytest.mark.parametrize(
    ("rule", "message", "expected"),
    [
        pytest.param(
            "B105",
            "Possible hardcoded password: 'Zq8w: x'",
            "Possible hardcoded password: <redacted>",
            id="B105",
        ),
        pytest.param(
            "B107",
            "Possible hardcoded password: 'a'",
            "Possible hardcoded password: <redacted>",
            id="B107",
        ),
        pytest.param("B106", "no colon here", "<redacted>", id="B106-no-colon"),
        pytest.param("B602", "call with shell=True: 'x'", "call with shell=True: 'x'", id="B602"),
    ],
)
def test_redact_message(rule: str, message: str, expected: str) -> None:
    assert redact_message(rule, message) == expected


def test_bandit_messages_are_redacted(corpus: Path) -> None:
    runner = runner_for(corpus)
    index = [i.checker.name for i in runner.checkers].index("bandit")
    check = runner.file_result(index, "pkg/settings.py", "x")
    messages = {f.rule: f.message for f in check.findings}
    assert messages["B105"] == "Possible hardcoded password: <redacted>"
    assert messages["B107"] == "Possible hardcoded password: <redacted>"


def test_waiver_of_a_secret_needs_reason_and_expiry(tmp_path: Path) -> None:
    path = tmp_path / "fwmon-baseline.json"
    waiver = {"rule": "AWS Access Key", "path": "pkg/settings.py", "owner": "ops"}
    path.write_text(json.dumps({"schema_version": 1, "entries": [], "waivers": [waiver]}))
    with pytest.raises(ConfigError, match="missing 'reason'"):
        load_baseline(path)
    path.write_text(
        json.dumps(
            {"schema_version": 1, "entries": [], "waivers": [dict(waiver, reason="rotating")]}
        )
    )
    with pytest.raises(ConfigError, match="missing 'expires'"):
        load_baseline(path)


@pytest.mark.slow
def test_gate_default_blocks_a_new_high_secret_and_items_replay(
    pytester: pytest.Pytester,
) -> None:
    shutil.copytree(CORPUS, pytester.path, dirs_exist_ok=True)
    args = ["--fwmon", "--fwmon-pipelines", "security,docs,quality", "-p", "no:cacheprovider"]
    result = pytester.runpytest_subprocess(*args, "-n", "2")
    result.stdout.fnmatch_lines(["FAILED pkg/settings.py::fwmon[[]secrets] - *"])
    report = json.loads((pytester.path / ".fwmon/report.json").read_text())
    secrets = [c for c in report["checks"] if c["checker"] == "secrets"]
    assert len(secrets) == 13 and not any(c["cached"] for c in secrets)
    again = pytester.runpytest_subprocess(*args)
    assert again.ret == 1
    replayed = json.loads((pytester.path / ".fwmon/report.json").read_text())
    assert all(c["cached"] for c in replayed["checks"] if c["checker"] == "secrets")
    from pytest_fwmon.cli import main

    gate = pytester.path / ".fwmon/report.json"
    argv = ["gate", str(gate), "--policy", "default", "--root", str(pytester.path)]
    assert main(argv) == 1
    text = pytester.path / "gate.json"
    assert main([*argv, "--result-json", str(text)]) == 1
    blocking = json.loads(text.read_text())
    assert "no-new-high-security" in json.dumps(blocking)
