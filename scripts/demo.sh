#!/usr/bin/env bash
# The main job: set up (once), run a small tuning study of the digits-cnn problem
# (a PyTorch CNN on scikit-learn's bundled digits) with Sobol then ScalarChoiceGP BO,
# two trials at a time on a local Dask cluster, stored in a local SQLite file, and
# write its HTML report. Running it again resumes the study (see docs/runner.md).
# Extra arguments go to `ax-ext tune` (e.g. --trials 30 --workers 4).
source "$(dirname "$0")/_env.sh"
STUDY="${AX_EXT_STUDY:-ax_ext_digits.db}"
ax-ext tune digits-cnn --trials 12 --sobol 8 --workers 2 --storage "$STUDY" "$@"
ax-ext report "$STUDY" --out "${STUDY%.*}_report.html"
