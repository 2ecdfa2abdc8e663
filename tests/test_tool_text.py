"""Findings carry the tools' own text: bandit's ``more_info`` URL, pydocstyle's printed message;
and ``fwmon check`` (the pre-commit hook) never imports pytest."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data" / "core_project"
BIN = Path(sys.executable).parent

NESTED = '''"""Module docstring."""


class Shape:
    """A shape."""

    def area(self):
        return 0

    class Inner:
        pass


def outer():
    """Outer."""

    def inner():
        """Inner"""

    return inner
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "core_project"
    shutil.copytree(DATA, root)
    (root / "src" / "corepkg" / "nested.py").write_text(NESTED)
    return root


def fwmon_check(root: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest_fwmon.cli", "check", "--json", "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return [f for r in results for f in r["findings"]]


def test_bandit_help_url_is_bandits_more_info(project: Path) -> None:
    done = subprocess.run(
        [str(BIN / "bandit"), "-q", "-r", "src", "-f", "json"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    raw = {
        (r["test_id"], r["line_number"]): r["more_info"] for r in json.loads(done.stdout)["results"]
    }
    ours = {
        (f["rule"], f["line"]): f["help_url"]
        for f in fwmon_check(project)
        if f["checker"] == "bandit"
    }
    assert raw and ours == raw


PRINTED = re.compile(r"^(?P<path>\S+):(?P<line>\d+) in (?P<symbol>.+):\n\s+(?P<message>.+)$", re.M)


def test_pydocstyle_message_is_what_pydocstyle_prints(project: Path) -> None:
    done = subprocess.run(
        [str(BIN / "pydocstyle"), "src"], cwd=project, capture_output=True, text=True, check=False
    )
    raw = {
        (m["path"], int(m["line"]), m["message"], m["symbol"])
        for m in PRINTED.finditer(done.stdout)
    }
    ours = {
        (f["path"], f["line"], f["message"], f["symbol"])
        for f in fwmon_check(project)
        if f["checker"] == "pydocstyle"
    }
    assert any("nested function `inner`" in symbol for *_, symbol in raw)
    assert ours == raw


def test_fwmon_check_does_not_import_pytest(project: Path) -> None:
    program = (
        "import sys\n"
        "from pytest_fwmon.cli import main\n"
        "code = main(['check', '--no-cache', '--pipelines', 'security,docs,quality'])\n"
        "print('PYTEST', 'pytest' in sys.modules or '_pytest' in sys.modules, code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "PYTEST False 1" in done.stdout, done.stdout + done.stderr
