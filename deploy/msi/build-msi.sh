#!/bin/sh
# build-msi.sh BUILD_DIR [OUT.msi [VERSION]] - the pstsnap MSI from a Windows
# build folder (cmake --preset windows), with wixl from Debian's msitools.
# VERSION defaults to the build's CMAKE_PROJECT_VERSION (CMakeCache.txt).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [OUT.msi [VERSION]]" >&2; exit 2; }
bin=$(cd "$1" && pwd)
version=${3:-$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$bin/CMakeCache.txt")}
out=${2:-$bin/deploy/msi/pstsnap-$version-x64.msi}
command -v wixl >/dev/null || { echo "$0: wixl is not installed (apt-get install wixl)" >&2; exit 1; }
[ -n "$version" ] || { echo "$0: no version given and none in $bin/CMakeCache.txt" >&2; exit 1; }
for f in plugin/pstsnap.dll sdk-shim/emhost.exe deploy/msi/pstsnap-messages.dll; do
    [ -f "$bin/$f" ] || { echo "$0: $bin/$f is missing: build the Windows preset first" >&2; exit 1; }
done
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
# wixl (0.101) resolves a File's Source relative to the .wxs and refuses
# absolute ones: build in a scratch folder where the two trees are links.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
ln -s "$bin" "$stage/bin"
ln -s "$top" "$stage/src"
cp "$here/pstsnap.wxs" "$stage/pstsnap.wxs"
(cd "$stage" && wixl -a x64 -D "Version=$version" -D BinDir=bin -D SourceDir=src -o "$out" pstsnap.wxs)
echo "$out"
