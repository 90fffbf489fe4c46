#!/bin/sh
# Run the libFuzzer targets of a fuzz build (cmake -DPSTSNAP_FUZZ=ON with
# CC=clang) for SECONDS each and print the executions of each.
#
#   tests/fuzz/run.sh SECONDS [FUZZ_BIN_DIR [TARGET...]]
#
# FUZZ_BIN_DIR is the build's tests/fuzz folder (default build-fuzz/tests/fuzz).
# Each target starts from its committed seeds (tests/fuzz/corpus/<target>);
# what it learns goes to FUZZ_BIN_DIR/corpus-work/<target>, never into the
# source tree, and a crash is saved as FUZZ_BIN_DIR/findings/<target>/crash-*.
# Exit 0 when no target found anything, 1 otherwise.
#
# FUZZ_RUNS=N stops each target after N executions instead of after
# SECONDS (the long campaigns the README reports: FUZZ_RUNS=10000000).
set -u
secs=${1:?usage: run.sh SECONDS [FUZZ_BIN_DIR [TARGET...]]}
here=$(cd "$(dirname "$0")" && pwd)
bin=${2:-$here/../../build-fuzz/tests/fuzz}
[ $# -ge 2 ] && shift 2 || shift $#
targets=${*:-fuzz_policy fuzz_params fuzz_manifest fuzz_journal fuzz_blockmap fuzz_glob fuzz_vars}
status=0
for t in $targets; do
    exe=$bin/$t
    if [ ! -x "$exe" ]; then
        echo "$t: not built ($exe); configure with CC=clang -DPSTSNAP_FUZZ=ON" >&2
        status=1
        continue
    fi
    work=$bin/corpus-work/$t
    findings=$bin/findings/$t
    mkdir -p "$work" "$findings"
    log=$bin/$t.log
    # -rss_limit_mb: a parser asked to allocate what a hostile size says is
    # a finding too. ASan's leak check stays on (-detect_leaks default).
    if [ -n "${FUZZ_RUNS:-}" ]; then
        limit="-runs=$FUZZ_RUNS"
    else
        limit="-max_total_time=$secs"
    fi
    start=$(date +%s)
    "$exe" "$limit" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="$findings/" "$work" "$here/corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    took=$(($(date +%s) - start))
    if [ $rc -eq 0 ]; then
        echo "$t: ${execs:-0} execs, no finding (${took} s)"
    else
        echo "$t: ${execs:-?} execs, FINDING (exit $rc), see $log and $findings"
        grep -E "ERROR|SUMMARY|runtime error" "$log" | head -n 5
        status=1
    fi
done
exit $status
