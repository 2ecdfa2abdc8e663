"""Operations figures computed once: branch resolution, small samples, the same on every surface.

The "Seen" items of issue 15 (a project without git, one or two runs, two-run trends, a 15 s
MTTR), each on a real store through the real commands, the dashboard data layer and pages, the
live HTTP API and the Prometheus export.
"""

from __future__ import annotations

import html as html_lib
import http.client
import json
import math
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pytest_fwmon.cli import main
from pytest_fwmon.core.environment import git_info
from pytest_fwmon.dashboard.data import Dashboard, Options
from pytest_fwmon.dashboard.pages import overview
from pytest_fwmon.dashboard.render import Context
from pytest_fwmon.dashboard.server import make_server
from pytest_fwmon.dashboard.sources import open_source
from pytest_fwmon.history import open_store
from pytest_fwmon.history.cliutil import config_sections
from tests.test_history_support import T0, make_report

SECOND = 1 / 3600  # make_report's ``at`` is in hours


def record(root: Path, reports: list[dict[str, Any]]) -> None:
    with open_store(None, root, create=True) as store:
        for report in reports:
            store.add_run(report)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def dashboard(root: Path) -> Dashboard:
    """The dashboard with the project's configuration, as ``fwmon dashboard`` builds it."""
    _, sections = config_sections(root)
    options = Options(
        root=root, slo_section=sections.get("slo", {}), kpis_section=sections.get("kpis", {})
    )
    return Dashboard(open_source(root), options)


# -- Seen: terminal and dashboard disagree (a project without git) -------------------------


def test_project_without_git_gets_the_same_figures_everywhere(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Runs stored with ``git.branch`` null: every surface uses all of them and says so."""
    record(project, [make_report(f"run-0000000{i}", at=i, branch=None) for i in range(3)])
    note = "figures over all 3 runs: no branch recorded"

    slo = cli_json(capsys, "slo")
    assert (slo["runs"], slo["branch"]) == (3, None)  # old main: 0 runs on "main"
    assert slo["note"] == note
    assert slo["availability_runs"] == 100.0
    assert slo["compliant"] is None and slo["verdict"] == "insufficient"
    _, out, _ = run(capsys, "slo")
    assert note in out.splitlines()[1] and "compliant: yes" not in out

    kpis = {k["name"]: k for k in cli_json(capsys, "kpis")}
    assert kpis["security score"]["value"] == 95.0 and kpis["security score"]["met"] is True
    every = {k["name"]: k for k in cli_json(capsys, "kpis", "--branch", "")}
    assert every == kpis
    _, out, _ = run(capsys, "kpis")
    assert out.splitlines()[0] == note

    with dashboard(project) as dash:
        data = dash.slo()
        for key in ("runs", "branch", "availability_runs", "compliant", "verdict", "note"):
            assert data[key] == slo[key], key
        assert {k["name"]: k for k in dash.kpis()["kpis"]} == kpis
        assert dash.kpis()["note"] == note
        html = overview(dash, Context())
    assert note in html and "no runs on branch main" not in html
    assert "breached" not in html


# -- Seen: absurd figures after one or two runs ---------------------------------------------


def test_two_runs_give_no_budget_no_burn_rate_and_no_verdict(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record(
        project,
        [make_report("run-00000001", at=0), make_report("run-00000002", at=1, failed=1)],
    )
    data = cli_json(capsys, "slo")
    assert data["budget_used"] is None and data["budget_remaining"] is None
    assert [b["rate"] for b in data["burn_rates"]] == [None, None]
    assert data["insufficient"] == "insufficient data: 2 runs, 20 needed"
    # a 99.9 % budget allows one red run in 1000: fewer runs and it means nothing
    assert data["budget_insufficient"] == "insufficient data: 2 runs, 1000 needed"
    assert all(c["ok"] is None for c in data["compliance"])
    assert data["availability"] == {
        "numerator": 1,
        "denominator": 2,
        "percent": 50.0,
        "low": pytest.approx(9.4531, abs=1e-3),
        "high": pytest.approx(90.5469, abs=1e-3),
    }
    code, out, err = run(capsys, "slo", "--check")
    assert code == 0  # no verdict either way (docs/reference/exit-codes.md)
    assert "-99900" not in out and "100000" not in out and "1000.00" not in out
    assert (
        out.splitlines()[-1]
        == "incidents: 1 (one is open); insufficient data: 2 runs, 20 needed (no verdict)"
    )
    assert err.strip() == "fwmon slo --check: insufficient data: 2 runs, 20 needed; no verdict"
    with dashboard(project) as dash:
        html = overview(dash, Context())
    assert "insufficient data: 2 runs, 20 needed" in html
    assert "insufficient data: 2 runs, 1000 needed" in html
    assert "breached" not in html and "exhausted" not in html


def test_the_minimum_sample_reached_gives_verdicts_and_budget(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "pyproject.toml").write_text("[tool.fwmon.slo]\ntarget = 90.0\n")
    record(project, [make_report(f"run-{i:08d}", at=i, failed=int(i == 5)) for i in range(20)])
    data = cli_json(capsys, "slo")
    assert data["insufficient"] is None and data["budget_insufficient"] is None
    assert data["budget_used"] == pytest.approx(50.0)  # 1 red of 2 allowed
    assert data["verdict"] == "compliant"
    assert [b["rate"] for b in data["burn_rates"]] == [pytest.approx(0.0), pytest.approx(0.5)]


def _visible(html: str) -> str:
    """The page's text without tags and with spaces collapsed, as a reader sees it."""
    text = re.sub(r"<(script|style).*?</\1>", "", html, flags=re.S)
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", text)))


def test_dashboard_rows_say_insufficient_data_not_not_measured(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A figure withheld for a small sample is not one nothing measured; no empty brackets."""
    record(project, [make_report(f"run-{i:08d}", at=i, branch=None) for i in range(2)])
    with dashboard(project) as dash:
        text = _visible(overview(dash, Context()))
    assert "availability 100.00 % ≥ 99.90 % ? insufficient data: 2 runs, 20 needed" in text
    x = "\N{MULTIPLICATION SIGN}"
    assert f"burn rate, last 10 runs — ≤ 14.40{x} ? insufficient data: 2 runs, 20 needed" in text
    assert "burn rate.10" not in text and "()" not in text
    # 20 runs give verdicts, but a 99.9 % budget still needs 1000 of them
    record(project, [make_report(f"run-{i:08d}", at=i, branch=None) for i in range(2, 25)])
    with dashboard(project) as dash:
        text = _visible(overview(dash, Context()))
    assert "availability 100.00 % ≥ 99.90 % ✔ met" in text
    assert "error budget remaining — ≥ 0.00 % ? insufficient data: 25 runs, 1000 needed" in text


def test_two_run_trend_says_insufficient_instead_of_a_zero_width_interval(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record(
        project,
        [make_report("run-00000001", at=0, security=80), make_report("run-00000002", at=1)],
    )
    [trend] = cli_json(capsys, "trends", "--metric", "pipeline.security.score")
    # old main: slope 15 with the zero-width interval [15, 15], direction "flat"
    assert (trend["slope"], trend["slope_low"], trend["slope_high"]) == (None, None, None)
    assert trend["insufficient"] == "insufficient data: 2 runs, 3 needed"
    _, out, _ = run(capsys, "trends", "--metric", "pipeline.security.score")
    [row] = [line for line in out.splitlines() if line.startswith("pipeline.security.score")]
    assert "insufficient data: 2 runs, 3 needed" in row and "flat" not in row


def test_mttr_of_15_seconds_prints_in_seconds_in_the_terminal_and_the_dashboard(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "pyproject.toml").write_text("[tool.fwmon.slo]\nmax_mttr_hours = 1.0\n")
    record(
        project,
        [
            make_report("run-00000001", at=0),
            make_report("run-00000002", at=10 * SECOND, failed=1),
            make_report("run-00000003", at=25 * SECOND),
        ],
    )
    assert cli_json(capsys, "slo")["mttr_seconds"] == pytest.approx(15.0, abs=0.01)
    _, out, _ = run(capsys, "slo")
    [row] = [line.split() for line in out.splitlines() if line.startswith("MTTR")]
    assert row[:5] == ["MTTR", "15", "s", "<=", "1"]
    with dashboard(project) as dash:
        html = overview(dash, Context())
    assert "MTTR 15 s" in html and "0.00 h" not in html


# -- the Wilson interval ---------------------------------------------------------------------


@pytest.mark.parametrize(("k", "n"), [(0, 1), (1, 2), (7, 10), (19, 20), (20, 20), (997, 1000)])
def test_wilson_interval_matches_scipy(k: int, n: int) -> None:
    from scipy.stats import binomtest

    from pytest_fwmon.history.rates import Rate

    rate = Rate.of(k, n)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert rate.low == pytest.approx(100 * ci.low, abs=1e-9)
    assert rate.high == pytest.approx(100 * ci.high, abs=1e-9)


def test_wilson_interval_by_hand() -> None:
    """All 20 runs green: the lower bound is n / (n + z²) in closed form."""
    from pytest_fwmon.history.rates import Z95, Rate

    rate = Rate.of(20, 20)
    assert rate.low == pytest.approx(100 * 20 / (20 + Z95**2))
    assert rate.high == pytest.approx(100.0)
    assert math.isclose(rate.low or 0, 83.887, abs_tol=1e-3)


# -- branch resolution -----------------------------------------------------------------------


def branches_store(root: Path, branches: dict[str | None, int]) -> None:
    reports = []
    for branch, count in branches.items():
        reports += [
            make_report(f"run-{(branch or 'none')[:4]}{i:04d}", at=i, branch=branch)
            for i in range(count)
        ]
    record(root, reports)


@pytest.mark.parametrize(
    ("branches", "config", "expected", "note"),
    [
        pytest.param({"main": 2, "dev": 5}, "", ("main", 2), None, id="main-first"),
        pytest.param({"master": 2, "dev": 5}, "", ("master", 2), None, id="master"),
        pytest.param(
            {"trunk": 4, "dev": 3},
            "",
            ("trunk", 4),
            "branch trunk: the branch with the most runs (4); "
            "set [tool.fwmon.slo] branch to choose another",
            id="most-runs",
        ),
        pytest.param(
            {"main": 2, "dev": 5}, '[tool.fwmon.slo]\nbranch = "dev"\n', ("dev", 5), None, id="cfg"
        ),
        pytest.param(
            {"main": 2, None: 3},
            '[tool.fwmon.slo]\nbranch = ""\n',
            (None, 5),
            None,
            id="config-every-branch",
        ),
        pytest.param(
            {None: 3}, "", (None, 3), "figures over all 3 runs: no branch recorded", id="none"
        ),
    ],
)
def test_branch_resolution_is_the_same_for_slo_and_kpis(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    branches: dict[str | None, int],
    config: str,
    expected: tuple[str | None, int],
    note: str | None,
) -> None:
    (project / "pyproject.toml").write_text(config)
    branches_store(project, branches)
    slo = cli_json(capsys, "slo")
    assert ((slo["branch"], slo["runs"]), slo["note"]) == (expected, note)
    [kpi] = [k for k in cli_json(capsys, "kpis") if k["name"] == "availability"]
    assert kpi["runs"] == expected[1]
    with dashboard(project) as dash:
        assert (dash.slo()["branch"], dash.slo()["runs"], dash.slo()["note"]) == (*expected, note)
        assert dash.kpis()["note"] == note


def test_the_default_branch_of_the_repository_comes_first(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    branches_store(project, {"main": 5, "develop": 2})
    monkeypatch.setenv("CI_DEFAULT_BRANCH", "develop")
    assert (cli_json(capsys, "slo")["branch"], cli_json(capsys, "slo")["runs"]) == ("develop", 2)
    monkeypatch.delenv("CI_DEFAULT_BRANCH")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q", "-b", "develop"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], cwd=project, check=True)
    subprocess.run(
        [*git, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/develop"],
        cwd=project,
        check=True,
    )
    assert cli_json(capsys, "slo")["branch"] == "develop"


@pytest.mark.parametrize(
    ("environ", "branch"),
    [
        ({"GITHUB_ACTIONS": "true", "GITHUB_REF_NAME": "main"}, "main"),
        ({"GITHUB_ACTIONS": "true", "GITHUB_HEAD_REF": "fix", "GITHUB_REF_NAME": "1/merge"}, "fix"),
        ({"GITLAB_CI": "true", "CI_COMMIT_REF_NAME": "main"}, "main"),
        (
            {
                "GITLAB_CI": "true",
                "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "mr",
                "CI_COMMIT_REF_NAME": "x",
            },
            "mr",
        ),
        ({"CIRCLECI": "true", "CIRCLE_BRANCH": "trunk"}, "trunk"),
        ({"JENKINS_URL": "http://j", "GIT_BRANCH": "origin/release"}, "release"),
        ({"JENKINS_URL": "http://j", "BRANCH_NAME": "feat"}, "feat"),
        ({"BUILDKITE": "true", "BUILDKITE_BRANCH": "bk"}, "bk"),
        ({"CI": "true", "CI_BRANCH": "generic"}, "generic"),
        ({"CIRCLE_BRANCH": "no-ci-marker"}, None),
        ({}, None),
    ],
)
def test_ci_branch_variables(environ: dict[str, str], branch: str | None) -> None:
    from pytest_fwmon.core.environment import ci_branch

    assert ci_branch(environ) == branch


def test_detached_checkout_on_ci_records_the_ci_branch(tmp_path: Path) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], cwd=tmp_path, check=True)
    subprocess.run([*git, "checkout", "-q", "--detach"], cwd=tmp_path, check=True)
    gitlab = {"GITLAB_CI": "true", "CI_COMMIT_REF_NAME": "feature"}
    assert git_info(tmp_path, gitlab)["branch"] == "feature"
    assert git_info(tmp_path, {})["branch"] is None


def test_burn_rate_needs_the_minimum_sample() -> None:
    """A full 10-run window with one red run is no burn-rate figure (and so no alert) below
    the 20 runs a verdict needs; alerts read the same ``compute``."""
    from pytest_fwmon.alerts.conditions import _burn_instances
    from pytest_fwmon.alerts.rules import Condition
    from pytest_fwmon.history.slo import SloTargets, compute

    class Run:
        def __init__(self, i: int) -> None:
            self.run_id, self.ts, self.green, self.gate_passed = f"r{i}", float(i), i != 9, None

    targets = SloTargets(burn_windows=(10,), max_burn_rates=(14.4,))
    small = compute([Run(i) for i in range(10)], targets)
    assert small.burn_rates[0].rate is None
    big = compute([Run(i) for i in range(-10, 10)], targets)
    assert big.burn_rates[0].rate == pytest.approx(100.0)
    condition = Condition(kind="slo", figure="burn_rate")
    assert _burn_instances(condition, small) is None
    [instance] = _burn_instances(condition, big) or []
    assert instance.active is True


# -- the four surfaces -------------------------------------------------------------------------


@pytest.fixture
def served(project: Path) -> Iterator[tuple[Path, str]]:
    reports = [
        make_report(
            f"run-{i:08d}",
            at=i,
            failed=int(i in (7, 8, 20)),
            gate=None if i % 3 else i != 21,
            security=90 + i % 7,
        )
        for i in range(30)
    ] + [make_report(f"run-dev{i:05d}", at=i + 0.5, branch="dev", failed=1) for i in range(5)]
    (project / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n[tool.fwmon.slo]\ntarget = 95.0\nmax_mttr_hours = 1.5\n'
    )
    record(project, reports)
    srv = make_server(dashboard(project), port=0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        host, port = srv.socket.getsockname()[:2]
        yield project, f"{host}:{port}"
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)
        srv.app.dash.close()


def api(address: str, path: str) -> Any:
    conn = http.client.HTTPConnection(address, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        assert response.status == 200
        return json.loads(response.read())
    finally:
        conn.close()


def prometheus_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (
            s.name,
            tuple(sorted((k, v) for k, v in s.labels.items() if k not in ("project",))),
        ): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_cli_dashboard_api_and_prometheus_give_the_same_numbers(
    served: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    root, address = served
    slo = cli_json(capsys, "slo")
    kpis = cli_json(capsys, "kpis")
    assert (slo["branch"], slo["runs"], slo["red_runs"], slo["gate_runs"]) == ("main", 30, 4, 10)
    # runs 7, 8, 20 failed tests, run 21's gate blocked: 4 red of 1.5 allowed at 95 %
    assert slo["verdict"] == "breached" and slo["budget_used"] == pytest.approx(400 / 1.5)

    with dashboard(root) as dash:
        data_slo, data_kpis = dash.slo(), dash.kpis()["kpis"]
        html = overview(dash, Context())
    api_slo, api_kpis = api(address, "/api/v1/slo"), api(address, "/api/v1/kpis")["kpis"]
    figures = (
        "branch",
        "runs",
        "availability",
        "availability_runs",
        "availability_time",
        "gate_pass",
        "gate_pass_rate",
        "budget_used",
        "budget_remaining",
        "burn_rates",
        "mttr_seconds",
        "compliance",
        "verdict",
        "insufficient",
        "note",
    )
    for key in figures:
        assert data_slo[key] == slo[key] == api_slo[key], key
    assert data_kpis == kpis == api_kpis
    assert "86.67 %" in html  # availability 26/30 on the rendered page
    assert f"26/30, 95 % CI {slo['availability']['low']:.1f} %" in html

    code, _, err = run(capsys, "export", "prometheus", "--slo", "--textfile", "fwmon.prom")
    assert code == 0, err
    samples = prometheus_samples((root / "fwmon.prom").read_text())

    def gauge(name: str, **labels: str) -> float:
        scope = {"branch": "main", "figures_branch": "main"}
        return samples[(name, tuple(sorted({**scope, **labels}.items())))]

    assert gauge("fwmon_slo_runs") == slo["runs"]
    assert gauge("fwmon_slo_availability_percent") == pytest.approx(slo["availability_runs"])
    assert gauge("fwmon_slo_gate_pass_rate_percent") == pytest.approx(slo["gate_pass_rate"])
    for bound in ("low", "high"):
        value = gauge("fwmon_slo_rate_interval_percent", rate="availability", bound=bound)
        assert value == pytest.approx(slo["availability"][bound])
    assert gauge("fwmon_slo_error_budget_remaining_percent") == pytest.approx(
        slo["budget_remaining"]
    )
    for burn in slo["burn_rates"]:
        value = gauge("fwmon_slo_burn_rate", window=str(burn["window"]))
        assert value == pytest.approx(burn["rate"])
    assert gauge("fwmon_slo_compliant") == 0.0
    assert gauge("fwmon_slo_sufficient_data") == 1.0
    for kpi in kpis:
        labels = {"kpi": kpi["name"], "metric": kpi["metric"]}
        if kpi["value"] is not None:
            assert gauge("fwmon_kpi_value", **labels) == pytest.approx(kpi["value"])
        if kpi["met"] is not None:
            assert gauge("fwmon_kpi_met", **labels) == float(kpi["met"])


def test_slo_alerts_of_a_project_without_git_read_every_run(tmp_path: Path) -> None:
    """An SLO alert uses the runs ``fwmon slo`` uses: without any branch, every run (on old
    main it looked for branch ``main`` and never evaluated)."""
    from pytest_fwmon.alerts.conditions import _slo
    from pytest_fwmon.alerts.instances import RunContext
    from pytest_fwmon.alerts.rules import Condition

    record(
        tmp_path,
        [make_report(f"run-{i:08d}", at=i, branch=None, failed=int(i == 24)) for i in range(25)],
    )
    condition = Condition(kind="slo", figure="availability", op="lt", threshold=99.0)
    newest = T0.timestamp() + 24 * 3600
    run = RunContext("run-00000024", newest, None, {}, None, {}, root=tmp_path)
    with open_store(None, tmp_path) as store:
        [instance] = _slo(condition, run, store) or []
    assert instance.active is True and instance.value == pytest.approx(96.0)
