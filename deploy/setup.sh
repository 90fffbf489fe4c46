#!/bin/sh
# setup.sh - install everything pstsnap needs to build, demo and test, from
# Debian's own packages only (Debian 12). Idempotent: packages already
# present are not fetched again.
#
#   deploy/setup.sh            as root, or as a user with sudo
#   deploy/setup.sh --windows  also the Windows build: mingw-w64, Wine, and
#                              jansson and cmocka built for mingw from
#                              Debian's source packages
#                              (deploy/setup-mingw-jansson.sh)
#   deploy/setup.sh --windows-packages
#                              only the Debian packages of the Windows build
#                              (what setup-mingw-jansson.sh itself needs)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)

# The last line is the console form (deploy/console/) and its browser test:
# headless chromium driven through chromedriver by python3-selenium.
PACKAGES="
  build-essential cmake ninja-build pkg-config clang
  libjansson-dev uthash-dev libxxhash-dev libcmocka-dev
  python3 python3-jsonschema json-schema-test-suite
  btrfs-progs e2fsprogs util-linux
  pff-tools pst-utils python3-pypff
  valgrind
  rsync
  chromium chromium-driver python3-selenium libjs-json-editor
"
# The cross compiler and its binutils (objdump for the export check), and
# Wine to run the Windows tests: its 64-bit loader is enough, the programs
# are x64 only. dpkg-dev unpacks the source packages. wixl builds the MSI,
# msitools (msiinfo, msiextract) reads it back in its test.
WINDOWS_PACKAGES="
  gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 wine wine64 dpkg-dev wixl msitools
"

mode=${1:-}
case "$mode" in
"") ;;
--windows | --windows-packages) PACKAGES="$PACKAGES $WINDOWS_PACKAGES" ;;
*)
    echo "usage: $0 [--windows | --windows-packages]" >&2
    exit 2
    ;;
esac

# Runs last: the libraries for mingw, once the packages are in place.
windows_libraries() {
    if [ "$mode" = --windows ]; then
        "$top/deploy/setup-mingw-jansson.sh"
    fi
}

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "setup: all build and test dependencies are installed"
    windows_libraries
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
windows_libraries
