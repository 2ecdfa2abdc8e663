"""The default preset blocks what fails a ``pytest --fwmon`` item at its default threshold.

One real ``pytest --fwmon`` run per pipeline on a small fixture project (tests/data/gate_default)
with one problem added, then ``fwmon gate --policy default`` on its report.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import pytest

from pytest_fwmon.gate import cli
from tests.test_integration_plugin import DATA, fwmon_run

CASES = [
    pytest.param(
        "security,docs,quality",
        "dpkg/calc.py",
        '"""Evaluate."""\n\n\ndef run(text: str) -> object:\n    """Run it."""\n'
        "    return eval(text)\n",
        "dpkg/calc.py::fwmon[bandit]",
        "failed",
        "condition no-new-medium-security failed",
        id="security-B307-eval",
    ),
    pytest.param(
        "security,docs,quality,integration",
        "dpkg/broken.py",
        '"""Fails to import."""\n\nraise RuntimeError("boom")\n',
        "pyproject.toml::fwmon[import-health]",
        "failed",
        "condition integration-pass failed",
        id="integration-INT101",
    ),
    pytest.param(
        "security,docs,quality",
        "dpkg/bad.py",
        "def broken(:\n",
        "dpkg/bad.py::fwmon[bandit]",
        "error",
        "condition no-check-errors failed",
        id="errored-check",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("pipelines", "name", "source", "nodeid", "outcome", "reason"), CASES)
def test_default_gate_blocks_what_the_item_fails(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pipelines: str,
    name: str,
    source: str,
    nodeid: str,
    outcome: str,
    reason: str,
) -> None:
    fixture = tmp_path / "src"
    shutil.copytree(DATA / "gate_default", fixture / "gate_default")
    (fixture / "gate_default" / name).write_text(source, encoding="utf-8")
    monkeypatch.setattr("tests.test_integration_plugin.DATA", fixture)
    done, report = fwmon_run(
        tmp_path, "gate_default", "--fwmon-pipelines", pipelines, "--fwmon-no-coverage"
    )
    checks = {c["nodeid"]: c["outcome"] for c in report["checks"]}
    assert checks[nodeid] == outcome, done.stdout[-3000:]
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    out = io.StringIO()
    root = tmp_path / "gate_default"
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli.main(
            [str(root / ".fwmon" / "report.json"), "--policy", "default", "--root", str(root)]
        )
    assert code == 1, out.getvalue()
    assert any(line.startswith(f"blocked: {reason}") for line in out.getvalue().splitlines()), (
        out.getvalue()
    )
