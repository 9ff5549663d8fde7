#!/usr/bin/env bash
# Install every Debian 12 package that building, testing and the demo need.
# Run as root. Safe to run again: apt-get skips what is already installed.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps.sh: must run as root (it calls apt-get install); try: sudo $0" >&2
  exit 1
fi
if [[ ! -r /etc/os-release ]] || ! grep -qx 'ID=debian' /etc/os-release; then
  echo "install-deps.sh: this script supports Debian only (tested on Debian 12); install the packages listed in it by hand" >&2
  exit 1
fi
if ! grep -qx 'VERSION_ID="12"' /etc/os-release; then
  echo "install-deps.sh: warning: tested on Debian 12 only; package names may differ on this release" >&2
fi

packages=(
  # build
  cmake ninja-build g++ pkg-config git
  libcli11-dev libcurl4-openssl-dev nlohmann-json3-dev libssl-dev libfmt-dev
  doctest-dev libyaml-cpp-dev libhowardhinnant-date-dev libspdlog-dev libarchive-dev
  # tests and demo
  docker-registry buildah skopeo apache2-utils golang-docker-credential-helpers pass
  python3 python3-cryptography python3-jwt python3-pytest jq openssl curl ca-certificates iproute2
  # fuzzing: libstdc++ 12's std::expected needs clang 19 or later
  clang-19 libclang-rt-19-dev
)
# The plugin protocol needs a docker CLI; a machine that has one keeps it.
if ! command -v docker >/dev/null 2>&1; then
  packages+=(docker.io)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps.sh: all ${#packages[@]} packages are installed"
  exit 0
fi

echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps.sh: done"
