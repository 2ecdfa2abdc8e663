#!/usr/bin/env bash
# Install everything the test suite needs and run all of it (the README's "run the tests"
# command; .ci/run calls exactly this). Extra arguments go to pytest.
#
# - Debian packages the browser and PostgreSQL tests need (chromium, postgresql) are installed
#   with apt-get when this runs as root and they are missing; as another user, install them
#   first (the tests then start their own throwaway PostgreSQL cluster and headless Chromium).
# - Python packages go into ./.venv (created with python3.11, else python3).
# - Under CI (CI=true) a missing PostgreSQL or Chromium fails those tests instead of skipping.
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

[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'

if [ "${CI:-}" = "true" ]; then
    export FWMON_REQUIRE_POSTGRES=1 FWMON_REQUIRE_BROWSER=1
fi

set +e
.venv/bin/python -m pytest -n 2 "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
    # pytest's "no tests collected": only possible with a selection that matches nothing
    echo "ci/test.sh: pytest collected no tests for the given selection (exit 5)" >&2
fi
exit "$status"
