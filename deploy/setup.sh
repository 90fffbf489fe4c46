#!/bin/sh
# setup.sh - install everything pstsnap needs to build, demo and test, from
# Debian's own packages only (Debian 12). Idempotent: packages already
# present are not fetched again.
#
#   deploy/setup.sh            as root, or as a user with sudo
set -eu

PACKAGES="
  build-essential cmake ninja-build pkg-config clang
  libjansson-dev uthash-dev libxxhash-dev libcmocka-dev
  python3 python3-jsonschema json-schema-test-suite
  btrfs-progs e2fsprogs util-linux
  pff-tools pst-utils python3-pypff
  valgrind
"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "setup: all build and test dependencies are installed"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo"
else
    echo "setup: these Debian packages are missing and installing them needs root:$missing" >&2
    exit 1
fi

echo "setup: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$as_root apt-get update -qq
# shellcheck disable=SC2086 # one word per package
$as_root apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "setup: done"
