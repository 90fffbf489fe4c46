#!/bin/sh
# check-msi.sh MSI VERSION - what the pstsnap MSI holds, read back with
# msitools: the File table lists every file to install, the product version
# is the build's, the Event Log sources are registered with their message
# file, the install is per-machine, and msiextract yields the very files.
# Exit 0 pass, 1 fail, 77 skipped (no msitools, or no MSI because wixl was
# missing at build time).
set -u
msi=$1
version=$2
for tool in msiinfo msiextract; do
    command -v $tool >/dev/null || { echo "SKIPPED: $tool is not installed (apt-get install msitools)"; exit 77; }
done
if [ ! -f "$msi" ]; then
    if command -v wixl >/dev/null; then
        echo "FAIL: $msi was not built"; exit 1
    fi
    echo "SKIPPED: wixl was not installed, so $msi was not built"; exit 77
fi
msi=$(cd "$(dirname "$msi")" && pwd)/$(basename "$msi")
fail=0
check() { # description, command...
    what=$1; shift
    if "$@" >/dev/null 2>&1; then echo "ok   $what"; else echo "FAIL $what"; fail=1; fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

msiinfo tables "$msi" >"$tmp/tables"
for t in File Component Registry Property Directory Feature; do
    check "table $t present" grep -qx "$t" "$tmp/tables"
done
msiinfo export "$msi" File >"$tmp/File.idt"
for f in pstsnap.dll emhost.exe pstsnap-messages.dll backup-psts.parameters.schema.json \
         policy.schema.json audit-event.schema.json README.md ADMIN.md; do
    # File table column 3 is FileName: "short|long" or the name alone.
    check "File table lists $f" awk -F '\t' -v f="$f" 'NR > 3 && ($3 == f || $3 ~ ("\\|" f "$")) {found=1} END {exit !found}' "$tmp/File.idt"
done
msiinfo export "$msi" Property >"$tmp/Property.idt"
check "ProductVersion is $version" grep -qP "^ProductVersion\t\Q$version\E\r?$" "$tmp/Property.idt"
check "ALLUSERS=1 (per-machine)" grep -qP "^ALLUSERS\t1\r?$" "$tmp/Property.idt"
msiinfo export "$msi" Registry >"$tmp/Registry.idt"
for source in pstsnap emhost; do
    # Registry columns: Registry, Root (2 = HKLM), Key, Name, Value, Component.
    # (wixl writes keys with a trailing backslash, which Windows ignores.)
    key="SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\$source"
    check "Event Log source $source: EventMessageFile" env KEY="$key" awk -F '\t' \
        '$2 == 2 && ($3 == ENVIRON["KEY"] || $3 == ENVIRON["KEY"] "\\") && $4 == "EventMessageFile" && $5 ~ /^\[INSTALLDIR\]pstsnap-messages\.dll/ {found=1} END {exit !found}' "$tmp/Registry.idt"
    check "Event Log source $source: TypesSupported" env KEY="$key" awk -F '\t' \
        '$2 == 2 && ($3 == ENVIRON["KEY"] || $3 == ENVIRON["KEY"] "\\") && $4 == "TypesSupported" && $5 ~ /^#7/ {found=1} END {exit !found}' "$tmp/Registry.idt"
done
msiinfo suminfo "$msi" >"$tmp/suminfo"
check "64-bit package (x64 template)" grep -q "x64" "$tmp/suminfo"

mkdir "$tmp/x"
(cd "$tmp/x" && msiextract "$msi" >/dev/null)
for f in pstsnap.dll emhost.exe pstsnap-messages.dll schemas/policy.schema.json ADMIN.md; do
    check "msiextract yields $f" sh -c "find '$tmp/x' -path '*/pstsnap/$f' -type f -size +0 | grep -q ."
done
dll=$(find "$tmp/x" -name pstsnap.dll | head -n 1)
check "the extracted pstsnap.dll is a PE file" sh -c "head -c 2 '$dll' | grep -q MZ"

if [ $fail -ne 0 ]; then
    echo "--- File table"; cat "$tmp/File.idt"; echo "--- Registry"; cat "$tmp/Registry.idt"
    exit 1
fi
echo "all MSI checks passed"
