"""Run a project's suite unsharded and in N shards merged; compare the two reports.

Usage: ``python benchmarks/shard_compare.py PROJECT [N]`` (PROJECT a git checkout). Prints
the test counts, whether checks/findings/coverage per file are equal, and the wall times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SUMMED = ("total", "passed", "failed", "errors", "skipped", "xfailed", "xpassed", "exitstatus")


def _run(project: Path, *args: str) -> float:
    """Run one command in ``project``; return its wall time in seconds."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(project / "src")])
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=project, env=env, capture_output=True, check=False)
    return time.perf_counter() - start


def _untimed(check: dict[str, Any]) -> dict[str, Any]:
    """Return a check without its timings."""
    out = {k: v for k, v in check.items() if k not in ("duration", "cached")}
    if check["checker"] == "perf":
        out["metrics"] = {"verdict": check["metrics"].get("verdict")}
    return out


def compare(whole: dict[str, Any], merged: dict[str, Any]) -> dict[str, Any]:
    """Return what is equal between the unsharded and the merged report."""
    cov_w, cov_m = whole.get("coverage") or {}, merged.get("coverage") or {}
    keys = ("percent", "covered_lines", "covered_branches")
    return {
        "tests_unsharded": {k: whole["tests"][k] for k in SUMMED},
        "tests_merged": {k: merged["tests"][k] for k in SUMMED},
        "checks_equal": [_untimed(c) for c in whole["checks"]]
        == [_untimed(c) for c in merged["checks"]],
        "findings": sum(len(c["findings"]) for c in whole["checks"]),
        "coverage_files_equal": cov_w.get("files") == cov_m.get("files"),
        "coverage_unsharded": {k: cov_w.get(k) for k in keys},
        "coverage_merged": {k: cov_m.get(k) for k in keys},
    }


def main(project: Path, count: int) -> None:
    """Run both ways and print the comparison as JSON."""
    base = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "--fwmon", "--fwmon-no-history"]
    times = {"unsharded": _run(project, *base, "--fwmon-report", ".fwmon/unsharded.json")}
    shards = []
    for index in range(1, count + 1):
        report = f".fwmon/shard-{index}.json"
        times[f"shard {index}"] = _run(
            project, *base, "--fwmon-shard", f"{index}/{count}", "--fwmon-report", report
        )
        shards.append(report)
    times["merge"] = _run(
        project, "-m", "pytest_fwmon.cli", "report", "merge", *shards, "-o", ".fwmon/merged.json"
    )
    load = lambda name: json.loads((project / ".fwmon" / name).read_text(encoding="utf-8"))  # noqa: E731
    result = compare(load("unsharded.json"), load("merged.json"))
    result["seconds"] = {k: round(v, 1) for k, v in times.items()}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve(), int(sys.argv[2]) if len(sys.argv) > 2 else 4)
