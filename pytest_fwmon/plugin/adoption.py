"""The first run on an existing project: how to record today's findings as the baseline.

Without a baseline every finding is new, so the first ``pytest --fwmon`` on a project with
history fails items for findings the code has had for years. :func:`adoption_lines` ends the
terminal summary with the one command that records them, and what the gate then blocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Checkers whose failures a baseline cannot clear (thresholds, measurements).
NOT_BASELINED = frozenset({"coverage", "perf"})


def adoption_lines(report: Mapping[str, Any], report_path: str, baseline_path: str) -> list[str]:
    """Lines for the end of the summary when items failed on findings and there is no
    baseline (the caller checks that); [] when no item failed on findings."""
    failed = [
        check
        for check in report.get("checks", [])
        if check.get("outcome") == "failed"
        and check.get("checker") not in NOT_BASELINED
        and check.get("pipeline") != "performance"
        and any(f.get("status") == "new" for f in check.get("findings", []))
    ]
    if not failed:
        return []
    findings = sum(
        1 for check in failed for f in check.get("findings", []) if f.get("status") == "new"
    )
    return [
        f"fwmon: {len(failed)} item(s) failed on {findings} finding(s) the code already has: "
        "there is no baseline yet. To adopt fwmon on this project, record them:",
        f"    fwmon baseline write {report_path} -o {baseline_path}",
        "  then commit the baseline: these items pass on the recorded findings, and `fwmon gate` "
        "blocks only findings that are not in it (new ones) and expired waivers.",
    ]
