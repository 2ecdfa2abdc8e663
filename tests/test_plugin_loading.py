"""fwmon's plugin modules load in any order under ``-W error``, however fwmon is installed.

pytest marks an installed plugin's package for assertion rewriting when it can tell which
package that is: from a wheel's file list, or from the entry point of an install it knows is
editable. tox installs its own editable build as a plain wheel, so neither applies, and a
plugin module that another fwmon module imported before pytest registered it raised
PytestAssertRewriteWarning, an error under ``filterwarnings = error`` (``tox -e gate`` failed
this way). With plugin autoloading off nothing is marked either, so these runs reproduce it in
any environment.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pytest_fwmon

DATA = Path(__file__).parent / "data" / "quality_cov"
PACKAGE = Path(pytest_fwmon.__file__).parent

#: Third-party plugins fwmon's options need, loaded explicitly since autoloading is off.
OTHERS = ["-p", "pytest_benchmark.plugin", "-p", "pytest_rerunfailures"]


def _registered_plugin_modules() -> set[str]:
    """The entry point's module and every module named in a ``pytest_plugins`` list of fwmon."""
    (entry,) = [
        ep
        for ep in importlib.metadata.entry_points(group="pytest11")
        if ep.value.startswith("pytest_fwmon")
    ]
    names = {entry.value.partition(":")[0]}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "pytest_plugins" for t in node.targets
            ):
                names |= {e.value for e in ast.walk(node.value) if isinstance(e, ast.Constant)}
    return names


def test_every_registered_plugin_module_opts_out_of_rewriting() -> None:
    names = _registered_plugin_modules()
    assert {"pytest_fwmon.plugin", "pytest_fwmon.plugin.shard"} <= names
    missing = []
    for name in sorted(names):
        relative = Path(*name.split(".")[1:])
        path = PACKAGE / relative / "__init__.py"
        if not path.is_file():
            path = PACKAGE / relative.with_suffix(".py")
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if "PYTEST_DONT_REWRITE" not in doc:
            missing.append(name)
    assert missing == []


@pytest.mark.parametrize(
    "order",
    [
        pytest.param(["pytest_fwmon.plugin.quality", "pytest_fwmon.plugin"], id="quality-first"),
        pytest.param(["pytest_fwmon.plugin.perf", "pytest_fwmon.plugin"], id="perf-first"),
        pytest.param(["pytest_fwmon.plugin.resources", "pytest_fwmon.plugin"], id="resources"),
        pytest.param(["pytest_fwmon.plugin.shard", "pytest_fwmon.plugin"], id="shard-first"),
        pytest.param(["pytest_fwmon.plugin"], id="plugin-only"),
    ],
)
def test_plugin_loads_unmarked_in_any_order_with_warnings_as_errors(
    tmp_path: Path, order: list[str]
) -> None:
    project = tmp_path / "covproj"
    shutil.copytree(DATA, project, ignore=shutil.ignore_patterns("__pycache__", ".fwmon"))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "COV_CORE", "COVERAGE", "FWMON_"))
    }
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    plugins = [arg for name in order for arg in ("-p", name)]
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *plugins, *OTHERS]
    command += ["--fwmon", "--fwmon-pipelines", "quality", "-W", "error", "-q"]
    done = subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    output = done.stdout + done.stderr
    assert "PytestAssertRewriteWarning" not in output
    assert done.returncode == 0, output[-3000:]
    assert (project / ".fwmon" / "report.json").is_file()
