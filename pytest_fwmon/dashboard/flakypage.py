"""The flaky-tests page: each flaky test with its evidence, and the quarantine with its expiry.

The data is :meth:`pytest_fwmon.dashboard.data.Dashboard.flaky` (also ``/api/v1/flaky`` and
``flaky.json`` of a static build). Node ids come from file names and may hold any text: every
value goes through :func:`~.render.e`, and an issue link is only a link when it is http(s).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .data import Dashboard
from .render import Context, badge, e, layout, table


def _when(iso: str | None) -> str:
    """Return a ``<time>`` element of an ISO time, shown to the minute."""
    if not iso:
        return ""
    return f'<time datetime="{e(iso)}">{e(iso[:16].replace("T", " "))}</time>'


def _expiry_badge(entry: Mapping[str, Any]) -> str:
    """Return a quarantine entry's state: expired, expiring within 7 days, or until its date."""
    days = int(entry["days_left"])
    if days < 0:
        return badge("blocked", f"expired {-days} d ago: blocks the gate")
    if days <= 7:
        return badge("pending", f"expires in {days} d")
    return badge("pass", f"until {entry['expires']}")


def _quarantine_cell(record: Mapping[str, Any], entries: Mapping[str, Any]) -> str:
    """Return a flaky test's quarantine status."""
    entry = entries.get(record["nodeid"])
    if entry is None:
        return badge("medium", "not quarantined")
    return _expiry_badge(entry)


def _count(n: int, word: str) -> str:
    """Return ``n word`` with the word in the plural unless ``n`` is 1."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _flaky_row(record: Mapping[str, Any], entries: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the cells of one flaky test."""
    evidence = f"{_count(len(record['runs']), 'run')}, {_count(len(record['commits']), 'commit')}"
    why = "; ".join(record.get("reasons") or [])
    return (
        f"<code>{e(record['nodeid'])}</code>",
        e(f"{record['flip_rate']:.2f}"),
        f'{e(evidence)}<br><span class="muted">{e(why)}</span>',
        _when(record.get("first_seen")),
        _when(record.get("last_seen")),
        _quarantine_cell(record, entries),
    )


def _issue(url: str | None) -> str:
    """Return an issue link (http and https only; anything else is shown as text)."""
    if not url:
        return ""
    if url.startswith(("https://", "http://")):
        return f'<a href="{e(url)}" rel="noreferrer">{e(url)}</a>'
    return e(url)


def _entry_row(entry: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the cells of one quarantine entry."""
    return (
        f"<code>{e(entry['nodeid'])}</code>",
        e(entry["owner"]),
        e(entry["reason"]),
        e(entry["expires"]),
        _expiry_badge(entry),
        e("yes" if entry["flaky"] else "no"),
        _issue(entry.get("issue")),
    )


def flaky(dash: Dashboard, ctx: Context, data: Mapping[str, Any] | None = None) -> str:
    """Return the flaky-tests page of ``data`` (by default what the dashboard reads now)."""
    data = dash.flaky() if data is None else data
    entries = {q["nodeid"]: q for q in data["quarantine"]}
    body = [
        '<h2 id="flaky">Flaky tests</h2>',
        '<p class="muted">Tests with both outcomes on one commit (across runs or reruns), or a '
        f"flip rate above {e(data['threshold'])} over the newest {e(data['window'])} runs of a "
        "branch. A test that fails on every run is broken, not flaky, and is not listed.</p>",
        table(
            ("test", "flip rate", "evidence", "first seen", "last seen", "quarantine"),
            (_flaky_row(r, entries) for r in data["tests"]),
            numeric=(1,),
            css="nodeids",
            empty="no flaky tests in the history",
        ),
        '<h2 id="quarantine">Quarantine</h2>',
        '<p class="muted">fwmon-quarantine.toml: these tests run, but their failures do not fail '
        "the run; an expired entry blocks the gate.</p>",
        table(
            ("test", "owner", "reason", "expires", "status", "flaky", "issue"),
            (_entry_row(q) for q in data["quarantine"]),
            css="nodeids",
            empty="no test is quarantined",
        ),
    ]
    if data.get("note"):
        body.append(f'<p class="muted">{e(data["note"])}</p>')
    latest = dash.source.list_runs(dash.options.branch, limit=1)
    project = latest[-1].project if latest else None
    return layout(
        ctx, title="Flaky tests", site=dash.title(project), active="flaky", html="".join(body)
    )


__all__ = ["flaky"]
