#!/bin/sh
# setup-console.sh - install what the console form and its browser test need:
# Debian's chromium and libjs-json-editor (the form library the page loads
# from /usr/share/javascript), node and npm when the machine has none, and
# playwright-core from the npm registry into tests/integration/console/
# node_modules (git-ignored). Idempotent: what is present is not fetched
# again. playwright-core only drives the system /usr/bin/chromium; it never
# downloads a browser.
#
#   deploy/setup-console.sh      as root, or as a user with sudo
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
test_dir="$top/tests/integration/console"

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=""
for p in chromium libjs-json-editor; do
    installed "$p" || missing="$missing $p"
done
# node and npm may come from elsewhere (NodeSource's nodejs bundles npm and
# conflicts with Debian's npm package): only ask Debian for what is absent.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"

if [ -n "$missing" ]; then
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
else
    echo "setup-console: chromium, libjs-json-editor, node and npm are installed"
fi

# npm ci wipes and reinstalls node_modules every time: skip it when the
# installed tree already matches the committed lock file.
stamp="$test_dir/node_modules/.package-lock.json"
if [ -f "$test_dir/node_modules/playwright-core/package.json" ] && [ -f "$stamp" ] &&
   [ -n "$(find "$stamp" -newer "$test_dir/package-lock.json")" ]; then
    echo "setup-console: playwright-core is installed in $test_dir/node_modules"
    exit 0
fi
echo "setup-console: npm ci in $test_dir"
# PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: belt and braces, playwright-core has no
# install hook, but no browser is ever fetched.
(cd "$test_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
echo "setup-console: done"
