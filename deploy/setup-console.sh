#!/bin/sh
# setup-console.sh - install what the console form and its browser test need,
# from Debian's own packages only: libjs-json-editor (the form library the
# page loads from /usr/share/javascript), and chromium, chromium-driver and
# python3-selenium (the test drives headless chromium through chromedriver).
# deploy/setup.sh installs these too, with everything else; this script is
# for a machine that only shows or tests the form. Idempotent: packages
# already present are not fetched again.
#
#   deploy/setup-console.sh      as root, or as a user with sudo
set -eu

PACKAGES="chromium chromium-driver python3-selenium libjs-json-editor"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "setup-console: $PACKAGES are installed"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo"
else
    echo "setup-console: these Debian packages are missing and installing them needs root:$missing" >&2
    exit 1
fi

echo "setup-console: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$as_root apt-get update -qq
# shellcheck disable=SC2086 # one word per package
$as_root apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "setup-console: done"
