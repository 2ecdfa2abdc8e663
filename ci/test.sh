#!/usr/bin/env bash
# Install everything the test suite needs, run all of it with fwmon on itself, then judge that
# run's report with fwmon's own gate (the README's "run the tests" command; .ci/run calls
# exactly this). Extra arguments go to pytest.
#
# - Debian packages the browser and PostgreSQL tests need (chromium, postgresql) are installed
#   with apt-get when this runs as root and they are missing; as another user, install them
#   first (the tests then start their own throwaway PostgreSQL cluster and headless Chromium).
# - Python packages go into ./.venv (created with python3.11, else python3);
#   FWMON_CI_VENV=DIR uses an existing environment instead and installs nothing into it.
# - Under CI (CI=true) a missing PostgreSQL or Chromium fails those tests instead of skipping.
# - Self-gate (on by default; FWMON_SELF_GATE=0 runs the tests only, see the README's
#   Development section): the suite runs with --fwmon, so the one run gives both
#   the test verdict and .fwmon/report.json; then `python -m pytest_fwmon.gate` judges that report with
#   gates/fwmon.toml exactly as `tox -e gate` does. Without FWMON_BASE_REF (e.g. origin/main)
#   "changed lines" are judged against fwmon-baseline.json: every finding not in it counts.
#   A selection (e.g. one test file) still runs all of fwmon's items on the package, so the
#   gate judges every checker and the selected tests. Without it, the tests only.
# - Exit status: pytest's when it is not 0 (tests, checks or usage), else the gate's
#   (0 pass, 1 blocked, 2 policy/baseline error, 3 report missing or invalid).
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null 2>&1 || python=python3

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    need=""
    [ -x /usr/bin/chromium ] || need="$need chromium"
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$need postgresql"
    if [ -n "$need" ]; then
        echo "ci/test.sh: installing Debian packages:$need"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need
    fi
fi

if [ -n "${FWMON_CI_VENV:-}" ]; then
    venv=$FWMON_CI_VENV
    if [ ! -x "$venv/bin/python" ]; then
        echo "ci/test.sh: FWMON_CI_VENV=$venv has no bin/python; unset it or point it at a venv" >&2
        exit 2
    fi
else
    venv=.venv
    [ -x .venv/bin/python ] || "$python" -m venv .venv
    .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
fi

if [ "${CI:-}" = "true" ]; then
    export FWMON_REQUIRE_POSTGRES=1 FWMON_REQUIRE_BROWSER=1
fi

gate=${FWMON_SELF_GATE:-1}
fwmon=()
if [ "$gate" != 0 ]; then
    fwmon=(--fwmon)
    rm -f .fwmon/report.json # a report left by an earlier run must not be judged as this one
fi

set +e
"$venv/bin/python" -m pytest -n 2 "${fwmon[@]}" "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
    # pytest's "no tests collected": only possible with a selection that matches nothing
    echo "ci/test.sh: pytest collected no tests for the given selection (exit 5)" >&2
fi
if [ "$gate" = 0 ]; then
    exit "$status"
fi

base=()
[ -n "${FWMON_BASE_REF:-}" ] && base=(--base-ref "$FWMON_BASE_REF")
set +e
"$venv/bin/python" -m pytest_fwmon.gate .fwmon/report.json --policy gates/fwmon.toml \
    --sarif .fwmon/fwmon.sarif --markdown .fwmon/comment.md \
    --result-json .fwmon/gate-result.json "${base[@]}"
verdict=$?
set -e
if [ "$status" != 0 ]; then
    echo "ci/test.sh: pytest failed (exit $status)" >&2
    exit "$status"
fi
if [ "$verdict" != 0 ]; then
    echo "ci/test.sh: fwmon's own gate (gates/fwmon.toml) did not pass (exit $verdict)" >&2
fi
exit "$verdict"
