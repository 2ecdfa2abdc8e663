"""One run, one configuration: every section validated once, from every source, in one place."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_fwmon.core.config import SECTION_VALIDATORS, load_config
from pytest_fwmon.core.errors import ConfigError

PACKAGE = Path(__file__).resolve().parent.parent / "pytest_fwmon"

#: Reading fwmon's settings: the TOML parser, pyproject.toml, the environment.
READS = re.compile(r"\bos\.environ\b|\bgetenv\(|\btomllib\b|\bread_pyproject\(|\bload_config\(")

#: Modules that may match :data:`READS`, and why it is not a second place reading fwmon settings.
ALLOWED = {
    "core/config.py": "the configuration module itself",
    "plugin/runconfig.py": "builds the run's configuration (load_config) in the earliest hook",
    "checks/cli.py": "`fwmon check` builds its run's configuration with load_config",
    "history/cliutil.py": "the history commands build their configuration with load_config",
    "alerts/cli.py": "`fwmon alerts` builds its configuration with load_config",
    "alerts/ackcli.py": "`fwmon alerts ack`: load_config, and the environment for channel secrets",
    "dashboard/cli.py": "`fwmon dashboard` builds its configuration with load_config",
    "report/merge.py": "`fwmon report merge` builds its configuration with load_config",
    "gate/policy.py": "the gate reads policy files (and [tool.fwmon.gate]) in a bare CI job",
    "gate/cli.py": "GitHub Actions' output files and the step summary path",
    "core/inputs.py": "FWMON_MAX_INPUT_MB, the input size cap of the gate and history import",
    "core/environment.py": "CI provider detection for the report's run metadata",
    "alerts/channels/base.py": "channel secrets from the environment variables config names",
    "alerts/engine.py": "channel secrets: the environment handed to the channels",
    "perf/lockstep.py": "the fwmon perf-ab channel between its two child processes",
    "perf/ab.py": "environment of the perf-ab child processes",
    "plugin/perf_session.py": "the fwmon perf-ab channel of this process",
    "checks/subproc.py": "environment of the import probe and command children",
    "checks/commands.py": "the project's [project.scripts] metadata for the command checks",
    "checks/packaging.py": "the project's [build-system] table for the wheel build",
    "checks/coverage.py": "the coverage data folder the controller hands to xdist workers",
    "plugin/quality.py": "xdist worker marker, coverage's own COVERAGE_RCFILE, the data folder",
    "example/__init__.py": "environment of the example's child pytest",
    "flaky/culprit.py": "environment of the git bisect run's child pytest (PYTEST_* dropped)",
}


def test_only_the_config_module_reads_fwmon_settings() -> None:
    """No module outside the allow-list reads pyproject.toml or the environment; every entry
    of the allow-list still needs its place (so the list cannot outlive its reasons)."""
    found = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if READS.search(path.read_text(encoding="utf-8"))
    }
    assert found - set(ALLOWED) == set(), "read the setting from the run's FwmonConfig instead"
    assert set(ALLOWED) - found == set(), "remove the stale allow-list entries"


def test_every_owned_section_has_a_validator_that_imports() -> None:
    config = load_config(Path("/nonexistent-fwmon-root"), environ={})
    for section in sorted(set(SECTION_VALIDATORS) - {"gate"}):
        config.validated(section)  # defaults are valid; the dotted names resolve
    with pytest.raises(ConfigError, match="the policy has no conditions"):
        config.validated("gate")  # a gate table must say something


BAD_OPTIONS = [
    pytest.param(
        "perf.time_budget=-5",
        "[[]tool.fwmon.perf[]] time_budget must be greater than 0, got -5",
        id="perf-value",
    ),
    pytest.param("perf.no_such=1", "*no_such*", id="perf-key"),
    pytest.param("quality.branch=maybe", "[[]tool.fwmon.quality[]] branch must be*", id="quality"),
    pytest.param("quality.nope=1", "unknown key [[]tool.fwmon.quality[]] nope; valid keys:*"),
    pytest.param("integration.nope=1", "unknown key [[]tool.fwmon.integration[]] nope; valid*"),
    pytest.param("slo.nope=1", "unknown key [[]tool.fwmon.slo[]] nope; valid keys:*"),
    pytest.param("kpis.nope=1", "*[[]tool.fwmon.kpis[]]*nope*"),
    pytest.param("history.nope=1", "unknown key [[]tool.fwmon.history[]] nope; valid keys:*"),
    pytest.param("alerts.colour=red", "*[[]tool.fwmon.alerts[]]*colour*"),
    pytest.param("dashboard.nope=1", "unknown key [[]tool.fwmon.dashboard[]] nope; valid keys:*"),
    pytest.param("gate.nope=1", "*nope*"),
    pytest.param("security.nope=1", "unknown key [[]tool.fwmon.security[]] nope; valid keys:*"),
    pytest.param("nosuch.key=1", "unknown section [[]tool.fwmon.nosuch[]]; valid sections:*"),
]


@pytest.mark.parametrize(("option", "message"), BAD_OPTIONS)
def test_a_bad_option_in_any_section_is_a_usage_error(
    pytester: pytest.Pytester, option: str, message: str
) -> None:
    pytester.makepyprojecttoml('[project]\nname = "x"\nversion = "0"\n')
    result = pytester.runpytest("--fwmon", "-p", "no:cacheprovider", "--fwmon-option", option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: fwmon: {message}"])


@pytest.mark.parametrize(
    ("table", "message"),
    [
        pytest.param("[tool.fwmon.perf]\ntime_budget = -5\n", "*time_budget*", id="perf"),
        pytest.param("[tool.fwmon.slo]\nnope = 1\n", "unknown key [[]tool.fwmon.slo[]] nope*"),
        pytest.param("[tool.fwmon.dashboard]\nnope = 1\n", "unknown key [[]tool.fwmon.dash*"),
    ],
)
def test_the_same_values_in_pyproject_are_the_same_usage_error(
    pytester: pytest.Pytester, table: str, message: str
) -> None:
    pytester.makepyprojecttoml(f'[project]\nname = "x"\nversion = "0"\n{table}')
    result = pytester.runpytest("--fwmon", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: fwmon: {message}"])


def test_perf_settings_come_from_the_run_configuration(pytester: pytest.Pytester) -> None:
    """``--fwmon-option perf.KEY=VALUE`` reaches the perf fixture (it read pyproject itself)."""
    pytester.makepyprojecttoml('[project]\nname = "x"\nversion = "0"\n')
    pytester.makepyfile(
        test_p=(
            "from pytest_fwmon.plugin.perf_session import PERF_KEY\n\n"
            "def test_rounds(request):\n"
            "    settings = request.config.stash[PERF_KEY].settings\n"
            "    print('ROUNDS', settings.min_rounds, settings.max_rounds)\n"
        )
    )
    args = ["--fwmon", "--fwmon-pipelines", "performance", "--fwmon-no-history", "-s"]
    options = ["--fwmon-option", "perf.min_rounds=7", "--fwmon-option", "perf.max_rounds=7"]
    result = pytester.runpytest(*args, *options, "-p", "no:cacheprovider", "-p", "no:xdist")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*ROUNDS 7 7*"])


def test_sources_in_order(tmp_path: Path) -> None:
    """pyproject, then the environment, then --fwmon-option, then dedicated options."""
    (tmp_path / "pyproject.toml").write_text(
        "[tool.fwmon]\nworkers = 2\n[tool.fwmon.quality]\nbranch = false\ncoverage = false\n"
    )
    config = load_config(tmp_path, environ={"FWMON_WORKERS": "3"})
    assert config.int("", "workers") == 3
    assert config.validated("quality")["branch"] is False
    config = load_config(
        tmp_path,
        ["workers=4", "quality.branch=true", "quality.coverage=true"],
        {"workers": 5, "quality.coverage": False},
        environ={"FWMON_WORKERS": "3"},
    )
    assert config.int("", "workers") == 5
    assert config.validated("quality")["branch"] is True
    assert config.validated("quality")["coverage"] is False
    with pytest.raises(ConfigError, match="time_budget"):
        load_config(tmp_path, ["perf.time_budget=-5"], environ={})
