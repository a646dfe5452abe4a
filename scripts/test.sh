#!/usr/bin/env bash
# The whole test suite: set up (once), lint, then pytest (unit tests, doctests,
# notebooks at smoke size). Extra arguments go to pytest.
source "$(dirname "$0")/_env.sh"
ruff check .
ruff format --check .
python -m pytest "$@"
