"""The dashboard's flaky-tests page and ``/api/v1/flaky`` (issue 17, part 6).

A history with a flaky test, a broken one, a stable one and a flaky test whose file name holds
HTML, plus a quarantine file with an entry expiring soon, one expired and one far off. The same
data comes from ``Dashboard.flaky()``, the static build's ``flaky.json`` and the live server's
API over a real socket; the page shows it escaped, in real headless Chromium too.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.dashboard.build import build_site
from pytest_fwmon.dashboard.data import Dashboard, Options
from pytest_fwmon.dashboard.server import DashboardServer, make_server
from pytest_fwmon.dashboard.sources import open_source
from pytest_fwmon.history import open_store
from pytest_fwmon.history.store import iso_to_ts
from tests.test_alerts_flaky import _quarantine, _result
from tests.test_dashboard_browser import CONTRAST_JS, chromium, open_page  # noqa: F401
from tests.test_dashboard_server import openapi, request, validate  # noqa: F401
from tests.test_history_support import make_report

FLAKY = "tests/test_api.py::test_retry"
BROKEN = "tests/test_api.py::test_broken"
STABLE = "tests/test_api.py::test_ok"
EVIL = 'tests/test_<img src=x onerror="alert(1)">.py::test_x[<script>alert(2)</script>]'
LONG = "tests/test_far.py::test_later"
GONE = "tests/test_old.py::test_gone"
#: "Now" of the dashboard: 2024-03-05, the expiries count from this day.
NOW = iso_to_ts("2024-03-05T12:00:00Z")


def _run(i: int, outcomes: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    report = make_report(
        f"run-{i:08d}",
        at=i,
        failed=sum(1 for o in outcomes.values() if o[-1] == "failed"),
        extra={"test_results": [_result(n, o) for n, o in sorted(outcomes.items())]},
    )
    report["run"]["git"]["sha"] = "c" * 40
    return report


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("flaky-dash")
    with open_store(str(root / ".fwmon" / "history.db"), root) as store:
        for i in range(1, 7):
            store.add_run(
                _run(
                    i,
                    {
                        FLAKY: ["failed", "passed"] if i in (2, 5) else ["passed"],
                        BROKEN: ["failed", "failed"],
                        STABLE: ["passed"],
                        EVIL: ["failed"] if i == 3 else ["passed"],
                    },
                )
            )
    _quarantine(root, (FLAKY, "2024-03-08"), (LONG, "2024-06-30"), (GONE, "2024-03-01"))
    return root


def _dash(root: Path) -> Dashboard:
    return Dashboard(open_source(root), Options(refresh=0, root=root, now=NOW))


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[DashboardServer]:
    srv = make_server(_dash(project), port=0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)
        srv.app.dash.close()


def test_the_data_lists_the_flaky_tests_and_the_quarantine(project: Path) -> None:
    with _dash(project) as dash:
        data = dash.flaky()
    tests = {t["nodeid"]: t for t in data["tests"]}
    assert sorted(tests) == sorted([FLAKY, EVIL])  # not the broken one, not the stable one
    assert tests[FLAKY]["runs"] == ["run-00000002", "run-00000005"]
    assert tests[FLAKY]["commits"] == ["c" * 40]
    assert tests[FLAKY]["quarantined"] is True
    assert tests[FLAKY]["quarantine_expires"] == "2024-03-08"
    assert tests[EVIL]["quarantined"] is False and tests[EVIL]["runs"] == ["run-00000003"]
    assert tests[EVIL]["flip_rate"] == pytest.approx(0.4)
    assert data["today"] == "2024-03-05"
    entries = {q["nodeid"]: (q["days_left"], q["expired"], q["flaky"]) for q in data["quarantine"]}
    assert entries == {FLAKY: (3, False, True), LONG: (117, False, False), GONE: (-4, True, False)}


def test_static_build_and_live_api_give_the_same_data(
    project: Path,
    server: DashboardServer,
    openapi: dict[str, Any],  # noqa: F811
) -> None:
    out = project / "site"
    with _dash(project) as dash:
        build_site(dash, out)
        expected = dash.flaky()
    built = json.loads((out / "flaky.json").read_text(encoding="utf-8"))
    assert built == expected
    status, headers, body = request(server, "/api/v1/flaky")
    assert status == 200 and headers["content-type"] == "application/json"
    assert validate(openapi, "/api/v1/flaky", 200, body) == built
    again = request(server, "/api/v1/flaky", headers={"If-None-Match": headers["etag"]})
    assert again[0] == 304


def test_the_page_escapes_node_ids(project: Path, server: DashboardServer) -> None:
    status, _headers, body = request(server, "/flaky.html")
    assert status == 200
    page = body.decode("utf-8")
    assert "<script>alert(2)" not in page and "<img src=x" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    out = project / "site-escapes"
    with _dash(project) as dash:
        build_site(dash, out)
    built = (out / "flaky.html").read_text(encoding="utf-8")
    assert "<script>alert(2)" not in built


@pytest.mark.browser
@pytest.mark.parametrize("where", ["static", "live"])
def test_the_flaky_page_in_chromium(
    open_page: Any,  # noqa: F811
    project: Path,
    server: DashboardServer,
    where: str,
    tmp_path: Path,
) -> None:
    if where == "static":
        with _dash(project) as dash:
            build_site(dash, tmp_path / "site")
        url = (tmp_path / "site" / "flaky.html").as_uri()
    else:
        url = server.url + "flaky.html" if server.url.endswith("/") else server.url + "/flaky.html"
    for width in (360, 1280):
        view = open_page(url, width)
        page = view.page
        assert view.dialogs == [] and view.errors == []  # no script from a node id ran
        rows = page.locator("table").first.locator("tbody tr").all_inner_texts()
        assert len(rows) == 2
        evil, flaky = sorted(rows, key=lambda r: FLAKY in r)
        assert EVIL in evil and "not quarantined" in evil and "0.40" in evil
        assert FLAKY in flaky and "expires in 3 d" in flaky and "2 runs, 1 commit" in flaky
        quarantine = page.locator("table").nth(1).locator("tbody tr").all_inner_texts()
        assert [r.split("\t")[0] for r in quarantine] == [FLAKY, LONG, GONE]
        assert "expired 4 d ago" in quarantine[2]
        assert page.locator("nav a[aria-current=page]").inner_text() == "Flaky tests"
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert page.evaluate(CONTRAST_JS) == []
