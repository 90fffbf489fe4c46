#!/bin/bash
# pagecheck_selftest.sh - prove that pagecheck tells a point-in-time copy from
# a copy that mixes moments, before the integration tests trust its verdicts.
#
# A pagewriter runs for a second or two. While it runs, copies are taken in
# two ways: frozen (the writer stopped with SIGSTOP, so the file cannot move
# while cp reads it: the reference for a snapshot) and live (plain cp, for
# information only: a live copy may or may not happen to be consistent).
# From the frozen copies the script then builds copies that pagecheck must
# reject: two moments spliced together, a corrupted page, a page mixed from
# two writes, wrong sizes.
#
# Environment: PAGEWRITER, PAGECHECK (required), PSTREWRITER and
# PSTSNAP_SAMPLES_DIR (optional: the pstrewriter check is skipped without
# them), PAGECHECK_SELFTEST_TMP (work folder, emptied first; a fresh mktemp
# folder when unset). Exit 0 only if every expectation held.
set -u

: "${PAGEWRITER:?set PAGEWRITER to the pagewriter executable}"
: "${PAGECHECK:?set PAGECHECK to the pagecheck executable}"

PAGES=2048
PAGE_SIZE=4096
HALF=$((PAGES / 2))

TMP=${PAGECHECK_SELFTEST_TMP:-$(mktemp -d)}
rm -rf "$TMP" && mkdir -p "$TMP" || exit 2
FILE=$TMP/data.pgw
LOG=$TMP/data.log

passed=0
failed=0
writer_pid=

pass() {
    passed=$((passed + 1))
    echo "PASS: $1"
}

fail() {
    failed=$((failed + 1))
    echo "FAIL: $1"
}

# Never leave a stopped writer behind, whatever way the script ends.
stop_writer() {
    if [ -n "$writer_pid" ] && kill -0 "$writer_pid" 2>/dev/null; then
        kill -CONT "$writer_pid" 2>/dev/null
        kill -TERM "$writer_pid" 2>/dev/null
        wait "$writer_pid" 2>/dev/null
    fi
    writer_pid=
}
trap stop_writer EXIT

# expect NAME WANT_EXIT REGEX COMMAND... : run COMMAND, show its output, and
# pass if it exits WANT_EXIT and some output line matches REGEX.
expect() {
    local name=$1 want_exit=$2 regex=$3
    shift 3
    local out rc
    out=$("$@" 2>&1)
    rc=$?
    printf '%s\n' "$out" | sed 's/^/    /'
    if [ "$rc" -eq "$want_exit" ] && printf '%s\n' "$out" | grep -Eq -- "$regex"; then
        pass "$name"
    else
        fail "$name (exit $rc, wanted $want_exit and a line matching /$regex/)"
    fi
}

# kill -STOP returns before the target has stopped; until it has, it may be
# inside a pwrite and cp could read half a page. /proc shows state T once the
# stop has really happened.
wait_until_stopped() {
    local pid=$1 state i
    for i in $(seq 500); do
        state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)
        case $state in
        T | t) return 0 ;;
        '' | Z | X) return 1 ;;
        esac
        sleep 0.01
    done
    return 1
}

# frozen_copy DEST: copy FILE while the writer is stopped.
frozen_copy() {
    kill -STOP "$writer_pid" 2>/dev/null || return 1
    if ! wait_until_stopped "$writer_pid"; then
        kill -CONT "$writer_pid" 2>/dev/null
        return 1
    fi
    cp "$FILE" "$1"
    local rc=$?
    kill -CONT "$writer_pid"
    return $rc
}

max_generation() {
    "$PAGEWRITER" stat "$1" | sed -n 's/.* max_generation \([0-9]*\) .*/\1/p'
}

log_records() {
    echo $(($(stat -c %s "$LOG" 2>/dev/null || echo 0) / 16))
}

# --- the writer and its copies -------------------------------------------

"$PAGEWRITER" create "$FILE" --pages "$PAGES" --page-size "$PAGE_SIZE" || exit 2
# The writer is stopped with SIGTERM once the copies are taken (which also
# proves it exits cleanly on it); --seconds is only a safety net. Each copy
# waits for a number of writes rather than for a time, so a loaded machine
# makes the test slower, not flaky.
"$PAGEWRITER" run "$FILE" --log "$LOG" --seconds 60 --rate 200000 --seed 1 \
    >"$TMP/run1.out" 2>&1 &
writer_pid=$!

# wait_for_records N: until the log holds N records (at most 20 s).
wait_for_records() {
    local i
    for i in $(seq 2000); do
        [ "$(log_records)" -ge "$1" ] && return 0
        sleep 0.01
    done
    return 1
}

copies_ok=1
wait_for_records 5000 || copies_ok=0
frozen_copy "$TMP/early.pgw" || copies_ok=0
early_gen=$(max_generation "$TMP/early.pgw")
early_gen=${early_gen:-0}
for i in 1 2 3; do
    wait_for_records $((early_gen + i * PAGES)) || copies_ok=0
    cp "$FILE" "$TMP/live$i.pgw"
done
wait_for_records $((early_gen + 4 * PAGES)) || copies_ok=0
frozen_copy "$TMP/late.pgw" || copies_ok=0
late_gen=$(max_generation "$TMP/late.pgw")
sleep 0.5

kill -TERM "$writer_pid"
wait "$writer_pid"
writer_rc=$?
writer_pid=
sed 's/^/    /' "$TMP/run1.out"
if [ "$writer_rc" -eq 0 ] && [ "$copies_ok" -eq 1 ]; then
    pass "frozen copies taken; writer exited 0 on SIGTERM"
else
    fail "writer exit $writer_rc, frozen copies taken: $copies_ok"
    echo "pagecheck selftest: $passed passed, $failed failed"
    exit 1
fi

# The splice test below only means something if many pages changed between
# the two copies.
if [ -n "$early_gen" ] && [ -n "$late_gen" ] &&
    [ "$late_gen" -ge $((early_gen + 2 * PAGES)) ]; then
    pass "copies are far apart (generation $early_gen, then $late_gen)"
else
    fail "copies too close (generation '$early_gen', then '$late_gen')"
fi

# --- verdicts ----------------------------------------------------------------

expect "early frozen copy is consistent" 0 "^consistent: snapshot at generation in \[$early_gen, " \
    "$PAGECHECK" "$TMP/early.pgw" "$LOG" --original-pages "$PAGES"
expect "late frozen copy is consistent" 0 "^consistent: snapshot at generation in \[$late_gen, " \
    "$PAGECHECK" "$TMP/late.pgw" "$LOG" --original-pages "$PAGES"

# The first half as it was early, the second half as it was late: no single
# moment shows both.
{
    head -c $((HALF * PAGE_SIZE)) "$TMP/early.pgw"
    tail -c +$((HALF * PAGE_SIZE + 1)) "$TMP/late.pgw"
} >"$TMP/spliced.pgw"
expect "copy spliced from two moments is inconsistent" 1 \
    "^inconsistent: pages [0-9]+ \(gen [0-9]+\) and [0-9]+ \(gen [0-9]+\) cannot coexist" \
    "$PAGECHECK" "$TMP/spliced.pgw" "$LOG" --original-pages "$PAGES"

cp "$TMP/late.pgw" "$TMP/corrupt.pgw"
printf 'CORRUPTED BYTES!' |
    dd of="$TMP/corrupt.pgw" bs=1 seek=$((1000 * PAGE_SIZE + 2000)) conv=notrunc status=none
expect "copy with a corrupted page reports it torn" 1 "^torn page 1000 " \
    "$PAGECHECK" "$TMP/corrupt.pgw" "$LOG"

# A page whose first half is one write and second half another: what a
# reader racing a pwrite can see. Pick a page that differs between the copies.
first_diff=$(cmp -l "$TMP/early.pgw" "$TMP/late.pgw" 2>/dev/null | head -n 1 | awk '{print $1}')
if [ -n "$first_diff" ]; then
    mixed_page=$(((first_diff - 1) / PAGE_SIZE))
    cp "$TMP/late.pgw" "$TMP/mixed.pgw"
    dd if="$TMP/early.pgw" of="$TMP/mixed.pgw" bs=$((PAGE_SIZE / 2)) \
        skip=$((2 * mixed_page + 1)) seek=$((2 * mixed_page + 1)) count=1 conv=notrunc status=none
    expect "page mixed from two writes is torn" 1 "^torn page $mixed_page " \
        "$PAGECHECK" "$TMP/mixed.pgw" "$LOG"
else
    fail "early and late copies are identical"
fi

head -c $(((PAGES - 1) * PAGE_SIZE)) "$TMP/late.pgw" >"$TMP/short.pgw"
expect "copy one page short is the wrong size" 1 "^wrong size" \
    "$PAGECHECK" "$TMP/short.pgw" "$LOG" --original-pages "$PAGES"
head -c $(((PAGES - 1) * PAGE_SIZE + 100)) "$TMP/late.pgw" >"$TMP/partial.pgw"
expect "copy ending in a partial page is the wrong size" 1 "^wrong size" \
    "$PAGECHECK" "$TMP/partial.pgw" "$LOG"

expect "missing log is a usage error" 2 "cannot open log" \
    "$PAGECHECK" "$TMP/late.pgw" "$TMP/no-such.log"

# A live copy read while pages change is usually inconsistent, but need not
# be: reported, never judged.
for i in 1 2 3; do
    echo "info: live cp copy $i: $("$PAGECHECK" "$TMP/live$i.pgw" "$LOG" 2>&1 | head -n 1)"
done

# --- a second run carries on -------------------------------------------------

before=$(max_generation "$FILE")
"$PAGEWRITER" run "$FILE" --log "$LOG" --seconds 0.3 --rate 20000 >/dev/null
after=$(max_generation "$FILE")
if [ -n "$before" ] && [ -n "$after" ] && [ "$after" -gt "$before" ]; then
    pass "second run continues the generations ($before, then $after)"
else
    fail "second run did not continue the generations ('$before', then '$after')"
fi
expect "file at rest is consistent up to its last generation" 0 \
    "^consistent: snapshot at generation in \[[0-9]+, $after\], pages $PAGES\$" \
    "$PAGECHECK" "$FILE" "$LOG" --original-pages "$PAGES"

# --- pstrewriter -------------------------------------------------------------

sample=
if [ -n "${PSTREWRITER:-}" ] && [ -d "${PSTSNAP_SAMPLES_DIR:-}" ]; then
    sample=$(find "$PSTSNAP_SAMPLES_DIR" -maxdepth 1 -name '*.pst' -size +100k | sort | head -n 1)
fi
if [ -n "$sample" ]; then
    cp "$sample" "$TMP/sample.pst" && chmod u+w "$TMP/sample.pst"
    touch -d '2001-01-01 00:00:00' "$TMP/sample.pst"
    mtime_before=$(stat -c %Y "$TMP/sample.pst")
    out=$("$PSTREWRITER" "$TMP/sample.pst" --seconds 0.5 --seed 7)
    rc=$?
    echo "    $out"
    if [ "$rc" -eq 0 ] && [[ $out =~ ^pstrewriter:\ [1-9][0-9]*\ rewrites$ ]] &&
        cmp -s "$sample" "$TMP/sample.pst" &&
        [ "$(stat -c %Y "$TMP/sample.pst")" != "$mtime_before" ]; then
        pass "pstrewriter keeps every byte and moves the mtime"
    else
        fail "pstrewriter (exit $rc; bytes or mtime wrong)"
    fi
else
    echo "SKIP: pstrewriter check (no PSTREWRITER or no sample PST)"
fi

echo "pagecheck selftest: $passed passed, $failed failed"
if [ "$failed" -ne 0 ]; then
    echo "files kept in $TMP"
    exit 1
fi
rm -rf "$TMP"
exit 0
