#!/bin/sh
# test.sh - install what is needed, build, and run every test.
#
#   deploy/test.sh        (as root: the snapshot tests mount loop images;
#                          as a user they are reported skipped)
#
# Three builds:
#   build-asan     AddressSanitizer + UndefinedBehaviorSanitizer; runs the
#                  unit, host, backup and schema tests, so memory errors in
#                  the host and the engine fail the run (the fault-point
#                  tests need fault injection and report skipped here);
#   build-windows  the Windows x64 build (mingw-w64 cross compiler, warnings
#                  as errors, CMakePresets.json "windows"); its tests run
#                  under Wine, in a Wine prefix kept in the build folder;
#   build-fuzz     clang, libFuzzer + ASan + UBSan: each fuzz target runs
#                  PSTSNAP_FUZZ_SECONDS (default 60) from its committed
#                  seed corpus (tests/fuzz/corpus), two at a time;
#   build-test     warnings as errors, fault points compiled in; runs the
#                  whole suite. Its ctest summary is the last thing printed.
#
# Every stage runs even when an earlier one failed; the exit status is
# non-zero when any did. PSTSNAP_SKIP_WINDOWS=1 leaves the Windows stage
# out (reported as skipped, e.g. on a machine where Wine cannot be
# installed).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)

if [ "${PSTSNAP_SKIP_WINDOWS:-0}" = 1 ]; then
    "$top/deploy/setup.sh"
else
    "$top/deploy/setup.sh" --windows
fi

echo "== sanitizer build (ASan + UBSan)"
cmake -S "$top" -B "$top/build-asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
      -DPSTSNAP_SANITIZE=ON -DPSTSNAP_WERROR=ON >/dev/null
cmake --build "$top/build-asan" -j "$jobs" >/dev/null
asan_status=0
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir "$top/build-asan" -L 'unit|emhost|backup|schemas|reliability|status|docs' -j "$jobs" --output-on-failure \
    || asan_status=$?

# The Windows stage: configure, build and test with the "windows" preset.
# The build log is shown only when the build fails. The Wine server of the
# test prefix is stopped afterwards (wine-prefix.sh keeps it running for the
# length of the test run).
windows_stage() {
    build_log="$top/build-windows/build.log"
    cmake --preset windows -S "$top" -DPSTSNAP_WERROR=ON >/dev/null || return 1
    if ! cmake --build --preset windows -j "$jobs" >"$build_log" 2>&1; then
        grep -E -B2 -A8 'error|warning|FAILED' "$build_log" | tail -60
        return 1
    fi
    rc=0
    ctest --preset windows -j "$jobs" || rc=$?
    WINEPREFIX="$top/build-windows/wineprefix" wineserver -k 2>/dev/null || true
    return "$rc"
}

windows_status=0
if [ "${PSTSNAP_SKIP_WINDOWS:-0}" = 1 ]; then
    windows_result="skipped (PSTSNAP_SKIP_WINDOWS=1)"
else
    echo "== Windows build (mingw-w64 x86_64, tests under Wine)"
    windows_start=$(date +%s)
    (cd "$top" && windows_stage) || windows_status=$?
    windows_time=$(($(date +%s) - windows_start))
    if [ "$windows_status" -eq 0 ]; then
        windows_result="passed (${windows_time} s)"
    else
        windows_result="FAILED (${windows_time} s, see above)"
    fi
fi
echo "== Windows stage: $windows_result"

echo "== valgrind memcheck (engine unit tests)"
# No errors and no definite or indirect leaks; a failure is reported with
# the sanitizer run's (valgrind is the other memory checker).
"$top/tests/tools/valgrind-unit.sh" "$top/build-valgrind" || asan_status=$((asan_status ? asan_status : 1))

fuzz_secs=${PSTSNAP_FUZZ_SECONDS:-60}
echo "== fuzz (libFuzzer, ${fuzz_secs} s per target)"
fuzz_status=0
CC=clang cmake -S "$top" -B "$top/build-fuzz" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DPSTSNAP_FUZZ=ON -DPSTSNAP_FUZZ_SECONDS="$fuzz_secs" >/dev/null || fuzz_status=$?
if [ "$fuzz_status" -eq 0 ]; then
    cmake --build "$top/build-fuzz" -j "$jobs" >/dev/null || fuzz_status=$?
fi
if [ "$fuzz_status" -eq 0 ]; then
    # Each test prints "<target>: N execs, no finding (S s)" (run.sh); a
    # finding prints its sanitizer report from the log named there.
    fuzz_log="$top/build-fuzz/fuzz-ctest.log"
    ctest --test-dir "$top/build-fuzz" -L fuzz -j "$jobs" -V >"$fuzz_log" 2>&1 || fuzz_status=$?
    sed -n 's/^[0-9]*: \(fuzz_[a-z]*: .*\)$/\1/p' "$fuzz_log"
    grep -A5 -E 'FINDING' "$fuzz_log" || true
    grep -E 'tests passed' "$fuzz_log" || true
fi

echo "== test build (warnings as errors, fault injection)"
cmake -S "$top" -B "$top/build-test" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DPSTSNAP_FAULT_INJECTION=ON -DPSTSNAP_WERROR=ON >/dev/null
cmake --build "$top/build-test" -j "$jobs" >/dev/null
test_status=0
ctest --test-dir "$top/build-test" -j "$jobs" --output-on-failure || test_status=$?

if [ "$asan_status" -ne 0 ]; then
    echo "the sanitizer run failed (see above)" >&2
    exit "$asan_status"
fi
if [ "$fuzz_status" -ne 0 ]; then
    echo "the fuzz stage failed (see '== fuzz' above)" >&2
    exit "$fuzz_status"
fi
if [ "$windows_status" -ne 0 ]; then
    echo "the Windows stage failed (see '== Windows build' above)" >&2
    exit "$windows_status"
fi
exit "$test_status"
