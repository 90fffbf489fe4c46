#!/bin/sh
# test.sh - install what is needed, build, and run every test.
#
#   deploy/test.sh        (as root: the snapshot tests mount loop images;
#                          as a user they are reported skipped)
#
# Two builds:
#   build-asan  AddressSanitizer + UndefinedBehaviorSanitizer; runs the unit
#               and host tests, so memory errors in the host and the engine
#               fail the run;
#   build-test  warnings as errors, fault points compiled in; runs the whole
#               suite. Its ctest summary is the last thing printed.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)

"$top/deploy/setup.sh"

echo "== sanitizer build (ASan + UBSan)"
cmake -S "$top" -B "$top/build-asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
      -DPSTSNAP_SANITIZE=ON -DPSTSNAP_WERROR=ON >/dev/null
cmake --build "$top/build-asan" -j "$jobs" >/dev/null
asan_status=0
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir "$top/build-asan" -L 'unit|emhost' -j "$jobs" --output-on-failure \
    || asan_status=$?

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
exit "$test_status"
