#!/usr/bin/env bash
# Runs pyctr's tests (as root, after scripts/setup.sh): the C core's unit tests through
# ctest, then the Python suite, which starts real containers.
set -euo pipefail
cd "$(dirname "$0")/.."

cmake -S . -B build-c -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-c -j2 >/dev/null
ctest --test-dir build-c --output-on-failure
.venv/bin/pytest tests "$@"
