"""The engine: state, deduplication across runners (SQLite and PostgreSQL), lifecycle details,
escalation by time, silences, inhibition, and the built-in conditions on trends, SLO and gate."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.alerts import AlertSettings, engine, evaluate_run, evaluation, list_alerts, state
from pytest_fwmon.alerts.fingerprint import fingerprint
from pytest_fwmon.cli import main
from pytest_fwmon.core.errors import StoreError
from pytest_fwmon.history.connect import open_store
from tests.pgserver import postgres_server, postgres_url  # noqa: F401
from tests.test_alerts_support import HttpReceiver
from tests.test_history_support import make_report

ENV_URL = "PAGER_URL"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "history.db")
    url: str = request.getfixturevalue("postgres_url")
    return url


def settings(**extra: Any) -> AlertSettings:
    rules = extra.pop(
        "rules",
        [
            {
                "name": "ScoreLow",
                "severity": "high",
                "metric": "pipeline.security.score",
                "op": "lt",
                "threshold": 90,
                "for_runs": extra.pop("for_runs", 1),
            }
        ],
    )
    return AlertSettings.from_config(
        {
            "disable_builtin": extra.pop("disable_builtin", ["all"]),
            "backoff": 0.01,
            "rules": rules,
            "channels": {"pager": {"type": "webhook", "url_env": ENV_URL}},
            "routes": {level: ["pager"] for level in ("critical", "high", "medium", "low")},
            **extra,
        }
    )


def concurrently(count: int, work: Any) -> list[Any]:
    """Run work(i) in ``count`` threads released at the same moment."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def target(i: int) -> None:
        try:
            barrier.wait(10)
            results[i] = work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


def test_the_same_run_evaluated_by_four_runners_at_once_notifies_once(
    store_url: str, tmp_path: Path
) -> None:
    report = make_report("run-00000001", at=0, security=50.0)
    with open_store(store_url, tmp_path) as store:
        store.add_run(report)
        state.ensure(store)
    with HttpReceiver() as http:
        env = {ENV_URL: http.url("/hook")}

        def work(i: int) -> Any:
            with open_store(store_url, tmp_path) as store:
                return evaluate_run(
                    store, report, settings(), root=tmp_path, environ=env, runner=f"r{i}"
                )

        summaries = concurrently(4, work)
        assert len(http.at("/hook")) == 1
    assert sorted(s.evaluated for s in summaries) == [False, False, False, True]
    skipped = {s.skipped for s in summaries if not s.evaluated}
    assert skipped == {"already evaluated (by this or another runner); nothing to do"}
    with open_store(store_url, tmp_path) as store:
        assert store.query("SELECT COUNT(*) FROM fwmon_alert_notifications")[0][0] == 1


@pytest.mark.parametrize("lock", [True, False], ids=["with-lock", "unique-key-only"])
def test_two_runners_raising_the_same_alert_at_once_notify_once(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lock: bool
) -> None:
    """Two CI runners, two run ids of the same commit at the same time, one alert.

    Without the evaluation lock, and with both runners reading the notification log before
    either wrote it (forced: the log reads as empty), the UNIQUE (group key, receiver, change
    key) of the notification table alone still lets only one of them notify."""
    if not lock:
        monkeypatch.setattr(engine, "_lock", lambda store: None)
        monkeypatch.setattr(evaluation.Evaluation, "_entries", lambda self: {})
    reports = [make_report(f"run-0000000{i}", at=0, security=50.0) for i in (1, 2)]
    with open_store(store_url, tmp_path) as store:
        store.add_runs(reports)
        state.ensure(store)
    with HttpReceiver() as http:
        env = {ENV_URL: http.url("/hook")}

        def work(i: int) -> Any:
            with open_store(store_url, tmp_path) as store:
                return evaluate_run(store, reports[i], settings(), root=tmp_path, environ=env)

        summaries = concurrently(2, work)
        assert len(http.at("/hook")) == 1
    assert all(s.evaluated for s in summaries)
    assert sorted(len(s.notifications) for s in summaries) == [0, 1]


def test_state_survives_reopening_and_moves_only_forward(store_url: str, tmp_path: Path) -> None:
    with HttpReceiver() as http:
        env = {ENV_URL: http.url("/hook")}
        conf = settings(for_runs=2)
        first = make_report("run-00000001", at=1, security=50.0)
        second = make_report("run-00000002", at=2, security=50.0)
        older = make_report("run-00000000", at=0, security=50.0)
        with open_store(store_url, tmp_path) as store:
            store.add_runs([older, first, second])
            s1 = evaluate_run(store, first, conf, root=tmp_path, environ=env)
            assert [t.to for t in s1.transitions] == ["pending"]
        with open_store(store_url, tmp_path) as store:
            [view] = list_alerts(store)
            assert (view.state, view.run_id) == ("pending", "run-00000001")
            s2 = evaluate_run(store, second, conf, root=tmp_path, environ=env)
            assert [t.to for t in s2.transitions] == ["firing"]
            s0 = evaluate_run(store, older, conf, root=tmp_path, environ=env)
            assert not s0.evaluated
            assert s0.skipped is not None and s0.skipped.startswith("older than run evaluated")
            [view] = list_alerts(store, states=("firing", "pending"))
            assert view.state == "firing"
            assert view.last_notified == "2024-03-01T02:00:13Z"
            assert view.to_dict()["labels"] == {
                "alertname": "ScoreLow",
                "branch": "main",
                "metric": "pipeline.security.score",
                "repo": "demo",
                "severity": "high",
            }
            assert view.fingerprint == fingerprint(view.labels)
            assert list_alerts(store, states=("resolved",)) == []
        assert len(http.at("/hook")) == 1


def test_a_late_gate_verdict_re_evaluates_the_run_without_double_counting(
    store_url: str, tmp_path: Path
) -> None:
    conf = settings(
        for_runs=2,
        disable_builtin=[
            "SecurityHighFindings",
            "BenchmarkP95ChangePoint",
            "CoverageBelowTarget",
            "SloBurnRate",
        ],
    )
    report = make_report("run-00000001", at=0, security=50.0)
    with HttpReceiver() as http, open_store(store_url, tmp_path) as store:
        env = {ENV_URL: http.url("/hook")}
        store.add_run(report)
        plugin = evaluate_run(store, report, conf, root=tmp_path, environ=env)
        assert [t.to for t in plugin.transitions] == ["pending"]
        gate = evaluate_run(store, report, conf, root=tmp_path, environ=env, gate_passed=False)
        assert gate.evaluated
        assert [(t.alertname, t.to) for t in gate.transitions] == [("GateBlockedMain", "firing")]
        again = evaluate_run(store, report, conf, root=tmp_path, environ=env, gate_passed=False)
        assert not again.evaluated
        states = {a.alertname: a.state for a in list_alerts(store)}
        assert states == {"GateBlockedMain": "firing", "ScoreLow": "pending"}
        assert len(http.at("/hook")) == 1


def hours(h: float) -> datetime:
    return datetime(2024, 3, 1, tzinfo=UTC) + timedelta(hours=h)


def test_pending_alert_is_forgotten_when_the_condition_stops(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "h.db"), tmp_path) as store:
        for i, score in enumerate([50.0, 95.0]):
            report = make_report(f"run-{i:08d}", at=i, security=score)
            store.add_run(report)
            summary = evaluate_run(store, report, settings(for_runs=3), root=tmp_path, environ={})
        assert [t.to for t in summary.transitions] == ["forgotten"]
        assert list_alerts(store) == []


def test_escalation_by_time_moves_up_one_level_per_deadline(tmp_path: Path) -> None:
    # This is the rule's own escalate_after; response-time escalation (on by default) is
    # turned off: with it, the unacknowledged alert would also go high -> critical at run 3,
    # 1 h after reaching high (high's respond_within is 30 min), hiding the 2 h deadline.
    conf = settings(
        rules=[
            {
                "name": "ScoreLow",
                "severity": "medium",
                "metric": "pipeline.security.score",
                "op": "lt",
                "threshold": 90,
                "escalate_after": "2h",
            }
        ],
        escalate_unacknowledged=False,
    )
    seen = []
    with HttpReceiver() as http, open_store(str(tmp_path / "h.db"), tmp_path) as store:
        env = {ENV_URL: http.url("/hook")}
        for i in range(7):
            report = make_report(f"run-{i:08d}", at=i, security=50.0)
            store.add_run(report)
            evaluate_run(store, report, conf, root=tmp_path, environ=env)
            seen.append(list_alerts(store)[0].severity)
        keys = [r.json()["groupKey"] for r in http.at("/hook")]
    assert seen == ["medium", "medium", "high", "high", "critical", "critical", "critical"]
    assert keys == [
        '{}/{severity="medium"}:{branch="main", repo="demo"}',
        '{}/{severity="high"}:{branch="main", repo="demo"}',
        '{}/{severity="critical"}:{branch="main", repo="demo"}',
    ]


def test_escalation_by_runs_moves_up_one_level_per_run_count(tmp_path: Path) -> None:
    # escalate_after_runs alone; response-time escalation (on by default) is turned off: with
    # runs an hour apart it would also raise the alert once it is medium (2 h) or high (30 min)
    # and the levels below would no longer follow the run count.
    conf = settings(
        rules=[
            {
                "name": "ScoreLow",
                "severity": "low",
                "metric": "pipeline.security.score",
                "op": "lt",
                "threshold": 90,
                "escalate_after_runs": 2,
            }
        ],
        escalate_unacknowledged=False,
    )
    seen = []
    with HttpReceiver() as http, open_store(str(tmp_path / "h.db"), tmp_path) as store:
        env = {ENV_URL: http.url("/hook")}
        for i in range(8):
            report = make_report(f"run-{i:08d}", at=i, security=50.0)
            store.add_run(report)
            evaluate_run(store, report, conf, root=tmp_path, environ=env)
            [view] = list_alerts(store)
            seen.append((view.severity, view.escalated_from))
        levels = [r.json()["commonLabels"]["severity"] for r in http.at("/hook")]
    # fires at run 0; each level is held for 2 firing runs after the run that reached it
    assert seen == [
        ("low", None),
        ("low", None),
        ("medium", "low"),
        ("medium", "low"),
        ("high", "low"),
        ("high", "low"),
        ("critical", "low"),
        ("critical", "low"),
    ]
    assert levels == ["low", "medium", "high", "critical"]  # each level's group told once


def test_silence_with_regex_and_unsilence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    db = str(tmp_path / "h.db")
    now = datetime.now(UTC).replace(microsecond=0)
    with HttpReceiver() as http:
        env = {ENV_URL: http.url("/hook")}
        code = main(
            [
                "alerts",
                "silence",
                "alertname=~Score.*",
                "branch!=release",
                "--duration",
                "2h",
                "--reason",
                "known, fix in #12",
                "--store",
                db,
            ]
        )
        assert code == 0
        silence_id = capsys.readouterr().out.split()[1].rstrip(":")
        with open_store(db, tmp_path) as store:
            report = make_report("run-00000001", at=now + timedelta(seconds=1), security=50.0)
            store.add_run(report)
            evaluate_run(store, report, settings(), root=tmp_path, environ=env)
            [view] = list_alerts(store)
            assert view.silenced_by == (silence_id,)
        assert http.at("/hook") == []
        assert main(["alerts", "list", "--store", db]) == 0
        out = capsys.readouterr().out
        assert "firing (silenced)" in out
        assert "known, fix in #12" in out
        assert main(["alerts", "unsilence", silence_id, "--store", db]) == 0
        assert capsys.readouterr().out.startswith(f"silence {silence_id} ended")
        with open_store(db, tmp_path) as store:
            report = make_report("run-00000002", at=now + timedelta(seconds=30), security=50.0)
            store.add_run(report)
            summary = evaluate_run(store, report, settings(), root=tmp_path, environ=env)
        assert [n.reason for n in summary.notifications] == ["first"]
        assert len(http.at("/hook")) == 1


def test_inhibition_needs_equal_labels(tmp_path: Path) -> None:
    conf = settings(
        rules=[
            {
                "name": "Broken",
                "severity": "critical",
                "metric": "tests.failed",
                "op": "gt",
                "threshold": 0,
            },
            {
                "name": "ScoreLow",
                "severity": "medium",
                "metric": "pipeline.security.score",
                "op": "lt",
                "threshold": 90,
            },
        ],
        inhibit=[
            {
                "source": ["severity=critical"],
                "target": ["severity=medium"],
                "equal": ["repo", "branch"],
            }
        ],
    )
    with HttpReceiver() as http, open_store(str(tmp_path / "h.db"), tmp_path) as store:
        env = {ENV_URL: http.url("/hook")}
        broken = make_report("run-00000001", at=0, branch="feature", failed=2, security=50.0)
        other = make_report("run-00000002", at=1, branch="main", security=50.0)
        for report in (broken, other):
            store.add_run(report)
            evaluate_run(store, report, conf, root=tmp_path, environ=env)
        names = sorted(
            a["labels"]["alertname"] + "@" + a["labels"]["branch"]
            for r in http.at("/hook")
            for a in r.json()["alerts"]
        )
    # ScoreLow on feature is inhibited by Broken on feature; ScoreLow on main is not
    assert names == ["Broken@feature", "ScoreLow@main"]


def test_builtin_benchmark_p95_change_point(tmp_path: Path) -> None:
    conf = settings(rules=[], disable_builtin=["GateBlockedMain", "SloBurnRate"])
    with open_store(str(tmp_path / "h.db"), tmp_path) as store:
        reports = [
            make_report(
                f"run-{i:08d}",
                at=i,
                benchmarks={"test_parse": (0.010 if i < 20 else 0.020, 100.0)},
            )
            for i in range(26)
        ]
        store.add_runs(reports)
        summary = evaluate_run(store, reports[-1], conf, root=tmp_path, environ={})
        [view] = list_alerts(store)
    assert [t.to for t in summary.transitions] == ["firing"]
    assert view.alertname == "BenchmarkP95ChangePoint"
    assert view.labels["metric"] == "benchmark.test_parse.p95"
    assert view.summary == "benchmark.test_parse.p95 shifted up on main"
    assert view.annotations["description"] == (
        "benchmark.test_parse.p95 of demo moved from 0.01 s to 0.02 s (+100.0%) "
        "at run run-00000025 on main."
    )


def test_builtin_slo_burn_rate_security_and_coverage(tmp_path: Path) -> None:
    conf = settings(rules=[], disable_builtin=["BenchmarkP95ChangePoint"])
    with open_store(str(tmp_path / "h.db"), tmp_path) as store:
        reports = [make_report(f"run-{i:08d}", at=i, gate=True) for i in range(100)]
        reports[-1] = make_report(
            "run-00000099",
            at=99,
            gate=False,
            coverage=70.0,
            counts={"security": {"critical": 1, "high": 2}},
        )
        store.add_runs(reports)
        evaluate_run(store, reports[-1], conf, root=tmp_path, environ={})
        views = {(a.alertname, a.labels.get("metric")): a for a in list_alerts(store)}
    assert sorted(views) == [
        ("CoverageBelowTarget", "coverage.percent"),
        ("GateBlockedMain", "gate.passed"),
        ("SecurityHighFindings", "findings.security.critical+findings.security.high"),
        ("SloBurnRate", "burn_rate.10"),
        ("SloBurnRate", "burn_rate.100"),
    ]
    assert views[("SloBurnRate", "burn_rate.10")].value == pytest.approx(100.0)
    assert views[("SloBurnRate", "burn_rate.100")].value == pytest.approx(10.0)
    assert views[
        ("SecurityHighFindings", "findings.security.critical+findings.security.high")
    ].summary == ("3 high or critical security findings in demo on main")
    assert views[("CoverageBelowTarget", "coverage.percent")].summary == (
        "Coverage 65.0% is below 80% in demo on main"
    )


def test_gate_rule_only_on_the_main_branch_and_glob_metrics(tmp_path: Path) -> None:
    conf = settings(
        rules=[
            {
                "name": "SlowOps",
                "severity": "low",
                "metric": "benchmark.*.ops",
                "op": "lt",
                "threshold": 50,
            }
        ],
        disable_builtin=[
            "SecurityHighFindings",
            "BenchmarkP95ChangePoint",
            "CoverageBelowTarget",
            "SloBurnRate",
        ],
    )
    with open_store(str(tmp_path / "h.db"), tmp_path) as store:
        report = make_report(
            "run-00000001",
            at=0,
            branch="feature",
            gate=False,
            benchmarks={"a": (0.01, 10.0), "b": (0.01, 100.0), "c": (0.01, 20.0)},
        )
        store.add_run(report)
        evaluate_run(store, report, conf, root=tmp_path, environ={})
        names = sorted((a.alertname, a.labels["metric"]) for a in list_alerts(store))
        # the next run without benchmark "c" below the threshold resolves it
        later = make_report(
            "run-00000002",
            at=1,
            branch="feature",
            benchmarks={"a": (0.01, 10.0), "c": (0.01, 90.0)},
        )
        store.add_run(later)
        evaluate_run(store, later, conf, root=tmp_path, environ={})
        states = {a.labels["metric"]: a.state for a in list_alerts(store)}
    assert names == [("SlowOps", "benchmark.a.ops"), ("SlowOps", "benchmark.c.ops")]
    assert states == {"benchmark.a.ops": "firing", "benchmark.c.ops": "resolved"}


def test_list_alerts_without_alert_tables_and_on_a_read_only_store(tmp_path: Path) -> None:
    db = str(tmp_path / "h.db")
    with open_store(db, tmp_path) as store:
        store.add_run(make_report("run-00000001", at=0, security=50.0))
        assert list_alerts(store) == []
    with open_store(db, tmp_path, readonly=True) as store:
        assert list_alerts(store, states=("firing", "pending")) == []
    with open_store(db, tmp_path) as store:
        report = store.latest_run()
        assert report is not None
        evaluate_run(store, report, settings(), root=tmp_path, environ={})
    with open_store(db, tmp_path, readonly=True) as store:
        [view] = list_alerts(store, states=("firing", "pending"))
    data = view.to_dict()
    assert sorted(data) == [
        "acknowledged",
        "alertname",
        "annotations",
        "base_severity",
        "ends_at",
        "escalated_at",
        "escalated_from",
        "fingerprint",
        "labels",
        "last_notified",
        "run_id",
        "severity",
        "silenced",
        "silenced_by",
        "since",
        "starts_at",
        "state",
        "summary",
        "undelivered",
        "value",
    ]
    assert (data["state"], data["severity"], data["undelivered"]) == ("firing", "high", 1)


@pytest.mark.parametrize("retryable", [True, False])
def test_recording_the_delivery_is_redone_after_a_deadlock_abort(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, retryable: bool
) -> None:
    """PostgreSQL may abort the transaction that records a delivery to break a deadlock with
    another runner's evaluation (seen in the suite): it is redone; any other error is not."""
    report = make_report("run-00000001", at=0, security=50.0)
    with open_store(store_url, tmp_path) as store:
        store.add_runs([report])
        real_execute = store.execute
        aborted: list[str] = []

        def execute(sql: str, params: Any = ()) -> Any:
            if sql.startswith("UPDATE fwmon_alert_notifications SET status") and not aborted:
                aborted.append(sql)
                error = StoreError("cannot write to history store x: deadlock detected")
                error.retryable = retryable
                raise error
            return real_execute(sql, params)

        monkeypatch.setattr(store, "execute", execute)
        with HttpReceiver() as http:
            env = {ENV_URL: http.url("/hook")}
            if not retryable:
                with pytest.raises(StoreError, match="deadlock detected"):
                    evaluate_run(store, report, settings(), root=tmp_path, environ=env)
                return
            summary = evaluate_run(store, report, settings(), root=tmp_path, environ=env)
            assert len(http.at("/hook")) == 1
        assert aborted and [n.delivery for n in summary.notifications] == ["sent"]
        rows = store.query("SELECT status, sent_at FROM fwmon_alert_notifications")
        assert [(status, sent is not None) for status, sent in rows] == [("sent", True)]
