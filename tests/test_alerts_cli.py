"""``[tool.fwmon.alerts]`` validation and ``fwmon alerts`` commands: exact messages, exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.alerts import AlertSettings
from pytest_fwmon.alerts.rules import BUILTIN_NAMES
from pytest_fwmon.alerts.values import parse_duration
from pytest_fwmon.cli import main
from pytest_fwmon.core.errors import ConfigError
from pytest_fwmon.history.connect import open_store
from tests.test_history_support import make_report

RULE = {"name": "R", "severity": "high", "metric": "tests.failed", "op": "gt", "threshold": 0}
SETTINGS_KEYS = (
    "ack_expires, backoff, channels, coverage_target, delivery_timeout, disable_builtin, "
    "enabled, escalate_after, escalate_after_runs, escalate_unacknowledged, external_url, "
    "for_runs, group_by, inhibit, main_branch, max_attempts, repeat_interval, repo, "
    "resolve_after_runs, respond_within, routes, rules"
)
RULE_KEYS = (
    "branches, change, culprit, description, enabled, escalate_after, escalate_after_runs, "
    "flaky, for_runs, gate, labels, metric, name, op, quarantine, recent_runs, "
    "resolve_after_runs, severity, slo, summary, threshold, trend"
)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        pytest.param(
            {"colour": "red"},
            f"unknown key [tool.fwmon.alerts] colour; valid keys: {SETTINGS_KEYS}",
            id="unknown-key",
        ),
        pytest.param(
            {"rules": [{**RULE, "treshold": 1}]},
            f"unknown key [[tool.fwmon.alerts.rules]] 'R' treshold; valid keys: {RULE_KEYS}",
            id="unknown-rule-key",
        ),
        pytest.param(
            {"rules": [{**RULE, "gate": "blocked"}]},
            "[[tool.fwmon.alerts.rules]] 'R' needs exactly one condition key of metric, trend, "
            "slo, gate, flaky, quarantine, culprit (found metric, gate)",
            id="two-conditions",
        ),
        pytest.param(
            {"rules": [{**RULE, "severity": "info"}]},
            "[[tool.fwmon.alerts.rules]] 'R' severity must be one of critical, high, medium, "
            "low, got 'info'",
            id="bad-severity",
        ),
        pytest.param(
            {"rules": [{**RULE, "summary": "{vlaue} failing"}]},
            "[[tool.fwmon.alerts.rules]] 'R' summary uses unknown placeholder {vlaue}; valid "
            "placeholders: after, alertname, before, branch, change, commits, culprit, "
            "days_left, evidence, expires, expiry, failing, first_red, flip_rate, last_green, "
            "last_green_sha, magnitude, metric, op, owner, repo, run_id, run_url, runs, "
            "severity, sha, test, threshold, value",
            id="bad-placeholder",
        ),
        pytest.param(
            {"rules": [{**RULE, "labels": {"severity": "x"}}]},
            "[[tool.fwmon.alerts.rules]] 'R' labels: 'severity' is set by fwmon; reserved: "
            "alertname, repo, branch, severity, metric",
            id="reserved-label",
        ),
        pytest.param(
            {"rules": [RULE, RULE]},
            "[tool.fwmon.alerts] rules: two rules are named 'R'",
            id="duplicate-rule",
        ),
        pytest.param(
            {"rules": [{**RULE, "op": "above"}]},
            "[[tool.fwmon.alerts.rules]] 'R' op must be one of lt, le, gt, ge, eq, ne, got 'above'",
            id="bad-op",
        ),
        pytest.param(
            {"rules": [{"name": "S", "severity": "high", "slo": "uptime"}]},
            "[[tool.fwmon.alerts.rules]] 'S' slo 'uptime' is unknown; valid: availability, "
            "availability_time, gate_pass_rate, mttr_hours, mtbf_hours, mttd_hours, "
            "error_budget_remaining, error_budget_used, runs, incidents, burn_rate, "
            "burn_rate.<window>",
            id="bad-slo-figure",
        ),
        pytest.param(
            {"repeat_interval": "4 hours"},
            "[tool.fwmon.alerts] repeat_interval must be a duration like 90s, 30m, 4h, 2d or "
            "1w, got '4 hours'",
            id="bad-duration",
        ),
        pytest.param(
            {"disable_builtin": ["GateBlocked"]},
            "[tool.fwmon.alerts] disable_builtin: unknown rule 'GateBlocked'; built-in rules: "
            + ", ".join(BUILTIN_NAMES)
            + " (or 'all')",
            id="unknown-builtin",
        ),
        pytest.param(
            {"channels": {"slack": {"type": "slack", "url": "https://hooks.slack.com/x"}}},
            "unknown key [tool.fwmon.alerts.channels.slack] url; valid keys for type slack: "
            "timeout, type, url_env (secrets come from the environment: use url_env)",
            id="secret-in-file",
        ),
        pytest.param(
            {"channels": {"slack": {"type": "slack", "url_env": "https://hooks.slack.com/x"}}},
            "[tool.fwmon.alerts.channels.slack] url_env must name an environment variable (like "
            "FWMON_SLACK_URL), got 'https://hooks.slack.com/x'; secrets are read from the "
            "environment, never from the file",
            id="url-as-env-name",
        ),
        pytest.param(
            {"channels": {"pager": {"type": "sms"}}},
            "[tool.fwmon.alerts.channels.pager] type must be one of webhook, slack, email, "
            "file, pagerduty, got 'sms'",
            id="bad-channel-type",
        ),
        pytest.param(
            {
                "channels": {
                    "mail": {
                        "type": "email",
                        "host": "h",
                        "from": "a@b",
                        "to": ["c@d"],
                        "password_env": "P",
                    }
                }
            },
            "[tool.fwmon.alerts.channels.mail] needs both username_env and password_env, or "
            "neither",
            id="half-login",
        ),
        pytest.param(
            {"routes": {"critical": ["pager"]}},
            "[tool.fwmon.alerts.routes] critical names receiver 'pager', which is not "
            "configured; configured receivers: none (add [tool.fwmon.alerts.channels.pager])",
            id="route-unknown-receiver",
        ),
        pytest.param(
            {"routes": {"urgent": []}},
            "unknown key [tool.fwmon.alerts.routes] urgent; valid keys: critical, high, low, "
            "medium",
            id="unknown-route",
        ),
        pytest.param(
            {"inhibit": [{"source": ["severity=critical"], "target": ["severity~medium"]}]},
            "[[tool.fwmon.alerts.inhibit]] #1 target 'severity~medium' is not a label matcher; "
            "write name=value, name!=value, name=~regex or name!~regex",
            id="bad-matcher",
        ),
        pytest.param(
            {"inhibit": [{"source": ["alertname=~("], "target": ["severity=medium"]}]},
            "[[tool.fwmon.alerts.inhibit]] #1 source 'alertname=~(' has a bad regular "
            "expression: missing ), unterminated subpattern at position 0",
            id="bad-regex",
        ),
    ],
)
def test_config_errors_name_the_key_and_the_fix(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        AlertSettings.from_config(section)
    assert info.value.one_line() == message


def test_defaults_and_builtin_rules() -> None:
    settings = AlertSettings.from_config({})
    assert [r.name for r in settings.rules] == list(BUILTIN_NAMES)
    assert settings.repeat_interval == 4 * 3600
    assert settings.group_by == ("branch", "repo")
    assert [r.receivers for r in settings.routes.values()] == [(), (), (), ()]
    off = AlertSettings.from_config({"disable_builtin": ["all"], "rules": [RULE]})
    assert [r.name for r in off.rules] == ["R"]
    replaced = AlertSettings.from_config(
        {"rules": [{**RULE, "name": "GateBlockedMain"}], "disable_builtin": ["SloBurnRate"]}
    )
    names = [r.name for r in replaced.rules]
    assert names == [
        "GateBlockedMain",
        "SecurityHighFindings",
        "BenchmarkP95ChangePoint",
        "CoverageBelowTarget",
        "NewFlakyTest",
        "QuarantineExpiring",
        "MainBranchRed",
    ]
    assert replaced.rule("GateBlockedMain").condition.kind == "metric"
    disabled = AlertSettings.from_config({"rules": [{"name": "GateBlockedMain", "enabled": False}]})
    assert "GateBlockedMain" not in [r.name for r in disabled.rules]


def test_default_routes_use_only_configured_receivers() -> None:
    settings = AlertSettings.from_config(
        {"channels": {"email": {"type": "email", "host": "h", "from": "a@b", "to": "c@d"}}}
    )
    assert {k: r.receivers for k, r in settings.routes.items()} == {
        "critical": ("email",),
        "high": ("email",),
        "medium": ("email",),
        "low": ("email",),
    }
    assert settings.notes[0] == (
        "default route critical names receiver(s) pager, slack that are not configured; "
        "they are left out"
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("4h", 14400),
        ("2d", 172800),
        ("1w", 604800),
        (45, 45),
        ("", 0),
        ("1.5h", 5400),
    ],
)
def test_durations(text: Any, seconds: float) -> None:
    assert parse_duration(text, "x") == seconds


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        "[tool.fwmon.alerts]\n"
        'disable_builtin = ["SloBurnRate", "BenchmarkP95ChangePoint", "CoverageBelowTarget"]\n'
        "[tool.fwmon.alerts.channels.digest]\n"
        'type = "file"\npath = "digest.jsonl"\n'
        "[tool.fwmon.alerts.routes]\n"
        'critical = ["digest"]\n'
        'high = ["digest"]\n'
    )
    return tmp_path


def write_report(folder: Path, **kwargs: Any) -> Path:
    path = folder / "report.json"
    path.write_text(json.dumps(make_report("run-00000001", at=0, **kwargs)))
    return path


def gate_result(folder: Path, report: Path, verdict: str, run_id: str | None = None) -> Path:
    """A real gate-result.json from `fwmon gate`, with the verdict set as asked."""
    out = folder / "gate-result.json"
    main(["gate", str(report), "--result-json", str(out)])
    data = json.loads(out.read_text())
    data["verdict"] = verdict
    data["exit_code"] = 0 if verdict == "pass" else 1
    if run_id is not None:
        data["report"]["run_id"] = run_id
    out.write_text(json.dumps(data))
    return out


def test_evaluate_a_report_with_its_gate_result(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = write_report(project, counts={"security": {"high": 1}})
    gate = gate_result(project, report, "blocked")
    capsys.readouterr()
    assert main(["alerts", "evaluate", "--report", str(report), "--gate-result", str(gate)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "fwmon alerts: run run-00000001 (demo main): 2 firing, 0 pending"
    assert sorted(re.sub(r"[0-9a-f]{16}", "FP", line) for line in out[1:3]) == [
        "  GateBlockedMain FP: firing",
        "  SecurityHighFindings FP: firing",
    ]
    assert sorted(out[3:]) == [
        "  note: default route low names receiver(s) email that are not configured; "
        "they are left out",
        "  note: default route medium names receiver(s) email that are not configured; "
        "they are left out",
        "  notified digest (first, firing, 1 alert(s)): sent",
        "  notified digest (first, firing, 1 alert(s)): sent",
    ]
    with open_store(None, project) as store:
        assert store.get_run("run-00000001")["extensions"]["gate"]["passed"] is False
    assert len((project / "digest.jsonl").read_text().splitlines()) == 2
    # the same again: nothing to do
    assert main(["alerts", "evaluate", "--gate-result", str(gate), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["evaluated"], data["skipped"]) == (
        False,
        "already evaluated (by this or another runner); nothing to do",
    )
    assert main(["alerts", "list", "--state", "firing", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert sorted(a["alertname"] for a in listed["alerts"]) == [
        "GateBlockedMain",
        "SecurityHighFindings",
    ]


@pytest.mark.parametrize(
    ("setup", "argv", "code", "message"),
    [
        pytest.param(
            "empty-store",
            ["alerts", "evaluate"],
            3,
            "fwmon: error: history store {root}/.fwmon/history.db holds no run to evaluate "
            "(run `pytest --fwmon` first, or pass --report)",
            id="evaluate-nothing",
        ),
        pytest.param(
            "",
            ["alerts", "list"],
            3,
            "fwmon: error: no history at {root}/.fwmon/history.db: run `pytest --fwmon` "
            "first (or import reports with `fwmon history import REPORT`)",
            id="list-no-store",
        ),
        pytest.param(
            "empty-store",
            ["alerts", "evaluate", "--run", "run-x"],
            2,
            "fwmon: error: no run 'run-x' in history store {root}/.fwmon/history.db (see "
            "`fwmon history` for the stored run ids)",
            id="evaluate-unknown-run",
        ),
        pytest.param(
            "report",
            ["alerts", "evaluate", "--report", "report.json", "--gate-result", "nope.json"],
            3,
            "fwmon: error: gate result nope.json does not exist (write it with `fwmon gate "
            "... --result-json PATH`)",
            id="gate-result-missing",
        ),
        pytest.param(
            "gate-other-run",
            ["alerts", "evaluate", "--report", "report.json", "--gate-result", "gate-result.json"],
            2,
            "fwmon: error: gate result gate-result.json is for run run-99, not for the "
            "evaluated run run-00000001 (pass the matching --run or --report)",
            id="gate-result-other-run",
        ),
        pytest.param(
            "",
            ["alerts", "silence", "severity~high", "--reason", "r", "--duration", "1h"],
            2,
            "fwmon: error: silence matcher 'severity~high' is not a label matcher; write "
            "name=value, name!=value, name=~regex or name!~regex",
            id="silence-bad-matcher",
        ),
        pytest.param(
            "",
            ["alerts", "silence", "severity=high", "--reason", "r"],
            2,
            "fwmon: error: give exactly one of --duration (e.g. 2h) or --expires (a time)",
            id="silence-no-expiry",
        ),
        pytest.param(
            "",
            ["alerts", "silence", "severity=high", "--reason", "r", "--expires", "2h"],
            2,
            "fwmon: error: --expires '2h' is a duration; use --duration 2h or an ISO time "
            "such as 2024-05-01T18:00:00Z",
            id="silence-expires-duration",
        ),
        pytest.param(
            "",
            ["alerts", "silence", "severity=high", "--reason", "r", "--expires", ""],
            2,
            "fwmon: error: --expires needs a time, e.g. 2024-05-01T18:00:00Z",
            id="silence-expires-empty",
        ),
        pytest.param(
            "",
            ["alerts", "silence", "severity=high", "--reason", " ", "--duration", "1h"],
            2,
            "fwmon: error: a silence needs a --reason (who is fixing what, or why it is muted)",
            id="silence-empty-reason",
        ),
        pytest.param(
            "empty-store",
            ["alerts", "unsilence", "abc"],
            2,
            "fwmon: error: no silence with id 'abc'; no silence was ever created",
            id="unsilence-unknown",
        ),
        pytest.param(
            "bad-config",
            ["alerts", "evaluate"],
            2,
            f"fwmon: error: unknown key [tool.fwmon.alerts] colour; valid keys: {SETTINGS_KEYS}",
            id="bad-config",
        ),
        pytest.param(
            "",
            ["alerts", "list", "--state", "open"],
            2,
            "fwmon: error: argument --state: invalid choice: 'open' (choose from 'pending', "
            "'firing', 'resolved') (see `fwmon alerts list --help`)",
            id="bad-state",
        ),
    ],
)
def test_cli_errors(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    setup: str,
    argv: list[str],
    code: int,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    if setup == "empty-store":
        open_store(None, tmp_path).close()
    if setup in ("report", "gate-other-run"):
        report = write_report(tmp_path)
        if setup == "gate-other-run":
            gate_result(tmp_path, report, "pass", run_id="run-99")
    if setup == "bad-config":
        (tmp_path / "pyproject.toml").write_text('[tool.fwmon.alerts]\ncolour = "red"\n')
    capsys.readouterr()
    with pytest.raises(SystemExit) if code == 2 and "invalid choice" in message else _nothing():
        assert main(argv) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == message.format(root=tmp_path)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_alerts_without_subcommand_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts"]) == 2
    assert "evaluate" in capsys.readouterr().err
