#!/usr/bin/env bash
# Times `docker-multipush meta` on the reference project (examples/openkf:
# nine tag rules, three targets, three registries each) as GitHub Actions
# would run it for a push of tag v1.2.3. Uses hyperfine when installed,
# else a loop timed with `date +%s%N`.
#
# Usage: bench/meta.sh [BINARY] [RUNS]
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
binary="${1:-$root/build/plugin/docker-multipush}"
runs="${2:-200}"
binary="$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")"

export GITHUB_ACTIONS=true GITHUB_EVENT_NAME=push GITHUB_REF=refs/tags/v1.2.3
export GITHUB_SHA=3f786850e387550fdab836ed7e6dc881de23001b GITHUB_REPOSITORY=openimsdk/openkf
export ACR_USERNAME=bench ACR_PASSWORD=bench GHCR_USERNAME=bench GHCR_TOKEN=bench
export SOURCE_DATE_EPOCH=1710542730
unset GITHUB_OUTPUT GITHUB_ENV GITHUB_EVENT_PATH
cd "$root/examples/openkf"

command=("$binary" meta --context workflow --format json)
"${command[@]}" >/dev/null 2>&1

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "command: (cd examples/openkf && ${command[*]/#$root\//})"
if command -v hyperfine >/dev/null; then
  hyperfine --warmup 10 --runs "$runs" --shell=none --output=null "${command[*]}"
  exit 0
fi

times=()
for _ in $(seq "$runs"); do
  start=$(date +%s%N)
  "${command[@]}" >/dev/null 2>&1
  end=$(date +%s%N)
  times+=($(( (end - start) / 1000 )))
done
printf '%s\n' "${times[@]}" | sort -n | awk -v runs="$runs" '
  { t[NR] = $1; sum += $1 }
  END {
    printf "runs: %d\n", runs
    printf "mean: %.2f ms\n", sum / NR / 1000
    printf "median: %.2f ms\n", t[int((NR + 1) / 2)] / 1000
    printf "min: %.2f ms  max: %.2f ms\n", t[1] / 1000, t[NR] / 1000
  }'
