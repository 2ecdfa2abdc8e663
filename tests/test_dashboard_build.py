"""The static site, its data layer, number formatting and SVG charts (no browser here)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pytest_fwmon.core.errors import ConfigError, ReportError
from pytest_fwmon.core.report import write_json_atomic
from pytest_fwmon.dashboard import fmt
from pytest_fwmon.dashboard.build import MARKER, build_site
from pytest_fwmon.dashboard.data import Dashboard, Options
from pytest_fwmon.dashboard.render import run_file
from pytest_fwmon.dashboard.sources import ReportSource, open_source
from pytest_fwmon.dashboard.svg import Chart, Point, line_chart
from pytest_fwmon.history import open_store
from tests.test_dashboard_support import (
    RUNS,
    STEP_AT,
    STEP_HOURS,
    XSS,
    XSS_PATH,
    fixture_history,
    history_reports,
)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("history")
    fixture_history(root)
    return root


@pytest.fixture(scope="module")
def site(history: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site") / "site"
    dash = Dashboard(open_source(history), Options(refresh=30))
    result = build_site(dash, out)
    assert result.run_pages == RUNS
    return out


class _Scripts(HTMLParser):
    """Collects every element name and the text inside <script> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


@pytest.mark.parametrize(
    ("func", "value", "text"),
    [
        pytest.param(fmt.duration, 0.0012, "1.2 ms", id="ms"),
        pytest.param(fmt.duration, 0.01234, "12.3 ms", id="ms-2"),
        pytest.param(fmt.duration, 0.1234, "123 ms", id="ms-3"),
        pytest.param(fmt.duration, 3.4e-6, "3.4 µs", id="us"),
        pytest.param(fmt.duration, 0.00099999, "1 ms", id="us-rounds-up-to-ms"),
        pytest.param(fmt.duration, 59.99, "1 min", id="s-rounds-up-to-min"),
        pytest.param(fmt.duration, 59.94, "59.9 s", id="s-below-a-minute"),
        pytest.param(fmt.duration, -59.99, "-1 min", id="negative-rounds-up-to-min"),
        pytest.param(fmt.duration, 0.99996, "1 s", id="ms-rounds-up-to-s"),
        pytest.param(fmt.duration, 9.99999e-7, "1 µs", id="ns-rounds-up-to-us"),
        pytest.param(fmt.duration, 12.5, "12.5 s", id="s"),
        pytest.param(fmt.duration, 125, "2 min 5 s", id="min"),
        pytest.param(fmt.duration, 4800, "1 h 20 min", id="h"),
        pytest.param(fmt.duration, None, "—", id="none"),
        pytest.param(fmt.percent, 98.44, "98.4 %", id="percent"),
        pytest.param(fmt.percent, float("nan"), "—", id="nan"),
        pytest.param(fmt.count, 10000, "10,000", id="count"),
        pytest.param(fmt.rate, 1234, "1.2 k ops/s", id="kops"),
        pytest.param(fmt.rate, 350, "350 ops/s", id="ops"),
        pytest.param(fmt.size, 3 * 1024 * 1024, "3.0 MiB", id="mib"),
        pytest.param(fmt.score, 92.0, "92", id="score"),
    ],
)
def test_formatting_for_people(func: object, value: object, text: str) -> None:
    assert func(value) == text  # type: ignore[operator]


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        pytest.param(10, "just now", id="now"),
        pytest.param(300, "5 minutes ago", id="minutes"),
        pytest.param(3600, "1 hour ago", id="hour"),
        pytest.param(3 * 86400, "3 days ago", id="days"),
        pytest.param(65 * 86400, "2 months ago", id="months"),
        pytest.param(-2 * 86400, "in 2 days", id="future"),
    ],
)
def test_ages(delta: float, text: str) -> None:
    assert fmt.ago(1_000_000_000 - delta, now=1_000_000_000) == text


def test_chart_has_a_point_per_run_axes_tooltips_trend_and_change_points() -> None:
    points = [Point(1_700_000_000 + i * 3600, f"r{i}", 10.0 if i < 15 else 12.0) for i in range(30)]
    from pytest_fwmon.history.trends import analyse

    trend = analyse([(p.ts, p.run_id, p.value) for p in points], metric="tests.duration")
    assert trend.change_points, "the fixture step should be a change point"
    svg = line_chart(
        Chart(
            title="suite <duration>",
            unit="time",
            points=points,
            fmt=fmt.duration,
            trend=trend.to_dict(),
            href=lambda r: f"runs/{r}.html",
        )
    )
    assert svg.count('<circle class="pt"') == 30
    # chart, points, trend line and band, change points
    assert svg.count("<title") == 1 + 30 + 2 + len(trend.change_points)
    assert 'class="trend"' in svg and 'class="band"' in svg and 'class="cp"' in svg
    assert "suite &lt;duration&gt;" in svg and "<duration>" not in svg
    assert ">time</text>" in svg and "run start (UTC)" in svg
    assert (
        "r15 · " in svg
        and "level 10 s → 12 s (+20.0 %, +" in svg
        and " \N{GREEK SMALL LETTER SIGMA}), p = " in svg
    )


def test_empty_chart_says_so() -> None:
    svg = line_chart(Chart(title="x", unit="count", points=[]))
    assert 'data-points="0"' in svg and "no runs in this window" in svg


def test_site_pages_exist_and_work_offline(site: Path) -> None:
    names = {p.name for p in site.iterdir()}
    assert {
        "index.html",
        "trends.html",
        "trends-30d.html",
        "trends-all.html",
        "runs.html",
        "improvements.html",
        MARKER,
        "runs",
    } <= names
    assert len(list((site / "runs").glob("*.html"))) == RUNS
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        # self-contained: no external stylesheet, script, image or font
        assert not re.search(
            r"""(src|href)=["']?(https?:)?//""",
            text.replace('href="https://bandit.readthedocs.io/"', ""),
        ), page
        assert "<link" not in text and "@import" not in text
        assert not re.search(r"url\((?!#)", text)  # only references inside the page


def test_overview_shows_verdict_scores_and_health(site: Path) -> None:
    text = (site / "index.html").read_text(encoding="utf-8")
    assert 'id="gate-verdict" data-verdict="blocked"' in text
    assert 'data-health="fail"' in text
    security = re.search(r'data-pipeline="security">.*?</div></div>', text)
    assert security is not None and ">80<" in security.group(0) and "fail" in security.group(0)
    docs = re.search(r'data-pipeline="docs">.*?</div></div>', text)
    assert docs is not None and f">{70 + RUNS - 1}<" in docs.group(0)


def test_trend_windows_hold_the_right_points(site: Path) -> None:
    newest = (RUNS - 1) * STEP_HOURS
    in_week = sum(1 for i in range(RUNS) if newest - i * STEP_HOURS <= 7 * 24)
    for page, expected in (
        ("trends.html", in_week),
        ("trends-30d.html", RUNS),
        ("trends-all.html", RUNS),
    ):
        text = (site / page).read_text(encoding="utf-8")
        charts = re.findall(r'<figure data-metric="([^"]+)">.*?</figure>', text)
        assert "pipeline.security.score" in charts and "benchmark.parse.p95" in charts
        assert "benchmark.parse.ops" in charts and "tests.duration" in charts
        assert "coverage.line_percent" in charts
        for figure in re.findall(r"<figure .*?</figure>", text):
            assert figure.count('<circle class="pt"') == expected, page
    all_runs = (site / "trends-all.html").read_text(encoding="utf-8")
    security = re.search(r'<figure data-metric="pipeline.security.score">.*?</figure>', all_runs)
    assert security is not None and 'class="cp"' in security.group(0)
    assert f"run-{STEP_AT:04d}-abcdef" in re.search(  # type: ignore[union-attr]
        r'<g class="cp">.*?</g>', security.group(0)
    ).group(0)


def test_report_values_are_escaped(site: Path) -> None:
    newest = history_reports()[-1]["run"]["id"]
    text = (site / "runs" / run_file(newest)).read_text(encoding="utf-8")
    assert XSS not in text and "<b>evil" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    parser = _Scripts()
    parser.feed(text)
    assert parser.tags.count("script") == 1  # ours only
    assert "alert" not in "".join(parser.scripts)
    assert "b" not in parser.tags


def test_findings_grouped_by_file_and_rule_and_linked(site: Path, history: Path) -> None:
    newest = history_reports()[-1]["run"]["id"]
    text = (site / "runs" / run_file(newest)).read_text(encoding="utf-8")
    files = re.findall(r'<section class="file" data-path="([^"]*)">', text)
    assert files == ["pkg/&lt;b&gt;evil&lt;/b&gt;.py", "pkg/app.py"]
    evil = text[text.index(f'data-path="{files[0]}"') : text.index('data-path="pkg/app.py"')]
    assert re.findall(r'data-rule="([^"]+)"', evil) == ["B101", "B602"]
    # without CI info or a template, findings link into the project tree relative to the site
    dash = Dashboard(open_source(history), Options(root_prefix="../../"))
    assert dash.source_link({"run": {}}, XSS_PATH, 7) == "../../pkg/%3Cb%3Eevil%3C/b%3E.py#L7"
    github = {
        "run": {
            "git": {"sha": "abc"},
            "ci": {"provider": "github-actions", "repository": "o/r"},
        }
    }
    assert dash.source_link(github, "a b.py", 3) == "https://github.com/o/r/blob/abc/a%20b.py#L3"
    templated = Dashboard(dash.source, Options(source_url="https://x/{sha}/{path}?l={line}"))
    assert templated.source_link(github, "p.py", 5) == "https://x/abc/p.py?l=5"


def test_run_page_shows_benchmarks_and_slowest_tests(site: Path) -> None:
    newest = history_reports()[-1]["run"]["id"]
    text = (site / "runs" / run_file(newest)).read_text(encoding="utf-8")
    bench = text[text.index('id="benchmarks"') : text.index('id="slowest"')]
    assert "2.4 ms" in bench and "800 ops/s" in bench and "p95_ms" in bench
    slowest = text[text.index('id="slowest"') : text.index('id="checks"')]
    rows = re.findall(r"test_app\.py::test_(\d+)", slowest)
    assert rows == [str(n) for n in range(12, 2, -1)]  # ten slowest, slowest first
    assert "1.2 s" in slowest


def test_report_only_site(tmp_path: Path) -> None:
    report = history_reports(3)[-1]
    path = tmp_path / ".fwmon" / "report.json"
    write_json_atomic(path, report)
    source = open_source(tmp_path)
    assert isinstance(source, ReportSource)
    result = build_site(Dashboard(source), tmp_path / "site")
    assert result.run_pages == 1
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert 'data-verdict="blocked"' in index and ">1 run<" in index
    trends = (tmp_path / "site" / "trends.html").read_text(encoding="utf-8")
    assert trends.count('<circle class="pt"') == len(re.findall("<figure ", trends))


def test_report_layered_over_store(history: Path, tmp_path: Path) -> None:
    extra = history_reports(RUNS + 1)[-1]
    path = tmp_path / "report.json"
    write_json_atomic(path, extra)
    dash = Dashboard(open_source(history, report=path))
    summary = dash.summary()
    assert summary["runs"] == RUNS + 1
    assert summary["latest"]["run_id"] == extra["run"]["id"]
    assert len(dash.trend("pipeline.security.score", "all")["points"]) == RUNS + 1
    # a report the store already holds is not shown twice
    stored = tmp_path / "stored.json"
    write_json_atomic(stored, history_reports()[-1])
    assert Dashboard(open_source(history, report=stored)).summary()["runs"] == RUNS


def test_run_pages_limit_and_stale_pages(history: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    (out / "runs").mkdir(parents=True)
    (out / MARKER).write_text("x", encoding="utf-8")
    (out / "runs" / "gone.html").write_text("old", encoding="utf-8")
    result = build_site(Dashboard(open_source(history), Options(run_pages=5)), out)
    assert result.run_pages == 5 and result.removed == 1
    runs = (out / "runs.html").read_text(encoding="utf-8")
    assert runs.count('href="runs/') == 5  # only runs with a page are linked


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        pytest.param("file", "is a file; choose a folder for the site", id="file"),
        pytest.param("foreign", "is not empty and was not written by fwmon", id="foreign"),
    ],
)
def test_build_refuses_to_overwrite_other_files(
    history: Path, tmp_path: Path, setup: str, message: str
) -> None:
    out = tmp_path / "out"
    if setup == "file":
        out.write_text("x", encoding="utf-8")
    else:
        out.mkdir()
        (out / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        build_site(Dashboard(open_source(history)), out)
    if setup == "foreign":
        assert (out / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_nothing_to_show_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"no history store at .* and no report at"):
        open_source(tmp_path)


def test_version_changes_when_a_run_is_added(history: Path, tmp_path: Path) -> None:
    root = tmp_path
    fixture_history(root, runs=3)
    dash = Dashboard(open_source(root))
    before = dash.version()
    assert dash.version() == before
    with open_store(None, root) as store:
        store.add_run(history_reports(4)[-1])
    assert dash.version() != before
    assert dash.summary()["runs"] == 4


def test_summary_is_json(history: Path) -> None:
    dash = Dashboard(open_source(history))
    json.dumps(dash.summary(), allow_nan=False)
    json.dumps(dash.slo(), allow_nan=False)
