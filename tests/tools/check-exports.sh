#!/bin/sh
# check-exports.sh LIBRARY EXPECTED... - pass when LIBRARY exports exactly
# the EXPECTED names (any order), fail naming what is missing or extra.
#
# A Windows DLL (PE) is read with objdump -p (its export name table); an ELF
# shared object with nm -D (defined global symbols). OBJDUMP and NM name the
# tools for the library's target, e.g. x86_64-w64-mingw32-objdump; they
# default to the mingw-w64 ones for a DLL and the native ones otherwise.
#
#   tests/tools/check-exports.sh build-windows/plugin/pstsnap.dll em_module_init BackupPsts
set -eu

if [ $# -lt 2 ]; then
    echo "usage: $0 LIBRARY EXPECTED_EXPORT..." >&2
    exit 2
fi
lib=$1
shift
if [ ! -f "$lib" ]; then
    echo "check-exports: $lib does not exist" >&2
    exit 1
fi

# "MZ" at offset 0: a PE image.
magic=$(od -An -c -N2 "$lib" | tr -d ' ')
if [ "$magic" = MZ ]; then
    objdump=${OBJDUMP:-x86_64-w64-mingw32-objdump}
    dump=$("$objdump" -p "$lib") || {
        echo "check-exports: $objdump -p $lib failed" >&2
        exit 1
    }
    # Lines of the name table look like "	[   0] em_module_init" (older
    # binutils) or "	[   0] +base[   1] 0000 em_module_init": the name is
    # the last field; the table ends at the first line not starting with '['.
    actual=$(printf '%s\n' "$dump" | awk '
        /^\[Ordinal\/Name Pointer\] Table/ { in_table = 1; next }
        in_table && /^[ \t]*\[/ { print $NF; next }
        in_table { in_table = 0 }
    ' | sort -u)
else
    nm=${NM:-nm}
    actual=$("$nm" -D --defined-only "$lib" | awk '$2 ~ /^[A-Z]$/ { print $3 }' | sort -u) || {
        echo "check-exports: $nm -D $lib failed" >&2
        exit 1
    }
fi

expected=$(printf '%s\n' "$@" | sort -u)
missing=$(printf '%s\n' "$expected" | while read -r name; do
    printf '%s\n' "$actual" | grep -qxF "$name" || echo "$name"
done)
extra=$(printf '%s\n' "$actual" | while read -r name; do
    [ -z "$name" ] && continue
    printf '%s\n' "$expected" | grep -qxF "$name" || echo "$name"
done)

if [ -n "$missing" ] || [ -n "$extra" ]; then
    echo "check-exports: $lib does not export exactly: $*" >&2
    [ -n "$missing" ] && echo "  missing: $(echo $missing)" >&2
    [ -n "$extra" ] && echo "  extra:   $(echo $extra)" >&2
    exit 1
fi
echo "check-exports: $lib exports exactly: $(echo $expected)"
