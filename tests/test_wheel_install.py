"""fwmon installed from its real wheel loads as a pytest plugin under ``filterwarnings = error``.

Every other test imports fwmon from the editable install. This one builds the wheel users
install (hatchling, no isolation), installs it without dependencies into a directory that
comes first on the path, and runs ``pytest --fwmon`` in a project whose pytest settings turn
warnings into errors. The install kinds pytest cannot mark for assertion rewriting (tox's own
editable build) are covered by tests/test_plugin_loading.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

PROJECT_PYPROJECT = """\
[project]
name = "wheelcheck"
version = "0.1.0"

[tool.pytest.ini_options]
filterwarnings = ["error"]
"""

MODULE = '''\
"""A module with a docstring."""


def add(a: int, b: int) -> int:
    """Return the sum of ``a`` and ``b``."""
    return a + b
'''

TEST = '''\
"""Tests of wheelcheck."""

from wheelcheck import add


def test_add() -> None:
    """The sum is right."""
    assert add(1, 2) == 3
'''


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, (command, done.stdout[-3000:], done.stderr[-3000:])
    return done.stdout


@pytest.fixture(scope="module")
def wheel_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build fwmon's wheel (hatchling, no isolation) and install it, without deps, in a dir."""
    tmp = tmp_path_factory.mktemp("wheel")
    python = sys.executable
    pip = [python, "-m", "pip", "--disable-pip-version-check", "-q"]
    _run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), str(ROOT)],
        tmp,
    )
    (wheel,) = (tmp / "dist").glob("pytest_fwmon-*.whl")
    site = tmp / "site"
    _run([*pip, "install", "--no-deps", "--no-compile", "--target", str(site), str(wheel)], tmp)
    return site


def test_plugin_from_the_wheel_loads_with_warnings_as_errors(
    wheel_site: Path, tmp_path: Path
) -> None:
    project = tmp_path / "wheelcheck"
    (project / "wheelcheck").mkdir(parents=True)
    (project / "pyproject.toml").write_text(PROJECT_PYPROJECT, encoding="utf-8")
    (project / "wheelcheck" / "__init__.py").write_text(MODULE, encoding="utf-8")
    (project / "tests").mkdir()
    (project / "tests" / "test_add.py").write_text(TEST, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "FWMON_", "COV"))}
    env["PYTHONPATH"] = os.pathsep.join([str(wheel_site), str(project)])
    where = _run(
        [sys.executable, "-c", "import pytest_fwmon; print(pytest_fwmon.__file__)"], project, env
    )
    assert Path(where.strip()).is_relative_to(wheel_site), where
    out = _run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--fwmon",
            "--fwmon-pipelines",
            "docs,security",
            "-q",
        ],
        project,
        env,
    )
    assert "PytestAssertRewriteWarning" not in out
    report = json.loads((project / ".fwmon" / "report.json").read_text(encoding="utf-8"))
    assert (report["tests"]["passed"], report["tests"]["exitstatus"]) == (1, 0)
    checkers = {c["checker"] for c in report["checks"]}
    assert {"bandit", "pydocstyle"} <= checkers, checkers
