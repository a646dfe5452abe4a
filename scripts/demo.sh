#!/usr/bin/env bash
# The main job: set up (once) and run ax_ext's demo.
source "$(dirname "$0")/_env.sh"
exec ax-ext demo "$@"
