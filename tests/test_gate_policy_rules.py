"""Policies as a user meets them: each refused key, type or value, defaults, lookup, weakening.

Every bad policy is run through the gate's command (``python -m pytest_fwmon.gate``, in this
process so that mutation testing sees it) and must give exit 2 and exactly one line naming the
table and key at fault. The weakening check is held against a brute-force oracle: a new
condition is weaker when some value passes it that the old one stopped.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.core.config import load_config
from pytest_fwmon.core.errors import ConfigError
from pytest_fwmon.gate import cli
from pytest_fwmon.gate.evaluate import evaluate
from pytest_fwmon.gate.metrics import METRICS_HELP
from pytest_fwmon.gate.policy import (
    OPS,
    PYPROJECT_TABLE,
    Condition,
    Exemption,
    Policy,
    compare,
    load_policy,
    load_preset,
    parse_policy,
    weakenings,
)
from tests.test_gate_support import finding, make_report, write_json

COND = '[[conditions]]\nid = "c"\nmetric = "findings.total"\nop = "le"\nthreshold = 0\n'
EXEMPT = (
    '[[exemptions]]\nid = "e"\nconditions = ["c"]\nmetric = "diff.changed_lines"\nop = "lt"\n'
    'threshold = 3\nreason = "r"\n'
)
INLINE = (
    '{id = "e", conditions = ["c"], metric = "diff.changed_lines", op = "lt", threshold = 3, '
    'reason = "r"}'
)


def _exempt(**overrides: str | None) -> str:
    """EXEMPT with some keys replaced (a value of None drops the key)."""
    fields = {
        "id": '"e"',
        "conditions": '["c"]',
        "metric": '"diff.changed_lines"',
        "op": '"lt"',
        "threshold": "3",
        "reason": '"r"',
    }
    fields.update(overrides)
    return "[[exemptions]]\n" + "".join(f"{k} = {v}\n" for k, v in fields.items() if v)


def _gate(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    policy: str | bytes,
    *argv: str,
) -> tuple[int, list[str]]:
    """Run the gate on a clean report with ``policy`` as policy.toml; exit code and output."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    write_json(tmp_path / "report.json", make_report([]))
    data = policy if isinstance(policy, bytes) else policy.encode()
    (tmp_path / "policy.toml").write_bytes(data)
    code = cli.main(["report.json", "--policy", "policy.toml", "--no-baseline", *argv])
    out = capsys.readouterr()
    return code, (out.out + out.err).splitlines()


BAD_POLICIES = [
    pytest.param(
        COND.replace("[[conditions]]\n", "[[conditions]]\ndescription = 5\n"),
        "condition 'c': description must be a string, got 5",
        id="condition-description-type",
    ),
    pytest.param(
        "description = 5\n" + COND,
        "top level: description must be a string, got 5",
        id="description-type",
    ),
    pytest.param(
        COND.replace("threshold = 0", f'threshold = "{"a" * 38}"'),
        f"condition 'c': threshold must be a finite number, got '{'a' * 38}'",
        id="threshold-shown-whole-at-40-characters",
    ),
    pytest.param(
        COND.replace("threshold = 0", f'threshold = "{"a" * 39}"'),
        f"condition 'c': threshold must be a finite number, got '{'a' * 39}...",
        id="threshold-cut-at-41-characters",
    ),
    pytest.param(
        COND.replace("threshold = 0", "threshold = 1" + "0" * 400),
        "condition 'c': threshold must be a finite number, got 1" + "0" * 39 + "...",
        id="threshold-beyond-float",
    ),
    pytest.param(
        'required_pipelines = "security"\n' + COND,
        "required_pipelines must be a list, got 'security'",
        id="required-pipelines-type",
    ),
    pytest.param(
        'conditions = "c"\n',
        "the policy has no conditions; add at least one [[conditions]] table (or use a preset: "
        "default, strict, legacy)",
        id="conditions-type",
    ),
    pytest.param(
        "exemptions = 1\n" + COND,
        "exemptions must be a list of tables ([[exemptions]])",
        id="exemptions-type",
    ),
    pytest.param(
        "exemptions = [1]\n" + COND,
        "exemptions[0] must be a table ([[exemptions]])",
        id="exemption-type",
    ),
    pytest.param(
        f"exemptions = [{INLINE}, 2]\n" + COND,
        "exemptions[1] must be a table ([[exemptions]])",
        id="second-exemption-type",
    ),
    pytest.param(
        COND + _exempt(id='"bad id"'),
        "exemptions[0]: id 'bad id' must be a string of letters, digits, '-', '_' and '.'",
        id="exemption-id",
    ),
    pytest.param(
        COND + EXEMPT + _exempt(id="7.5"),
        "exemptions[1]: id 7.5 must be a string of letters, digits, '-', '_' and '.'",
        id="second-exemption-id",
    ),
    pytest.param(
        COND + EXEMPT.replace('reason = "r"', 'reason = "r"\ncolour = "red"'),
        "exemption 'e': unknown key 'colour'; valid keys: id, conditions, metric, op, "
        "threshold, reason",
        id="exemption-unknown-key",
    ),
    pytest.param(
        COND + _exempt(metric='"diff.lines"'),
        f"exemption 'e': unknown metric 'diff.lines'; valid metrics: {METRICS_HELP}",
        id="exemption-metric",
    ),
    pytest.param(
        COND + _exempt(op='"below"'),
        "exemption 'e': op 'below' is not valid; valid choices: lt, le, gt, ge, eq",
        id="exemption-op",
    ),
    pytest.param(
        COND + _exempt(threshold='"ten"'),
        "exemption 'e': threshold must be a finite number, got 'ten'",
        id="exemption-threshold",
    ),
    pytest.param(
        COND + _exempt(metric='"pipeline.docs.status"', op='"ne"', threshold='"pass"'),
        "exemption 'e': op 'ne' is not valid; valid choices: lt, le, gt, ge, eq",
        id="exemption-status-op",
    ),
    pytest.param(
        COND + _exempt(metric='"pipeline.docs.status"', op='"lt"', threshold='"pass"'),
        "exemption 'e': metric pipeline.docs.status is a status word, so op must be 'eq'",
        id="exemption-status-word-op",
    ),
    pytest.param(
        COND + _exempt(reason='""'),
        "exemption 'e': reason must be a non-empty string, got ''",
        id="exemption-empty-reason",
    ),
    pytest.param(
        COND + _exempt(reason='"  "'),
        "exemption 'e': reason must be a non-empty string, got '  '",
        id="exemption-blank-reason",
    ),
    pytest.param(
        COND + _exempt(reason="5"),
        "exemption 'e': reason must be a non-empty string, got 5",
        id="exemption-reason-type",
    ),
    pytest.param(
        COND + _exempt(conditions="[]"),
        "exemption 'e': conditions must be a non-empty list of condition ids",
        id="exemption-no-targets",
    ),
    pytest.param(
        COND + _exempt(conditions='"c"'),
        "exemption 'e': conditions must be a non-empty list of condition ids",
        id="exemption-targets-type",
    ),
    pytest.param(
        COND + _exempt(conditions="[1]"),
        "exemption 'e': conditions must be a non-empty list of condition ids",
        id="exemption-target-type",
    ),
    pytest.param(
        COND.replace('"c"', '"d"') + COND + _exempt(conditions='["c", "zz"]'),
        "exemption 'e': unknown condition 'zz'; valid conditions: c, d",
        id="exemption-unknown-target",
    ),
    pytest.param(
        COND + EXEMPT + EXEMPT.replace("threshold = 3", "threshold = 4"),
        "two exemptions have the same id",
        id="exemption-duplicate",
    ),
]


@pytest.mark.parametrize(("policy", "message"), BAD_POLICIES)
def test_a_bad_policy_is_one_line_and_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    policy: str,
    message: str,
) -> None:
    code, output = _gate(tmp_path, monkeypatch, capsys, policy)
    assert (code, output) == (2, [f"fwmon: error: policy policy.toml: {message}"])


@pytest.mark.parametrize(
    ("data", "line"),
    [
        pytest.param(
            b'description = "caf\xe9"\n' + COND.encode(),
            "policy.toml is not UTF-8 text (byte 18)",
            id="latin-1",
        ),
        pytest.param(
            ("a = " + "[" * 3000 + "]" * 3000 + "\n").encode(),
            "policy.toml is not valid TOML: nested too deeply",
            id="nested-too-deeply",
        ),
    ],
)
def test_a_policy_that_is_not_toml_is_one_line_and_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    data: bytes,
    line: str,
) -> None:
    code, output = _gate(tmp_path, monkeypatch, capsys, data)
    assert (code, output) == (2, [f"fwmon: error: {line}"])


def test_a_policy_over_the_input_cap_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = COND + "# padding\n" * 20
    code, output = _gate(tmp_path, monkeypatch, capsys, text, "--max-input-mb", "0.0001")
    size = len(text.encode())
    assert (code, output) == (
        2,
        [
            f"fwmon: error: policy file policy.toml is {size} bytes, more than "
            "the cap of 104 bytes (raise it with FWMON_MAX_INPUT_MB=MiB or the command's "
            "--max-input-mb)"
        ],
    )


def test_defaults_of_a_minimal_policy() -> None:
    policy = parse_policy(COND.encode(), "p")
    assert policy == Policy(conditions=(Condition("c", "findings.total", "le", 0),), source="p")
    (condition,) = policy.conditions
    assert (condition.scope, condition.level, condition.missing) == ("overall", "error", "fail")
    assert (condition.description, policy.description) == ("", "")
    assert (policy.required_pipelines, policy.fail_on_stale, policy.exemptions) == ((), False, ())
    assert (policy.path, policy.table) == (None, ())


def test_every_key_of_a_full_policy_is_kept() -> None:
    text = (
        'version = 1\ndescription = "the team gate"\n'
        'required_pipelines = ["docs", "security", "docs"]\nfail_on_stale = true\n'
        + COND.replace("[[conditions]]\n", '[[conditions]]\ndescription = "no findings"\n')
        .replace('"findings.total"', '"findings.high"')
        .replace("threshold = 0", 'threshold = 2.5\nscope = "new"\nlevel = "warn"\n')
        + 'missing = "pass"\n'
        + _exempt(metric='"pipeline.docs.status"', op='"eq"', threshold='"pass"')
    )
    assert parse_policy(text.encode(), "p") == Policy(
        conditions=(
            Condition("c", "findings.high", "le", 2.5, "new", "warn", "pass", "no findings"),
        ),
        required_pipelines=("docs", "security"),
        fail_on_stale=True,
        exemptions=(Exemption("e", ("c",), "pipeline.docs.status", "eq", "pass", "r"),),
        description="the team gate",
        source="p",
    )


def _pyproject(root: Path, body: str) -> Path:
    path = root / "pyproject.toml"
    path.write_text("[project]\nname = 'x'\n" + body, encoding="utf-8")
    return path


GATE_TABLE = '[tool.fwmon.gate]\ndescription = "from pyproject"\n' + COND.replace(
    "[[conditions]]", "[[tool.fwmon.gate.conditions]]"
)


def test_pyproject_policy_is_used_without_policy_and_remembers_where_it_is(
    tmp_path: Path,
) -> None:
    path = _pyproject(tmp_path, GATE_TABLE)
    gates = tmp_path / "gates"
    gates.mkdir()
    (gates / "default.toml").write_text(COND.replace('"le"', '"ge"'), encoding="utf-8")
    policy = load_policy(None, tmp_path)
    assert (policy.source, policy.description) == (f"{path} [tool.fwmon.gate]", "from pyproject")
    assert (policy.path, policy.table) == (path, PYPROJECT_TABLE)
    assert [(c.id, c.op) for c in policy.conditions] == [("c", "le")]
    named = load_policy("pyproject.toml", tmp_path)
    assert (named.source, named.description) == (
        "pyproject.toml [tool.fwmon.gate]",
        "from pyproject",
    )
    assert (named.path, named.table) == (path, PYPROJECT_TABLE)
    # gates/ is not searched: without [tool.fwmon.gate] the shipped preset is used, and a file
    # under gates/ only when --policy names it
    path.write_text("[project]\nname = 'x'\n", encoding="utf-8")
    assert load_policy(None, tmp_path) == load_preset("default")
    from_file = load_policy("gates/default.toml", tmp_path)
    assert (from_file.source, from_file.path, from_file.table) == (
        "gates/default.toml",
        gates / "default.toml",
        (),
    )
    assert [(c.id, c.op) for c in from_file.conditions] == [("c", "ge")]


def test_a_policy_file_keeps_its_description(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text('description = "mine"\n' + COND, encoding="utf-8")
    assert load_policy("p.toml", tmp_path).description == "mine"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            "[tool.fwmon]\ngate = 1\n",
            "policy {path} [tool.fwmon.gate]: the policy must be a table",
            id="gate-not-a-table",
        ),
        pytest.param(
            "[tool.fwmon.gate\n",
            "{path} is not valid TOML: Expected ']' at the end of a table declaration "
            "(at line 3, column 17)",
            id="not-toml",
        ),
    ],
)
def test_a_bad_pyproject_found_without_policy_is_one_line_and_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    body: str,
    message: str,
) -> None:
    path = _pyproject(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_policy(None, tmp_path)
    assert info.value.message == message.format(path=path)
    monkeypatch.chdir(tmp_path)
    write_json(tmp_path / "report.json", make_report([]))
    assert cli.main(["report.json", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"fwmon: error: {message.format(path=path)}"]


def test_a_pyproject_named_by_policy_without_the_table_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "[project]\nname = 'x'\n"
    monkeypatch.chdir(tmp_path)
    write_json(tmp_path / "report.json", make_report([]))
    (tmp_path / "pyproject.toml").write_text(text, encoding="utf-8")
    assert cli.main(["report.json", "--policy", "pyproject.toml"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "fwmon: error: pyproject.toml has no [tool.fwmon.gate] table"
    ]


def test_the_run_configuration_validates_the_gate_table(tmp_path: Path) -> None:
    _pyproject(tmp_path, GATE_TABLE)
    policy = load_config(tmp_path).validated("gate")
    assert (policy.source, policy.description) == (
        "pyproject.toml [tool.fwmon.gate]",
        "from pyproject",
    )
    assert [c.id for c in policy.conditions] == ["c"]
    _pyproject(tmp_path, GATE_TABLE.replace('"le"', '"below"'))
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert info.value.exit_code == 2
    assert info.value.one_line() == (
        "policy pyproject.toml [tool.fwmon.gate]: condition 'c': op 'below' is not valid; "
        "valid choices: lt, le, gt, ge, eq"
    )


def test_each_operator_at_and_beside_its_threshold() -> None:
    cases = [
        ("lt", 1, "fail"),
        ("lt", 2, "pass"),
        ("le", 1, "pass"),
        ("le", 0, "fail"),
        ("gt", 1, "fail"),
        ("gt", 0, "pass"),
        ("ge", 1, "pass"),
        ("ge", 2, "fail"),
        ("eq", 1, "pass"),
        ("eq", 2, "fail"),
    ]
    text = "".join(
        COND.replace('"c"', f'"c{i}"')
        .replace('"le"', f'"{op}"')
        .replace("threshold = 0", f'threshold = {threshold}\nlevel = "warn"')
        for i, (op, threshold, _) in enumerate(cases)
    )
    result = evaluate(make_report([finding()]), parse_policy(text.encode(), "p"), None)
    assert [r.verdict for r in result.conditions] == [verdict for *_, verdict in cases]


@pytest.mark.parametrize(
    ("actual", "op", "threshold", "holds"),
    [
        ("pass", "eq", "pass", True),
        ("fail", "eq", "pass", False),
        (1, "eq", "pass", False),
        ("pass", "lt", 1, False),
        (1, "ge", "pass", False),
        ("pass", "ge", "pass", False),
    ],
)
def test_status_words_only_compare_equal(
    actual: float | str, op: str, threshold: float | str, holds: bool
) -> None:
    assert compare(actual, op, threshold) is holds


PYTHON_OPS = {
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
    "eq": operator.eq,
}
THRESHOLDS = (0, 1, 2)
#: Every threshold, each gap between two, and beyond both ends: enough to tell intervals apart.
PROBES = (-1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5, 3)


def _cond(op: str, threshold: int) -> Any:
    return parse_policy(
        COND.replace('"le"', f'"{op}"')
        .replace("threshold = 0", f"threshold = {threshold}")
        .encode(),
        "p",
    )


def test_relaxed_exactly_when_some_value_passes_that_failed_before() -> None:
    wrong = []
    for (old_op, old_t), (new_op, new_t) in [
        (a, b)
        for a in [(op, t) for op in OPS for t in THRESHOLDS]
        for b in [(op, t) for op in OPS for t in THRESHOLDS]
    ]:
        looser = any(
            PYTHON_OPS[new_op](v, new_t) and not PYTHON_OPS[old_op](v, old_t) for v in PROBES
        )
        expected = (
            [f"condition c relaxed from {old_op} {old_t} to {new_op} {new_t}"] if looser else []
        )
        if weakenings(_cond(old_op, old_t), _cond(new_op, new_t)) != expected:
            wrong.append(f"{old_op} {old_t} -> {new_op} {new_t}")
    assert wrong == []


def test_every_weakened_condition_is_listed() -> None:
    old = parse_policy((COND + COND.replace('"c"', '"d"')).encode(), "p")
    new = parse_policy(
        (COND.replace("= 0", "= 1") + COND.replace('"c"', '"d"').replace("= 0", "= 2")).encode(),
        "p",
    )
    assert weakenings(old, new) == [
        "condition c relaxed from le 0 to le 1",
        "condition d relaxed from le 0 to le 2",
    ]


def test_a_relative_policy_path_and_a_preset_name_are_read_against_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The working directory plays no part: a file named ``strict`` there is not looked for."""
    root, elsewhere = tmp_path / "project", tmp_path / "cwd"
    root.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    (elsewhere / "strict").write_text("not a policy")
    assert load_policy("strict", root).source == "preset strict"
    one = '[[conditions]]\nid = "t"\nmetric = "tests.failed"\nop = "le"\nthreshold = 0\n'
    (root / "strict").write_text('description = "the project\'s own"\n' + one)
    own = load_policy("strict", root)
    assert (own.source, own.description) == ("strict", "the project's own")
    (root / "gates").mkdir()
    (root / "gates" / "mine.toml").write_text(one)
    assert load_policy("gates/mine.toml", root).source == "gates/mine.toml"
    with pytest.raises(ConfigError, match=r"^policy file mine\.toml not found; "):
        load_policy("mine.toml", root)
