"""How fast is the gate? Acceptance 6 of the gate issue.

Times the whole ``python -m pytest_fwmon.gate`` process judging a report with 50,000 findings
against a 50,000-entry baseline, and a bare ``python -c 'import json; json.load(open(R))'`` on
the same file, interleaved in the same run; prints medians and the ratio, and exits 1 when
the ratio is above the target (3x).

    python benchmarks/gate.py [--findings 50000] [--runs 7] [--target 3.0] [--outputs]

``--outputs`` also times the gate writing SARIF, gate-result.json and markdown (reported,
not held to the target).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pytest_fwmon.core.model import PIPELINES, SCHEMA_VERSION, empty_counts, fingerprint
from pytest_fwmon.gate.baseline import build_baseline, dumps_baseline

RULES = [
    ("security", "bandit", "B602", "high", "subprocess call with shell=True identified"),
    ("security", "bandit", "B101", "low", "Use of assert detected."),
    ("docs", "pydocstyle", "D103", "low", "Missing docstring in public function"),
    ("quality", "radon", "C901", "medium", "function is too complex (12)"),
]


def build_report(n: int, new: int) -> dict[str, Any]:
    """A valid report with ``n`` findings in files of 100 findings each."""
    checks = []
    per_file = 100
    for index in range(0, n, per_file):
        path = f"src/pkg{index // 10_000}/module_{index // per_file:04}.py"
        findings = []
        for i in range(index, min(index + per_file, n)):
            pipeline, checker, rule, severity, message = RULES[i % len(RULES)]
            line = i % per_file + 1
            findings.append(
                {
                    "fingerprint": fingerprint(checker, rule, path, f"line {i}", 0),
                    "pipeline": pipeline,
                    "checker": checker,
                    "rule": rule,
                    "rule_name": "",
                    "help_url": "",
                    "severity": severity,
                    "confidence": "high",
                    "cwe": 78 if rule == "B602" else None,
                    "path": path,
                    "line": line,
                    "end_line": line,
                    "col": 5,
                    "message": message,
                    "status": "new",
                }
            )
        checks.append(
            {
                "nodeid": f"{path}::fwmon[bandit]",
                "pipeline": "security",
                "checker": "bandit",
                "outcome": "failed",
                "path": path,
                "cached": False,
                "duration": 0.01,
                "findings": findings,
                "reason": None,
                "loc": 400,
                "metrics": {},
            }
        )
    pipeline = {
        "status": "fail",
        "score": 12.5,
        "items": len(checks),
        "passed": 0,
        "failed": len(checks),
        "errors": 0,
        "skipped": 0,
        "cached": 0,
        "loc": 400 * len(checks),
        "counts": empty_counts(),
    }
    return {
        "schema_version": SCHEMA_VERSION,
        "run": {
            "id": "bench-run-0001",
            "started": "2024-05-01T10:00:00Z",
            "finished": "2024-05-01T10:01:00Z",
            "duration": 60.0,
            "project": "bench",
            "git": {"sha": None, "branch": None, "dirty": None},
            "ci": {"provider": None},
            "machine": {"fingerprint": "bench"},
            "versions": {},
            "selected_pipelines": list(PIPELINES),
            "xdist_workers": 0,
            "completed": True,
            "stopped": None,
        },
        "pipelines": {p: dict(pipeline) for p in PIPELINES},
        "checks": checks,
        "benchmarks": [],
        "resources": [],
        "coverage": None,
        "integration": [],
        "tests": {
            "total": 100,
            "passed": 100,
            "failed": 0,
            "errors": 0,
            "skipped": 0,
            "xfailed": 0,
            "xpassed": 0,
            "duration": 10.0,
            "exitstatus": 0,
            "exitstatus_note": None,
        },
        "extensions": {},
    }


def timed(command: list[str], cwd: Path) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start, done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--target", type=float, default=3.0)
    parser.add_argument("--outputs", action="store_true")
    args = parser.parse_args()
    n = args.findings
    new = 10
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        report = build_report(n, new)
        report_path = work / "report.json"
        report_path.write_text(json.dumps(report, indent=2, sort_keys=True), encoding="utf-8")
        findings = [f for c in report["checks"] for f in c["findings"]]
        # all but `new` findings are known; `new` entries are stale: 50,000 entries in all
        known = findings[: n - new]
        stale = [dict(f, fingerprint=f["fingerprint"][::-1]) for f in findings[n - new :]]
        document = build_baseline([*known, *stale], tool="bench", generated="2024-05-01")
        (work / "baseline.json").write_text(dumps_baseline(document), encoding="utf-8")
        (work / "policy.toml").write_text(
            '[[conditions]]\nid = "no-new-high"\nmetric = "findings.high_or_worse"\n'
            'op = "le"\nthreshold = 0\nscope = "new"\n',
            encoding="utf-8",
        )
        python = sys.executable
        bare = [python, "-c", "import json; json.load(open('report.json'))"]
        gate = [
            python,
            "-m",
            "pytest_fwmon.gate",
            "report.json",
            "--policy",
            "policy.toml",
            "--baseline",
            "baseline.json",
        ]
        full = [*gate, "--sarif", "out.sarif", "--result-json", "out.json", "--markdown", "out.md"]
        env_note = os.environ.get("GITHUB_ACTIONS")
        assert env_note != "true", "run the benchmark outside GitHub Actions"
        size = report_path.stat().st_size / 1e6
        entries = len(document["entries"])
        print(f"report: {n} findings, {size:.1f} MB; baseline: {entries} entries")
        times: dict[str, list[float]] = {"json.load": [], "gate": [], "gate+outputs": []}
        timed(gate, work)  # warm the file cache and the byte-code cache
        for _ in range(args.runs):
            times["json.load"].append(timed(bare, work)[0])
            seconds, code = timed(gate, work)
            if code != 1:
                print(f"unexpected gate exit code {code} (expected 1: {new} new findings)")
                return 2
            times["gate"].append(seconds)
            if args.outputs:
                times["gate+outputs"].append(timed(full, work)[0])
        medians = {k: statistics.median(v) for k, v in times.items() if v}
        for name, value in medians.items():
            runs = ", ".join(f"{t:.3f}" for t in times[name])
            print(f"{name:>13}: median {value:.3f} s  ({runs})")
        ratio = medians["gate"] / medians["json.load"]
        print(f"ratio gate / json.load: {ratio:.2f} (target <= {args.target:g})")
        if "gate+outputs" in medians:
            full_ratio = medians["gate+outputs"] / medians["json.load"]
            print(f"ratio gate+outputs / json.load: {full_ratio:.2f}")
        return 0 if ratio <= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
