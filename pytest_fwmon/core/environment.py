"""Run metadata for the report: git, CI provider, machine fingerprint, tool versions.

Standard library only. Environment values are read one by one by name; nothing copies the
environment wholesale, so no secret reaches the report.
"""

from __future__ import annotations

import hashlib
import os
import platform

# subprocess runs git only, with fixed argument lists and no shell (see _git)
import subprocess  # nosec B404
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

#: Distributions whose versions the report records when installed.
TOOLS = (
    "pytest",
    "bandit",
    "pydocstyle",
    "radon",
    "coverage",
    "pytest-benchmark",
    "psutil",
    "pytest-xdist",
    "pytest-cov",
    "ruff",
)


def utc_now() -> str:
    """Return the current time as ISO 8601 UTC with a ``Z`` and milliseconds."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _git(root: Path, *args: str) -> str | None:
    try:
        # git from PATH, like the user's shell; the arguments are fixed by the callers here
        proc = subprocess.run(  # nosec B603 B607
            ["git", *args],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


#: CI variables naming the branch of a detached checkout, in the order they are read; each
#: entry is (variable that says this CI runs, branch variables of that CI, first set wins).
_CI_BRANCH_VARS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("GITHUB_ACTIONS", ("GITHUB_HEAD_REF", "GITHUB_REF_NAME")),
    (
        "GITLAB_CI",
        ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "CI_COMMIT_BRANCH", "CI_COMMIT_REF_NAME"),
    ),
    ("CIRCLECI", ("CIRCLE_BRANCH",)),
    ("BUILDKITE", ("BUILDKITE_BRANCH",)),
    ("JENKINS_URL", ("CHANGE_BRANCH", "BRANCH_NAME", "GIT_BRANCH")),
    ("CI", ("CI_BRANCH", "BRANCH_NAME")),
)


def ci_branch(environ: Mapping[str, str] | None = None) -> str | None:
    """Return the branch the CI says it builds (for detached checkouts), None outside CI.

    GitHub Actions ``GITHUB_HEAD_REF`` (pull requests) then ``GITHUB_REF_NAME``; GitLab CI
    ``CI_MERGE_REQUEST_SOURCE_BRANCH_NAME``, ``CI_COMMIT_BRANCH``, ``CI_COMMIT_REF_NAME``;
    CircleCI ``CIRCLE_BRANCH``; Buildkite ``BUILDKITE_BRANCH``; Jenkins ``CHANGE_BRANCH``,
    ``BRANCH_NAME``, ``GIT_BRANCH`` (``origin/`` stripped); any CI (``CI`` set) ``CI_BRANCH``,
    ``BRANCH_NAME``. Each is read only when its CI's own marker variable is set.
    """
    env = os.environ if environ is None else environ
    for marker, names in _CI_BRANCH_VARS:
        if not env.get(marker) or env.get(marker, "").lower() in ("false", "0"):
            continue
        for name in names:
            value = env.get(name, "").strip()
            if value:
                return value.removeprefix("origin/") if name == "GIT_BRANCH" else value
    return None


def default_branch(root: Path, environ: Mapping[str, str] | None = None) -> str | None:
    """Return the repository's default branch, None when unknown.

    GitLab's ``CI_DEFAULT_BRANCH``, else ``git symbolic-ref refs/remotes/origin/HEAD`` without
    its ``origin/``.
    """
    env = os.environ if environ is None else environ
    if env.get("CI_DEFAULT_BRANCH"):
        return env["CI_DEFAULT_BRANCH"]
    ref = _git(root, "symbolic-ref", "--short", "-q", "refs/remotes/origin/HEAD")
    return ref.split("/", 1)[1] if ref and "/" in ref else None


def git_info(root: Path, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the sha, branch and dirty flag of the work tree at ``root`` (None where unknown).

    The branch is git's checked-out branch, else on a detached checkout the CI's branch
    variable (:func:`ci_branch`).
    """
    sha = _git(root, "rev-parse", "HEAD")
    branch = _git(root, "symbolic-ref", "--short", "-q", "HEAD") or ci_branch(environ)
    status = _git(root, "status", "--porcelain", "--untracked-files=no") if sha else None
    return {"sha": sha, "branch": branch or None, "dirty": None if status is None else bool(status)}


def _github_info(env: Mapping[str, str]) -> dict[str, Any]:
    """Return the run identity GitHub Actions gives, with the run's URL and PR number."""
    server = env.get("GITHUB_SERVER_URL", "https://github.com")
    repo = env.get("GITHUB_REPOSITORY")
    run_id = env.get("GITHUB_RUN_ID")
    ref = env.get("GITHUB_REF", "")
    pull = ref.split("/")[2] if ref.startswith("refs/pull/") and ref.count("/") >= 3 else None
    return {
        "provider": "github-actions",
        "run_id": run_id,
        "run_attempt": env.get("GITHUB_RUN_ATTEMPT"),
        "run_url": f"{server}/{repo}/actions/runs/{run_id}" if repo and run_id else None,
        "workflow": env.get("GITHUB_WORKFLOW"),
        "job": env.get("GITHUB_JOB"),
        "event": env.get("GITHUB_EVENT_NAME"),
        "ref": ref or None,
        "repository": repo,
        "pull_request": pull,
        "base_ref": env.get("GITHUB_BASE_REF") or None,
    }


def ci_info(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the CI provider and run identity from well-known variables (GitHub in full)."""
    env = os.environ if environ is None else environ
    if env.get("GITHUB_ACTIONS") == "true":
        return _github_info(env)
    if env.get("GITLAB_CI") == "true":
        return {
            "provider": "gitlab-ci",
            "run_id": env.get("CI_PIPELINE_ID"),
            "run_url": env.get("CI_PIPELINE_URL"),
            "job": env.get("CI_JOB_NAME"),
            "ref": env.get("CI_COMMIT_REF_NAME"),
            "repository": env.get("CI_PROJECT_PATH"),
            "pull_request": env.get("CI_MERGE_REQUEST_IID"),
            "base_ref": env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME"),
        }
    if env.get("JENKINS_URL"):
        return {
            "provider": "jenkins",
            "run_id": env.get("BUILD_ID"),
            "run_url": env.get("BUILD_URL"),
        }
    if env.get("CIRCLECI") == "true":
        return {
            "provider": "circleci",
            "run_id": env.get("CIRCLE_BUILD_NUM"),
            "run_url": env.get("CIRCLE_BUILD_URL"),
        }
    if env.get("CI", "").lower() in ("true", "1", "yes"):
        return {"provider": "unknown-ci"}
    return {"provider": None}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def machine_info() -> dict[str, Any]:
    """Machine description and a fingerprint of what makes timings comparable.

    The fingerprint hashes CPU model, core count, memory rounded to GiB, OS, architecture and the
    Python implementation and minor version; perf baselines are kept per fingerprint.
    """
    memory_gib = round(_memory_bytes() / 2**30)
    parts = {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count() or 0,
        "memory_gib": memory_gib,
        "system": platform.system(),
        "arch": platform.machine(),
        "python": f"{platform.python_implementation()} {platform.python_version_tuple()[0]}."
        f"{platform.python_version_tuple()[1]}",
    }
    digest = hashlib.sha256(repr(sorted(parts.items())).encode()).hexdigest()[:16]
    return {"fingerprint": digest, **parts}


def machine_fingerprint() -> str:
    """Just the fingerprint of :func:`machine_info`."""
    fingerprint: str = machine_info()["fingerprint"]
    return fingerprint


def versions() -> dict[str, str]:
    """Versions of fwmon, Python and every installed tool in :data:`TOOLS`."""
    from .. import __version__

    found = {"fwmon": __version__, "python": platform.python_version()}
    for dist in TOOLS:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return found
