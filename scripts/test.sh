#!/usr/bin/env bash
# Runs pyctr's tests (as root, after scripts/setup.sh): the C core's unit tests through
# ctest, the cgroup tests in a QEMU guest with a pure cgroup v2 hierarchy (this host mounts
# cgroup v1), the Python suite on this host, then the OCI conformance suite against
# pyctr-runtime.  PYCTR_SKIP_V2=1 skips the guest, PYCTR_SKIP_OCI=1 the conformance suite.
# The host suite runs twice: with the warm process (pyctr system server) and without.
set -euo pipefail
cd "$(dirname "$0")/.."

cmake -S . -B build-c -DCMAKE_BUILD_TYPE=Release -DPYCTR_WERROR=ON >/dev/null
cmake --build build-c -j2 >/dev/null
ctest --test-dir build-c --output-on-failure

if [ "${PYCTR_SKIP_V2:-0}" != 1 ]; then
  # The venv's pytest (not `python -m`, which would import the uncompiled source tree),
  # no plugin autoload: Python is 10-15x slower under the guest's emulation.  Its
  # containers take --net none (PYCTR_NETWORK): the guest is for cgroup v2, and a bridge
  # per test root (pyroute2's import, 2-5 s emulated) doubled its time; networks are
  # tested on the host.
  scripts/cgroupv2-vm.sh --rw "$PWD" --cwd "$PWD" --timeout 1500 -- \
    env PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 PYCTR_NETWORK=none "$PWD/.venv/bin/pytest" -p no:cacheprovider -q \
    -m cgroups tests
fi
# The suite twice: commands through the warm pyctr process (started by the first ones, as
# a user's would be), then every command cold (the Python CLI, as without it).
.venv/bin/pytest tests "$@"
PYCTR_NO_SERVER=1 .venv/bin/pytest tests "$@"
if [ "${PYCTR_SKIP_OCI:-0}" != 1 ]; then
  scripts/oci-conformance.sh
fi
