"""Test-suite settings shared by every test module."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

# Hypothesis's per-example deadline is a timed assertion: on a loaded CI machine the first
# example of a test (imports, caches) can take longer than 200 ms and fail a correct test
# ("Unreliable test timings"). The suite asserts behaviour, not time (benchmarks/ measures it).
settings.register_profile("fwmon", deadline=None)
settings.load_profile("fwmon")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder (no git) as the current directory.

    No history URL and no CI default branch come from the environment, so the store and the
    branch resolution are the test's own. Modules that need another project define their own.
    """
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FWMON_HISTORY_URL", raising=False)
    monkeypatch.delenv("CI_DEFAULT_BRANCH", raising=False)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    return tmp_path
