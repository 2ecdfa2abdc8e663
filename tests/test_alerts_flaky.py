"""The built-in alert rules of issue 17: NewFlakyTest, QuarantineExpiring, MainBranchRed.

End to end: reports with ``test_results`` are stored in a real SQLite history, the engine
evaluates them and notifies real local receivers (HTTP on 127.0.0.1, aiosmtpd). Each rule
fires once per test (or red streak) and does not repeat on the next runs; a node id made
hostile through its file name reaches every channel escaped for that channel.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.alerts import AlertSettings, evaluate_run, list_alerts
from pytest_fwmon.core.errors import ConfigError
from pytest_fwmon.core.textsafe import log_line, plain
from pytest_fwmon.history.connect import open_store
from tests.test_alerts_hostile import CONTROL
from tests.test_alerts_support import HttpReceiver, SmtpReceiver, channels_config
from tests.test_flaky_classify import BASE
from tests.test_gate_cli import git
from tests.test_history_support import make_report

OTHERS = ["GateBlockedMain", "SecurityHighFindings", "BenchmarkP95ChangePoint"]
OTHERS += ["CoverageBelowTarget", "SloBurnRate"]
ALL_THREE = ["NewFlakyTest", "QuarantineExpiring", "MainBranchRed"]


def _config(http: HttpReceiver, keep: Sequence[str], **extra: Any) -> dict[str, Any]:
    """Only the built-in rules ``keep``; every level routed to the webhook ``pager``."""
    return {
        "disable_builtin": OTHERS + [n for n in ALL_THREE if n not in keep],
        "backoff": 0.01,
        "channels": channels_config(http),
        "routes": {level: ["pager"] for level in ("critical", "high", "medium", "low")},
        **extra,
    }


def _result(nodeid: str, outcomes: Sequence[str], quarantined: bool = False) -> dict[str, Any]:
    """A ``test_results`` record whose attempts had ``outcomes`` (the last is the outcome)."""
    record: dict[str, Any] = {
        "nodeid": nodeid,
        "outcome": outcomes[-1],
        "flaky": outcomes[-1] == "passed" and "failed" in outcomes,
        "attempts": [{"outcome": o, "when": "call", "duration": 0.01} for o in outcomes],
    }
    if quarantined:
        record["quarantined"] = True
    return record


def _report(
    i: int, results: Mapping[str, Sequence[str]], *, sha: str | None = None
) -> dict[str, Any]:
    """Run ``i`` on main, ``i`` hours after T0, with these tests' attempts."""
    failed = sum(1 for o in results.values() if o[-1] == "failed")
    report = make_report(
        f"run-{i:08d}",
        at=i,
        failed=failed,
        extra={"test_results": [_result(n, o) for n, o in sorted(results.items())]},
    )
    report["run"]["git"]["sha"] = sha or "c" * 40
    return report


class History:
    """A history store in ``tmp_path`` and the evaluations made on it."""

    def __init__(self, tmp_path: Path, settings: AlertSettings, env: Mapping[str, str]) -> None:
        """Open the store."""
        self.root = tmp_path
        self.settings = settings
        self.env = dict(env)
        self.url = str(tmp_path / "history.db")

    def run(self, report: dict[str, Any]) -> Any:
        """Store ``report`` and evaluate the alerts on it."""
        with open_store(self.url, self.root) as store:
            store.add_run(report)
            return evaluate_run(store, report, self.settings, root=self.root, environ=self.env)

    def alerts(self) -> dict[tuple[str, str], str]:
        """Return (rule, test label) -> state of every alert."""
        with open_store(self.url, self.root) as store:
            return {(a.alertname, a.labels.get("test", "")): a.state for a in list_alerts(store)}


def _hook_alerts(http: HttpReceiver) -> list[list[tuple[str, str]]]:
    """Return, per webhook request, its (alertname, test) of firing alerts."""
    return [
        sorted(
            (a["labels"]["alertname"], a["labels"].get("test", ""))
            for a in r.json()["alerts"]
            if a["status"] == "firing"
        )
        for r in http.at("/hook")
    ]


def _quarantine(root: Path, *entries: tuple[str, str]) -> None:
    """Write ``fwmon-quarantine.toml`` with (node id, expiry) entries."""
    text = "version = 1\n"
    for nodeid, expires in entries:
        text += (
            f'\n[[quarantine]]\nnodeid = {json.dumps(nodeid)}\nowner = "alice"\n'
            f'reason = "flaky"\nexpires = "{expires}"\n'
        )
    (root / "fwmon-quarantine.toml").write_text(text, encoding="utf-8")


def test_a_new_flaky_test_alerts_once_and_resolves_when_quarantined(tmp_path: Path) -> None:
    a, b, s = "tests/test_a.py::test_a", "tests/test_b.py::test_b", "tests/test_s.py::test_s"
    with HttpReceiver() as http:
        env = {"FWMON_TEST_PAGER_URL": http.url("/hook")}
        # About the rule's messages, not response times: with escalate_unacknowledged on (the
        # default) the medium alert on a, unacknowledged, would escalate at run 4 (2 h) and
        # run 5 (high: 30 min) and the webhook would get those groups' messages as well.
        config = _config(http, ["NewFlakyTest"], escalate_unacknowledged=False)
        history = History(tmp_path, AlertSettings.from_config(config), env)
        history.run(_report(1, {a: ["passed"], b: ["passed"], s: ["passed"]}))
        assert _hook_alerts(http) == []
        # a fails, then passes on its rerun: flaky, alerted
        history.run(_report(2, {a: ["failed", "passed"], b: ["passed"], s: ["passed"]}))
        assert _hook_alerts(http) == [[("NewFlakyTest", a)]]
        # three more runs, a still flaky in the window: no second message
        for i in (3, 4, 5):
            history.run(_report(i, {a: ["passed"], b: ["passed"], s: ["passed"]}))
        assert len(http.at("/hook")) == 1
        # b fails on the same commit it passed on: a new flaky test, one message for the group
        history.run(_report(6, {a: ["passed"], b: ["failed"], s: ["passed"]}))
        assert _hook_alerts(http)[1:] == [[("NewFlakyTest", a), ("NewFlakyTest", b)]]
        # a is quarantined: its alert resolves, b's stays firing
        _quarantine(tmp_path, (a, "2024-12-31"))
        history.run(_report(7, {a: ["passed"], b: ["passed"], s: ["passed"]}))
        assert history.alerts() == {
            ("NewFlakyTest", a): "resolved",
            ("NewFlakyTest", b): "firing",
        }
        [first] = http.at("/hook")[:1]
    payload = first.json()
    [alert] = payload["alerts"]
    assert alert["annotations"]["summary"] == f"Flaky test {a} in demo on main"
    assert "both outcomes on commit cccccccccccc" in alert["annotations"]["description"]


def test_a_test_failing_on_every_run_raises_no_flaky_alert(tmp_path: Path) -> None:
    broken = "tests/test_x.py::test_broken"
    with HttpReceiver() as http:
        env = {"FWMON_TEST_PAGER_URL": http.url("/hook")}
        history = History(tmp_path, AlertSettings.from_config(_config(http, ["NewFlakyTest"])), env)
        for i in range(1, 8):
            history.run(_report(i, {broken: ["failed", "failed", "failed"]}))
        assert http.at("/hook") == []


def test_quarantine_entries_expiring_within_seven_days_alert_once(tmp_path: Path) -> None:
    # the runs start on 2024-03-01 (T0 + i hours)
    soon, late, gone = "t.py::test_soon", "t.py::test_late", "t.py::test_gone"
    _quarantine(tmp_path, (soon, "2024-03-08"), (late, "2024-03-09"), (gone, "2024-02-28"))
    with HttpReceiver() as http:
        env = {"FWMON_TEST_PAGER_URL": http.url("/hook")}
        config = _config(http, ["QuarantineExpiring"])
        history = History(tmp_path, AlertSettings.from_config(config), env)
        history.run(_report(1, {"t.py::test_ok": ["passed"]}))
        history.run(_report(2, {"t.py::test_ok": ["passed"]}))
        assert _hook_alerts(http) == [[("QuarantineExpiring", gone), ("QuarantineExpiring", soon)]]
        alerts = {a["labels"]["test"]: a for a in http.at("/hook")[0].json()["alerts"]}
        # the entry is extended: its alert resolves
        _quarantine(tmp_path, (soon, "2024-04-30"), (late, "2024-03-09"), (gone, "2024-02-28"))
        history.run(_report(3, {"t.py::test_ok": ["passed"]}))
        assert history.alerts()[("QuarantineExpiring", soon)] == "resolved"
    assert alerts[soon]["annotations"]["summary"] == (
        f"Quarantine of {soon} expires in 7 days (2024-03-08) in demo"
    )
    assert alerts[gone]["annotations"]["summary"] == (
        f"Quarantine of {gone} expired 2 days ago (2024-02-28) in demo"
    )
    assert "owner alice" in alerts[gone]["annotations"]["description"]


def test_a_red_main_branch_names_its_culprit_once_per_red_streak(tmp_path: Path) -> None:
    ok, bad = "t.py::test_ok", "t.py::test_bad"
    green_sha, red_sha = "a" * 40, "b" * 40
    with HttpReceiver() as http:
        env = {"FWMON_TEST_PAGER_URL": http.url("/hook")}
        config = _config(http, ["MainBranchRed"])
        history = History(tmp_path, AlertSettings.from_config(config), env)
        history.run(_report(1, {ok: ["passed"], bad: ["passed"]}, sha=green_sha))
        history.run(_report(2, {ok: ["passed"], bad: ["failed"]}, sha=red_sha))
        history.run(_report(3, {ok: ["passed"], bad: ["failed"]}, sha="d" * 40))
        assert _hook_alerts(http) == [[("MainBranchRed", "")]]
        history.run(_report(4, {ok: ["passed"], bad: ["passed"]}, sha="e" * 40))
        assert history.alerts() == {("MainBranchRed", ""): "resolved"}
        # a new red streak alerts again, with its own culprit
        history.run(_report(5, {ok: ["failed"], bad: ["passed"]}, sha="f" * 40))
        hooks = [r.json() for r in http.at("/hook")]
    firing = [h["alerts"][0] for h in hooks if h["status"] == "firing"]
    assert [a["annotations"]["summary"] for a in firing] == [
        "main of demo is red since run run-00000002 (culprit bbbbbbbbbbbb)",
        "main of demo is red since run run-00000005 (culprit ffffffffffff)",
    ]
    description = firing[0]["annotations"]["description"]
    assert "last green run run-00000001, commit aaaaaaaaaaaa" in description
    assert f"Turned red: {bad}." in description
    assert f"Turned red: {ok}." in firing[1]["annotations"]["description"]


def test_a_branch_red_since_its_first_run_has_no_known_culprit(tmp_path: Path) -> None:
    with HttpReceiver() as http:
        env = {"FWMON_TEST_PAGER_URL": http.url("/hook")}
        history = History(
            tmp_path, AlertSettings.from_config(_config(http, ["MainBranchRed"])), env
        )
        history.run(_report(1, {"t.py::test_bad": ["failed"]}))
        [hook] = http.at("/hook")
    [alert] = hook.json()["alerts"]
    assert alert["annotations"]["summary"] == (
        "main of demo is red since run run-00000001 (culprit unknown)"
    )


HOSTILE_FILE = "tests/test_<script>x</script>\r\nBcc: thief@evil.test\x1b[31m<!channel><@U1>.py"
HOSTILE = HOSTILE_FILE + "::test_x[::error::forged\n%0A]"


def test_a_hostile_node_id_is_escaped_for_every_channel(tmp_path: Path) -> None:
    _quarantine(tmp_path, (HOSTILE, "2024-03-02"))
    with HttpReceiver() as http, SmtpReceiver() as smtp:
        channels = {
            "hook": {"type": "webhook", "url_env": "HOOK_URL"},
            "slack": {"type": "slack", "url_env": "SLACK_URL"},
            **channels_config(smtp=smtp, digest=tmp_path / "digest.jsonl"),
        }
        config = {
            "disable_builtin": OTHERS,
            "external_url": "https://dash.example.test/",
            "backoff": 0.01,
            "channels": channels,
            "routes": {level: sorted(channels) for level in ("critical", "medium")},
        }
        env = {"HOOK_URL": http.url("/hook"), "SLACK_URL": http.url("/slack")}
        history = History(tmp_path, AlertSettings.from_config(config), env)
        summary = history.run(_report(1, {HOSTILE: ["failed", "failed"]}))
        hooks, slacks = http.at("/hook"), http.at("/slack")
    # one critical message (MainBranchRed) and one medium (QuarantineExpiring) per receiver
    assert sorted(n.delivery for n in summary.notifications) == ["sent"] * 8, summary.lines()
    # file: one JSON document per line, the node id inside it as it is
    lines = (tmp_path / "digest.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    digests = [json.loads(line) for line in lines]
    assert HOSTILE in [a["labels"].get("test") for d in digests for a in d["alerts"]]
    names = sorted(a["labels"]["alertname"] for h in hooks for a in h.json()["alerts"])
    assert names == ["MainBranchRed", "QuarantineExpiring"]
    # webhook: the label is the node id as it is; the annotations carry it on one line
    tests = [a["labels"].get("test") for h in hooks for a in h.json()["alerts"]]
    assert sorted(tests, key=str) == [None, HOSTILE]
    for hook in hooks:
        for alert in json.loads(hook.body.decode("utf-8"))["alerts"]:
            texts = list(alert["annotations"].values())
            assert not any(CONTROL.search(t) for t in texts)
            assert any(plain(HOSTILE) in t for t in texts)
    for slack in slacks:
        message = slack.json()
        assert not CONTROL.search(json.dumps(message, ensure_ascii=False)), message
        mrkdwn = [message["text"]] + [
            part["text"]
            for block in message["blocks"]
            for part in [block.get("text"), *block.get("elements", [])]
            if part and part["type"] == "mrkdwn"
        ]
        texts = "\n".join(mrkdwn)
        assert "<!channel>" not in texts and "<@U1>" not in texts and "<script>" not in texts
        assert re.findall(r"<[^&]", texts.replace("<https://dash.example.test/|", "")) == []
    assert len(smtp.mails) == 2
    for mail in smtp.mails:
        message = mail.message
        assert message["Bcc"] is None and mail.rcpt_tos == ["team@example.test"]
        assert "\r" not in message["Subject"] and "\n" not in message["Subject"]
        for subtype in ("plain", "html"):
            part = mail.part(subtype)
            assert not CONTROL.search(part), (subtype, part)
            assert subtype == "plain" or "<script>" not in part
            assert not any(line.lstrip().startswith("Bcc:") for line in part.splitlines())
    for line in map(log_line, summary.lines()):
        assert not CONTROL.search(line) and "\n" not in line and "\r" not in line


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        pytest.param(
            {"flaky": "old"}, "[[tool.fwmon.alerts.rules]] 'R' flaky must be \"new\", got 'old'"
        ),
        pytest.param(
            {"quarantine": "expired"},
            "[[tool.fwmon.alerts.rules]] 'R' quarantine must be \"expiring\", got 'expired'",
        ),
        pytest.param(
            {"culprit": True}, "[[tool.fwmon.alerts.rules]] 'R' culprit must be \"red\", got True"
        ),
        pytest.param(
            {"culprit": "red", "threshold": 1},
            "[[tool.fwmon.alerts.rules]] 'R' threshold does not apply to a culprit condition",
        ),
        pytest.param(
            {"flaky": "new", "recent_runs": 1},
            "[[tool.fwmon.alerts.rules]] 'R' recent_runs must be a whole number >= 2, got 1",
        ),
    ],
)
def test_rule_errors_on_test_conditions(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        AlertSettings.from_config({"rules": [{"name": "R", "severity": "low", **rule}]})
    assert info.value.one_line() == message


def test_a_user_rule_sets_its_own_window_and_days(tmp_path: Path) -> None:
    _quarantine(tmp_path, ("t.py::test_q", "2024-03-20"))
    with HttpReceiver() as http:
        env = {"FWMON_TEST_PAGER_URL": http.url("/hook")}
        config = _config(
            http,
            [],
            rules=[
                {"name": "Q30", "severity": "low", "quarantine": "expiring", "threshold": 30},
                {"name": "Q7", "severity": "low", "quarantine": "expiring", "threshold": 7},
            ],
        )
        history = History(tmp_path, AlertSettings.from_config(config), env)
        history.run(_report(1, {"t.py::test_q": ["passed"]}))
        assert history.alerts() == {("Q30", "t.py::test_q"): "firing"}


PLUGIN_TESTS = """
import os
import pathlib


def test_retry():
    marker = pathlib.Path(os.environ["FLAKY_MARKS"]) / ("tried-" + os.environ["FLAKY_RUN"])
    if not marker.exists():
        marker.write_text("failed once")
        raise AssertionError("first attempt fails")


def test_ok():
    pass
"""


def test_pytest_fwmon_alerts_notifies_a_rerun_flaky_test_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    disabled = json.dumps([*OTHERS, "QuarantineExpiring", "MainBranchRed"])
    pytester.makefile(
        ".toml",
        pyproject=f'[project]\nname = "flakydemo"\n\n[tool.fwmon.alerts]\n'
        f"disable_builtin = {disabled}\nbackoff = 0.01\n"
        '[tool.fwmon.alerts.channels.pager]\ntype = "webhook"\n'
        'url_env = "FWMON_TEST_PAGER_URL"\n'
        '[tool.fwmon.alerts.routes]\nmedium = ["pager"]\n',
    )
    pytester.makepyfile(test_retry=PLUGIN_TESTS)
    git(pytester.path, "init", "-q", "-b", "main")
    git(pytester.path, "add", "-A")
    git(pytester.path, "commit", "-q", "-m", "fixture")
    (pytester.path / "marks").mkdir()
    monkeypatch.setenv("FLAKY_MARKS", str(pytester.path / "marks"))
    monkeypatch.setenv("FWMON_HISTORY_URL", str(pytester.path / "history.db"))
    with HttpReceiver() as http:
        monkeypatch.setenv("FWMON_TEST_PAGER_URL", http.url("/hook"))
        for run in ("1", "2"):
            monkeypatch.setenv("FLAKY_RUN", run)
            result = pytester.runpytest(*BASE, "--fwmon-reruns", "1", "--fwmon-alerts")
            if run == "1":
                result.stdout.fnmatch_lines(["  NewFlakyTest *: firing", "  notified pager *"])
            else:
                assert "NewFlakyTest" not in result.stdout.str()
        assert _hook_alerts(http) == [[("NewFlakyTest", "test_retry.py::test_retry")]]


def test_a_first_failure_after_green_runs_on_one_commit_is_flaky(tmp_path: Path) -> None:
    """No failure in the window: nothing is parsed, unless this very run failed."""
    b = "t.py::test_b"
    with HttpReceiver() as http:
        env = {"FWMON_TEST_PAGER_URL": http.url("/hook")}
        history = History(tmp_path, AlertSettings.from_config(_config(http, ["NewFlakyTest"])), env)
        for i in (1, 2, 3):
            history.run(_report(i, {b: ["passed"], "t.py::test_ok": ["passed"]}))
        assert http.at("/hook") == []
        history.run(_report(4, {b: ["failed"], "t.py::test_ok": ["passed"]}))
        assert _hook_alerts(http) == [[("NewFlakyTest", b)]]


NASTY = 'tests/test_x.py::test_y[],"tests":{"a":1}]'


@pytest.mark.parametrize("nodeid", [HOSTILE, NASTY, "t.py::test_plain"])
def test_the_stored_test_results_are_read_as_a_full_parse_reads_them(
    tmp_path: Path, nodeid: str
) -> None:
    from pytest_fwmon.alerts.testconds import _stored_results

    report = _report(1, {nodeid: ["failed", "passed"], "t.py::test_z": ["passed"]})
    report["extensions"]["plugin"] = {"test_results": [1, 2], "tests": {"x": 1}}
    with open_store(str(tmp_path / "h.db"), tmp_path) as store:
        store.add_run(report)
        [(text,)] = store.query("SELECT report FROM fwmon_runs")
    assert _stored_results(str(text)) == json.loads(str(text))["test_results"]


@pytest.mark.parametrize(
    "text",
    [
        '{"run":{},"tests":{"total":1}}',  # no test results
        '{"extensions":{"p":{"test_results":[1]}},"run":{},"tests":{}}',  # not the report's
        '{"test_results":[{"a":1},"tests":{}}',  # cut short
        '{"test_results":[1],"x":2,"tests":{}}',  # not followed by tests
    ],
)
def test_text_not_shaped_like_a_stored_report_is_parsed_in_full(text: str) -> None:
    from pytest_fwmon.alerts.testconds import _stored_results

    assert _stored_results(text) is None


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        pytest.param({"t.py::a": ["passed"]}, False, id="green"),
        pytest.param({"t.py::a": ["failed", "passed"]}, True, id="rerun"),
        pytest.param({"t.py::a": ["error"]}, True, id="error"),
    ],
)
def test_a_failing_check_is_no_failing_test(
    tmp_path: Path, results: dict[str, list[str]], expected: bool
) -> None:
    from pytest_fwmon.alerts.testconds import _has_failure

    report = _report(1, results)
    report["checks"] = [
        {
            "nodeid": "pkg/a.py::fwmon[bandit]",
            "pipeline": "security",
            "checker": "bandit",
            "outcome": "failed",
            "path": "pkg/a.py",
            "cached": False,
            "duration": 0.1,
            "findings": [],
            "reason": None,
            "loc": 1,
            "metrics": {},
        }
    ]
    with open_store(str(tmp_path / "h.db"), tmp_path) as store:
        store.add_run(report)
        [(text,)] = store.query("SELECT report FROM fwmon_runs")
    assert _has_failure(str(text)) is expected
