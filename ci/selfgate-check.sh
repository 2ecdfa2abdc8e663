#!/usr/bin/env bash
# Acceptance check of issue 20: `.ci/run` with the self-gate on (FWMON_SELF_GATE=1) fails on a commit that adds a high-severity bandit
# finding or a failing test, and passes again when it is removed. In a temporary clone of HEAD
# it runs .ci/run on five commits: the clean tree; + a module calling subprocess with
# shell=True (bandit B602, high); its revert; + a failing test; its revert. It checks that each
# addition makes .ci/run fail with what its gate adds (the B602 finding; the tests-pass
# reason), and that each revert gives the clean tree's exit status, gate reasons and new
# findings back. Exit 0 when all of that holds and the clean
# tree passes; 1 otherwise (each state's exit status and reasons are printed).
#
# Environment: SELFGATE_PYTEST_ARGS, the pytest arguments .ci/run gets (default: the selection
# of `tox -e gate`, -m "not slow and not postgres and not browser"); FWMON_CI_VENV, an existing
# venv for ci/test.sh to use instead of installing one in the clone (this script then puts the
# clone first on PYTHONPATH, so the clone's code is what runs).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git clone -q "$here" "$tmp/repo"
cd "$tmp/repo"
git config user.email selfgate@localhost
git config user.name "selfgate check"
if [ -n "${SELFGATE_PYTEST_ARGS:-}" ]; then
    read -r -a args <<<"$SELFGATE_PYTEST_ARGS"
else
    args=(-m "not slow and not postgres and not browser")
fi
[ -n "${FWMON_CI_VENV:-}" ] && export PYTHONPATH="$tmp/repo${PYTHONPATH:+:$PYTHONPATH}"

# run_state NAME: .ci/run on HEAD; keeps its exit status and the gate's reasons
run_state() {
    local rc=0
    FWMON_SELF_GATE=1 bash .ci/run "${args[@]}" >"$tmp/$1.log" 2>&1 || rc=$?
    echo "$rc" >"$tmp/$1.rc"
    if [ -f .fwmon/gate-result.json ]; then
        python3 -c 'import json, sys
result = json.load(open(".fwmon/gate-result.json"))
with open(sys.argv[1] + ".reasons", "w") as out:
    out.writelines(r + "\n" for r in result["reasons"])
with open(sys.argv[1] + ".new", "w") as out:
    out.writelines(f["rule"] + " " + f["path"] + "\n" for f in result["findings"]["new"])
' "$tmp/$1"
    else
        echo "(no gate result: the gate did not run)" >"$tmp/$1.reasons"
        : >"$tmp/$1.new"
    fi
    echo "== $1: .ci/run exit $rc; gate reasons:"
    sed 's/^/     /' "$tmp/$1.reasons"
}

ok=1
# added NAME FILE PATTERN: the state fails, and its gate's FILE (reasons or new findings) has
# PATTERN where the clean tree's has not
added() {
    if [ "$(cat "$tmp/$1.rc")" = 0 ]; then
        echo "FAIL: .ci/run passed with $1"
        ok=0
    elif ! grep -q -- "$3" "$tmp/$1.$2" || grep -q -- "$3" "$tmp/clean.$2"; then
        echo "FAIL: .ci/run failed with $1, but its gate's $2 do not add '$3'"
        ok=0
    else
        echo "ok: .ci/run fails with $1 (the gate's $2 add '$3')"
    fi
}
# same NAME: the state's exit status and gate reasons are the clean tree's
same() {
    if [ "$(cat "$tmp/$1.rc")" = "$(cat "$tmp/clean.rc")" ] &&
        diff -q "$tmp/$1.reasons" "$tmp/clean.reasons" >/dev/null &&
        diff -q "$tmp/$1.new" "$tmp/clean.new" >/dev/null; then
        echo "ok: $1 gives the clean tree's result back"
    else
        echo "FAIL: $1 differs from the clean tree"
        diff "$tmp/clean.reasons" "$tmp/$1.reasons" || true
        diff "$tmp/clean.new" "$tmp/$1.new" || true
        ok=0
    fi
}

run_state clean

cat >pytest_fwmon/_selfgate_canary.py <<'PY'
"""Canary of ci/selfgate-check.sh: a high-severity bandit finding."""

import subprocess


def run(command: str) -> int:
    """Run ``command`` in a shell."""
    return subprocess.call(command, shell=True)
PY
git add pytest_fwmon/_selfgate_canary.py
git commit -q -m "selfgate check: add a high-severity bandit finding"
run_state bandit-added
added bandit-added new "B602 pytest_fwmon/_selfgate_canary.py"
git revert --no-edit HEAD >/dev/null
run_state bandit-removed
same bandit-removed

cat >>tests/test_core_units.py <<'PY'


def test_selfgate_canary_fails() -> None:
    assert 1 + 1 == 3, "ci/selfgate-check.sh: a failing test"
PY
git commit -q -am "selfgate check: add a failing test"
run_state test-added
added test-added reasons "condition tests-pass failed"
grep -q "FAILED tests/test_core_units.py::test_selfgate_canary_fails" "$tmp/test-added.log" ||
    { echo "FAIL: pytest did not report the canary test as failed"; ok=0; }
git revert --no-edit HEAD >/dev/null
run_state test-removed
same test-removed

if [ "$(cat "$tmp/clean.rc")" != 0 ]; then
    echo "FAIL: .ci/run fails on the clean tree already (exit $(cat "$tmp/clean.rc")): see its reasons"
    ok=0
fi
[ "$ok" = 1 ] && echo "selfgate check: all directions hold" && exit 0
echo "selfgate check: FAILED" >&2
exit 1
