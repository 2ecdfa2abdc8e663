#!/usr/bin/env bash
# Acceptance check of issue 20: the resource-invariant tests pass N times in a row (default 20)
# under pytest -n 2, then N times under coverage.py (`coverage run -m pytest`). Every mode of
# tests/test_resources_invariant.py runs (slow ones included), with the in-process probe tests
# of tests/test_perf_units.py. Stops at the first failure, exit 1; prints one line per run.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20}
python=${PYTHON:-.venv/bin/python}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
selection=(tests/test_resources_invariant.py tests/test_perf_units.py -k "invariant or probe or reading")
run() {
    local label=$1 i
    shift
    for i in $(seq 1 "$n"); do
        if ! "$@" -q -p no:cacheprovider -m "slow or not slow" "${selection[@]}" \
            >"$tmp/log" 2>&1; then
            echo "$label run $i of $n FAILED:"
            tail -40 "$tmp/log"
            exit 1
        fi
        echo "$label run $i of $n: $(tail -1 "$tmp/log")"
    done
}
run "pytest -n 2" "$python" -m pytest -n 2
run "coverage run" "$python" -m coverage run --data-file="$tmp/coverage" -m pytest
echo "resource invariant: passed $n times under -n 2 and $n times under coverage"
