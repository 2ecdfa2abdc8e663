"""Test-suite settings shared by every test module."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Hypothesis's per-example deadline is a timed assertion: on a loaded CI machine the first
# example of a test (imports, caches) can take longer than 200 ms and fail a correct test
# ("Unreliable test timings"). The suite asserts behaviour, not time (benchmarks/ measures it).
settings.register_profile("fwmon", deadline=None)
settings.load_profile("fwmon")

if "MUTANT_UNDER_TEST" in os.environ:
    # Under mutmut (ci/mutation.sh) each mutant's tests run in a child forked from a process
    # that has already run the clean tests, so the cached compiled schemas would be the
    # unmutated ones and no mutant of the schema compiler could take effect; the stats that
    # map mutants to tests would also name only the first test that compiled a schema.
    @pytest.fixture(autouse=True)
    def _fresh_schema_caches() -> Iterator[None]:
        """Compile the shipped schemas again in every test, with the mutant under test."""
        from pytest_fwmon.core import schema

        for cached in (schema.load_schema, schema.validator, schema.quick_check):
            cached.cache_clear()
        yield


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
