"""Alert response state in the dashboard, in real headless Chromium (issue 16, acceptance 3).

Uses the Chromium fixtures of test_dashboard_browser (skips without /usr/bin/chromium unless
``FWMON_REQUIRE_BROWSER=1``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.alerts.ack import acknowledge
from pytest_fwmon.history.connect import open_store
from tests import test_dashboard_browser as browser
from tests.test_alerts_support import HttpReceiver
from tests.test_alerts_truth import raise_alerts, settings, silence_score_low
from tests.test_dashboard_browser import CONTRAST_JS, serve, stop
from tests.test_dashboard_support import XSS

# the Chromium fixtures of the dashboard browser tests
chromium = browser.chromium
open_page = browser.open_page
shots = browser.shots

pytestmark = pytest.mark.browser


@pytest.fixture
def alerting(tmp_path: Path) -> Iterator[str]:
    """A live dashboard: ScoreLow (high, silenced), DocsLow (medium, acknowledged by XSS)."""
    with HttpReceiver() as http:
        raise_alerts(tmp_path, http)
    silence_score_low(tmp_path)
    with open_store(None, tmp_path) as store:
        acknowledge(store, settings(), "DocsLow", by=XSS, note="on it", root=tmp_path, environ={})
    srv, thread = serve(tmp_path, 0)
    try:
        yield srv.url
    finally:
        stop(srv, thread)


def alert_rows(page: Any) -> dict[str, str]:
    """Alert name -> the text of its row in the active alerts table."""
    rows = page.locator("#alerts ~ div.scroll").first.locator("tbody tr").all()
    out = {}
    for row in rows:
        cells = row.locator("td").all_inner_texts()
        out[cells[2]] = " | ".join(cells)
    return out


def test_silenced_and_acknowledged_alerts_show_as_such(
    open_page: Any, alerting: str, shots: Path
) -> None:
    for width in (360, 1280):
        view = open_page(alerting, width)
        page = view.page
        rows = alert_rows(page)
        assert "silenced (sil-1)" in rows["ScoreLow"]
        assert "silenced" not in rows["DocsLow"]
        assert f"acknowledged by {XSS} at " in rows["DocsLow"]  # as text: nothing ran
        assert "acknowledged" not in rows["ScoreLow"]
        assert view.dialogs == [] and page.locator("main script").count() == 0
        cards = {
            card.get_attribute("data-severity"): card.locator(".big").inner_text()
            for card in page.locator(".card[data-severity]").all()
        }
        assert cards == {"critical": "0", "high": "0", "medium": "1", "low": "0"}
        note = page.locator("#alerts-counted").inner_text()
        assert "silenced alerts are not counted (1 silenced)" in note
        page.screenshot(path=str(shots / f"alerts-silenced-{width}.png"), full_page=True)
        assert page.evaluate(CONTRAST_JS) == []
        assert view.errors == []
