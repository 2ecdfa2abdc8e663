"""Policies: presets, schema, validation messages, weakening, and the metric namespace."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pytest_fwmon.core.errors import ConfigError
from pytest_fwmon.core.model import PIPELINES, SEVERITIES
from pytest_fwmon.core.schema import first_error, load_schema
from pytest_fwmon.gate import metrics as metrics_module
from pytest_fwmon.gate.evaluate import evaluate
from pytest_fwmon.gate.metrics import (
    METRICS,
    METRICS_HELP,
    Metrics,
    is_findings_metric,
    is_text_metric,
)
from pytest_fwmon.gate.policy import (
    PRESETS,
    load_policy,
    parse_policy,
    parse_toml,
    preset_bytes,
    weakenings,
)
from tests.test_gate_support import (
    POLICY_NEW_HIGH,
    benchmark,
    coverage,
    finding,
    make_report,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", PRESETS)
def test_presets_ship_in_the_package_and_in_gates(name: str) -> None:
    assert (ROOT / "gates" / f"{name}.toml").read_bytes() == preset_bytes(name)
    table = parse_toml(preset_bytes(name), name)
    assert first_error("policy", table) is None
    jsonschema.Draft202012Validator(load_schema("policy")).validate(table)
    assert parse_policy(preset_bytes(name), name).conditions


def test_own_gate_is_valid() -> None:
    policy = load_policy(ROOT / "gates" / "fwmon.toml", ROOT)
    assert set(policy.required_pipelines) == {"security", "docs", "quality"}
    assert first_error("policy", parse_toml((ROOT / "gates/fwmon.toml").read_bytes(), "f")) is None


def test_policy_schema_metric_pattern_matches_exactly_the_metrics() -> None:
    pattern = re.compile(load_schema("policy")["$defs"]["metric"]["pattern"])
    words = [
        *PIPELINES,
        *SEVERITIES,
        "total",
        "score",
        "status",
        "failed",
        "errors",
        "items",
        "high_or_worse",
        "critical_or_worse",
        "info_or_worse",
        "line_percent",
        "stale",
    ]
    heads = [
        "findings",
        "pipeline",
        "coverage",
        "tests",
        "benchmarks",
        "integration",
        "checks",
        "baseline",
        "waivers",
        "diff",
    ]
    candidates = set(METRICS)
    for head in heads:
        candidates |= {f"{head}.{w}" for w in words}
        candidates |= {f"{head}.{a}.{b}" for a, b in itertools.product(words, repeat=2)}
    matched = {name for name in candidates if pattern.match(name)}
    assert matched == set(METRICS)


def test_policy_from_pyproject_then_default_preset(tmp_path: Path) -> None:
    assert load_policy(None, tmp_path).source == "preset default"
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    assert load_policy(None, tmp_path).source == "preset default"
    table = POLICY_NEW_HIGH.replace("[[conditions]]", "[[tool.fwmon.gate.conditions]]")
    table = "[tool.fwmon.gate]\n" + table
    (tmp_path / "pyproject.toml").write_text(table, encoding="utf-8")
    policy = load_policy(None, tmp_path)
    assert policy.source == f"{tmp_path / 'pyproject.toml'} [tool.fwmon.gate]"
    assert [c.id for c in policy.conditions] == ["no-new-high"]
    assert load_policy("pyproject.toml", tmp_path).conditions == policy.conditions
    assert load_policy("strict", tmp_path).source == "preset strict"


def _cond(**overrides: Any) -> str:
    fields = {"id": '"c"', "metric": '"findings.total"', "op": '"le"', "threshold": "0"}
    fields.update(overrides)
    return "[[conditions]]\n" + "".join(f"{k} = {v}\n" for k, v in fields.items() if v)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            _cond(scope='"diff"', metric='"coverage.line_percent"'),
            "condition 'c': scope 'diff' applies only to findings.* metrics; use scope "
            "'overall' for coverage.line_percent",
            id="scope-on-coverage",
        ),
        pytest.param(
            _cond(metric='"pipeline.docs.status"', threshold='"pass"', op='"ge"'),
            "condition 'c': metric pipeline.docs.status is a status word, so op must be 'eq'",
            id="status-op",
        ),
        pytest.param(
            _cond(metric='"pipeline.docs.status"', threshold='"fine"', op='"eq"'),
            "condition 'c': threshold 'fine' is not valid; valid choices: pass, fail, "
            "error, skipped, not-run",
            id="status-word",
        ),
        pytest.param(
            _cond(threshold="nan"),
            "condition 'c': threshold must be a finite number, got nan",
            id="nan",
        ),
        pytest.param(
            _cond(threshold="true"),
            "condition 'c': threshold must be a finite number, got True",
            id="bool",
        ),
        pytest.param(
            _cond(threshold=None),
            "condition 'c': missing required key 'threshold'",
            id="no-threshold",
        ),
        pytest.param(
            _cond(id='"bad id"'),
            "conditions[0]: id 'bad id' must be a string of letters, digits, '-', '_' and '.'",
            id="bad-id",
        ),
        pytest.param(
            _cond(level='"fatal"'),
            "condition 'c': level 'fatal' is not valid; valid choices: error, warn",
            id="level",
        ),
        pytest.param(
            _cond(scope='"old"'),
            "condition 'c': scope 'old' is not valid; valid choices: overall, new, diff",
            id="scope",
        ),
        pytest.param(
            _cond(missing='"ignore"'),
            "condition 'c': missing 'ignore' is not valid; valid choices: fail, pass",
            id="missing",
        ),
        pytest.param(_cond() + _cond(), "condition id 'c' is used twice", id="duplicate"),
        pytest.param(
            "version = 2\n" + _cond(),
            "version 2 is not supported; this fwmon reads version 1",
            id="version",
        ),
        pytest.param(
            'required_pipelines = ["speed"]\n' + _cond(),
            "required_pipelines: pipeline 'speed' is not valid; valid choices: "
            "security, docs, quality, performance, integration",
            id="pipeline",
        ),
        pytest.param(
            "fail_on_stale = 1\n" + _cond(),
            "fail_on_stale must be true or false, got 1",
            id="stale-type",
        ),
        pytest.param(
            "conditions = [1]\n",
            "conditions[0] must be a table ([[conditions]])",
            id="condition-type",
        ),
        pytest.param(
            _cond() + '[[exemptions]]\nid = "e"\nconditions = ["zz"]\nmetric = "diff.changed_lines"'
            '\nop = "lt"\nthreshold = 3\nreason = "r"\n',
            "exemption 'e': unknown condition 'zz'; valid conditions: c",
            id="exemption-target",
        ),
        pytest.param(
            _cond() + '[[exemptions]]\nid = "e"\nconditions = ["c"]\nmetric = "diff.changed_lines"'
            '\nop = "lt"\nthreshold = 3\n',
            "exemption 'e': missing required key 'reason'",
            id="exemption-reason",
        ),
    ],
)
def test_policy_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_policy(text.encode(), "p.toml")
    assert info.value.message == f"policy p.toml: {message}"


def _policy(text: str) -> Any:
    return parse_policy(text.encode(), "p")


@pytest.mark.parametrize(
    ("before", "after", "changes"),
    [
        pytest.param(
            _cond(), _cond(threshold="1"), ["condition c relaxed from le 0 to le 1"], id="raised"
        ),
        pytest.param(_cond(), _cond(op='"lt"'), [], id="le-to-lt-is-stricter"),
        pytest.param(
            _cond(op='"lt"'),
            _cond(op='"le"'),
            ["condition c relaxed from lt 0 to le 0"],
            id="lt-to-le",
        ),
        pytest.param(
            _cond(op='"ge"', threshold="80"),
            _cond(op='"ge"', threshold="70"),
            ["condition c relaxed from ge 80 to ge 70"],
            id="lowered-minimum",
        ),
        pytest.param(
            _cond(op='"ge"', threshold="80"),
            _cond(op='"ge"', threshold="90"),
            [],
            id="raised-minimum",
        ),
        pytest.param(
            _cond(op='"eq"'),
            _cond(op='"le"'),
            ["condition c relaxed from eq 0 to le 0"],
            id="eq-to-le",
        ),
        pytest.param(
            _cond(scope='"overall"'),
            _cond(scope='"diff"'),
            ["condition c narrowed scope overall to diff"],
            id="scope",
        ),
        pytest.param(
            _cond(),
            _cond(missing='"pass"'),
            ["condition c now passes when its metric is missing"],
            id="missing",
        ),
        pytest.param(
            _cond(),
            _cond(metric='"findings.high"'),
            ["condition c changed metric findings.total to findings.high"],
            id="metric",
        ),
        pytest.param(
            "fail_on_stale = true\n" + _cond(), _cond(), ["fail_on_stale switched off"], id="stale"
        ),
        pytest.param(_cond(), _cond() + _cond(id='"d"'), [], id="added-condition"),
        pytest.param(
            _cond(),
            _cond() + '[[exemptions]]\nid = "e"\nconditions = ["c"]\nmetric = "diff.changed_lines"'
            '\nop = "lt"\nthreshold = 3\nreason = "r"\n',
            ["exemption e added or changed"],
            id="exemption",
        ),
        pytest.param(
            _cond(metric='"pipeline.docs.status"', op='"eq"', threshold='"pass"'),
            _cond(metric='"pipeline.docs.status"', op='"eq"', threshold='"fail"'),
            ["condition c relaxed from eq pass to eq fail"],
            id="status",
        ),
    ],
)
def test_weakenings(before: str, after: str, changes: list[str]) -> None:
    assert weakenings(_policy(before), _policy(after)) == changes


def _value(report: dict[str, Any], name: str, **kwargs: Any) -> tuple[Any, str]:
    findings = [f for c in report["checks"] for f in c["findings"]]
    scoped = {"overall": findings, "new": findings, "diff": findings}
    return Metrics(report, scoped, **kwargs).value(name)


def test_metric_values() -> None:
    high = finding("B602", "a.py", 1)
    crit = finding("B608", "a.py", 2, severity="critical")
    docs = finding("D103", "a.py", 3, severity="low", pipeline="docs", checker="pydocstyle")
    report = make_report(
        [high, crit, docs],
        coverage=coverage(81.5),
        benchmarks=[
            benchmark("a", "regression", "failed"),
            benchmark("b", "regression"),
            benchmark("c", "ok"),
        ],
    )
    assert _value(report, "findings.total") == (3, "")
    assert _value(report, "findings.high") == (1, "")
    assert _value(report, "findings.high_or_worse") == (2, "")
    assert _value(report, "findings.low_or_worse") == (3, "")
    assert _value(report, "findings.docs.total") == (1, "")
    assert _value(report, "findings.security.critical") == (1, "")
    assert _value(report, "pipeline.security.score") == (90.0, "")
    assert _value(report, "pipeline.security.status") == ("pass", "")
    assert _value(report, "coverage.line_percent") == (81.5, "")
    assert _value(report, "coverage.branch_percent") == (None, "coverage has no branch_percent")
    assert _value(report, "coverage.diff_percent") == (
        None,
        "coverage has no diff coverage (pytest --fwmon-diff-base REF)",
    )
    with_diff = make_report([], coverage=coverage(70.0, 60.0, 92.5))
    assert _value(with_diff, "coverage.diff_percent") == (92.5, "")
    assert _value(with_diff, "coverage.branch_percent") == (60.0, "")
    assert _value(report, "tests.failed") == (0, "")
    assert _value(report, "benchmarks.total") == (3, "")
    assert _value(report, "benchmarks.regressions") == (2, "")
    assert _value(report, "integration.failed") == (0, "")
    assert _value(report, "checks.errors") == (0, "")
    assert _value(report, "baseline.stale", stale=4) == (4, "")
    assert _value(report, "waivers.expired", expired=2) == (2, "")
    assert _value(report, "diff.changed_lines") == (
        None,
        "no --base-ref was given, so there is no diff",
    )
    assert _value(report, "diff.changed_files", changed={"a": {1, 2}, "b": {3}}) == (2, "")
    assert _value(report, "diff.changed_lines", changed={"a": {1, 2}, "b": {3}}) == (3, "")


def test_metrics_of_pipelines_that_did_not_run_are_missing() -> None:
    report = make_report(
        [],
        statuses={"docs": "not-run", "performance": "error", "integration": "skipped"},
        tests={
            "total": 0,
            "passed": 0,
            "failed": 0,
            "errors": 0,
            "skipped": 0,
            "xfailed": 0,
            "xpassed": 0,
            "duration": 0.0,
            "exitstatus": 5,
        },
    )
    assert _value(report, "findings.docs.total") == (
        None,
        "pipeline docs did not run (status not-run)",
    )
    assert _value(report, "pipeline.docs.score") == (
        None,
        "pipeline docs did not run (status not-run)",
    )
    assert _value(report, "benchmarks.regressions") == (None, "pipeline performance errored")
    assert _value(report, "integration.failed") == (
        None,
        "pipeline integration did not run (status skipped)",
    )
    assert _value(report, "tests.failed") == (None, "no tests ran (tests.total is 0)")
    assert _value(report, "tests.total") == (0, "")
    assert _value(report, "coverage.line_percent") == (None, "coverage was not measured")
    assert _value(report, "findings.total") == (0, "")  # security and quality ran
    none_ran = make_report([], statuses=dict.fromkeys(PIPELINES, "not-run"))
    assert _value(none_ran, "findings.total") == (
        None,
        "no finding pipeline (security, docs, quality) ran",
    )


def test_warn_level_and_status_condition() -> None:
    policy = _policy(
        _cond(level='"warn"')
        + _cond(id='"s"', metric='"pipeline.docs.status"', op='"eq"', threshold='"pass"')
    )
    result = evaluate(make_report([finding()]), policy, None)
    assert result.verdict == "pass"
    assert result.warnings == ["condition c warns: findings.total is 1, must be le 0"]
    assert [r.verdict for r in result.conditions] == ["fail", "pass"]
    failing = make_report([], statuses={"docs": "fail"})
    result = evaluate(failing, policy, None)
    assert result.reasons == ["condition s failed: pipeline.docs.status is fail, must be eq pass"]


def test_result_round_trips_as_json() -> None:
    result = evaluate(make_report([finding()]), _policy(_cond()), None)
    assert json.loads(json.dumps(result.to_dict()))["verdict"] == "blocked"


def test_policy_doc_embeds_the_schema_and_names_every_metric_family() -> None:
    doc = (ROOT / "docs" / "reference" / "policy.md").read_text(encoding="utf-8")
    block = doc.split("```json\n")[-1].split("```")[0]
    assert json.loads(block) == load_schema("policy")
    for family in (
        "findings.<severity>_or_worse",
        "pipeline.<pipeline>.score",
        "tests.failed",
        "coverage.diff_percent",
        "benchmarks.regressions",
        "baseline.stale",
        "waivers.expired",
        "diff.changed_lines",
        "checks.errors",
    ):
        assert family in doc, family


def test_ci_doc_lists_every_action_input() -> None:
    import yaml

    doc = (ROOT / "docs" / "how-to" / "ci.md").read_text(encoding="utf-8")
    action = yaml.safe_load((ROOT / "ci" / "github" / "action.yml").read_text(encoding="utf-8"))
    for name in [*action["inputs"], *action["outputs"]]:
        assert f"`{name}`" in doc, name


def test_findings_metrics_count_in_their_scope() -> None:
    high = finding("B602", "a.py", 1)
    low = finding("B101", "a.py", 2, severity="low")
    crit = finding("B608", "b.py", 3, severity="critical")
    docs = finding("D103", "a.py", 4, severity="medium", pipeline="docs", checker="pydocstyle")
    report = make_report([high, low, crit, docs])
    scoped = {"overall": [high, low, crit, docs], "new": [high, low, docs], "diff": [low]}
    diffed = Metrics(report, scoped, changed={"a.py": {2}})
    assert diffed.value("findings.total") == (4, "")
    assert diffed.value("findings.total", "new") == (3, "")
    assert diffed.value("findings.total", "diff") == (1, "")
    assert diffed.value("findings.critical") == (1, "")
    assert diffed.value("findings.medium_or_worse", "new") == (2, "")
    assert diffed.value("findings.security.total", "new") == (2, "")
    assert diffed.value("findings.docs.medium", "diff") == (0, "")
    assert diffed.value("findings.info") == (0, "")
    docs_high = finding("D1", "a.py", 5, severity="high", pipeline="docs", checker="pydocstyle")
    both = Metrics(report, {"overall": [high, docs_high]})
    assert both.value("findings.high") == (2, "")  # summed over pipelines
    assert both.value("findings.docs.high") == (1, "")
    # without a diff, a diff-scoped count counts every new finding: stricter, never looser
    assert Metrics(report, scoped).value("findings.total", "diff") == (3, "")


def test_findings_metrics_of_an_errored_pipeline_are_missing() -> None:
    report = make_report([], statuses={"docs": "error", "quality": "error"})
    metrics = Metrics(report, {})
    assert metrics.value("findings.total") == (
        None,
        "pipeline docs, quality errored, so findings are incomplete",
    )
    assert metrics.value("findings.docs.total") == (None, "pipeline docs errored")
    assert metrics.value("findings.security.total") == (0, "")
    assert metrics.value("pipeline.docs.status") == ("error", "")
    assert metrics.value("pipeline.docs.failed") == (None, "pipeline docs errored")
    only_perf = make_report(
        [], statuses={"security": "not-run", "docs": "skipped", "quality": "not-run"}
    )
    assert Metrics(only_perf, {}).value("findings.total") == (
        None,
        "no finding pipeline (security, docs, quality) ran",
    )
    failing = make_report(
        [], statuses={"security": "fail", "docs": "not-run", "quality": "not-run"}
    )
    assert Metrics(failing, {}).value("findings.total") == (0, "")


def test_pipeline_benchmark_integration_and_counter_metrics() -> None:
    report = make_report(
        [], benchmarks=[benchmark("a", "regression", "failed"), benchmark("b", "stale")]
    )
    report["benchmarks"].append("not a benchmark")
    report["pipelines"]["performance"].update(failed=2, errors=1)
    report["pipelines"]["integration"].update(items=7, failed=1, errors=2)
    report["pipelines"]["quality"]["score"] = None
    report["checks"] = [{"outcome": "error"}, {"outcome": "passed"}, {"outcome": "error"}]
    metrics = Metrics(report, {}, quarantine_expired=3, stale=1, expired=2)
    assert metrics.value("benchmarks.total") == (2, "")
    assert metrics.value("benchmarks.regressions") == (1, "")
    assert metrics.value("benchmarks.failed") == (3, "")
    assert metrics.value("integration.total") == (7, "")
    assert metrics.value("integration.failed") == (3, "")
    assert metrics.value("pipeline.integration.items") == (7, "")
    assert metrics.value("pipeline.integration.errors") == (2, "")
    assert metrics.value("pipeline.quality.score") == (None, "pipeline quality has no score")
    assert metrics.value("pipeline.nosuch.status") == ("not-run", "")
    assert metrics.value("checks.errors") == (2, "")
    assert metrics.value("quarantine.expired") == (3, "")
    assert metrics.value("baseline.stale") == (1, "")
    assert metrics.value("waivers.expired") == (2, "")
    defaults = Metrics(report, {})
    assert [defaults.value(n)[0] for n in ("quarantine.expired", "baseline.stale")] == [0, 0]
    assert defaults.value("waivers.expired") == (0, "")


@pytest.mark.parametrize(
    ("tests", "name", "value"),
    [
        pytest.param({"exitstatus": 1}, "tests.exitstatus", (1, ""), id="exitstatus"),
        pytest.param({"exitstatus": 0}, "tests.exitstatus", (0, ""), id="exitstatus-0"),
        pytest.param(
            {"exitstatus": None, "exitstatus_note": "unknown: Boom"},
            "tests.exitstatus",
            (None, "pytest's exit status is not known (unknown: Boom)"),
            id="exitstatus-unknown",
        ),
        pytest.param({"total": 4, "passed": 3}, "tests.passed", (3, ""), id="passed"),
        pytest.param({"total": 4}, "tests.flaky", (0, ""), id="flaky-absent-is-0"),
        pytest.param({"total": 4, "flaky": 2}, "tests.flaky", (2, ""), id="flaky"),
        pytest.param(
            {"total": 0, "skipped": 3},
            "tests.skipped",
            (None, "no tests ran (tests.total is 0)"),
            id="none-ran",
        ),
    ],
)
def test_tests_metrics(tests: dict[str, Any], name: str, value: tuple[Any, str]) -> None:
    report = make_report([])
    report["tests"].update(tests)
    assert Metrics(report, {}).value(name) == value


@pytest.mark.parametrize(
    ("section", "name", "value"),
    [
        pytest.param(None, "coverage.line_percent", (None, "coverage was not measured"), id="none"),
        pytest.param(
            {"line_percent": True},
            "coverage.line_percent",
            (None, "coverage has no line_percent"),
            id="bool-is-no-number",
        ),
        pytest.param({"line_percent": 80}, "coverage.line_percent", (80, ""), id="int"),
        pytest.param(
            {"diff": {"percent": None}},
            "coverage.diff_percent",
            (None, "coverage has no diff_percent"),
            id="diff-without-percent",
        ),
    ],
)
def test_coverage_metrics(
    section: dict[str, Any] | None, name: str, value: tuple[Any, str]
) -> None:
    report = make_report([])
    report["coverage"] = section
    assert Metrics(report, {}).value(name) == value


def test_the_metric_namespace_is_the_documented_one() -> None:
    families = ["total", *SEVERITIES, "high_or_worse", "medium_or_worse", "low_or_worse"]
    fields = ["score", "status", "failed", "errors", "items"]
    expected = {f"findings.{f}" for f in families}
    expected |= {f"findings.{p}.{f}" for p in PIPELINES for f in families}
    expected |= {f"pipeline.{p}.{f}" for p in PIPELINES for f in fields}
    # built at import, so also built here: a test can only see a change to the builder this way
    assert metrics_module._all_metrics() == METRICS
    fixed = METRICS - expected
    assert expected <= METRICS
    assert len(fixed) == 21
    assert {"tests.exitstatus", "quarantine.expired", "diff.changed_files"} <= fixed
    assert "findings.critical_or_worse" not in METRICS  # the same as findings.critical
    assert "findings.info_or_worse" not in METRICS  # the same as findings.total
    for name in METRICS:
        assert name.split(".")[0] in METRICS_HELP
    assert METRICS_HELP.endswith(
        " (severity: critical|high|medium|low|info; "
        "pipeline: security|docs|quality|performance|integration)"
    )
    assert is_text_metric("pipeline.docs.status")
    assert not is_text_metric("pipeline.docs.score") and not is_text_metric("tests.status")
    assert is_findings_metric("findings.total") and not is_findings_metric("tests.findings")
