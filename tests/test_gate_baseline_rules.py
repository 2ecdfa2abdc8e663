"""Baseline file format, matching, waivers and refusals, pinned for the mutation run (issue 22).

Every call is in-process (a new interpreter would load the unmutated code, see ci/mutation.sh).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_fwmon import cli as fwmon_cli
from pytest_fwmon.core.errors import ConfigError
from pytest_fwmon.core.schema import first_error
from pytest_fwmon.gate import cli
from pytest_fwmon.gate.baseline import (
    ENTRY_KEYS,
    Waiver,
    build_baseline,
    classify,
    dumps_baseline,
    load_baseline,
    parse_baseline,
)
from tests.test_gate_support import finding, make_report

TODAY = dt.date(2024, 6, 1)
HINT = "fix it, or write a new one with `fwmon baseline write`"
FP_A, FP_B, FP_C, FP_D = "a" * 8, "b" * 8, "c" * 8, "d" * 8


def raw(fingerprint: str, rule: str = "R1", path: str = "p.py", line: int = 1, **extra: Any):  # type: ignore[no-untyped-def]
    """A finding with only the fields the baseline reads."""
    return {
        "fingerprint": fingerprint,
        "rule": rule,
        "path": path,
        "line": line,
        "message": extra.pop("message", f"m {fingerprint[0]}"),
        "status": extra.pop("status", "new"),
        **extra,
    }


def parse(entries: list[Any] | None = None, waivers: list[Any] | None = None) -> Any:
    document: dict[str, Any] = {"schema_version": 1}
    if entries is not None:
        document["entries"] = entries
    if waivers is not None:
        document["waivers"] = waivers
    return parse_baseline(json.dumps(document).encode(), "b.json")


def waiver(expires: str = "2099-01-01", **target: str) -> dict[str, Any]:
    """A waiver item by fingerprint or by rule and path."""
    return {**target, "reason": "r", "owner": "o", "expires": expires}


# -- the file format --------------------------------------------------------------------------


def test_write_format_is_exact_one_item_per_line_and_keeps_non_ascii() -> None:
    findings = [raw(FP_B, "R2", "b.py", 3, message="café"), raw(FP_A), raw(FP_A), raw(FP_A)]
    waivers = [
        Waiver(0, "vendored", "ops", dt.date(2024, 9, 30), fingerprint=FP_C),
        Waiver(1, "legacy", "bob", dt.date(2024, 12, 31), rule="D103", path="legacy/*.py"),
    ]
    document = build_baseline(findings, waivers, tool="fwmon 9", generated="2024-05-01T10:00:00Z")
    assert dumps_baseline(document) == (
        "{\n"
        '  "schema_version": 1,\n'
        '  "generated": "2024-05-01T10:00:00Z",\n'
        '  "tool": "fwmon 9",\n'
        '  "entries": [\n'
        '    {"fingerprint": "bbbbbbbb", "rule": "R2", "path": "b.py", "line": 3,'
        ' "message": "café"},\n'
        '    {"fingerprint": "aaaaaaaa", "rule": "R1", "path": "p.py", "line": 1, "message": "m a",'
        ' "count": 3}\n'
        "  ],\n"
        '  "waivers": [\n'
        '    {"fingerprint": "cccccccc", "reason": "vendored", "owner": "ops",'
        ' "expires": "2024-09-30"},\n'
        '    {"rule": "D103", "path": "legacy/*.py", "reason": "legacy", "owner": "bob",'
        ' "expires": "2024-12-31"}\n'
        "  ]\n"
        "}\n"
    )
    back = parse_baseline(dumps_baseline(document).encode("utf-8"), "b")
    assert back.entries == {FP_A: 3, FP_B: 1}
    assert [w.to_dict() for w in back.waivers] == [w.to_dict() for w in waivers]


def test_write_format_of_an_empty_baseline() -> None:
    document = build_baseline([], tool="t", generated="g")
    assert document == {
        "schema_version": 1,
        "generated": "g",
        "tool": "t",
        "entries": [],
        "waivers": [],
    }
    assert dumps_baseline(document) == (
        '{\n  "schema_version": 1,\n  "generated": "g",\n  "tool": "t",\n'
        '  "entries": [],\n  "waivers": []\n}\n'
    )
    one = build_baseline(
        [], [Waiver(0, "r", "o", TODAY, fingerprint=FP_A)], tool="t", generated="g"
    )
    assert dumps_baseline(one).endswith(
        '  "entries": [],\n  "waivers": [\n    {"fingerprint": "aaaaaaaa", "reason": "r",'
        ' "owner": "o", "expires": "2024-06-01"}\n  ]\n}\n'
    )


def test_entries_are_sorted_by_path_line_rule_fingerprint() -> None:
    findings = [
        raw("f" * 8, "R1", "b.py", 1),
        raw("e" * 8, "R1", "a.py", 10),
        raw("d" * 8, "R1", "a.py", 9),
        raw("c" * 8, "R2", "a.py", 2),
        raw("b" * 8, "R1", "a.py", 2),
        raw("a" * 8, "R1", "a.py", 2),
    ]
    entries = build_baseline(findings, tool="t", generated="g")["entries"]
    assert [e["fingerprint"][0] for e in entries] == ["a", "b", "c", "d", "e", "f"]
    assert [list(e) for e in entries] == [["fingerprint", "rule", "path", "line", "message"]] * 6


def test_duplicates_count_up_from_one() -> None:
    entries = build_baseline([raw(FP_A), raw(FP_A)], tool="t", generated="g")["entries"]
    assert entries[0]["count"] == 2
    assert "count" not in build_baseline([raw(FP_A)], tool="t", generated="g")["entries"][0]


def test_parse_sums_repeated_entries_and_keeps_the_first_entry_info() -> None:
    first = {"fingerprint": FP_A, "rule": "R1", "line": 0, "checker": "", "message": ""}
    baseline = parse([first, {"fingerprint": FP_A, "count": 2}, {"fingerprint": FP_B}])
    assert baseline.entries == {FP_A: 3, FP_B: 1}
    assert baseline.info == {FP_A: first, FP_B: {"fingerprint": FP_B}}
    assert baseline.source == "b.json"
    assert parse().entries == {}
    assert parse().waivers == []


# -- waivers ----------------------------------------------------------------------------------


def test_waiver_label_to_dict_and_expiry_day() -> None:
    by_fp = parse(waivers=[waiver(fingerprint=FP_A, expires="2024-06-01")]).waivers[0]
    by_rule = parse(waivers=[waiver(rule="D1", path="x/*")]).waivers[0]
    assert by_fp.label() == "waiver 0 (fingerprint aaaaaaaa, owner o)"
    assert by_rule.label() == "waiver 0 (D1 in x/*, owner o)"
    assert by_fp.to_dict() == waiver(fingerprint=FP_A, expires="2024-06-01")
    assert list(by_rule.to_dict()) == ["rule", "path", "reason", "owner", "expires"]
    assert (by_fp.index, by_fp.reason, by_fp.owner, by_fp.expires) == (0, "r", "o", TODAY)
    assert (by_fp.rule, by_fp.path, by_rule.fingerprint) == (None, None, None)
    assert not by_fp.expired(TODAY)  # valid through its expires day
    assert by_fp.expired(TODAY + dt.timedelta(days=1))
    assert not by_fp.expired(TODAY - dt.timedelta(days=1))


def test_waiver_matching_by_fingerprint_or_by_rule_and_case_sensitive_pattern() -> None:
    by_fp = Waiver(0, "r", "o", TODAY, fingerprint=FP_A)
    by_rule = Waiver(1, "r", "o", TODAY, rule="D1", path="legacy/*.py")
    assert by_fp.matches(raw(FP_A, "other", "anywhere"))
    assert not by_fp.matches(raw(FP_B))
    assert by_rule.matches(raw(FP_B, "D1", "legacy/sub/old.py"))  # * crosses folders
    assert not by_rule.matches(raw(FP_B, "D1", "Legacy/old.py"))
    assert not by_rule.matches(raw(FP_B, "D2", "legacy/old.py"))
    assert not by_rule.matches(raw(FP_B, "D1", "legacy/old.pyc"))


def test_fingerprint_waiver_wins_over_a_rule_waiver_and_hits_are_counted() -> None:
    baseline = parse(
        [{"fingerprint": FP_A}, {"fingerprint": FP_D}],
        [waiver(rule="R1", path="*"), waiver(fingerprint=FP_A), waiver(rule="R9", path="*")],
    )
    findings = [raw(FP_A), raw(FP_B), raw(FP_C, "R2"), raw(FP_D, "R2"), raw("e" * 8)]
    c = classify(findings, baseline, TODAY)
    assert [f["fingerprint"] for f in c.waived] == [FP_A, FP_B, "e" * 8]
    assert c.waived_by[FP_A].index == 1
    assert c.waived_by[FP_B].index == 0
    assert c.waiver_hits == {0: 2, 1: 1, 2: 0}
    assert [w.index for w in c.stale_waivers] == [2]
    assert [f["fingerprint"] for f in c.new] == [FP_C]
    assert [f["fingerprint"] for f in c.baselined] == [FP_D]
    # a waived finding uses none of its entry's count
    assert c.stale_entries == [(FP_A, 1, {"fingerprint": FP_A})]
    assert c.stale == 2
    assert [f["status"] for f in findings] == ["waived", "waived", "new", "baselined", "waived"]


def test_only_fingerprint_waivers_or_only_rule_waivers() -> None:
    c = classify([raw(FP_A), raw(FP_B)], parse(waivers=[waiver(fingerprint=FP_A)]), TODAY)
    assert ([f["fingerprint"] for f in c.waived], [f["fingerprint"] for f in c.new]) == (
        [FP_A],
        [FP_B],
    )
    c = classify([raw(FP_A), raw(FP_B, "R2")], parse(waivers=[waiver(rule="R2", path="*")]), TODAY)
    assert ([f["fingerprint"] for f in c.waived], [f["fingerprint"] for f in c.new]) == (
        [FP_B],
        [FP_A],
    )
    assert c.waived_by == {FP_B: c.waived_by[FP_B]} and c.waived_by[FP_B].rule == "R2"


def test_expired_waivers_hide_nothing_and_count_what_they_would_hide() -> None:
    old = "2024-05-31"
    baseline = parse(
        [{"fingerprint": FP_A}],
        [
            waiver(fingerprint=FP_A, expires=old),
            waiver(rule="R1", path="*", expires=old),
            waiver(fingerprint=FP_D, expires=old),
            waiver(fingerprint=FP_C, expires="2024-06-01"),
        ],
    )
    findings = [raw(FP_A), raw(FP_B), raw(FP_B, "R2"), raw(FP_C)]
    c = classify(findings, baseline, TODAY)
    assert [f["status"] for f in findings] == ["baselined", "new", "new", "waived"]
    # the fingerprint waiver is counted first; the rule waiver gets the other R1 finding
    assert [(w.index, n) for w, n in c.expired_waivers] == [(0, 1), (1, 1), (2, 0)]
    assert c.waiver_hits == {3: 1}
    assert (c.stale_waivers, c.stale_entries, c.stale) == ([], [], 0)


def test_expired_rule_waiver_alone_and_a_live_waiver_shadowing_an_expired_one() -> None:
    old = "2024-05-31"
    alone = parse(waivers=[waiver(rule="R1", path="*", expires=old)])
    c = classify([raw(FP_A), raw(FP_B, "R2")], alone, TODAY)
    assert [(w.index, n) for w, n in c.expired_waivers] == [(0, 1)]
    baseline = parse(waivers=[waiver(fingerprint=FP_A, expires=old), waiver(fingerprint=FP_A)])
    c = classify([raw(FP_A)], baseline, TODAY)
    assert [(w.index, n) for w, n in c.expired_waivers] == [(0, 0)]
    assert [f["status"] for f in c.waived] == ["waived"]


def test_counts_are_used_one_per_finding_in_both_paths() -> None:
    entries = [{"fingerprint": FP_A, "count": 2}, {"fingerprint": FP_B, "count": 3}]
    for waivers in ([], [waiver(fingerprint=FP_D)]):
        findings = [raw(FP_A), raw(FP_A), raw(FP_A), raw(FP_B), raw(FP_C, status="suppressed")]
        c = classify(findings, parse(entries, waivers), TODAY)
        assert [f["status"] for f in findings] == [
            "baselined",
            "baselined",
            "new",
            "baselined",
            "suppressed",
        ]
        assert (len(c.baselined), len(c.new), len(c.suppressed)) == (3, 1, 1)
        assert c.stale_entries == [(FP_B, 2, {"fingerprint": FP_B, "count": 3})]


def test_without_a_baseline_every_finding_is_new() -> None:
    findings = [raw(FP_A, status="baselined"), raw(FP_B, status="waived")]
    c = classify(findings, None, TODAY)
    assert [f["status"] for f in findings] == ["new", "new"]
    assert (c.stale_entries, c.stale_waivers, c.expired_waivers, c.waiver_hits) == ([], [], [], {})


# -- refusals ---------------------------------------------------------------------------------

_GOOD = {"fingerprint": FP_A, "count": 1, "line": 0, "checker": "", "rule": "", "path": ""}
_ENTRY_KEYS = "fingerprint, count, checker, rule, path, line, message"
_WAIVER_KEYS = "fingerprint, rule, path, reason, owner, expires"
_DATE = "waivers[0]: expires must be a date like 2025-12-31, got"


def _doc(**fields: Any) -> bytes:
    return json.dumps({"schema_version": 1, **fields}).encode()


def _entries(*items: Any) -> bytes:
    return _doc(entries=[_GOOD, *items])


def _waivers(**item: Any) -> bytes:
    return _doc(waivers=[item])


def _w(**change: Any) -> dict[str, Any]:
    """A valid fingerprint waiver with ``change`` applied (``None`` removes a key)."""
    item = {"fingerprint": FP_A, "reason": "r", "owner": "o", "expires": "2024-01-01", **change}
    return {k: v for k, v in item.items() if v is not None}


REFUSALS = [
    (b"[]", "the top level must be a JSON object"),
    (
        b'{"schema_version": 1, "x": 1}',
        "unknown key 'x'; valid keys: "
        + ", ".join(["schema_version", "generated", "tool", "entries", "waivers"]),
    ),
    (b"{}", "schema_version is None; this fwmon reads version 1"),
    (b'{"schema_version": 2}', "schema_version is 2; this fwmon reads version 1"),
    (b'{"schema_version": "1"}', "schema_version is '1'; this fwmon reads version 1"),
    (b'{"schema_version": true}', "schema_version is True; this fwmon reads version 1"),
    (_doc(generated=1), "generated must be a string"),
    (_doc(generated="g", tool=None), "tool must be a string"),
    (_doc(entries={}), "entries must be a list"),
    (_doc(entries=[], waivers={}), "waivers must be a list"),
    (_entries([]), "entries[1] must be an object"),
    (_entries({**_GOOD, "x": 1}), f"entries[1]: unknown key 'x'; valid keys: {_ENTRY_KEYS}"),
    (_entries({"count": 1}), "entries[1]: fingerprint must be a string of 8+ characters"),
    (
        _entries({"fingerprint": "a" * 7}),
        "entries[1]: fingerprint must be a string of 8+ characters",
    ),
    (
        _entries({"fingerprint": 12345678}),
        "entries[1]: fingerprint must be a string of 8+ characters",
    ),
    (_entries({**_GOOD, "count": 0}), "entries[1]: count must be a whole number of at least 1"),
    (_entries({**_GOOD, "count": True}), "entries[1]: count must be a whole number of at least 1"),
    (_entries({**_GOOD, "count": 1.0}), "entries[1]: count must be a whole number of at least 1"),
    (_entries({**_GOOD, "line": -1}), "entries[1]: line must be a whole number >= 0"),
    (_entries({**_GOOD, "line": False}), "entries[1]: line must be a whole number >= 0"),
    (_entries({**_GOOD, "checker": 1}), "entries[1]: checker must be a string"),
    (_entries({**_GOOD, "rule": None}), "entries[1]: rule must be a string"),
    (_entries({**_GOOD, "path": []}), "entries[1]: path must be a string"),
    (_entries({**_GOOD, "message": 2}), "entries[1]: message must be a string"),
    (_entries({"fingerprint": FP_B, "message": 2}), "entries[1]: message must be a string"),
    (_doc(waivers=[_w(), "w"]), "waivers[1] must be an object"),
    (_waivers(**_w(x=1)), f"waivers[0]: unknown key 'x'; valid keys: {_WAIVER_KEYS}"),
    (
        _waivers(**_w(reason=None, owner=None)),
        "waivers[0]: missing 'reason' (a waiver needs reason, owner, expires)",
    ),
    (
        _waivers(**_w(owner=None, expires=None)),
        "waivers[0]: missing 'owner' (a waiver needs reason, owner, expires)",
    ),
    (
        _waivers(**_w(expires=None)),
        "waivers[0]: missing 'expires' (a waiver needs reason, owner, expires)",
    ),
    (_waivers(**_w(reason=" \t")), "waivers[0]: reason must be a non-empty string"),
    (_waivers(**_w(reason=1)), "waivers[0]: reason must be a non-empty string"),
    (_waivers(**_w(owner="")), "waivers[0]: owner must be a non-empty string"),
    (_waivers(**_w(fingerprint="")), "waivers[0]: fingerprint must be a non-empty string"),
    (_waivers(**_w(fingerprint=1)), "waivers[0]: fingerprint must be a non-empty string"),
    (
        _waivers(**_w(fingerprint=None, rule="", path="p")),
        "waivers[0]: rule must be a non-empty string",
    ),
    (
        _waivers(**_w(fingerprint=None, rule="R", path=0)),
        "waivers[0]: path must be a non-empty string",
    ),
    (_waivers(**_w(fingerprint=None)), "waivers[0]: give a fingerprint, or both rule and path"),
    (
        _waivers(**_w(fingerprint=None, rule="R")),
        "waivers[0]: give a fingerprint, or both rule and path",
    ),
    (
        _waivers(**_w(fingerprint=None, path="p")),
        "waivers[0]: give a fingerprint, or both rule and path",
    ),
    (_waivers(**_w(rule="R")), "waivers[0]: give a fingerprint or rule and path, not both"),
    (_waivers(**_w(path="p")), "waivers[0]: give a fingerprint or rule and path, not both"),
    (_waivers(**_w(expires="soon")), f"{_DATE} 'soon'"),
    (_waivers(**_w(expires="2024-02-30")), f"{_DATE} '2024-02-30'"),
    (_waivers(**_w(expires="20240101")), f"{_DATE} '20240101'"),
    (_waivers(**_w(expires="2024-01-01T00:00")), f"{_DATE} '2024-01-01T00:00'"),
    (_waivers(**_w(expires=20240101)), f"{_DATE} 20240101"),
]


@pytest.mark.parametrize(("document", "message"), REFUSALS, ids=[m for _, m in REFUSALS])
def test_every_refusal_is_one_exact_line_with_the_hint(document: bytes, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_baseline(document, "b.json")
    assert info.value.one_line() == f"baseline b.json: {message} ({HINT})"
    assert info.value.exit_code == 2


def test_the_first_bad_entry_is_named_and_the_boundary_values_pass() -> None:
    good = [_GOOD, {"fingerprint": FP_B, "count": 1, "line": 0, "message": ""}]
    assert parse(good).entries == {FP_A: 1, FP_B: 1}
    with pytest.raises(ConfigError, match=r"entries\[2\]: count"):
        parse_baseline(_entries({"fingerprint": FP_B}, {"fingerprint": FP_C, "count": 0}), "b")
    assert parse_baseline(_waivers(**_w(expires="2024-02-29")), "b").waivers[0].expires == (
        dt.date(2024, 2, 29)
    )
    with pytest.raises(ConfigError, match="not valid JSON") as info:
        parse_baseline(b'{"schema_version": 1,}', "b.json")
    assert info.value.one_line().startswith("baseline b.json: not valid JSON (")
    assert info.value.one_line().endswith(f") ({HINT})")


_VALUES = st.one_of(
    st.integers(-1, 2),
    st.booleans(),
    st.none(),
    st.just(1.5),
    st.just([]),
    st.text("ab", max_size=9),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from([*ENTRY_KEYS, "x"]), _VALUES), max_size=3))
def test_entries_are_refused_exactly_when_the_schema_refuses_them(entries: list[Any]) -> None:
    """The messages' checks agree with the schema; a refusal is always one exact message."""
    document = {"schema_version": 1, "entries": entries}
    try:
        parse_baseline(json.dumps(document).encode(), "b")
    except ConfigError as exc:
        assert first_error("baseline", document) is not None
        assert exc.message.startswith("baseline b: entries[")
    else:
        assert first_error("baseline", document) is None


def test_a_missing_baseline_file_names_the_way_out(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_baseline(tmp_path / "none.json")
    assert info.value.one_line() == (
        f"baseline {tmp_path / 'none.json'} not found"
        " (write one with `fwmon baseline write`, or leave out --baseline)"
    )
    (tmp_path / "b.json").write_text('{"schema_version": 3}', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_baseline(tmp_path / "b.json")
    assert (
        info.value.message
        == f"baseline {tmp_path / 'b.json'}: schema_version is 3; this fwmon reads version 1"
    )


def test_the_cli_refuses_a_bad_baseline_with_exit_2_and_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.json"
    report.write_text(json.dumps(make_report([])), encoding="utf-8")
    base = tmp_path / "b.json"
    base.write_bytes(_waivers(**_w(expires="soon")))
    for command in ("write", "check"):
        code = fwmon_cli.main(["baseline", command, str(report), "--baseline", str(base)])
        err = capsys.readouterr().err
        assert code == 2
        assert err == f"fwmon: error: baseline {base}: {_DATE} 'soon' ({HINT})\n"
    assert base.read_bytes() == _waivers(**_w(expires="soon"))  # left as it was


# -- rewriting keeps what is stored -----------------------------------------------------------


def _baseline_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="fwmon")
    cli.register(parser.add_subparsers())
    args = parser.parse_args(["baseline", *argv])
    return int(args.func(args))


def test_rewrite_keeps_every_waiver_and_prune_drops_only_stale_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = finding("B602", "a.py", 3)
    b = finding("D103", "legacy/x.py", 5, pipeline="docs", checker="pydocstyle")
    c = finding("B603", "a.py", 9)
    report = tmp_path / "report.json"
    report.write_text(json.dumps(make_report([dict(a), dict(b), dict(c)])), encoding="utf-8")
    waivers = [
        _w(fingerprint=a["fingerprint"], expires="2099-12-31"),
        _w(fingerprint=None, rule="D103", path="legacy/*.py", expires="2099-12-31"),
        _w(fingerprint="f" * 16, expires="2099-12-31"),  # stale: matches nothing
        _w(fingerprint=c["fingerprint"], expires="2000-01-01"),  # expired: c is baselined
    ]
    base = tmp_path / "b.json"
    base.write_text(json.dumps({"schema_version": 1, "waivers": waivers}), encoding="utf-8")
    assert _baseline_cli(["write", str(report), "--baseline", str(base)]) == 0
    written = json.loads(base.read_text(encoding="utf-8"))
    assert written["waivers"] == waivers
    assert [e["fingerprint"] for e in written["entries"]] == [c["fingerprint"]]
    assert written["tool"].startswith("fwmon ")
    capsys.readouterr()
    assert _baseline_cli(["write", str(report), "--baseline", str(base), "--prune"]) == 0
    written = json.loads(base.read_text(encoding="utf-8"))
    assert written["waivers"] == [waivers[0], waivers[1], waivers[3]]
    assert [e["fingerprint"] for e in written["entries"]] == [c["fingerprint"]]
    assert capsys.readouterr().out.endswith("1 entries, 3 waivers; dropped 1 stale\n")
