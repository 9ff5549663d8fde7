#!/usr/bin/env bash
# Build docker-multipush and push the bundled OpenKF example (examples/openkf)
# to three local registries, as a GitHub Actions run for tag v1.2.3 would.
#
#   scripts/demo.sh [--keep] [--work-dir DIR] [--no-install] [--base-port N]
#
# The registries listen on 127.0.0.1:5000 (plain HTTP), 5001 (TLS, basic
# authentication) and 5002 (TLS, token authentication), and the token issuer
# on 5003. --base-port N moves them to N to N+3. They stop when the script
# ends unless --keep is given. Setting MULTIPUSH_BINARY to a built plugin
# skips the build.
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
python=/usr/bin/python3
keep=false
install=true
work_dir=""
base_port=5000

usage() {
  # The header comment of this file, without the leading "# ".
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

while [[ $# -gt 0 ]]; do
  case $1 in
    --keep) keep=true ;;
    --no-install) install=false ;;
    --work-dir)
      [[ $# -ge 2 ]] || { echo "demo.sh: --work-dir needs a directory" >&2; exit 2; }
      work_dir=$2
      shift
      ;;
    --base-port)
      [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || { echo "demo.sh: --base-port needs a port number" >&2; exit 2; }
      base_port=$2
      shift
      ;;
    -h|--help) usage; exit 0 ;;
    *) echo "demo.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

step() { printf '\n== %s\n' "$*"; }

# 1. Dependencies and build.
if $install; then
  if [[ $(id -u) -eq 0 ]]; then
    step "installing dependencies"
    bash "$repo_root/scripts/install-deps.sh"
  else
    echo "demo.sh: not root, so dependencies are not installed (run scripts/install-deps.sh as root if a tool is missing)"
  fi
fi
# MULTIPUSH_BINARY names an already built plugin and skips the build.
if [[ -n ${MULTIPUSH_BINARY:-} ]]; then
  binary=$(realpath "$MULTIPUSH_BINARY")
else
  step "building"
  binary=$(bash "$repo_root/scripts/build.sh" | tail -n 1)
fi
echo "plugin: $binary"

# 2. Work directory and registries.
if [[ -z $work_dir ]]; then
  work_dir=$(mktemp -d /tmp/multipush-demo.XXXXXX)
fi
mkdir -p "$work_dir"
work_dir=$(cd "$work_dir" && pwd)
registry_dir=$work_dir/registries

# shellcheck disable=SC2317  # called by the EXIT trap
stop_registries() {
  if [[ -f $registry_dir/env.json ]]; then
    "$python" "$repo_root/tests/support/registries.py" stop --dir "$registry_dir" >/dev/null || true
  fi
}
if ! $keep; then
  trap stop_registries EXIT
fi

step "starting registries on 127.0.0.1:$base_port-$((base_port + 3))"
"$python" "$repo_root/tests/support/registries.py" start --dir "$registry_dir" --base-port "$base_port"
env_file=$registry_dir/env.json
field() { jq -r "$1" "$env_file"; }

# 3. The docker CLI finds the plugin in $DOCKER_CONFIG/cli-plugins.
export DOCKER_CONFIG=$work_dir/docker-config
mkdir -p "$DOCKER_CONFIG/cli-plugins"
ln -sf "$binary" "$DOCKER_CONFIG/cli-plugins/docker-multipush"
[[ -f $DOCKER_CONFIG/config.json ]] || echo '{}' >"$DOCKER_CONFIG/config.json"

# 4. Credentials under the names that examples/openkf/multipush.yaml reads,
# and the CA of the TLS registries.
export ACR_USERNAME=pusher
ACR_PASSWORD=$(field '.registries.basic.users.pusher.password')
export ACR_PASSWORD
export GHCR_USERNAME=pusher
GHCR_TOKEN=$(field '.registries.token.users.pusher.password')
export GHCR_TOKEN
MULTIPUSH_CERTS_DIR=$(field '.certs_dir')
export MULTIPUSH_CERTS_DIR

# 5. The example as a git repository with tag v1.2.3, and the GitHub Actions
# context of a push of that tag.
step "preparing the example project"
project=$work_dir/openkf
rm -rf "$project"
cp -r "$repo_root/examples/openkf" "$project"
if [[ $base_port -ne 5000 ]]; then
  # The example names ports 5000-5002. Placeholders first, so that a new port
  # equal to an old one is not replaced twice.
  sed -i -e 's/127\.0\.0\.1:5000/@PLAIN@/g' -e 's/127\.0\.0\.1:5001/@BASIC@/g' -e 's/127\.0\.0\.1:5002/@TOKEN@/g' \
    -e "s/@PLAIN@/127.0.0.1:$base_port/g" -e "s/@BASIC@/127.0.0.1:$((base_port + 1))/g" \
    -e "s/@TOKEN@/127.0.0.1:$((base_port + 2))/g" "$project/multipush.yaml"
fi
git_quiet=(git -C "$project" -c user.name="docker-multipush demo" -c user.email="demo@example.invalid"
           -c init.defaultBranch=main -c commit.gpgsign=false -c tag.gpgsign=false)
"${git_quiet[@]}" init -q
"${git_quiet[@]}" add -A
"${git_quiet[@]}" commit -q -m "OpenKF example"
"${git_quiet[@]}" tag -a v1.2.3 -m "v1.2.3"
sha=$(git -C "$project" rev-parse HEAD)

event_file=$work_dir/github-event.json
cat >"$event_file" <<JSON
{
  "ref": "refs/tags/v1.2.3",
  "after": "$sha",
  "created": true,
  "deleted": false,
  "repository": {
    "name": "openkf",
    "full_name": "openimsdk/openkf",
    "default_branch": "main",
    "html_url": "https://github.com/openimsdk/openkf",
    "owner": { "login": "openimsdk" }
  },
  "head_commit": { "id": "$sha" }
}
JSON
export GITHUB_ACTIONS=true
export GITHUB_EVENT_NAME=push
export GITHUB_EVENT_PATH=$event_file
export GITHUB_REF=refs/tags/v1.2.3
export GITHUB_REF_NAME=v1.2.3
export GITHUB_REF_TYPE=tag
export GITHUB_SHA=$sha
export GITHUB_REPOSITORY=openimsdk/openkf
export GITHUB_REPOSITORY_OWNER=openimsdk
export GITHUB_SERVER_URL=https://github.com
export GITHUB_WORKSPACE=$project
export GITHUB_RUN_ID=1
export GITHUB_RUN_NUMBER=1
export GITHUB_ACTOR=openimsdk
export GITHUB_OUTPUT=$work_dir/github-output
export GITHUB_STEP_SUMMARY=$work_dir/github-step-summary.md
: >"$GITHUB_OUTPUT"
: >"$GITHUB_STEP_SUMMARY"

# 6. The run itself.
step "docker multipush (in $project)"
set +e
(cd "$project" && docker multipush)
status=$?
set -e

# 7. The tags and index digest of every repository, read back with skopeo.
step "results"
auth_file=$work_dir/skopeo-auth.json
echo '{}' >"$auth_file"
for name in plain basic token; do
  host=$(field ".registries.$name.host")
  case $name in
    plain) namespace=openim; access=(--tls-verify=false --no-creds) ;;
    basic) namespace=openimsdk; access=(--cert-dir "$MULTIPUSH_CERTS_DIR/$host" --creds "pusher:$ACR_PASSWORD") ;;
    token) namespace=openimsdk; access=(--cert-dir "$MULTIPUSH_CERTS_DIR/$host" --creds "pusher:$GHCR_TOKEN") ;;
  esac
  for image in openkf-server openkf-web openkf-bot; do
    repository=$host/$namespace/$image
    if ! tags=$(skopeo list-tags --authfile "$auth_file" "${access[@]}" "docker://$repository" 2>/dev/null |
                jq -r '(.Tags // []) | sort | join(" ")'); then
      tags=""
    fi
    if [[ -z $tags ]]; then
      printf '%-45s (nothing pushed)\n' "$repository"
      continue
    fi
    first_tag=${tags%% *}
    digest=sha256:$(skopeo inspect --raw --authfile "$auth_file" "${access[@]}" "docker://$repository:$first_tag" |
                    sha256sum | cut -d' ' -f1)
    printf '%-45s %s\n%-45s tags: %s\n' "$repository" "$digest" "" "$tags"
  done
done

echo
echo "work directory: $work_dir (run logs under $project/.multipush/runs)"
if $keep; then
  echo "registries still running; stop them with:"
  echo "  $python $repo_root/tests/support/registries.py stop --dir $registry_dir"
fi
if [[ $status -ne 0 ]]; then
  echo "demo.sh: docker multipush exited with code $status" >&2
fi
exit "$status"
