#!/usr/bin/env bash
# Install dependencies, build, run the unit tests (ctest) and the integration
# tests (pytest against real registries on 127.0.0.1).
#
# Every stage runs even when an earlier one failed, so one run shows every
# failure. The exit code is non-zero when any stage failed, and the last line
# printed is pytest's summary.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

# Stage time limits in seconds, so a hung stage cannot use up CI's time.
# NOTE: these are estimates with headroom, not measurements of the full build.
BUILD_TIMEOUT=${MULTIPUSH_BUILD_TIMEOUT:-1200}
UNIT_TIMEOUT=${MULTIPUSH_UNIT_TIMEOUT:-300}
INTEGRATION_TIMEOUT=${MULTIPUSH_INTEGRATION_TIMEOUT:-900}

failed=()

echo "== install dependencies"
if [[ $(id -u) -eq 0 ]]; then
  bash scripts/install-deps.sh || failed+=("install-deps")
else
  echo "test.sh: not root, so dependencies are not installed; run scripts/install-deps.sh as root if a tool is missing"
fi

echo "== build"
if ! timeout "$BUILD_TIMEOUT" bash scripts/build.sh; then
  failed+=("build")
fi

echo "== unit tests"
if [[ -f build/ci/CTestTestfile.cmake ]]; then
  timeout "$UNIT_TIMEOUT" ctest --preset ci -L unit --output-on-failure || failed+=("unit tests")
else
  failed+=("unit tests (no build/ci to test)")
fi

echo "== integration tests"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "test.sh: failed so far: ${failed[*]}; the integration tests run anyway"
fi
timeout "$INTEGRATION_TIMEOUT" /usr/bin/python3 -m pytest -q tests/integration
integration_status=$?

if [[ $integration_status -ne 0 || ${#failed[@]} -gt 0 ]]; then
  exit 1
fi
exit 0
