"""No planted secret leaves the checkers: not a value, not any 8-character piece of one.

The corpus (tests/data/secrets_corpus) holds fake secrets in every file type the secrets
checker covers, and a hardcoded password bandit reports (B105/B107). After ``pytest --fwmon``
(under ``-n 2``), the gate with every output (SARIF, gate-result.json, markdown, GitHub
annotations, step summary and outputs), ``fwmon dashboard build``, a history import and an
alert delivery to a receiver on 127.0.0.1, every file written and every byte printed is searched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_fwmon.cli import main
from tests.test_alerts_support import HttpReceiver

CORPUS = Path(__file__).parent / "data" / "secrets_corpus"
ROOT = Path(__file__).resolve().parent.parent

#: The planted values, one per line of the corpus that holds one. For the private key the
#: secret is the key's body (its BEGIN/END lines are the same in every key).
PLANTED = (
    "AKIAFWMONFAKEKEY0001",
    "Zq8wFwmonPlantedXk3v",
    "Hq2rFwmonDefaultYu7p",
    "ghp_FwmonFakeGithubToken9x8c7v6b5n4m3l2k",
    "xoxb-4242424242-FwmonFakeSlackTok3n",
    "AKIAFWMONFAKEKEY0002",
    "Wd5tFwmonYamlSecretQ9z",
    "AKIAFWMONFAKEKEY0003",
    "Rm4nFwmonIniSecretB7c",
    "AKIAFWMONFAKEKEY0004",
    "ghp_FwmonFakeJsonToken1a2b3c4d5e6f7g8h9j",
    "AKIAFWMONFAKEKEY0005",
    "AKIAFWMONFAKEKEY0006",
    "ghp_FwmonFakeDockerTok3n0p9o8i7u6y5t4r3w",
    "MIIFwmonFAKEPRIVATEKEYBODYnotarealkey0123456789abcdefQWERTYasdfgh",
    "sk_live_FwmonFake4eC39HqLyjWDarjtT1zdp7dc",
)

PIECE = 8


def pieces() -> set[str]:
    """Every 8-character substring of every planted value."""
    return {v[i : i + PIECE] for v in PLANTED for i in range(len(v) - PIECE + 1)}


def leaked(text: str, wanted: set[str]) -> list[str]:
    return sorted(piece for piece in wanted if piece in text)


ALERTS = """
[tool.fwmon.alerts]
disable_builtin = ["SloBurnRate", "BenchmarkP95ChangePoint"]
backoff = 0.01
delivery_timeout = 10

[tool.fwmon.alerts.channels.hook]
type = "webhook"
url_env = "FWMON_HOOK_URL"

[tool.fwmon.alerts.routes]
critical = ["hook"]
high = ["hook"]
medium = ["hook"]
"""


def _environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "FWMON_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return env


def test_corpus_covers_every_file_type() -> None:
    names = {p.name for p in CORPUS.rglob("*") if p.is_file()}
    suffixes = {Path(n).suffix for n in names}
    assert {".env", ".env.production", "Dockerfile", "setup.cfg", "pyproject.toml"} <= names
    assert {".py", ".yaml", ".yml", ".ini", ".json", ".ipynb", ".toml"} <= suffixes
    text = "".join(p.read_text() for p in CORPUS.rglob("*") if p.is_file())
    assert all(value in text for value in PLANTED)


@pytest.mark.slow
def test_no_planted_secret_in_any_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "project"
    shutil.copytree(CORPUS, project)
    with (project / "pyproject.toml").open("a") as file:
        file.write(ALERTS)
    inputs = {p.relative_to(project) for p in project.rglob("*") if p.is_file()}
    env = _environment(tmp_path)
    command = [sys.executable, "-m", "pytest", "-p", "pytest_fwmon.plugin", "-p", "xdist.plugin"]
    command += ["-n", "2", "--fwmon", "--fwmon-pipelines", "security,docs,quality"]
    command += ["-p", "no:cacheprovider", "-rA", "-l", "--tb=long"]
    run = subprocess.run(
        command,
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    printed = [run.stdout, run.stderr]
    report = json.loads((project / ".fwmon/report.json").read_text())
    secrets = [f for c in report["checks"] if c["checker"] == "secrets" for f in c["findings"]]
    bandit = [f for c in report["checks"] if c["checker"] == "bandit" for f in c["findings"]]
    # the checkers did see them (so the search below is not vacuous)
    assert {f["rule"] for f in secrets} >= {"AWS Access Key", "GitHub Token", "Private Key"}
    assert {f["rule"] for f in bandit} >= {"B105", "B107"}
    assert all(f["cwe"] == 798 for f in secrets)

    monkeypatch.chdir(project)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "step-summary.md"))
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "github-output.txt"))
    gate = [
        "gate",
        ".fwmon/report.json",
        "--policy",
        "default",
        "--sarif",
        "out/fwmon.sarif",
        "--result-json",
        "out/gate-result.json",
        "--markdown",
        "out/comment.md",
    ]
    assert main(gate) == 1  # the default preset blocks the new high-severity secrets
    monkeypatch.delenv("GITHUB_ACTIONS")
    assert main(["dashboard", "build", "-o", "site", "--gate-result", "out/gate-result.json"]) == 0
    assert main(["history", "import", "--store", "imported.db", ".fwmon/report.json"]) == 0
    with HttpReceiver() as http:
        monkeypatch.setenv("FWMON_HOOK_URL", http.url("/hook"))
        assert main(["alerts", "evaluate", "--report", ".fwmon/report.json"]) == 0
        received = [r.body.decode() for r in http.requests]
    assert received, "no alert was delivered"
    captured = capsys.readouterr()
    printed += [captured.out, captured.err]
    written = {
        str(p.relative_to(project)): p.read_bytes().decode("utf-8", "replace")
        for p in project.rglob("*")
        if p.is_file() and p.relative_to(project) not in inputs
    }
    written.update(
        {p.name: p.read_text() for p in tmp_path.iterdir() if p.is_file()}  # GitHub files
    )
    assert "out/fwmon.sarif" in written and any(n.startswith("site/") for n in written)
    assert ".fwmon/history.db" in written and "imported.db" in written
    wanted = pieces()
    found = {
        "printed": [leaked(text, wanted) for text in printed if leaked(text, wanted)],
        "files": {
            name: leaked(text, wanted) for name, text in written.items() if leaked(text, wanted)
        },
        "alerts": [leaked(body, wanted) for body in received if leaked(body, wanted)],
    }
    assert found == {"printed": [], "files": {}, "alerts": []}
