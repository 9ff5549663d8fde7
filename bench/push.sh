#!/usr/bin/env bash
# Push benchmark: one two-platform OCI layout (about 280 MiB in 7 blobs) to
# three local registries (plain HTTP; TLS with basic auth; TLS with token
# auth), measured with /usr/bin/time -v for:
#   1. docker-multipush push to all three at once;
#   2. the same push again (nothing to upload);
#   3. skopeo copy --all to each registry in turn;
#   4. skopeo copy --all to all three at once (three processes);
#   5. a raw curl upload of the same blobs to all three at once (the ingest bound; the
#      upload sessions are opened before the clock starts).
# Every run pushes to fresh repositories, so nothing is skipped except in 2.
# Then, once: docker-multipush push of a layout with a 1 GiB layer (peak RSS).
#
# Usage: bench/push.sh [BINARY]   (default: build/ci/plugin/docker-multipush)
# Environment: BENCH_DIR (default: a new temporary directory), BENCH_BASE_PORT (default 5600),
# BENCH_RUNS (rounds of every case, default 5).
# Prints one TSV line per measurement (name, wall seconds, user+sys seconds, peak RSS KiB),
# then the median of each case.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
binary="$(realpath "${1:-$repo/build/ci/plugin/docker-multipush}")"
work="${BENCH_DIR:-$(mktemp -d /tmp/multipush-bench-XXXXXX)}"
base_port="${BENCH_BASE_PORT:-5600}"
runs="${BENCH_RUNS:-5}"
python=/usr/bin/python3

# Docker config with credentials for the plugin.
write_docker_config() {
  export DOCKER_CONFIG="$work/docker-config"
  mkdir -p "$DOCKER_CONFIG"
  "$python" - "$DOCKER_CONFIG/config.json" "$basic" "$basic_password" "$token" "$token_password" <<'PY'
import base64, json, sys
path, basic, basic_password, token, token_password = sys.argv[1:]
auth = lambda password: base64.b64encode(f"pusher:{password}".encode()).decode()
json.dump({"auths": {basic: {"auth": auth(basic_password)}, token: {"auth": auth(token_password)}}}, open(path, "w"))
PY
  export MULTIPUSH_CERTS_DIR="$certs_dir"
}

# Each case starts from empty registries, so that no tool can skip or mount
# a blob that an earlier case left behind (skopeo mounts from the
# repositories its blob-info cache remembers).
start_registries() {
  if [[ -f "$work/registries/env.json" ]]; then
    "$python" "$repo/tests/support/registries.py" stop --dir "$work/registries" >/dev/null 2>&1 || true
  fi
  rm -rf "$work/registries"
  "$python" "$repo/tests/support/registries.py" start --dir "$work/registries" --base-port "$base_port" >/dev/null
  env_json="$work/registries/env.json"
  plain="$(field 'e["registries"]["plain"]["host"]')"
  basic="$(field 'e["registries"]["basic"]["host"]')"
  token="$(field 'e["registries"]["token"]["host"]')"
  basic_password="$(field 'e["registries"]["basic"]["users"]["pusher"]["password"]')"
  token_password="$(field 'e["registries"]["token"]["users"]["pusher"]["password"]')"
  certs_dir="$(field 'e["certs_dir"]')"
  export env_json plain basic token basic_password token_password certs_dir
  write_docker_config
}
trap '"$python" "$repo/tests/support/registries.py" stop --dir "$work/registries" >/dev/null 2>&1 || true' EXIT

field() { "$python" -c "import json,sys; e=json.load(open('$work/registries/env.json')); print(eval(sys.argv[1]))" "$1"; }

layout="$work/layout"
if [[ ! -f "$layout/index.json" ]]; then
  "$python" "$repo/bench/make_layout.py" "$layout" --layer-mib 90 --shared-mib 100 >/dev/null
fi
# Write the new layout out now, so that the first round does not share the
# disk with its write-back.
sync



results="$work/results.tsv"
: >"$results"

# measure NAME COMMAND...: runs COMMAND under /usr/bin/time -v and records its figures.
measure() {
  local name="$1"
  shift
  local report="$work/time-$name.txt"
  /usr/bin/time -v -o "$report" "$@" >"$work/out-$name.txt" 2>&1 || {
    echo "$name failed; output in $work/out-$name.txt" >&2
    return 1
  }
  "$python" - "$name" "$report" <<'EOF' | tee -a "$results"
import re, sys
name, report = sys.argv[1:]
text = open(report).read()
def value(label):
    return re.search(re.escape(label) + r":\s*(\S+)", text).group(1)
wall = value("Elapsed (wall clock) time (h:mm:ss or m:ss)")
parts = [float(part) for part in wall.split(":")]
seconds = sum(part * 60 ** index for index, part in enumerate(reversed(parts)))
cpu = float(value("User time (seconds)")) + float(value("System time (seconds)"))
print(f"{name}\t{seconds:.2f}\t{cpu:.2f}\t{value('Maximum resident set size (kbytes)')}")
EOF
}

to_all() {
  local repository="$1"
  echo --to "$plain/$repository:1.0.0" --to "$basic/$repository:1.0.0" --to "$token/$repository:1.0.0"
}

skopeo_dest() {
  case "$1" in
    plain) echo --dest-tls-verify=false ;;
    basic) echo --dest-cert-dir "$certs_dir/$basic" --dest-creds "pusher:$basic_password" ;;
    token) echo --dest-cert-dir "$certs_dir/$token" --dest-creds "pusher:$token_password" ;;
  esac
}
host_of() { case "$1" in plain) echo "$plain" ;; basic) echo "$basic" ;; token) echo "$token" ;; esac; }

in_turn() {
  for name in plain basic token; do
    # shellcheck disable=SC2046
    skopeo copy --quiet --all $(skopeo_dest "$name") "oci:$layout" "docker://$(host_of "$name")/bench/skopeo-turn:1.0.0"
  done
}
at_once() {
  local pids=()
  for name in plain basic token; do
    # shellcheck disable=SC2046
    skopeo copy --quiet --all $(skopeo_dest "$name") "oci:$layout" "docker://$(host_of "$name")/bench/skopeo-once:1.0.0" &
    pids+=($!)
  done
  local status=0
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  return "$status"
}
export -f in_turn at_once skopeo_dest host_of
export layout

# One round: every case once, each from empty registries.
round() {
  local run="$1"
  start_registries
  # shellcheck disable=SC2046
  measure multipush_push "$binary" push --progress quiet --log-dir "$work/runs" --layout "$layout" $(to_all bench/multipush)
  # shellcheck disable=SC2046
  measure multipush_repush "$binary" push --progress quiet --log-dir "$work/runs" --layout "$layout" $(to_all bench/multipush)
  start_registries
  measure skopeo_in_turn bash -c in_turn
  start_registries
  measure skopeo_at_once bash -c at_once
  start_registries
  "$python" "$repo/bench/curl_upload.py" --layout "$layout" --env "$env_json" --repository bench/curl \
    --prepare "$work/curl-sessions.json"
  measure curl_at_once "$python" "$repo/bench/curl_upload.py" --layout "$layout" --env "$env_json" \
    --repository bench/curl --sessions "$work/curl-sessions.json"
  echo "round $run done" >&2
}

for run in $(seq 1 "$runs"); do round "$run"; done

# Memory bound: one push of a layout with a 1 GiB layer (shared by both
# platforms) to all three registries. Set BENCH_LARGE=0 to skip it.
if [[ "${BENCH_LARGE:-1}" != 0 ]]; then
  if [[ ! -f "$work/large/index.json" ]]; then
    "$python" "$repo/bench/make_layout.py" "$work/large" --layer-mib 1 --shared-mib 1024 >/dev/null
    sync
  fi
  start_registries
  # shellcheck disable=SC2046
  measure multipush_push_1gib "$binary" push --progress quiet --log-dir "$work/runs" --layout "$work/large" \
    $(to_all bench/large)
fi

# Median of every case over the rounds.
"$python" - "$results" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, wall, cpu, rss = line.split("\t")
    rows.setdefault(name, []).append((float(wall), float(cpu), int(rss)))
print("median over", max(len(v) for v in rows.values()), "rounds: case, wall s, user+sys s, peak RSS KiB")
for name, values in rows.items():
    wall, cpu, rss = (statistics.median(column) for column in zip(*values))
    print(f"{name}\t{wall:.2f}\t{cpu:.2f}\t{int(rss)}")
EOF
echo "figures in $results; work directory $work"
