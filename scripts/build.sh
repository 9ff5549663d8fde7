#!/usr/bin/env bash
# Configure and build with the `ci` CMake preset (warnings are errors), then
# print the path of the plugin binary.
set -euo pipefail
cd "$(dirname "$0")/.."

cmake --preset ci >/dev/null
cmake --build --preset ci -j "$(nproc)"

binary=$PWD/build/ci/plugin/docker-multipush
if [[ ! -x $binary ]]; then
  echo "build.sh: the build finished but $binary is missing" >&2
  exit 1
fi
echo "$binary"
