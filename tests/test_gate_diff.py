"""New-code scope: changed lines from git, scope = "diff" conditions, explicit exemptions."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_fwmon.core.errors import ConfigError
from pytest_fwmon.gate import run_gate
from pytest_fwmon.gate.diff import changed_lines, merge_base, parse_unified_diff, show_file
from pytest_fwmon.gate.diff import git as diff_git
from tests.test_gate_cli import _write, git, make_repo
from tests.test_gate_support import finding, make_report

DIFF = b"""\
diff --git a/a.py b/a.py
index 1..2 100644
--- a/a.py
+++ b/a.py
@@ -3 +3 @@ x
-old
+new
@@ -10,0 +11,3 @@ def f():
+one
+two
+three
@@ -20,2 +22,0 @@
-gone
-gone
diff --git a/gone.py b/gone.py
deleted file mode 100644
--- a/gone.py
+++ /dev/null
@@ -1,2 +0,0 @@
-x
-y
diff --git "a/t\\tab \\303\\251.py" "b/t\\tab \\303\\251.py"
--- "a/t\\tab \\303\\251.py"
+++ "b/t\\tab \\303\\251.py"
@@ -0,0 +1,2 @@
+a
+b
"""


def test_parse_unified_diff() -> None:
    assert parse_unified_diff(DIFF) == {"a.py": {3, 11, 12, 13}, "t\tab \u00e9.py": {1, 2}}


def test_changed_lines_from_a_real_repository(tmp_path: Path) -> None:
    base = {
        "pkg/a.py": "".join(f"line{i}\n" for i in range(1, 11)),
        "pkg/c.py": "".join(f"keep{i}\n" for i in range(1, 8)),
        "pkg/e.py": "bye\n",
        "other/z.py": "z\n",
    }
    make_repo(tmp_path, base, {})
    a = base["pkg/a.py"].splitlines(keepends=True)
    a[2] = "changed3\n"
    (tmp_path / "pkg/a.py").write_text("".join([*a, "added11\n"]), encoding="utf-8")
    git(tmp_path, "mv", "pkg/c.py", "pkg/d.py")
    (tmp_path / "pkg/d.py").write_text(base["pkg/c.py"].replace("keep4", "edit4"), encoding="utf-8")
    git(tmp_path, "rm", "-q", "pkg/e.py")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "work")
    (tmp_path / "pkg/new.py").write_text("n1\nn2\nn3", encoding="utf-8")  # untracked
    (tmp_path / "other/z.py").write_text("z\nz2\n", encoding="utf-8")  # uncommitted
    assert changed_lines(tmp_path, "main") == {
        "pkg/a.py": {3, 11},
        "pkg/d.py": {4},  # a renamed file's untouched lines are not new code
        "pkg/new.py": {1, 2, 3},
        "other/z.py": {2},
    }
    # relative to a sub-folder project root; files outside it are left out
    assert changed_lines(tmp_path / "pkg", "main") == {
        "a.py": {3, 11},
        "d.py": {4},
        "new.py": {1, 2, 3},
    }


def test_merge_base_errors(tmp_path: Path) -> None:
    make_repo(tmp_path, {"a.py": "x\n"}, {"b.py": "y\n"})
    git(tmp_path, "checkout", "-q", "--orphan", "island")
    git(tmp_path, "commit", "-q", "-m", "alone")
    with pytest.raises(ConfigError) as info:
        changed_lines(tmp_path, "main")
    assert info.value.one_line() == (
        "HEAD and 'main' have no merge base (the clone is probably shallow: fetch more history "
        "(fetch-depth: 0))"
    )


POLICY_DIFF = """\
[[conditions]]
id = "clean-diff"
metric = "findings.total"
op = "le"
threshold = 0
scope = "diff"

[[conditions]]
id = "few-new"
metric = "findings.total"
op = "le"
threshold = 5
scope = "new"
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    old = "".join(f"x{i} = {i}\n" for i in range(1, 21))
    make_repo(tmp_path, {"app.py": old, "policy.toml": POLICY_DIFF, ".gitignore": ".fwmon/\n"}, {})
    lines = old.splitlines(keepends=True)
    lines[9] = "x10 = eval(input())\n"  # line 10 changed on the branch
    _write(tmp_path, {"app.py": "".join(lines)})
    git(tmp_path, "commit", "-q", "-am", "change line 10")
    return tmp_path


def _report(root: Path, *findings: dict[str, object]) -> Path:
    path = root / ".fwmon" / "report.json"
    path.parent.mkdir(exist_ok=True)
    import json

    report = make_report([dict(f) for f in findings])
    report["run"]["git"]["sha"] = git(root, "rev-parse", "HEAD").strip()  # this commit's
    path.write_text(json.dumps(report), encoding="utf-8")
    return path


def test_diff_scope_counts_only_findings_on_changed_lines(repo: Path) -> None:
    on_old_line = finding("B307", "app.py", 4, severity="medium")
    report = _report(repo, on_old_line)
    result = run_gate(report, "policy.toml", None, "main", root=repo)
    assert result.verdict == "pass"
    assert result.counts()["diff"] == 0
    assert result.changed == {"app.py": {10}}
    on_changed = finding("B307", "app.py", 10, severity="medium")
    report = _report(repo, on_old_line, on_changed)
    result = run_gate(report, "policy.toml", None, "main", root=repo)
    assert result.verdict == "blocked"
    assert result.reasons == [
        "condition clean-diff failed: findings.total (diff) is 1, must be le 0"
    ]
    assert [f["line"] for f in result.diff_findings] == [10]


def test_without_base_ref_diff_scope_counts_every_new_finding(repo: Path) -> None:
    report = _report(repo, finding("B307", "app.py", 4, severity="medium"))
    result = run_gate(report, "policy.toml", None, root=repo)
    assert result.verdict == "blocked"
    assert 'no --base-ref: conditions with scope "diff" count every new finding' in result.notes


def test_exemptions_are_explicit_and_printed(repo: Path) -> None:
    policy = POLICY_DIFF + (
        '\n[[exemptions]]\nid = "tiny"\nconditions = ["clean-diff"]\n'
        'metric = "diff.changed_lines"\nop = "lt"\nthreshold = 3\n'
        'reason = "one-line fixes skip the diff rule"\n'
    )
    report = _report(repo, finding("B307", "app.py", 10, severity="medium"))
    (repo / ".fwmon" / "tiny.toml").write_text(policy, encoding="utf-8")  # ignored by git
    # a policy file new since the merge base is held against the project's policy there
    # (the default preset), which it weakens: accepted here as a reviewer would
    result = run_gate(report, ".fwmon/tiny.toml", None, "main", root=repo, allow_policy_change=True)
    assert result.verdict == "pass"
    exempt = result.conditions[0]
    assert (exempt.verdict, exempt.exemption) == ("exempt", "tiny")
    assert result.policy_changes
    assert (
        "condition clean-diff exempt by tiny: diff.changed_lines is 1, lt 3 "
        "(one-line fixes skip the diff rule)"
    ) in result.notes
    # without a diff the exemption's metric is missing, so it does not apply
    result = run_gate(report, ".fwmon/tiny.toml", None, root=repo)
    assert result.conditions[0].verdict == "fail"


@pytest.mark.parametrize(
    ("plus_line", "path"),
    [
        pytest.param(b"+++ b/plain.py", "plain.py", id="plain"),
        pytest.param(b"+++ b/with space.py\t", "with space.py", id="trailing-tab"),
        pytest.param(b"+++ b/crlf.py\r", "crlf.py", id="carriage-return"),
        pytest.param(b'+++ "b/q\\"\\\\.py"', 'q"\\.py', id="quote-and-backslash"),
        pytest.param(b'+++ "b/\\a\\b\\t\\n\\v\\f\\r.py"', "\a\b\t\n\v\f\r.py", id="c-escapes"),
        pytest.param(b'+++ "b/\\303\\251\\101.py"', "\u00e9A.py", id="octal"),
        pytest.param(b'+++ "b/\\011\\177\\303\\251"', "\t\x7f\u00e9", id="octal-0-1-at-end"),
        pytest.param(b'+++ "b/\\877.py"', "877.py", id="8-is-no-octal-digit"),
        pytest.param(b'+++ "b/tab\\t"', "tab\t", id="escape-at-the-end"),
        pytest.param(b'+++ ""', "", id="empty-quoted"),
        pytest.param(b'+++ "b/x\\q.py"', "xq.py", id="unknown-escape-is-the-char"),
        pytest.param(b'+++ "b/end\\"', "end\\", id="trailing-backslash-kept"),
        pytest.param(b'+++ "b/\\30"', "30", id="short-octal-is-two-chars"),
        pytest.param(b'+++ "b/x.py', '"b/x.py', id="unbalanced-quote"),
        pytest.param(b'+++ "', '"', id="lone-quote"),
        pytest.param(b"+++ c/no-prefix.py", "c/no-prefix.py", id="no-b-prefix"),
        pytest.param(b"+++ b/\xff.py", "\udcff.py", id="not-utf8"),
        pytest.param(b"+++ b/ends in space \t", "ends in space ", id="only-the-tab-is-cut"),
        pytest.param(b"+++ b/FIX\r", "FIX", id="only-the-carriage-return-is-cut"),
    ],
)
def test_new_side_paths_as_git_writes_them(plus_line: bytes, path: str) -> None:
    assert parse_unified_diff(plus_line + b"\n@@ -1 +7,2 @@\n") == {path: {7, 8}}


def test_hunk_headers_without_a_count_deletions_and_garbage() -> None:
    diff = b"\n".join(
        [
            b"+++ b/a.py",
            b"@@ -1 +5 @@",  # one line: the count is left out
            b"@@ -9,3 +40,0 @@",  # lines deleted: nothing new
            b"@@ not a hunk @@",
            b"@@ -1 +120,2 @@ def f():",
            b"+++ b/only-deleted.py",
            b"@@ -1,2 +0,0 @@",
            b"+++ /dev/null",  # a deleted file: its hunks belong to no file
            b"@@ -1 +3 @@",
        ]
    )
    assert parse_unified_diff(diff) == {"a.py": {5, 120, 121}}
    assert parse_unified_diff(b"@@ -1 +1 @@\n") == {}  # a hunk before any file


def test_untracked_files_count_every_line_but_empty_ones_none(tmp_path: Path) -> None:
    make_repo(tmp_path, {"a.py": "x\n"}, {})
    _write(tmp_path, {"empty.py": "", "one.py": "1", "two.py": "1\n2\n", "sub/three.py": "a\n\nc"})
    assert changed_lines(tmp_path, "main") == {
        "one.py": {1},
        "two.py": {1, 2},
        "sub/three.py": {1, 2, 3},
    }


def test_merge_base_outside_a_repository_and_of_an_unknown_ref(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        changed_lines(tmp_path, "main")
    assert info.value.one_line() == f"{tmp_path} is not in a git repository; --base-ref needs one"
    make_repo(tmp_path, {"a.py": "x\n"}, {})
    with pytest.raises(ConfigError) as info:
        changed_lines(tmp_path, "origin/nope")
    assert info.value.one_line() == (
        f"base ref 'origin/nope' is not known to git in {tmp_path} (fetch it first, e.g. "
        "`git fetch origin main`, or use actions/checkout with fetch-depth: 0)"
    )
    assert merge_base(tmp_path, "main") == git(tmp_path, "merge-base", "HEAD", "main").strip()


def test_git_missing_or_failing_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_repo(tmp_path, {"a.py": "x\n"}, {})
    with pytest.raises(ConfigError) as info:
        diff_git(tmp_path, "rev-parse", "--verify", "--quiet", "nope")
    assert info.value.one_line() == "git rev-parse failed"  # git said nothing on stderr
    with pytest.raises(ConfigError) as info:
        diff_git(tmp_path, "show", "nope:a.py")
    assert "nope" in info.value.one_line() and "\n" not in info.value.one_line()
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    with pytest.raises(ConfigError) as info:
        changed_lines(tmp_path, "main")
    assert info.value.one_line() == "git is not installed or not on PATH; --base-ref needs it"


def test_show_file_at_a_revision(tmp_path: Path) -> None:
    make_repo(tmp_path, {"gates/p.toml": "old\n"}, {"gates/p.toml": "new\n", "n.toml": "n\n"})
    assert show_file(tmp_path, "main", tmp_path / "gates" / "p.toml") == b"old\n"
    assert show_file(tmp_path / "gates", "main", tmp_path / "gates" / "p.toml") == b"old\n"
    assert show_file(tmp_path, "HEAD", tmp_path / "gates" / "p.toml") == b"new\n"
    assert show_file(tmp_path, "main", tmp_path / "n.toml") is None  # not there yet
    assert show_file(tmp_path, "main", tmp_path.parent / "outside.toml") is None
    (tmp_path / "link.toml").symlink_to(tmp_path / "gates" / "p.toml")
    assert show_file(tmp_path, "main", tmp_path / "link.toml") is None  # the link, not its target


def test_untracked_files_with_non_utf8_names_and_dangling_links(tmp_path: Path) -> None:
    make_repo(tmp_path, {"a.py": "x\n"}, {})
    (tmp_path / "a-dangling.py").symlink_to(tmp_path / "nowhere.py")  # cannot be read: skipped
    (tmp_path / "b.py").write_text("1\n2\n", encoding="utf-8")
    (tmp_path / "c\udcff.py").write_bytes(b"1\n")  # the name's byte 0xff is not UTF-8
    assert changed_lines(tmp_path, "main") == {"b.py": {1, 2}, "c\udcff.py": {1}}


def test_changed_lines_ignore_the_users_diff_configuration(tmp_path: Path) -> None:
    keep = "".join(f"keep{i}\n" for i in range(1, 8))
    make_repo(tmp_path, {"a.py": "1\n2\n", "c.py": keep}, {"a.py": "1\ntwo\n"})
    git(tmp_path, "mv", "c.py", "d.py")
    git(tmp_path, "commit", "-q", "-m", "move")
    (tmp_path / ".git" / "info" / "attributes").write_text("a.py diff=first\n", encoding="utf-8")
    for key, value in [
        ("color.ui", "always"),  # escape codes around every line
        ("diff.external", "true"),  # a diff program that shows nothing
        ("diff.first.textconv", "head -n 1"),  # a conversion that hides line 2
        ("diff.renames", "false"),  # the moved file as wholly new
        ("diff.mnemonicPrefix", "true"),  # w/ instead of b/ before the new side
    ]:
        git(tmp_path, "config", key, value)
    base = git(tmp_path, "merge-base", "HEAD", "main").strip()
    (tmp_path / base).write_text("a file named like the base commit\n", encoding="utf-8")
    assert changed_lines(tmp_path, "main") == {"a.py": {2}, base: {1}}


def test_a_base_ref_that_names_a_file_is_still_unknown(tmp_path: Path) -> None:
    make_repo(tmp_path, {"a.py": "x\n"}, {})
    (tmp_path / "nope^{commit}").write_text("", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        merge_base(tmp_path, "nope")
    assert info.value.message == f"base ref 'nope' is not known to git in {tmp_path}"


def test_git_errors_that_are_not_utf8_are_replaced(tmp_path: Path) -> None:
    make_repo(tmp_path, {"a.py": "x\n"}, {})
    with pytest.raises(ConfigError) as info:
        diff_git(tmp_path, "show", "\udcff:a.py")  # the byte 0xff, which git echoes
    assert info.value.message == "fatal: invalid object name '\ufffd'."
