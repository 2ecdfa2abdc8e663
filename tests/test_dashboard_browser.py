"""The dashboard in real headless Chromium (Debian's /usr/bin/chromium) through Playwright.

Without /usr/bin/chromium (``FWMON_CHROMIUM`` names another binary) these tests skip, unless
``FWMON_REQUIRE_BROWSER=1`` (CI sets it): then they fail with a message saying what to install.
Screenshots at 360 px and 1280 px are kept as test artifacts in ``FWMON_SCREENSHOT_DIR`` when it
is set, else under the pytest temp folder (``.../dashboard-screenshots0/``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.dashboard.build import build_site
from pytest_fwmon.dashboard.data import Dashboard, Options
from pytest_fwmon.dashboard.render import run_file
from pytest_fwmon.dashboard.server import DashboardServer, make_server
from pytest_fwmon.dashboard.sources import open_source
from pytest_fwmon.history import open_store
from tests.test_dashboard_support import (
    RUNS,
    STEP_HOURS,
    XSS,
    XSS_PATH,
    fixture_history,
    history_reports,
    make_report,
)

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("FWMON_CHROMIUM") or "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDTHS = (360, 1280)

#: Points of a chart in the default 7-day window of the fixture history.
NEWEST_HOURS = (RUNS - 1) * STEP_HOURS
IN_WEEK = sum(1 for i in range(RUNS) if NEWEST_HOURS - i * STEP_HOURS <= 7 * 24)

#: WCAG 2.x contrast ratio of every visible text element against its background, in the page.
CONTRAST_JS = """() => {
  const lum = (rgb) => {
    const c = rgb.map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const parse = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = parse(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const worst = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!node.textContent.trim()) continue;
    const el = node.parentElement;
    if (!el || el.closest('svg') || el.closest('script') || !el.offsetParent) continue;
    const fg = parse(getComputedStyle(el).color).slice(0, 3);
    const [a, b] = [lum(fg), lum(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) worst.push([node.textContent.trim().slice(0, 40), ratio]);
  }
  return worst;
}"""


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A headless Chromium; skips without one, fails without one under FWMON_REQUIRE_BROWSER=1."""
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "playwright is not installed: pip install 'pytest-fwmon[dev]'"
    if problem is not None:
        if os.environ.get("FWMON_REQUIRE_BROWSER") == "1":
            pytest.fail(f"FWMON_REQUIRE_BROWSER=1 but {problem}", pytrace=False)
        pytest.skip(problem)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wanted = os.environ.get("FWMON_SCREENSHOT_DIR")
    if wanted:
        Path(wanted).mkdir(parents=True, exist_ok=True)
        return Path(wanted)
    return tmp_path_factory.mktemp("dashboard-screenshots")


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser-history")
    fixture_history(root)
    return root


@pytest.fixture(scope="module")
def site(history: Path) -> Path:
    out = history / "site"
    with Dashboard(open_source(history), Options(refresh=30, root_prefix="../../")) as dash:
        build_site(dash, out)
    return out


def serve(root: Path, refresh: int) -> tuple[DashboardServer, threading.Thread]:
    srv = make_server(Dashboard(open_source(root), Options(refresh=refresh)), port=0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    return srv, thread


def stop(srv: DashboardServer, thread: threading.Thread) -> None:
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=10)
    srv.app.dash.close()


@pytest.fixture(scope="module")
def live(history: Path) -> Iterator[str]:
    srv, thread = serve(history, 30)
    try:
        yield srv.url
    finally:
        stop(srv, thread)


class Page:
    """A page with every request, console error and dialog it caused recorded."""

    def __init__(self, browser: Any, width: int) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def open_page(chromium: Any) -> Iterator[Any]:
    pages: list[Page] = []

    def opener(url: str, width: int = 1280, init_script: str | None = None) -> Page:
        page = Page(chromium, width)
        pages.append(page)
        if init_script is not None:
            page.page.add_init_script(init_script)
        page.page.goto(url)
        return page

    yield opener
    for page in pages:
        page.close()


def check_overview(page: Any) -> None:
    health = page.locator("#health")
    assert health.get_attribute("data-health") == "fail"
    assert "fail" in health.inner_text()
    verdict = page.locator("#gate-verdict")
    assert verdict.get_attribute("data-verdict") == "blocked"
    assert "blocked" in verdict.inner_text()
    scores = {
        card.get_attribute("data-pipeline"): card.locator(".score").inner_text()
        for card in page.locator(".card.pipeline").all()
    }
    assert scores == {
        "security": "80",
        "docs": str(70 + RUNS - 1),
        "quality": "88",
        "performance": "100",
        "integration": "100",
    }
    security = page.locator('.card.pipeline[data-pipeline="security"]').inner_text().lower()
    assert "fail" in security  # a word, not only a colour


def chart_points(page: Any, metric: str) -> int:
    count: int = page.locator(f'figure[data-metric="{metric}"] svg circle.pt').count()
    return count


def test_static_site_from_file_url(open_page: Any, site: Path, shots: Path) -> None:
    for width in WIDTHS:
        view = open_page((site / "index.html").as_uri(), width)
        check_overview(view.page)
        view.page.screenshot(path=str(shots / f"static-overview-{width}.png"), full_page=True)
        scroll = view.page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"page is {scroll} px wide at {width} px"
        assert view.page.evaluate(CONTRAST_JS) == []
        assert all(u.startswith("file://") for u in view.requests), view.requests
        assert view.errors == []


def test_static_trends_charts_and_windows(open_page: Any, site: Path, shots: Path) -> None:
    view = open_page((site / "trends.html").as_uri())
    page = view.page
    assert chart_points(page, "pipeline.security.score") == IN_WEEK
    assert chart_points(page, "benchmark.parse.p95") == IN_WEEK
    title = page.locator('figure[data-metric="tests.duration"] circle.pt title').first
    assert title.text_content().endswith("12.5 s")
    page.screenshot(path=str(shots / "static-trends-1280.png"), full_page=True)
    page.get_by_role("link", name="all runs").click()
    page.wait_for_url("**/trends-all.html")
    assert chart_points(page, "pipeline.security.score") == RUNS
    change = page.locator('figure[data-metric="pipeline.security.score"] g.cp title')
    assert change.count() == 1 and "95 → 80" in change.text_content()
    assert page.locator('figure[data-metric="pipeline.security.score"] .trend').count() == 1
    assert page.locator('figure[data-metric="pipeline.security.score"] .band').count() == 1
    page.set_viewport_size({"width": 360, "height": 900})
    page.screenshot(path=str(shots / "static-trends-all-360.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert all(u.startswith("file://") for u in view.requests)


def test_script_in_a_finding_shows_as_text_and_runs_nothing(
    open_page: Any, site: Path, shots: Path
) -> None:
    newest = history_reports()[-1]["run"]["id"]
    for width in WIDTHS:
        view = open_page((site / "runs" / run_file(newest)).as_uri(), width)
        page = view.page
        messages = page.locator(".msg").all_inner_texts()
        assert XSS in messages
        assert XSS_PATH in page.locator("section.file").first.locator("h3").inner_text()
        assert page.locator("main script, main b").count() == 0
        assert page.evaluate("document.scripts.length") == 1
        assert view.dialogs == []
        link = page.locator("a.loc").first.get_attribute("href")
        assert link == "../../pkg/%3Cb%3Eevil%3C/b%3E.py#L3"
        page.screenshot(path=str(shots / f"static-run-{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert page.evaluate(CONTRAST_JS) == []
        badges = page.locator(".badge").all_inner_texts()
        assert badges and all(any(ch.isalpha() for ch in b) for b in badges)


def test_live_server_pages(open_page: Any, live: str, shots: Path) -> None:
    for width in WIDTHS:
        view = open_page(live, width)
        check_overview(view.page)
        view.page.screenshot(path=str(shots / f"live-overview-{width}.png"), full_page=True)
        assert view.errors == []
    view = open_page(live + "trends-30d.html")
    assert chart_points(view.page, "pipeline.docs.score") == RUNS
    view.page.locator('figure[data-metric="pipeline.docs.score"] circle.pt').last.click()
    view.page.wait_for_url(f"**/runs/run-{RUNS - 1:04d}-abcdef.html")
    assert XSS in view.page.locator(".msg").all_inner_texts()
    assert view.dialogs == []
    assert all(u.startswith(live) for u in view.requests), view.requests


#: Counts, in sessionStorage (it survives reloads), the page's interval callbacks that ran
#: ("ticks"), the fetch() calls it made ("fetches") and the fetches that settled ("settled").
COUNT_TICKS_AND_FETCHES = """
(() => {
  const store = window.sessionStorage;
  const bump = (key) => store.setItem(key, String(Number(store.getItem(key) || 0) + 1));
  const setInterval = window.setInterval.bind(window);
  window.setInterval = (callback, ms, ...args) =>
    setInterval(() => { try { callback(...args); } finally { bump("ticks"); } }, ms);
  const fetch = window.fetch.bind(window);
  window.fetch = (...args) => {
    bump("fetches");
    return fetch(...args).finally(() => bump("settled"));
  };
})();
"""


def counters(page: Any) -> dict[str, int]:
    """The counts COUNT_TICKS_AND_FETCHES kept so far."""
    return dict(
        page.evaluate(
            "() => Object.fromEntries(['ticks', 'fetches', 'settled']"
            ".map((k) => [k, Number(sessionStorage.getItem(k) || 0)]))"
        )
    )


@pytest.mark.slow
def test_auto_refresh_picks_up_a_new_run_and_can_be_paused(
    open_page: Any, tmp_path: Path, shots: Path
) -> None:
    fixture_history(tmp_path, runs=3)
    srv, thread = serve(tmp_path, refresh=1)
    try:
        view = open_page(srv.url, init_script=COUNT_TICKS_AND_FETCHES)
        page = view.page
        assert "run-0002-abcdef" in page.locator("#health").inner_text()
        assert page.locator("#refresh-state").inner_text() == "Auto-refresh every 1 s"

        def add(index: int) -> str:
            report = make_report(index, security=70.0, docs=91.0, gate=True)
            with open_store(None, tmp_path) as store:
                assert store.add_run(report)
            return str(report["run"]["id"])

        new = add(3)  # added after the page loaded
        page.locator("#health", has_text=new).wait_for(timeout=30_000)
        assert page.locator('.card.pipeline[data-pipeline="security"] .score').inner_text() == "70"
        assert page.locator("#gate-verdict").get_attribute("data-verdict") == "pass"
        page.screenshot(path=str(shots / "live-refreshed-1280.png"), full_page=True)

        page.get_by_role("button", name="Pause").click()
        assert page.locator("#refresh-state").inner_text() == "Auto-refresh paused"
        # a poll sent before the click has been answered before the server gets the new run
        page.wait_for_function(
            "() => sessionStorage.getItem('settled') === sessionStorage.getItem('fetches')"
        )
        at_pause = counters(page)
        assert at_pause["fetches"] > 0  # the counter sees the polls that found run 3
        paused = add(4)
        # the server has it; while three of the page's refresh intervals pass, the paused page
        # asks for nothing and keeps what it shows
        page.wait_for_function(
            "(n) => Number(sessionStorage.getItem('ticks')) >= n",
            arg=at_pause["ticks"] + 3,
            timeout=30_000,
        )
        assert counters(page)["fetches"] == at_pause["fetches"]
        assert paused not in page.locator("#health").inner_text()
        page.get_by_role("button", name="Resume").click()
        page.locator("#health", has_text=paused).wait_for(timeout=30_000)
        assert page.locator("#refresh-state").inner_text() == "Auto-refresh every 1 s"
        assert view.errors == []
    finally:
        stop(srv, thread)
