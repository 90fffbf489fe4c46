#!/bin/sh
# wine-prefix.sh WINE PREFIX - make the Wine prefix the Windows tests run in
# (once: Wine's first start takes 10-20 s) and keep its wineserver running
# while they run, so each test's Wine process does not start a new one.
#
# Run by ctest as windows.wine_prefix (FIXTURES_SETUP wine).
set -eu
wine=$1
prefix=$2
export WINEPREFIX="$prefix" WINEDEBUG=-all
# No Gecko/Mono installer prompts: the tests need neither.
export WINEDLLOVERRIDES="mscoree,mshtml="

# The wineserver that goes with a wine binary (beside it, else on PATH).
server_of() {
    dir=$(dirname "$(command -v "$1")")
    if [ -x "$dir/wineserver" ]; then
        echo "$dir/wineserver"
    else
        echo wineserver
    fi
}

# (The registry files appear only when the server saves them; the stamp is
# written by wineboot itself.)
if [ ! -f "$prefix/.update-timestamp" ] && [ ! -f "$prefix/system.reg" ]; then
    mkdir -p "$prefix"
    echo "wine-prefix: creating $prefix"
    "$wine" wineboot --init </dev/null >/dev/null 2>&1 || {
        echo "wine-prefix: wineboot failed in $prefix" >&2
        exit 1
    }
    # wineboot returns before the set-up it started in the background
    # (menus, services) is over; tests started meanwhile would share the
    # CPU with it and miss their timing bounds. Wait for the prefix to
    # settle: for every Wine process, then the server, to end.
    "$(server_of "$wine")" -w </dev/null >/dev/null 2>&1 || true
fi

# The server of this prefix, persistent for 60 s after its last client (it
# then exits by itself). Started detached: ctest must not wait on it.
"$(server_of "$wine")" -p60 </dev/null >/dev/null 2>&1 || true

# A Windows program runs: the prefix works.
"$wine" cmd /c exit 0 </dev/null >/dev/null 2>&1 || {
    echo "wine-prefix: wine cannot run a program in $prefix" >&2
    exit 1
}
echo "wine-prefix: ready ($prefix)"
