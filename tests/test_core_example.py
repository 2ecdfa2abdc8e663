"""The README's main job: ``fwmon example`` end to end in a fresh folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reportcheck import read_report


@pytest.mark.slow
def test_fwmon_example_runs_the_main_job(tmp_path: Path) -> None:
    target = tmp_path / "example"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_fwmon.cli", "example", "--dir", str(target)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = read_report(target / ".fwmon/report.json")
    assert report["tests"]["failed"] == 0 and report["tests"]["passed"] >= 3
    assert report["pipelines"]["security"]["status"] == "fail"
    gate = json.loads((target / ".fwmon/gate-result.json").read_text())
    assert gate["verdict"] == "blocked"
    assert (gate["counts"]["new"], gate["counts"]["baselined"]) == (1, 3)
    assert [f["rule"] for f in gate["findings"]["new"]] == ["B602"]
    assert "B301" in {f["rule"] for f in gate["findings"]["baselined"]}
    site = target / ".fwmon/site/index.html"
    assert site.exists()
    assert f"dashboard          : {site}" in proc.stdout
    assert "gate verdict       : blocked (exit 1)" in proc.stdout


def test_fwmon_example_refuses_to_replace_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_fwmon.cli", "example", "--dir", "mine"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"fwmon: error: {tmp_path / 'mine'} exists and is not an earlier fwmon example "
        "(choose another folder with --dir)"
    )
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


@pytest.mark.slow
def test_the_example_runs_with_plain_pytest_and_measures_only_its_package(tmp_path: Path) -> None:
    """In the copied example, ``pytest --fwmon`` needs no PYTHONPATH, and coverage measures
    demoapp only (not fwmon's own code, which this development install keeps outside
    site-packages, nor the tests): the same figure cold and warm."""
    from pytest_fwmon.example import copy_example

    target = copy_example(tmp_path / "example")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "FWMON_", "COV_CORE", "COVERAGE")) and k != "PYTHONPATH"
    }
    here = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = str(here)  # fwmon itself, as an editable install would put it
    figures = []
    for _ in ("cold", "warm"):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "--fwmon",
                "-p",
                "no:cacheprovider",
                "--fwmon-no-history",
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=target,
            env=env,
            timeout=600,
        )
        assert "ModuleNotFoundError" not in proc.stdout + proc.stderr
        report = read_report(target / ".fwmon/report.json")
        assert report["tests"]["failed"] == 0 and report["tests"]["errors"] == 0
        assert report["tests"]["passed"] >= 3
        files = sorted(report["coverage"]["files"])
        assert files and all(f.startswith("src/demoapp/") for f in files), files
        figures.append((report["coverage"]["line_percent"], files))
    assert figures[0] == figures[1]
