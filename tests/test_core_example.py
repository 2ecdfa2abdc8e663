"""The README's main job: ``fwmon example`` end to end in a fresh folder."""

from __future__ import annotations

import json
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
