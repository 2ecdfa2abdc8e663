"""A scripted 20-run scenario through real receivers: every rule of the noise model.

Runs are one hour apart on ``main`` of repo ``demo`` (run ``i`` starts at T0 + (i-1) h, the
evaluation clock is its finish, ~14 s later). ``group_by = [repo, branch]``,
``repeat_interval = 4h``. Routes: critical -> pager (webhook), email, slack, resolved to pager
only; high -> slack, email; medium -> email; low -> digest (file); no other resolved messages.

Rules: ``SecurityHigh`` (high; findings.security.high > 0; for_runs 2, resolve_after_runs 2,
escalate_after_runs 14), ``DocsLow`` / ``TestsFailing`` / ``CoverageLow`` (medium),
``SlowSuite`` (low; tests.duration > 100 s), the built-in ``GateBlockedMain`` (critical) and
the default inhibition (a critical GateBlockedMain mutes medium alerts of its repo and branch).
A silence on ``alertname=SecurityHigh`` runs from T0+10h to T0+13h (runs 11-13). Response
times are the defaults and ``escalate_unacknowledged`` is left at its default (on); nobody
acknowledges anything, so an alert still firing one run after it fired or escalated escalates
when the hour between runs exceeds its level's response time: high (30 min) does, medium
(2 h) and low (24 h) do not, as no medium or low alert here fires for 2 h.

=====  ======================================================  =============================
run    what happens                                            notifications
=====  ======================================================  =============================
1      all clear                                               -
2      2 high security findings: SecurityHigh pending          - (pending, for_runs 2)
3      still there: SecurityHigh fires (high)                  slack, email (first)
4      SecurityHigh unacknowledged 1 h > 30 min: escalates     pager, email, slack (first of
       high -> critical (escalated_from high)                  the critical group)
5      suite takes 150 s: SlowSuite (low) fires                digest (first)
6      unchanged, 2 h since run 4                              -
7      SlowSuite resolves (low route: no resolved message);    -
       3 h since run 4: inside the repeat interval
8      docs 70, 3 tests failing, coverage 70: three medium     email (ONE message, 3 alerts)
       4 h since run 4: SecurityHigh (critical) repeats        pager, email, slack (repeat)
9      the three recover (medium: no resolved message)         -
10     gate blocked: GateBlockedMain (critical) fires, in      pager, email, slack (new, 2
       the critical group next to SecurityHigh                 alerts each)
       coverage drops again: CoverageLow fires but inhibited   - (inhibited)
11     SecurityHigh silenced; gate passes: GateBlockedMain     pager (resolved; the only one)
       resolved, no visible alert of the group still firing
       CoverageLow no longer inhibited                         email (first for it)
12-13  coverage recovers; SecurityHigh still silenced          -
14     silence expired (T0+13h): SecurityHigh is firing in a   pager, email, slack (first)
       group its receivers were last told had none firing
15-17  1-3 h since run 14                                      -
18     findings 0 for one run: still firing (resolve after     pager, email, slack (repeat)
       2); 4 h since run 14. Its 14th firing run since it
       escalated, but critical is the top level: no change
19-20  findings back; 1-2 h since run 18                       -
=====  ======================================================  =============================

Totals: pager 6 (5 firing, 1 resolved), slack 6, email 8, digest 1.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.alerts import AlertSettings, evaluate_run, list_alerts
from pytest_fwmon.alerts.fingerprint import fingerprint
from pytest_fwmon.cli import main
from pytest_fwmon.history.connect import open_store
from tests.test_alerts_support import HttpReceiver, SmtpReceiver, channels_config
from tests.test_history_support import T0, iso, make_report

ENV = {
    "FWMON_TEST_PAGER_URL": "",  # filled with the receiver's URL
    "FWMON_TEST_SLACK_URL": "",
}

#: run -> (high security findings, docs score, failed tests, line coverage, duration, gate)
RUNS: dict[int, tuple[int, float, int, float, float, bool]] = {
    i: (0 if i in (1, 18) else 2, 90.0, 0, 87.5, 12.5, True) for i in range(1, 21)
}
RUNS[5] = (2, 90.0, 0, 87.5, 150.0, True)
RUNS[6] = (2, 90.0, 0, 87.5, 150.0, True)
RUNS[8] = (2, 70.0, 3, 70.0, 12.5, True)
RUNS[10] = (2, 90.0, 0, 70.0, 12.5, False)
RUNS[11] = (2, 90.0, 0, 70.0, 12.5, True)

#: run -> sorted (receiver, payload status, alerts, reason) the engine must send.
EXPECTED: dict[int, list[tuple[str, str, int, str]]] = {
    3: [("email", "firing", 1, "first"), ("slack", "firing", 1, "first")],
    4: [
        ("email", "firing", 1, "first"),
        ("pager", "firing", 1, "first"),
        ("slack", "firing", 1, "first"),
    ],
    5: [("digest", "firing", 1, "first")],
    8: [
        ("email", "firing", 1, "repeat"),
        ("email", "firing", 3, "first"),
        ("pager", "firing", 1, "repeat"),
        ("slack", "firing", 1, "repeat"),
    ],
    10: [
        ("email", "firing", 2, "new"),
        ("pager", "firing", 2, "new"),
        ("slack", "firing", 2, "new"),
    ],
    11: [("email", "firing", 1, "first"), ("pager", "resolved", 1, "resolved")],
    14: [
        ("email", "firing", 1, "first"),
        ("pager", "firing", 1, "first"),
        ("slack", "firing", 1, "first"),
    ],
    18: [
        ("email", "firing", 1, "repeat"),
        ("pager", "firing", 1, "repeat"),
        ("slack", "firing", 1, "repeat"),
    ],
}


def scenario_config(http: HttpReceiver, smtp: SmtpReceiver, digest: Path) -> dict[str, Any]:
    return {
        "disable_builtin": [
            "SecurityHighFindings",
            "BenchmarkP95ChangePoint",
            "CoverageBelowTarget",
            "SloBurnRate",
            "MainBranchRed",  # the scenario's TestsFailing rule is the one that counts failures
        ],
        "group_by": ["repo", "branch"],
        "repeat_interval": "4h",
        "external_url": "https://dashboard.example.test/",
        "backoff": 0.01,
        "rules": [
            {
                "name": "SecurityHigh",
                "severity": "high",
                "metric": "findings.security.high",
                "op": "gt",
                "threshold": 0,
                "for_runs": 2,
                "resolve_after_runs": 2,
                "escalate_after_runs": 14,
                "summary": "{value:g} high security findings on {branch}",
            },
            {
                "name": "DocsLow",
                "severity": "medium",
                "metric": "pipeline.docs.score",
                "op": "lt",
                "threshold": 80,
            },
            {
                "name": "TestsFailing",
                "severity": "medium",
                "metric": "tests.failed",
                "op": "gt",
                "threshold": 0,
            },
            {
                "name": "CoverageLow",
                "severity": "medium",
                "metric": "coverage.line_percent",
                "op": "lt",
                "threshold": 80,
                "summary": "coverage {value:.1f}% < {threshold:g}%",
            },
            {
                "name": "SlowSuite",
                "severity": "low",
                "metric": "tests.duration",
                "op": "gt",
                "threshold": 100,
            },
        ],
        "channels": channels_config(http, smtp, digest),
        "routes": {
            "critical": {"receivers": ["pager", "email", "slack"], "send_resolved": ["pager"]},
            "high": {"receivers": ["slack", "email"], "send_resolved": False},
            "medium": {"receivers": ["email"], "send_resolved": False},
            "low": {"receivers": ["digest"], "send_resolved": False},
        },
    }


def run_report(i: int) -> dict[str, Any]:
    high, docs, failed, coverage, duration, gate = RUNS[i]
    return make_report(
        f"run-{i:08d}",
        at=i - 1,
        docs=docs,
        failed=failed,
        coverage=coverage,
        duration=duration,
        gate=gate,
        counts={"security": {"high": high}},
    )


def test_twenty_run_scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    digest = tmp_path / "digest.jsonl"
    db = tmp_path / "history.db"
    with HttpReceiver() as http, SmtpReceiver() as smtp:
        env = {
            "FWMON_TEST_PAGER_URL": http.url("/pager"),
            "FWMON_TEST_SLACK_URL": http.url("/slack"),
        }
        settings = AlertSettings.from_config(scenario_config(http, smtp, digest))
        sent: dict[int, list[tuple[str, str, int, str]]] = {}
        states: dict[int, dict[str, str]] = {}
        levels: dict[int, dict[str, tuple[str, str | None]]] = {}
        store = open_store(str(db), tmp_path)
        try:
            for i in range(1, 21):
                if i == 11:
                    starts, expires = T0 + timedelta(hours=10), T0 + timedelta(hours=13)
                    code = main(
                        [
                            "alerts",
                            "silence",
                            "alertname=SecurityHigh",
                            "--starts",
                            iso(starts),
                            "--expires",
                            iso(expires),
                            "--reason",
                            "fix in review (PR 42)",
                            "--author",
                            "alice",
                            "--store",
                            str(db),
                        ]
                    )
                    assert code == 0
                report = run_report(i)
                assert store.add_run(report)
                summary = evaluate_run(store, report, settings, root=tmp_path, environ=env)
                assert summary.evaluated, summary.skipped
                assert all(n.delivery == "sent" for n in summary.notifications), summary.lines()
                if summary.notifications:
                    sent[i] = sorted(
                        (n.receiver, n.status, n.alerts, n.reason) for n in summary.notifications
                    )
                views = list_alerts(store)
                states[i] = {a.alertname: a.state for a in views}
                levels[i] = {a.alertname: (a.severity, a.escalated_from) for a in views}
        finally:
            store.close()
        # the engine's own account, run by run
        assert sent == EXPECTED
        # pending then firing after for_runs; resolve_after_runs holds through run 18
        assert states[2]["SecurityHigh"] == "pending"
        assert states[3]["SecurityHigh"] == "firing"
        assert states[18]["SecurityHigh"] == "firing"
        assert states[9]["DocsLow"] == "resolved"
        assert states[11]["GateBlockedMain"] == "resolved"
        # response-time escalation: SecurityHigh high at run 3, critical from run 4 on; the
        # medium and low alerts never fire long enough to escalate
        assert levels[3]["SecurityHigh"] == ("high", None)
        assert all(levels[i]["SecurityHigh"] == ("critical", "high") for i in range(4, 21))
        assert {levels[8][n] for n in ("DocsLow", "TestsFailing", "CoverageLow")} == {
            ("medium", None)
        }
        assert levels[6]["SlowSuite"] == ("low", None)
        assert levels[11]["CoverageLow"] == ("medium", None)
        # what the real receivers got
        pager = [r.json() for r in http.at("/pager")]
        slack = [r.json() for r in http.at("/slack")]
        assert len(pager) == 6
        assert len(slack) == 6
        assert len(smtp.mails) == 8
        lines = digest.read_text().splitlines()
        assert len(lines) == 1
        assert Counter(p["status"] for p in pager) == {"firing": 5, "resolved": 1}
    # grouping: the run-8 email carries the three medium alerts in one message (run 8 also
    # mails the critical repeat, so it is found by its subject)
    [grouped] = [m for m in smtp.mails if m.message["Subject"] == "[FIRING:3] main demo (medium)"]
    text = grouped.part("plain")
    for name in ("DocsLow", "TestsFailing", "CoverageLow"):
        assert name in text
    # the run-10 pager message: both critical alerts of the group
    both = sorted(a["labels"]["alertname"] for a in pager[2]["alerts"])
    assert both == ["GateBlockedMain", "SecurityHigh"]
    # the resolved pager message (run 11): GateBlockedMain with its end time; SecurityHigh,
    # silenced, is left out
    resolved = pager[3]
    assert resolved["status"] == "resolved"
    assert [a["labels"]["alertname"] for a in resolved["alerts"]] == ["GateBlockedMain"]
    assert resolved["alerts"][0]["endsAt"] == iso(T0 + timedelta(hours=10, seconds=13.5))[:-1] + "Z"
    # escalation: the first pager message (run 4) carries SecurityHigh at critical
    escalated = pager[0]
    alert = escalated["alerts"][0]
    assert alert["labels"]["alertname"] == "SecurityHigh"
    assert alert["labels"]["severity"] == "critical"
    assert alert["annotations"]["escalated_from"] == "high"
    assert alert["fingerprint"] == fingerprint(alert["labels"])
    assert escalated["groupKey"] == '{}/{severity="critical"}:{branch="main", repo="demo"}'
    # the digest line is the v4 payload of the low group
    low = json.loads(lines[0])
    assert low["groupKey"] == '{}/{severity="low"}:{branch="main", repo="demo"}'
    assert low["alerts"][0]["labels"]["alertname"] == "SlowSuite"
