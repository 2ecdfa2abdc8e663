"""``fwmon example``: the main job, end to end, on the bundled example project.

Copies ``demoapp`` (shipped inside fwmon) into a folder, then runs what a CI job runs:

1. ``pytest --fwmon`` in it: the tests, every pipeline, the report and the scorecard;
2. ``fwmon gate`` with the ``default`` policy and the project's ``fwmon-baseline.json``, which
   knows the old findings (``pickle`` in ``storage.py``, the ``subprocess`` import) but not the
   new one (``shell=True`` in ``api.py``), so the verdict shows baselined findings passing and a
   new one blocking; ``fwmon history verdict`` records the verdict with the run;
3. ``fwmon dashboard build``: the static dashboard, whose path it prints.

It exits 0 when every step ran and wrote its output (a *blocked* verdict is the expected
outcome of the example, not a failure of the job), and with the failing step's exit code
otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil

# subprocess runs this interpreter's pytest and fwmon, with argv lists and no shell (see _step)
import subprocess  # nosec B404
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from ..core.errors import EXIT_OK, ConfigError


def register(subparsers: Any) -> None:
    """Add ``fwmon example``."""
    parser = subparsers.add_parser(
        "example",
        help="run the main job (tests, report, gate, dashboard) on the bundled example",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path("fwmon-example"),
        help="where to copy the example project (default: ./fwmon-example; replaced if present)",
    )
    parser.set_defaults(func=run)


def _step(title: str, command: list[str], cwd: Path, env: dict[str, str]) -> int:
    print(f"\n$ {' '.join(command)}    # {title}", flush=True)
    # argv lists built in run() from sys.executable and fixed arguments; no shell
    return subprocess.run(command, cwd=cwd, env=env, check=False).returncode  # nosec B603


def copy_example(target: Path) -> Path:
    """Copy the bundled example project to ``target`` (replacing an earlier copy)."""
    source = resources.files("pytest_fwmon.example").joinpath("project")
    if target.exists():
        if not (target / "pyproject.toml").exists() or not (target / "src" / "demoapp").exists():
            raise ConfigError(
                f"{target} exists and is not an earlier fwmon example",
                hint="choose another folder with --dir",
            )
        shutil.rmtree(target)
    with resources.as_file(source) as folder:
        shutil.copytree(folder, target, ignore=shutil.ignore_patterns("__pycache__", ".fwmon"))
    return target


def run(args: argparse.Namespace) -> int:
    """Run the three steps and summarise where their outputs are."""
    target = copy_example(args.dir.resolve())
    # a pytest (or xdist worker) we may run inside must not leak into the example's pytest
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT_TEST", "FWMON_COVERAGE", "COV_CORE"))
    }
    env.pop("GITHUB_ACTIONS", None)  # the example never writes into a real CI job's outputs
    python = sys.executable
    print(f"fwmon example: project copied to {target}")

    tests = _step(
        "tests + fwmon pipelines",
        [python, "-m", "pytest", "--fwmon", "-p", "no:cacheprovider"],
        target,
        env,
    )
    report = target / ".fwmon" / "report.json"
    if not report.exists():
        print(f"fwmon example: pytest exited {tests} and wrote no report", file=sys.stderr)
        return tests or 1

    gate = _step(
        "merge gate",
        [
            python,
            "-m",
            "pytest_fwmon.gate",
            ".fwmon/report.json",
            "--policy",
            "default",
            "--baseline",
            "fwmon-baseline.json",
            "--result-json",
            ".fwmon/gate-result.json",
            "--markdown",
            ".fwmon/gate.md",
            "--sarif",
            ".fwmon/gate.sarif",
        ],
        target,
        env,
    )
    if gate not in (0, 1):
        print(f"fwmon example: the gate failed with exit code {gate}", file=sys.stderr)
        return gate

    run_id = json.loads(report.read_text(encoding="utf-8"))["run"]["id"]
    recorded = _step(
        "record the verdict in the history",
        [
            python,
            "-m",
            "pytest_fwmon.cli",
            "history",
            "verdict",
            run_id,
            "pass" if gate == 0 else "blocked",
        ],
        target,
        env,
    )
    if recorded != 0:
        print(
            f"fwmon example: recording the verdict failed (exit code {recorded})", file=sys.stderr
        )
        return recorded

    site = target / ".fwmon" / "site"
    dash = _step(
        "dashboard",
        [
            python,
            "-m",
            "pytest_fwmon.cli",
            "dashboard",
            "build",
            "-o",
            str(site),
            "--report",
            ".fwmon/report.json",
            "--gate-result",
            ".fwmon/gate-result.json",
            "--history",
            ".fwmon/history.db",
        ],
        target,
        env,
    )
    if dash != 0 or not (site / "index.html").exists():
        print(f"fwmon example: the dashboard step failed (exit code {dash})", file=sys.stderr)
        return dash or 1

    verdict = "passed" if gate == 0 else "blocked"
    print("\nfwmon example: done")
    print(f"  pytest exit status : {tests} (fwmon items fail for findings above the thresholds)")
    print(f"  report             : {report}")
    print(f"  gate verdict       : {verdict} (exit {gate}); details in .fwmon/gate.md")
    print(f"  dashboard          : {site / 'index.html'}")
    return EXIT_OK
