/*
 * test_copy.c - plugin/core/copy.c: copying one file into its staging file,
 * block-hashed, journaled and resumable. Interruptions are made with a host
 * whose cancelled() turns true after a number of progress reports (one per
 * 4 MiB chunk), which makes the engine checkpoint and stop at a known block.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "copy.h"
#include "events.h"
#include "hash.h"
#include "journal.h"
#include "platform.h"
#include "test_fs.h"
#include "test_hashes.h"
#include "test_host.h"
#include "test_support.h"

#define BS (64u * 1024u)      /* the default block size */
#define CHUNK (4u << 20)      /* copy.c reads this much between progress reports */
#define CHUNK_BLOCKS (CHUNK / BS)

static th_host g_host; /* large: kept off the stack */

typedef struct fixture {
    char *dir, *source, *staging, *journal;
} fixture;

static void fixture_init(fixture *f, const char *name)
{
    f->dir = ts_temp_dir(name);
    f->source = ts_path(f->dir, "Mail.pst");
    f->staging = ts_path(f->dir, "Mail.pst.pstsnap.partial");
    f->journal = ts_path(f->dir, "Mail.journal");
    th_init(&g_host);
}

static void fixture_free(fixture *f)
{
    ts_remove_tree(f->dir);
    free(f->dir);
    free(f->source);
    free(f->staging);
    free(f->journal);
}

/* Deterministic bytes that differ from block to block. */
static unsigned char *make_data(size_t len, uint32_t seed)
{
    unsigned char *p = malloc(len ? len : 1);
    assert_non_null(p);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
    return p;
}

/* Set the file's mtime to `sec` seconds before now (well clear of the
 * timestamp granularity that makes equal mtimes prove nothing); a negative
 * `sec` is in the future. */
static void set_mtime_ago(const char *path, int sec)
{
    ts_set_mtime_ago(path, sec);
}

static void write_source(const char *path, const unsigned char *data, size_t len, int mtime_ago)
{
    ts_write_file(path, data, len);
    set_mtime_ago(path, mtime_ago);
}

static copy_request request_for(const fixture *f, uint32_t block_size)
{
    pf_stat st = ts_stat(f->source);
    copy_request r = {.read_path = f->source,
                      .live_path = f->source,
                      .live = 0,
                      .source_size = st.size,
                      .source_mtime_ns = st.mtime_ns,
                      .staging_path = f->staging,
                      .journal_path = f->journal,
                      .block_size = block_size,
                      .host = &g_host.host,
                      .progress_total = st.size};
    return r;
}

/* The staging file holds exactly `data`. */
static void assert_staged(const fixture *f, const unsigned char *data, size_t len)
{
    size_t got = 0;
    char *staged = ts_read_file(f->staging, &got);
    assert_int_equal(got, len);
    if (len && memcmp(staged, data, len) != 0) {
        size_t i = 0;
        while (staged[i] == (char)data[i])
            i++;
        fail_msg("staged copy differs from the source at byte %zu (block %zu)", i, i / BS);
    }
    free(staged);
}

/* The journal `f` holds a hash for every block of `data`, each right: what
 * publish, verify and the next blockmap read. */
static void assert_hashes(const fixture *f, const copy_result *res, const unsigned char *data,
                          size_t len, uint32_t bs)
{
    uint64_t blocks = (len + bs - 1) / bs;
    assert_int_equal(res->block_count, blocks);
    uint64_t *hashes = th_journaled_hashes(f->journal, blocks);
    for (uint64_t b = 0; b < blocks; b++) {
        size_t n = len - b * bs < bs ? len - b * bs : bs;
        if (hashes[b] != ps_hash64(data + b * bs, n))
            fail_msg("hash of block %llu is wrong", (unsigned long long)b);
    }
    free(hashes);
}

static ps_status run_copy(const copy_request *r, copy_result *res)
{
    ps_err err;
    ps_err_clear(&err);
    ps_status st = copy_file(r, res, &err);
    if (st != PS_OK)
        assert_int_equal(err.code, st);
    return st;
}

static void expect_copy_ok(const copy_request *r, copy_result *res)
{
    ps_err err;
    ps_err_clear(&err);
    ps_status st = copy_file(r, res, &err);
    if (st != PS_OK)
        fail_msg("copy_file: %s (%s)", ps_status_name(st), err.msg);
}

/* Copy with a host that stops after `chunks` chunks: PS_ERR_CANCELLED. */
static void interrupt_after(const copy_request *r, uint64_t chunks)
{
    copy_result res;
    g_host.cancel_after_progress = chunks;
    ps_err err;
    ps_err_clear(&err);
    assert_int_equal(copy_file(r, &res, &err), PS_ERR_CANCELLED);
    assert_int_equal(err.code, PS_ERR_CANCELLED);
    assert_non_null(strstr(err.msg, r->live_path));
    g_host.cancel_after_progress = 0;
    th_clear(&g_host);
}

static void test_fresh_copy_equals_the_source_for_every_size_boundary(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, BS - 1, BS, BS + 1, 2 * BS, 5 * CHUNK / 4 + 17, 2 * CHUNK};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        fixture f;
        fixture_init(&f, "copy_fresh");
        unsigned char *data = make_data(sizes[i], (uint32_t)i + 1);
        write_source(f.source, data, sizes[i], 100);
        copy_request r = request_for(&f, BS);
        copy_result res;
        expect_copy_ok(&r, &res);
        assert_int_equal(res.size, sizes[i]);
        assert_int_equal(res.bytes_read, sizes[i]);
        assert_int_equal(res.bytes_written, sizes[i]);
        assert_int_equal(res.reused_blocks, 0);
        assert_false(res.resumed);
        assert_staged(&f, data, sizes[i]);
        assert_hashes(&f, &res, data, sizes[i], BS);
        assert_int_equal(th_count(&g_host, PS_EV_RESUMED), 0);
        assert_int_equal(th_count(&g_host, PS_EV_JOURNAL_UNTRUSTED), 0);
        free(data);
        fixture_free(&f);
    }
}

static void test_each_block_is_hashed_with_the_configured_block_size(void **state)
{
    (void)state;
    const uint32_t sizes[] = {4096, 128u * 1024u, 4096u * 1024u};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        fixture f;
        fixture_init(&f, "copy_hashes");
        size_t len = 3 * (size_t)sizes[i] + 5;
        unsigned char *data = make_data(len, 7);
        write_source(f.source, data, len, 100);
        copy_request r = request_for(&f, sizes[i]);
        copy_result res;
        expect_copy_ok(&r, &res);
        assert_hashes(&f, &res, data, len, sizes[i]);
        assert_int_equal(res.block_count, 4);
        assert_staged(&f, data, len);
        free(data);
        fixture_free(&f);
    }
}

static void test_progress_reaches_the_run_total(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "copy_progress");
    size_t len = 2 * CHUNK + 3;
    unsigned char *data = make_data(len, 3);
    write_source(f.source, data, len, 100);
    copy_request r = request_for(&f, BS);
    r.progress_base = 1000;
    r.progress_total = 1000 + len + 500; /* other files of the run */
    copy_result res;
    expect_copy_ok(&r, &res);
    assert_int_equal(g_host.progress_calls, 3);
    assert_int_equal(g_host.last_done, 1000 + len);
    assert_int_equal(g_host.last_total, 1000 + len + 500);
    free(data);
    fixture_free(&f);
}

static void test_resume_with_an_unchanged_source_reuses_the_staged_blocks(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "copy_resume_same");
    size_t len = 3 * CHUNK + 1234;
    unsigned char *data = make_data(len, 11);
    write_source(f.source, data, len, 100);
    copy_request r = request_for(&f, BS);
    interrupt_after(&r, 1);
    assert_true(ts_exists(f.journal));

    copy_result res;
    expect_copy_ok(&r, &res);
    assert_true(res.resumed);
    assert_int_equal(res.reused_blocks, CHUNK_BLOCKS);
    assert_int_equal(res.bytes_read, len - CHUNK);
    assert_int_equal(res.bytes_written, len - CHUNK);
    assert_staged(&f, data, len);
    assert_hashes(&f, &res, data, len, BS);
    const th_event *ev = th_find(&g_host, PS_EV_RESUMED);
    assert_non_null(ev);
    assert_int_equal(ev->level, PS_INFO);
    assert_non_null(strstr(ev->message, f.source));
    assert_non_null(strstr(ev->detail, "\"sourceUnchanged\":true"));
    free(data);
    fixture_free(&f);
}

static void test_copy_that_completed_but_was_not_published_is_not_read_again(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "copy_resume_complete");
    size_t len = CHUNK + 77;
    unsigned char *data = make_data(len, 12);
    write_source(f.source, data, len, 100);
    copy_request r = request_for(&f, BS);
    copy_result res;
    expect_copy_ok(&r, &res);
    /* Killed before publishing: the journal and the staging file remain. */
    expect_copy_ok(&r, &res);
    assert_true(res.resumed);
    assert_int_equal(res.reused_blocks, (len + BS - 1) / BS);
    assert_int_equal(res.bytes_read, 0);
    assert_int_equal(res.bytes_written, 0);
    assert_staged(&f, data, len);
    assert_hashes(&f, &res, data, len, BS);
    free(data);
    fixture_free(&f);
}

static void test_resume_with_a_changed_source_rewrites_only_what_differs(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "copy_resume_changed");
    size_t len = 3 * CHUNK + 999;
    unsigned char *data = make_data(len, 13);
    write_source(f.source, data, len, 200);
    copy_request r = request_for(&f, BS);
    interrupt_after(&r, 1); /* blocks 0..63 staged */

    /* Outlook wrote a few bytes into a staged block and into a later one. */
    data[3 * BS + 10] ^= 0xff;
    data[3 * BS + 11] ^= 0xff;
    data[100 * BS + 5] ^= 0xff;
    write_source(f.source, data, len, 100);
    r = request_for(&f, BS);

    copy_result res;
    expect_copy_ok(&r, &res);
    assert_true(res.resumed);
    assert_int_equal(res.reused_blocks, 0); /* re-checked, not taken on trust */
    assert_int_equal(res.bytes_read, len);
    /* One staged block rewritten, plus everything never staged. */
    assert_int_equal(res.bytes_written, BS + (len - CHUNK));
    assert_true(res.bytes_written < len);
    assert_staged(&f, data, len);
    assert_hashes(&f, &res, data, len, BS);
    const th_event *ev = th_find(&g_host, PS_EV_RESUMED);
    assert_non_null(ev);
    assert_non_null(strstr(ev->detail, "\"sourceUnchanged\":false"));
    /* The old journal was set aside for the re-check, and is gone. */
    char *aside = journal_aside_path(f.journal);
    assert_false(ts_exists(aside));

    /* One a killed run left behind is removed by the next copy, and never
     * read: here it vouches for blocks the staging file does not hold. */
    assert_int_equal(pf_unlink(f.journal, NULL), PS_OK);
    assert_int_equal(pf_unlink(f.staging, NULL), PS_OK);
    interrupt_after(&r, 1);
    assert_int_equal(pf_rename_replace(f.journal, aside, NULL), PS_OK);
    data[5 * BS] ^= 0xff;
    write_source(f.source, data, len, 50);
    r = request_for(&f, BS);
    expect_copy_ok(&r, &res);
    assert_false(res.resumed);
    assert_false(ts_exists(aside));
    assert_staged(&f, data, len);
    assert_hashes(&f, &res, data, len, BS);
    free(aside);
    free(data);
    fixture_free(&f);
}

static void test_same_size_and_mtime_within_the_timestamp_granularity_are_rechecked(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "copy_resume_racy");
    size_t len = 2 * CHUNK + 5;
    unsigned char *data = make_data(len, 14);
    /* An mtime at (or after) the moment the journal starts is "racy". */
    write_source(f.source, data, len, -5);
    copy_request r = request_for(&f, BS);
    interrupt_after(&r, 1);
    /* A write in the same clock tick would leave size and mtime as they
     * were: simulate it by restoring the mtime after changing a block. */
    int64_t mtime = ts_mtime_ns(f.source);
    data[2 * BS] ^= 1;
    ts_write_file(f.source, data, len);
    ts_set_mtime_ns(f.source, mtime);
    copy_request r2 = request_for(&f, BS);
    assert_true(r2.source_mtime_ns == r.source_mtime_ns);

    copy_result res;
    expect_copy_ok(&r2, &res);
    assert_int_equal(res.reused_blocks, 0);
    assert_staged(&f, data, len);
    assert_int_equal(res.bytes_written, BS + (len - CHUNK));
    free(data);
    fixture_free(&f);
}

static void test_resume_never_mixes_two_snapshots_of_one_source(void **state)
{
    (void)state;
    /* Run 1 read snapshot A and was interrupted. Before run 2's snapshot,
     * Outlook wrote again: discovery still saw the old size and mtime, but
     * snapshot B (read_path) holds new bytes and a newer mtime. The staged
     * blocks of A must not be taken on trust next to B's. */
    fixture f;
    fixture_init(&f, "copy_resume_two_snapshots");
    char *snap = ts_path(f.dir, "snapshot-view.pst");
    size_t len = 2 * CHUNK + 100;
    unsigned char *a = make_data(len, 15);
    write_source(f.source, a, len, 300);
    write_source(snap, a, len, 300);
    copy_request r = request_for(&f, BS);
    r.read_path = snap;
    interrupt_after(&r, 1);

    unsigned char *b = make_data(len, 16);
    write_source(snap, b, len, 100); /* as the second snapshot shows it */
    copy_result res;
    expect_copy_ok(&r, &res);
    assert_staged(&f, b, len);
    assert_hashes(&f, &res, b, len, BS);
    free(a);
    free(b);
    free(snap);
    fixture_free(&f);
}

static void test_live_copy_refuses_a_source_that_moved(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "copy_live_moved");
    size_t len = CHUNK + 10;
    unsigned char *data = make_data(len, 17);
    write_source(f.source, data, len, 100);
    copy_request r = request_for(&f, BS);
    r.live = 1;
    copy_result res;
    /* Unmoved: fine. */
    expect_copy_ok(&r, &res);
    ts_remove_tree(f.staging);
    ts_remove_tree(f.journal);

    /* Discovery saw another mtime than the file now has. */
    copy_request moved = r;
    moved.source_mtime_ns -= 1000000000LL;
    ps_err err;
    assert_int_equal(copy_file(&moved, &res, &err), PS_ERR_CHANGED);
    assert_int_equal(err.code, PS_ERR_CHANGED);
    assert_non_null(strstr(err.msg, f.source));
    assert_non_null(strstr(err.msg, "changed while it was copied without a snapshot"));

    /* Discovery saw another size. */
    moved = r;
    moved.source_size += 1;
    assert_int_equal(copy_file(&moved, &res, &err), PS_ERR_CHANGED);

    /* The same request with live = 0 (a snapshot) trusts the frozen view. */
    moved.live = 0;
    assert_int_equal(run_copy(&moved, &res), PS_OK);
    free(data);
    fixture_free(&f);
}

/* Progress hook that appends to the source after the first chunk: Outlook
 * writing while the file is read without a snapshot. */
static const char *g_grow_path;
static void grow_on_progress(void *ctx, uint64_t done, uint64_t total)
{
    th_host *t = ctx;
    if (t->progress_calls++ == 0) {
        FILE *fp = fopen(g_grow_path, "ab");
        assert_non_null(fp);
        fputs("new mail", fp);
        fclose(fp);
    }
    t->last_done = done;
    t->last_total = total;
}

static void test_live_copy_refuses_a_source_written_during_the_copy(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "copy_live_written");
    size_t len = 2 * CHUNK;
    unsigned char *data = make_data(len, 18);
    write_source(f.source, data, len, 100);
    copy_request r = request_for(&f, BS);
    r.live = 1;
    g_grow_path = f.source;
    g_host.host.progress = grow_on_progress;
    copy_result res;
    ps_err err;
    assert_int_equal(copy_file(&r, &res, &err), PS_ERR_CHANGED);
    free(data);
    fixture_free(&f);
}

static void test_stale_staging_file_without_journal_is_cut_to_the_source(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "copy_stale_staging");
    size_t len = BS + 3;
    unsigned char *data = make_data(len, 19);
    unsigned char *junk = make_data(10 * BS, 20);
    write_source(f.source, data, len, 100);
    ts_write_file(f.staging, junk, 10 * BS);
    copy_request r = request_for(&f, BS);
    copy_result res;
    expect_copy_ok(&r, &res);
    assert_false(res.resumed);
    assert_staged(&f, data, len);
    free(junk);
    free(data);
    fixture_free(&f);
}

static void test_staging_shrinks_when_the_source_got_shorter(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "copy_shorter");
    size_t len = 3 * CHUNK;
    unsigned char *data = make_data(len, 21);
    write_source(f.source, data, len, 200);
    copy_request r = request_for(&f, BS);
    interrupt_after(&r, 2); /* 8 MiB staged */
    assert_true(ts_stat(f.staging).size >= 2 * CHUNK);

    /* Compacted: now shorter than what is staged, ending mid-block. */
    size_t shorter = CHUNK + BS / 2;
    write_source(f.source, data, shorter, 100);
    r = request_for(&f, BS);
    copy_result res;
    expect_copy_ok(&r, &res);
    assert_int_equal(res.size, shorter);
    assert_staged(&f, data, shorter);
    assert_hashes(&f, &res, data, shorter, BS);
    /* Only the now-partial last block had to be written again. */
    assert_int_equal(res.bytes_written, BS / 2);
    free(data);
    fixture_free(&f);
}

static void test_bandwidth_limit_slows_the_copy_down(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "copy_bandwidth");
    size_t len = 2 * CHUNK; /* 8 MiB at 16 MiB/s: at least 500 ms */
    unsigned char *data = make_data(len, 22);
    write_source(f.source, data, len, 100);
    copy_request r = request_for(&f, BS);
    r.max_bandwidth_mibps = 16;
    uint64_t start = pf_monotonic_ms();
    copy_result res;
    expect_copy_ok(&r, &res);
    uint64_t took = pf_monotonic_ms() - start;
    if (took < 400)
        fail_msg("8 MiB at 16 MiB/s took only %llu ms", (unsigned long long)took);
    assert_staged(&f, data, len);
    free(data);
    fixture_free(&f);
}

static void test_cancellation_stops_a_throttled_copy_promptly(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "copy_bandwidth_cancel");
    size_t len = 4 * CHUNK; /* 16 MiB at 1 MiB/s would take 16 s */
    unsigned char *data = make_data(len, 23);
    write_source(f.source, data, len, 100);
    copy_request r = request_for(&f, BS);
    r.max_bandwidth_mibps = 1;
    uint64_t start = pf_monotonic_ms();
    interrupt_after(&r, 1);
    uint64_t took = pf_monotonic_ms() - start;
    if (took > 2000)
        fail_msg("cancellation took %llu ms", (unsigned long long)took);
    free(data);
    fixture_free(&f);
}

static void test_corrupt_journal_is_reported_and_the_copy_restarts(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "copy_journal_corrupt");
    size_t len = 2 * CHUNK + 1;
    unsigned char *data = make_data(len, 24);
    write_source(f.source, data, len, 100);
    copy_request r = request_for(&f, BS);
    interrupt_after(&r, 1);
    /* Damage the journal header. */
    size_t jlen = 0;
    char *j = ts_read_file(f.journal, &jlen);
    j[20] ^= 1;
    ts_write_file(f.journal, j, jlen);
    free(j);

    copy_result res;
    expect_copy_ok(&r, &res);
    assert_false(res.resumed);
    assert_int_equal(res.reused_blocks, 0);
    assert_int_equal(res.bytes_read, len);
    assert_int_equal(res.bytes_written, len);
    assert_staged(&f, data, len);
    const th_event *ev = th_find(&g_host, PS_EV_JOURNAL_UNTRUSTED);
    assert_non_null(ev);
    assert_int_equal(ev->level, PS_WARNING);
    assert_string_equal(ev->name, "pstsnap.journal.untrusted");
    assert_non_null(strstr(ev->message, f.source));
    assert_non_null(strstr(ev->message, "checksum"));
    assert_int_equal(th_count(&g_host, PS_EV_RESUMED), 0);

    /* The restarted copy left a good journal behind: a third run reuses. */
    th_clear(&g_host);
    expect_copy_ok(&r, &res);
    assert_int_equal(res.bytes_read, 0);
    assert_int_equal(th_count(&g_host, PS_EV_JOURNAL_UNTRUSTED), 0);
    free(data);
    fixture_free(&f);
}

static void test_journal_of_another_block_size_is_not_reused(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "copy_journal_block_size");
    size_t len = 2 * CHUNK + 1;
    unsigned char *data = make_data(len, 25);
    write_source(f.source, data, len, 100);
    copy_request r = request_for(&f, BS);
    interrupt_after(&r, 1);
    copy_request other = request_for(&f, 2 * BS);
    copy_result res;
    expect_copy_ok(&other, &res);
    assert_false(res.resumed);
    assert_int_equal(res.bytes_read, len);
    assert_staged(&f, data, len);
    assert_hashes(&f, &res, data, len, 2 * BS);
    free(data);
    fixture_free(&f);
}

static void test_missing_or_linked_source_is_refused(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "copy_bad_source");
    copy_request r = {.read_path = f.source, .live_path = f.source, .staging_path = f.staging,
                      .journal_path = f.journal, .block_size = BS, .host = &g_host.host};
    copy_result res;
    assert_int_equal(run_copy(&r, &res), PS_ERR_NOTFOUND);
    assert_false(ts_exists(f.staging));
    char *real = ts_path(f.dir, "real.pst");
    ts_write_file(real, "x", 1);
    if (ts_symlink(real, f.source, 0) != 0)
        skip(); /* no symbolic links here (Windows without the right) */
    assert_int_equal(run_copy(&r, &res), PS_ERR_UNSAFE);
    assert_false(ts_exists(f.staging));
    free(real);
    fixture_free(&f);
}

static void test_staging_path_that_is_a_link_is_never_written_through(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "copy_staging_link");
    unsigned char *data = make_data(100, 26);
    write_source(f.source, data, 100, 100);
    char *victim = ts_path(f.dir, "victim");
    ts_write_file(victim, "keep", 4);
    if (ts_symlink(victim, f.staging, 0) != 0)
        skip();
    copy_request r = request_for(&f, BS);
    copy_result res;
    assert_int_not_equal(run_copy(&r, &res), PS_OK);
    size_t len = 0;
    char *kept = ts_read_file(victim, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(kept, "keep", 4);
    free(kept);
    free(victim);
    free(data);
    fixture_free(&f);
}

/* A volume that cannot clone (ext4, NTFS, a network share): the base and
 * its blockmap are offered, the copy writes in full and is right. The
 * delta itself is tested on btrfs in test_copy_reflink.c. */
static void test_base_on_a_volume_that_cannot_clone_gets_a_full_write(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "copy_base_no_clone");
    size_t len = 2 * CHUNK + 5;
    unsigned char *data = make_data(len, 31);
    write_source(f.source, data, len, 100);
    copy_request r = request_for(&f, BS);
    copy_result res;
    expect_copy_ok(&r, &res);
    char *final = ts_path(f.dir, "Mail backup.pst");
    assert_int_equal(pf_rename_replace(f.staging, final, NULL), PS_OK);
    assert_int_equal(pf_unlink(f.journal, NULL), PS_OK);
    pf_stat st = ts_stat(final);
    ps_blockmap fields = {.block_size = BS, .size = st.size, .file_id = st.ino,
                          .mtime_ns = st.mtime_ns, .ctime_ns = st.ctime_ns,
                          .block_count = res.block_count}, base;
    uint64_t *published = th_block_hashes(data, len, BS, &fields.block_count);
    char *bm_path = ts_path(f.dir, "Mail.blocks");
    th_blockmap_write(bm_path, &fields, published, &base);
    free(published);
    free(bm_path);
    data[BS + 1] ^= 1;
    write_source(f.source, data, len, 50);
    r = request_for(&f, BS);
    r.base_path = final;
    r.base = &base;
    copy_result again;
    ps_err err;
    ps_status s = copy_file(&r, &again, &err);
    if (s != PS_OK)
        fail_msg("copy_file: %s", err.msg);
    if (!again.cloned) {
        assert_int_equal(again.bytes_written, len);
        assert_int_equal(again.cloned_blocks, 0);
    } else {
        /* This temp folder is on a volume that clones (btrfs, XFS). */
        assert_int_equal(again.bytes_written, BS);
    }
    assert_staged(&f, data, len);
    assert_hashes(&f, &again, data, len, BS);
    blockmap_free(&base);
    free(final);
    free(data);
    fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_copy_equals_the_source_for_every_size_boundary),
        cmocka_unit_test(test_each_block_is_hashed_with_the_configured_block_size),
        cmocka_unit_test(test_progress_reaches_the_run_total),
        cmocka_unit_test(test_resume_with_an_unchanged_source_reuses_the_staged_blocks),
        cmocka_unit_test(test_copy_that_completed_but_was_not_published_is_not_read_again),
        cmocka_unit_test(test_resume_with_a_changed_source_rewrites_only_what_differs),
        cmocka_unit_test(test_same_size_and_mtime_within_the_timestamp_granularity_are_rechecked),
        cmocka_unit_test(test_resume_never_mixes_two_snapshots_of_one_source),
        cmocka_unit_test(test_live_copy_refuses_a_source_that_moved),
        cmocka_unit_test(test_live_copy_refuses_a_source_written_during_the_copy),
        cmocka_unit_test(test_stale_staging_file_without_journal_is_cut_to_the_source),
        cmocka_unit_test(test_staging_shrinks_when_the_source_got_shorter),
        cmocka_unit_test(test_bandwidth_limit_slows_the_copy_down),
        cmocka_unit_test(test_cancellation_stops_a_throttled_copy_promptly),
        cmocka_unit_test(test_corrupt_journal_is_reported_and_the_copy_restarts),
        cmocka_unit_test(test_journal_of_another_block_size_is_not_reused),
        cmocka_unit_test(test_missing_or_linked_source_is_refused),
        cmocka_unit_test(test_staging_path_that_is_a_link_is_never_written_through),
        cmocka_unit_test(test_base_on_a_volume_that_cannot_clone_gets_a_full_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
