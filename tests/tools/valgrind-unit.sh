#!/bin/sh
# Run the engine's unit tests (the cmocka programs linked with pstsnap_core)
# under valgrind memcheck: any invalid access, use of uninitialised memory
# or definite/indirect leak fails the run.
#
#   tests/tools/valgrind-unit.sh BUILD_DIR
#
# BUILD_DIR is made (Debug, no sanitizers: valgrind and ASan do not mix)
# and only the unit tests are built in it. Tests that need what this
# machine lacks exit 77 and are reported skipped, as under ctest.
# Prints "valgrind: N programs, E with errors, S skipped"; exits 1 on errors.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
bdir=${1:?usage: valgrind-unit.sh BUILD_DIR}
command -v valgrind >/dev/null || { echo "valgrind: not installed (apt-get install valgrind)"; exit 1; }
# Every tests/unit/test_*.c but the host's own (they need no engine) and
# those needing the btrfs fixture (btrfs, reflink: run as root under ctest).
engine_tests=$(cd "$top/tests/unit" && ls test_*.c | sed 's/\.c$//' |
               grep -v -E '^test_(support.*|catl_regex|jsonschema.*|vars)$|btrfs|reflink' |
               tr '\n' ' ')
cmake -S "$top" -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPSTSNAP_SANITIZE=OFF \
      -DPSTSNAP_FUZZ=OFF >/dev/null
# shellcheck disable=SC2086
cmake --build "$bdir" -j "$(nproc 2>/dev/null || echo 2)" --target $engine_tests >/dev/null
mkdir -p "$bdir/tests/tmp" "$bdir/valgrind"
runs=0 bad=0 skipped=0
for t in $engine_tests; do
    log=$bdir/valgrind/$t.log
    rc=0
    (cd "$bdir/tests" &&
     PSTSNAP_SOURCE_DIR=$top PSTSNAP_BINARY_DIR=$bdir PSTSNAP_TEST_TMP=$bdir/tests/tmp \
     valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
              --errors-for-leak-kinds=definite,indirect --track-origins=yes \
              --log-file="$log" "$bdir/tests/$t" >"$log.out" 2>&1) || rc=$?
    runs=$((runs + 1))
    if [ "$rc" -eq 77 ]; then
        skipped=$((skipped + 1))
        echo "  $t: skipped"
    elif [ "$rc" -ne 0 ] || [ -s "$log" ]; then
        bad=$((bad + 1))
        echo "  $t: FAILED (exit $rc)"
        head -n 40 "$log" "$log.out"
    else
        echo "  $t: no errors, no leaks"
    fi
done
echo "valgrind: $runs programs, $bad with errors, $skipped skipped"
[ "$bad" -eq 0 ]
