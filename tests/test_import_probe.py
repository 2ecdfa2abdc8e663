"""The import probe (``pytest_fwmon/checks/import_probe.py``) run as import-health runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_fwmon.checks import import_probe
from pytest_fwmon.checks.imports import probe_imports

SNAPSHOT = """\
import json, os, sys
with open(os.environ["SNAP_OUT"], "w") as fh:
    json.dump({"modules": sorted(sys.modules), "path0": sys.path[0], "argv": sys.argv}, fh)
"""


def test_a_probed_module_starts_from_the_state_of_python_c(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same modules loaded, same ``sys.path[0]`` and ``sys.argv`` as ``python -c "import m"``.

    The probe adds only faulthandler (its watchdog), as it always has."""
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap" / "__init__.py").write_text(SNAPSHOT, encoding="utf-8")
    monkeypatch.setenv("SNAP_OUT", str(tmp_path / "probe.json"))
    results = probe_imports(["snap"], root=tmp_path, import_roots=[tmp_path])
    assert results["snap"].status == "ok", results["snap"]
    env = dict(os.environ, SNAP_OUT=str(tmp_path / "plain.json"), PYTHONPATH=str(tmp_path))
    env.pop("COVERAGE_PROCESS_START", None)
    subprocess.run([sys.executable, "-c", "import snap"], cwd=tmp_path, env=env, check=True)
    probe = json.loads((tmp_path / "probe.json").read_text(encoding="utf-8"))
    plain = json.loads((tmp_path / "plain.json").read_text(encoding="utf-8"))
    assert set(probe["modules"]) - set(plain["modules"]) == {"faulthandler"}
    assert set(plain["modules"]) - set(probe["modules"]) == set()
    assert (probe["path0"], probe["argv"]) == (plain["path0"], plain["argv"]) == ("", ["-c"])


def test_a_module_beside_the_probe_file_cannot_shadow_the_project(tmp_path: Path) -> None:
    """The probe's own folder (checks/, with coverage.py, bandit.py...) is not on sys.path."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("import base\n", encoding="utf-8")
    assert (Path(import_probe.PROBE_FILE).parent / "base.py").is_file()
    result = probe_imports(["app"], root=tmp_path, import_roots=[tmp_path])["app"]
    assert (result.status, result.missing) == ("error", "base")


def test_messages_with_tabs_newlines_and_backslashes_survive_the_results_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "__init__.py").write_text(
        'raise RuntimeError("a\\tb\\\\c d\\nsecond line")\n', encoding="utf-8"
    )
    result = probe_imports(["bad"], root=tmp_path, import_roots=[tmp_path])["bad"]
    assert result.status == "error"
    assert result.message == "RuntimeError: a\tb\\c d"
    assert (result.file, result.line) == (str(tmp_path / "bad" / "__init__.py"), 1)
    assert "second line" in result.tail
    assert import_probe.PROBE_FILE not in result.tail


def test_the_probe_runs_in_an_interpreter_that_cannot_import_fwmon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The project's interpreter need not have fwmon: the probe is run by file path."""
    base = os.path.realpath(sys.executable)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    check = subprocess.run(
        [base, "-c", "import pytest_fwmon"], cwd=tmp_path, capture_output=True, check=False
    )
    if check.returncode == 0:
        pytest.skip(f"{base} imports pytest_fwmon (not a virtual environment's base interpreter)")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "pkg" / "sub.py").write_text("import pkg.missing_sibling\n", encoding="utf-8")
    results = probe_imports(["pkg", "pkg.sub"], root=tmp_path, import_roots=[tmp_path], python=base)
    assert results["pkg"].status == "ok"
    assert (results["pkg.sub"].status, results["pkg.sub"].missing) == (
        "error",
        "pkg.missing_sibling",
    )


def test_clean_escapes_what_separates_fields_and_lines() -> None:
    assert import_probe.clean("a\tb\nc\rd\\e") == "a\\tb\\nc\\rd\\\\e"
    assert import_probe.clean(12) == "12"
