#!/usr/bin/env bash
# The whole test suite: set up (once), lint, then pytest (unit tests, doctests,
# notebooks at smoke size). Extra arguments go to pytest.
source "$(dirname "$0")/_env.sh"
# The report's screenshot test opens the HTML report in headless Chromium. Install
# it from Debian packages where we can (root + apt-get); otherwise that test skips
# and says why.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "ax_ext: installing chromium (Debian package) for the report's screenshot test" >&2
        export DEBIAN_FRONTEND=noninteractive
        timeout 900 apt-get install -y -q chromium >/dev/null 2>&1 \
            || { timeout 300 apt-get update -q >/dev/null 2>&1 \
                 && timeout 900 apt-get install -y -q chromium >/dev/null 2>&1; } \
            || echo "ax_ext: could not install chromium; the screenshot test will skip" >&2
    fi
fi
# The tests of several `ax-ext tune` processes on one PostgreSQL study start a
# throwaway server (initdb + pg_ctl in a temporary folder, see
# tests/runner/_postgres.py). Install Debian's postgresql package where we can;
# otherwise those tests skip and say why.
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "ax_ext: installing postgresql (Debian package) for the PostgreSQL storage tests" >&2
        export DEBIAN_FRONTEND=noninteractive
        timeout 900 apt-get install -y -q postgresql >/dev/null 2>&1 \
            || { timeout 300 apt-get update -q >/dev/null 2>&1 \
                 && timeout 900 apt-get install -y -q postgresql >/dev/null 2>&1; } \
            || echo "ax_ext: could not install postgresql; its tests will skip" >&2
    fi
fi
ruff check .
ruff format --check .
python -m pytest "$@"
