#!/usr/bin/env bash
# Mutation testing of the gate (pytest_fwmon/gate/) and the report model
# (pytest_fwmon/core/{model,report,schema,scoring}.py) with mutmut 3; configuration in
# pyproject.toml, [tool.mutmut]. Prints the score per module (ci/mutation_score.py).
# Not part of .ci/run: a whole run takes about 35 minutes on two cores (README, Development).
#
#   bash ci/mutation.sh                 mutate and test (keeps earlier results in mutants/)
#   bash ci/mutation.sh --fresh         start over (removes mutants/)
#   MUTMUT_CHILDREN=1 bash ci/mutation.sh     fewer parallel workers (default: 2)
#
# Extra arguments after the options are mutant names or globs for mutmut run, e.g.
#   bash ci/mutation.sh 'pytest_fwmon.gate.summary.*'
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-.venv/bin/python}
[ -x "$python" ] || python=python3
if ! "$python" -c "import mutmut" 2>/dev/null; then
    echo "ci/mutation.sh: mutmut is not installed for $python; pip install -e '.[dev]'" >&2
    exit 2
fi

if [ "${1:-}" = "--fresh" ]; then
    shift
    rm -rf mutants
fi

# mutmut runs the tests in its own process with mutants/ first on sys.path. The few tests that
# start the gate in a new interpreter (python -m pytest_fwmon.gate) load the installed, unmutated
# code: mutmut's trampolines cannot run outside the project folder, so those tests kill nothing.
export PYTHONDONTWRITEBYTECODE=1

set +e
nice -n "${MUTMUT_NICE:-10}" "$python" -m mutmut run --max-children "${MUTMUT_CHILDREN:-2}" "$@"
status=$?
set -e
"$python" ci/mutation_score.py
exit "$status"
