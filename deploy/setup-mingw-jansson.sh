#!/bin/sh
# setup-mingw-jansson.sh - the libraries the Windows (mingw-w64) build links
# that Debian does not package for mingw: jansson (the host and the plugin)
# and cmocka (the unit tests). Both are built from Debian's own source
# packages, fetched with `apt-get source` from the mirror apt already uses,
# as static libraries installed under one prefix that the toolchain file
# deploy/cmake/mingw-w64-x86_64.cmake searches. Nothing comes from anywhere
# but Debian's mirror.
#
#   deploy/setup-mingw-jansson.sh     as root, or as a user with sudo
#                                     (deploy/setup.sh --windows runs it)
#
# Idempotent: when the prefix already holds both libraries, built from the
# source versions apt offers now, it does nothing.
#
#   PSTSNAP_MINGW_PREFIX   install prefix     (default /opt/pstsnap-mingw)
#   PSTSNAP_MINGW_CACHE    sources and builds (default /var/cache/pstsnap)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
prefix="${PSTSNAP_MINGW_PREFIX:-/opt/pstsnap-mingw}"
cache="${PSTSNAP_MINGW_CACHE:-/var/cache/pstsnap}"
toolchain="$top/deploy/cmake/mingw-w64-x86_64.cmake"
src_list=/etc/apt/sources.list.d/pstsnap-deb-src.sources
libs="jansson cmocka"

if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo"
else
    as_root="none"
fi
root() {
    if [ "$as_root" = none ]; then
        echo "setup-mingw: this step needs root: $*" >&2
        exit 1
    fi
    $as_root "$@"
}

# The toolchain itself (mingw-w64, Wine) comes from setup.sh; without it
# there is nothing to do. (deploy/setup.sh --windows runs this script.)
"$top/deploy/setup.sh" --windows-packages

# The version of a source package as apt offers it ("" when no deb-src).
src_version() {
    apt-cache showsrc "$1" 2>/dev/null | awk '/^Version:/ {print $2; exit}'
}

# What is installed: one line "name version" per library in the stamp file.
stamp="$prefix/share/pstsnap-mingw/versions"
installed_version() {
    [ -f "$stamp" ] && awk -v n="$1" '$1 == n {print $2}' "$stamp"
}

# Quick exit before touching apt: both present, versions recorded.
all_present=yes
for lib in $libs; do
    if [ ! -f "$prefix/lib/lib$lib.a" ] || [ -z "$(installed_version "$lib")" ]; then
        all_present=no
    fi
done
if [ "$all_present" = yes ] && [ "${PSTSNAP_MINGW_REBUILD:-0}" != 1 ]; then
    echo "setup-mingw: jansson and cmocka for mingw are installed in $prefix"
    exit 0
fi

# --- deb-src ------------------------------------------------------------------
# A separate deb822 file with Types: deb-src for every stanza of Debian's own
# sources file (same mirror, suites, components, key); the original is left
# as it is.
if [ ! -f "$src_list" ]; then
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        tmp=$(mktemp)
        # Keep the stanzas whose Types has "deb"; rewrite Types; drop comments.
        awk '
            function flush() {
                if (stanza != "" && has_deb) printf "%s\n", stanza
                stanza = ""; has_deb = 0
            }
            /^[ \t]*$/ { flush(); next }
            /^#/ { next }
            /^Types:/ {
                for (i = 2; i <= NF; i++) if ($i == "deb") has_deb = 1
                stanza = stanza "Types: deb-src\n"; next
            }
            { stanza = stanza $0 "\n" }
            END { flush() }
        ' /etc/apt/sources.list.d/debian.sources >"$tmp"
        if [ ! -s "$tmp" ]; then
            rm -f "$tmp"
            echo "setup-mingw: no 'deb' stanza in /etc/apt/sources.list.d/debian.sources" >&2
            exit 1
        fi
        { echo "# Added by pstsnap deploy/setup-mingw-jansson.sh: Debian's source packages"
          echo "# for the mingw builds of jansson and cmocka."
          cat "$tmp"; } | root tee "$src_list" >/dev/null
        rm -f "$tmp"
    elif [ -f /etc/apt/sources.list ]; then
        grep -E '^deb[[:space:]]' /etc/apt/sources.list | sed 's/^deb/deb-src/' \
            | root tee "${src_list%.sources}.list" >/dev/null
    else
        echo "setup-mingw: cannot find apt's Debian sources to add deb-src" >&2
        exit 1
    fi
    echo "setup-mingw: added Debian source packages ($src_list); apt-get update"
    root apt-get update -qq
elif [ -z "$(src_version jansson)" ]; then
    root apt-get update -qq
fi

# --- build --------------------------------------------------------------------
root mkdir -p "$cache" "$prefix/share/pstsnap-mingw"
# Build as the invoking user where we can; the cache and prefix are root's.
if [ "$as_root" = sudo ]; then
    root chown "$(id -u):$(id -g)" "$cache" "$prefix" "$prefix/share" "$prefix/share/pstsnap-mingw"
fi

jobs=$(nproc 2>/dev/null || echo 2)

build_one() {
    lib=$1
    shift
    version=$(src_version "$lib")
    if [ -z "$version" ]; then
        echo "setup-mingw: apt offers no source package '$lib'" >&2
        exit 1
    fi
    if [ -f "$prefix/lib/lib$lib.a" ] && [ "$(installed_version "$lib")" = "$version" ] \
        && [ "${PSTSNAP_MINGW_REBUILD:-0}" != 1 ]; then
        echo "setup-mingw: $lib $version already installed"
        return 0
    fi
    srcroot="$cache/$lib-src"
    upstream=${version#*:}
    upstream=${upstream%-*}
    dir="$srcroot/$lib-$upstream"
    if [ ! -f "$dir/CMakeLists.txt" ]; then
        rm -rf "$srcroot"
        mkdir -p "$srcroot"
        echo "setup-mingw: apt-get source $lib ($version)"
        # dpkg-source applies Debian's patches while unpacking.
        (cd "$srcroot" && apt-get source -qq "$lib=$version" >/dev/null 2>"$srcroot/apt-source.log") || {
            cat "$srcroot/apt-source.log" >&2
            exit 1
        }
    fi
    if [ ! -f "$dir/CMakeLists.txt" ]; then
        echo "setup-mingw: $lib source unpacked, but no $dir/CMakeLists.txt" >&2
        exit 1
    fi
    build="$cache/$lib-build"
    rm -rf "$build"
    echo "setup-mingw: building $lib $version for x86_64-w64-mingw32"
    cmake -S "$dir" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_INSTALL_PREFIX="$prefix" \
        -DCMAKE_INSTALL_LIBDIR=lib "$@" >"$cache/$lib-configure.log" 2>&1 || {
        tail -30 "$cache/$lib-configure.log" >&2
        exit 1
    }
    cmake --build "$build" -j "$jobs" >"$cache/$lib-build.log" 2>&1 || {
        tail -30 "$cache/$lib-build.log" >&2
        exit 1
    }
    cmake --install "$build" >"$cache/$lib-install.log" 2>&1 || {
        tail -30 "$cache/$lib-install.log" >&2
        exit 1
    }
    if [ "$lib" = cmocka ]; then
        # cmocka always builds its DLL too, and its cmocka.pc says -lcmocka,
        # which would pick the DLL's import library. Keep only the static
        # library, under the name -lcmocka finds: the test programs are then
        # self-contained under Wine.
        mv "$prefix/lib/libcmocka-static.a" "$prefix/lib/libcmocka.a"
        rm -f "$prefix/lib/libcmocka.dll.a" "$prefix/bin/cmocka.dll"
        rm -rf "$prefix/lib/cmake/cmocka"
    fi
    if [ ! -f "$prefix/lib/lib$lib.a" ]; then
        echo "setup-mingw: $lib built, but $prefix/lib/lib$lib.a is missing" >&2
        exit 1
    fi
    { [ -f "$stamp" ] && awk -v n="$lib" '$1 != n' "$stamp"; echo "$lib $version"; } >"$stamp.new"
    mv "$stamp.new" "$stamp"
}

# jansson: static only; no docs (sphinx), tests or examples.
build_one jansson -DJANSSON_BUILD_SHARED_LIBS=OFF -DJANSSON_BUILD_DOCS=OFF \
    -DJANSSON_EXAMPLES=OFF -DJANSSON_WITHOUT_TESTS=ON
# cmocka: the static library (the unit tests then need no DLL beside them
# under Wine); no examples or self-tests.
build_one cmocka -DWITH_STATIC_LIB=ON -DUNIT_TESTING=OFF -DWITH_EXAMPLES=OFF \
    -DWITH_CMOCKERY_SUPPORT=OFF

echo "setup-mingw: done ($prefix)"
