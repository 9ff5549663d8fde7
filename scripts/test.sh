#!/usr/bin/env bash
# Install dependencies, build, run the unit tests (ctest) and the integration
# tests (pytest against real registries on 127.0.0.1). Then build with ASan
# and UBSan and run the unit tests and a slice of the integration tests, and
# run each libFuzzer target for a few seconds.
#
# Every stage runs even when an earlier one failed, so one run shows every
# failure. The exit code is non-zero when any stage failed; the failed stages
# are named, and the last line counts passed and failed stages.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

# Stage time limits in seconds, so a hung stage cannot use up CI's time.
# NOTE: these are estimates with headroom, not measurements of the full build.
BUILD_TIMEOUT=${MULTIPUSH_BUILD_TIMEOUT:-1200}
UNIT_TIMEOUT=${MULTIPUSH_UNIT_TIMEOUT:-300}
INTEGRATION_TIMEOUT=${MULTIPUSH_INTEGRATION_TIMEOUT:-900}
SANITIZE_TIMEOUT=${MULTIPUSH_SANITIZE_TIMEOUT:-900}
FUZZ_TIMEOUT=${MULTIPUSH_FUZZ_TIMEOUT:-600}
# Seconds each libFuzzer target runs. 0 skips the fuzz stage.
FUZZ_SECONDS=${MULTIPUSH_FUZZ_SECONDS:-10}
# 0 skips the ASan + UBSan stage.
SANITIZE=${MULTIPUSH_SANITIZE:-1}
FUZZ_TARGETS=(reference challenge manifest config event)
# The integration suites that the sanitizer build runs: token auth and the
# preflight, short-lived tokens, credential helpers, the command line, secret
# canaries, TLS with certs.d and client certificates, and credentials over
# plain HTTP.
SANITIZE_SUITES=(tests/integration/test_auth.py tests/integration/test_credentials.py
                 tests/integration/test_plugin_cli.py tests/integration/test_canaries.py
                 tests/integration/test_tls.py tests/integration/test_tokens.py
                 tests/integration/test_plain_http.py tests/integration/test_preflight.py)

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
[[ $integration_status -eq 0 ]] || failed+=("integration tests")

# The instrumented binaries go to build/asan: the unit tests and the plugin,
# at -O1 without debug information so that the build stays short.
sanitize_stage() {
  cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMULTIPUSH_SANITIZE=ON >/dev/null &&
    cmake --build build/asan -j "$(nproc)" &&
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --test-dir build/asan -L unit --output-on-failure &&
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      MULTIPUSH_BINARY=build/asan/plugin/docker-multipush \
      /usr/bin/python3 -m pytest -q -p no:cacheprovider "${SANITIZE_SUITES[@]}"
}

# Each libFuzzer target runs for FUZZ_SECONDS over its checked-in corpus.
# New inputs go to build/fuzz/corpus, so the checked-in corpus stays as is.
fuzz_stage() {
  local compiler
  compiler=$(command -v clang++-19 || true)
  if [[ -z $compiler ]]; then
    echo "test.sh: clang++-19 not found; install clang-19 and libclang-rt-19-dev (scripts/install-deps.sh)"
    return 1
  fi
  cmake -S . -B build/fuzz -G Ninja -DCMAKE_CXX_COMPILER="$compiler" -DMULTIPUSH_FUZZ=ON \
    -DMULTIPUSH_BUILD_TESTS=OFF >/dev/null &&
    cmake --build build/fuzz -j "$(nproc)" --target "${FUZZ_TARGETS[@]/#/fuzz_}" || return 1
  local target status=0
  for target in "${FUZZ_TARGETS[@]}"; do
    mkdir -p "build/fuzz/corpus/$target"
    echo "-- fuzz_$target for $FUZZ_SECONDS s"
    if ! "build/fuzz/tests/fuzz/fuzz_$target" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="build/fuzz/crash-$target-" \
      "build/fuzz/corpus/$target" "tests/fuzz/corpus/$target" 2>"build/fuzz/$target.log"; then
      tail -n 40 "build/fuzz/$target.log"
      echo "test.sh: fuzz_$target failed; the input is in build/fuzz/crash-$target-*"
      status=1
    fi
    grep -E '^stat::number_of_executed_units' "build/fuzz/$target.log" || true
  done
  return $status
}

if [[ $SANITIZE != 0 ]]; then
  echo "== sanitizer build (ASan + UBSan): unit tests and ${#SANITIZE_SUITES[@]} integration suites"
  start=$SECONDS
  timeout "$SANITIZE_TIMEOUT" bash -c "$(declare -p SANITIZE_SUITES); $(declare -f sanitize_stage); sanitize_stage" ||
    failed+=("sanitizer build")
  echo "test.sh: sanitizer stage took $((SECONDS - start)) s"
fi

if [[ $FUZZ_SECONDS != 0 ]]; then
  echo "== fuzz (${#FUZZ_TARGETS[@]} targets, $FUZZ_SECONDS s each)"
  start=$SECONDS
  timeout "$FUZZ_TIMEOUT" bash -c "$(declare -p FUZZ_TARGETS FUZZ_SECONDS); $(declare -f fuzz_stage); fuzz_stage" ||
    failed+=("fuzz")
  echo "test.sh: fuzz stage took $((SECONDS - start)) s"
fi

# One closing line that counts stages (install, build, unit, integration,
# and sanitizer and fuzz when enabled), in the "N passed, N failed" form.
stages=4
[[ $SANITIZE != 0 ]] && stages=$((stages + 1))
[[ $FUZZ_SECONDS != 0 ]] && stages=$((stages + 1))
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "test.sh: failed stages: ${failed[*]}"
fi
echo "stages: $((stages - ${#failed[@]})) passed, ${#failed[@]} failed"
[[ ${#failed[@]} -eq 0 ]]
