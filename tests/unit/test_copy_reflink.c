/*
 * test_copy_reflink.c - plugin/core/copy.c's delta: the staging file starts
 * as a clone of the last published backup and only changed blocks are
 * written. Needs a btrfs mount in PSTSNAP_BTRFS_MNT with a subvolume "home"
 * (tests/tools/btrfs-loop.sh); skipped otherwise. The plain-filesystem
 * fallback is tested in test_copy.c.
 *
 * "Only changed blocks were written" is proven twice: by the copy's own
 * count (bytes_written) and by the filesystem (FIEMAP): the unchanged
 * extents of the staging file are shared with the backup.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#ifndef __linux__
#include "test_support.h"
int main(void)
{
    ts_skip("extent clones (FICLONERANGE) are tested on Linux only");
    return 0;
}
#else

#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "blockmap.h"
#include "copy.h"
#include "hash.h"
#include "platform.h"
#include "test_fs.h"
#include "test_hashes.h"
#include "test_host.h"
#include "test_support.h"

#define BS (64u * 1024u)
#define SIZE (8u << 20) /* two 4 MiB chunks of copy.c */
#define BLOCKS (SIZE / BS)

static const char *home;
static th_host g_host;

typedef struct fixture {
    char *dir, *source, *final, *staging, *journal, *blockmap;
    unsigned char *data; /* what the source holds now */
    size_t len;
    ps_blockmap base; /* of the published backup */
} fixture;

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

static void write_source(fixture *f)
{
    ts_write_file(f->source, f->data, f->len);
    ts_set_mtime_ago(f->source, 3600);
}

static copy_request request_for(fixture *f)
{
    pf_stat st = ts_stat(f->source);
    copy_request r = {.read_path = f->source,
                      .live_path = f->source,
                      .source_size = st.size,
                      .source_mtime_ns = st.mtime_ns,
                      .staging_path = f->staging,
                      .journal_path = f->journal,
                      .block_size = BS,
                      .host = &g_host.host,
                      .progress_total = st.size,
                      .base_path = f->final,
                      .base = blockmap_loaded(&f->base) ? &f->base : NULL};
    return r;
}

static void copy_ok(const copy_request *r, copy_result *res)
{
    ps_err err;
    ps_err_clear(&err);
    ps_status s = copy_file(r, res, &err);
    if (s != PS_OK)
        fail_msg("copy_file: %s (%s)", ps_status_name(s), err.msg);
}

/* Publish the staged copy as the pipeline does: rename, then record the
 * blockmap of what the final file now is. */
static void publish(fixture *f, copy_result *res)
{
    assert_int_equal(rename(f->staging, f->final), 0);
    uint64_t *hashes = th_journaled_hashes(f->journal, res->block_count);
    unlink(f->journal);
    pf_stat st = ts_stat(f->final);
    blockmap_free(&f->base);
    ps_blockmap fields = {.block_size = BS,
                          .size = st.size,
                          .file_id = st.ino,
                          .mtime_ns = st.mtime_ns,
                          .ctime_ns = st.ctime_ns,
                          .block_count = res->block_count};
    th_blockmap_write(f->blockmap, &fields, hashes, &f->base);
    free(hashes);
}

/* The blockmap as the next run loads it from its file. */
static void reload_base(fixture *f)
{
    ps_err err;
    blockmap_free(&f->base);
    if (blockmap_load(f->blockmap, &f->base, &err) != PS_OK)
        fail_msg("blockmap_load: %s", err.msg);
}

static void fixture_init(fixture *f, const char *name)
{
    memset(f, 0, sizeof *f);
    char leaf[128];
    snprintf(leaf, sizeof leaf, "copy-reflink-%s-%ld", name, (long)getpid());
    f->dir = ts_path(home, leaf);
    ts_remove_tree(f->dir);
    if (mkdir(f->dir, 0755) != 0)
        fail_msg("cannot create '%s': %s", f->dir, strerror(errno));
    f->source = ts_path(f->dir, "Mail.pst");
    f->final = ts_path(f->dir, "Mail backup.pst");
    f->staging = ts_path(f->dir, "Mail backup.pst.pstsnap.partial");
    f->journal = ts_path(f->dir, "Mail.journal");
    f->blockmap = ts_path(f->dir, "Mail.blocks");
    th_init(&g_host);
    f->len = SIZE;
    f->data = make_data(f->len, 7);
    write_source(f);
    copy_result res;
    copy_request r = request_for(f);
    copy_ok(&r, &res);
    assert_int_equal(res.cloned, 0); /* nothing to clone yet */
    assert_int_equal(res.bytes_written, SIZE);
    publish(f, &res);
}

static void fixture_free(fixture *f)
{
    ts_remove_tree(f->dir);
    free(f->dir);
    free(f->source);
    free(f->final);
    free(f->staging);
    free(f->journal);
    free(f->blockmap);
    free(f->data);
    blockmap_free(&f->base);
}

/* Change `count` whole blocks of the source, spread over the file. */
static void change_blocks(fixture *f, const uint64_t *blocks, size_t count)
{
    for (size_t i = 0; i < count; i++)
        f->data[blocks[i] * BS + 100] ^= 0x5a;
    write_source(f);
}

static void assert_file_is(const char *path, const unsigned char *data, size_t len)
{
    size_t got = 0;
    char *text = ts_read_file(path, &got);
    assert_int_equal(got, len);
    if (memcmp(text, data, len) != 0)
        fail_msg("'%s' does not hold what it should", path);
    free(text);
}

/* Bytes of `path` in extents the filesystem marks shared (FIEMAP). */
static uint64_t shared_bytes(const char *path)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(fsync(fd), 0); /* delayed allocation: map what is on disk */
    enum { MAX_EXTENTS = 512 };
    struct fiemap *fm = calloc(1, sizeof *fm + MAX_EXTENTS * sizeof(struct fiemap_extent));
    assert_non_null(fm);
    uint64_t shared = 0, start = 0;
    for (;;) {
        fm->fm_start = start;
        fm->fm_length = FIEMAP_MAX_OFFSET - start;
        fm->fm_flags = FIEMAP_FLAG_SYNC;
        fm->fm_extent_count = MAX_EXTENTS;
        if (ioctl(fd, FS_IOC_FIEMAP, fm) != 0)
            fail_msg("FIEMAP on '%s': %s", path, strerror(errno));
        if (fm->fm_mapped_extents == 0)
            break;
        int last = 0;
        for (uint32_t i = 0; i < fm->fm_mapped_extents; i++) {
            struct fiemap_extent *e = &fm->fm_extents[i];
            if (e->fe_flags & FIEMAP_EXTENT_SHARED)
                shared += e->fe_length;
            start = e->fe_logical + e->fe_length;
            last |= (e->fe_flags & FIEMAP_EXTENT_LAST) != 0;
        }
        if (last)
            break;
    }
    free(fm);
    close(fd);
    return shared;
}

static void test_changed_file_writes_only_its_changed_blocks(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "changed");
    unsigned char *old = malloc(f.len);
    memcpy(old, f.data, f.len);
    const uint64_t changed[] = {0, 17, 64, BLOCKS - 1};
    change_blocks(&f, changed, 4);
    copy_result res;
    copy_request r = request_for(&f);
    copy_ok(&r, &res);
    assert_int_equal(res.cloned, 1);
    assert_int_equal(res.bytes_written, 4 * BS);
    assert_int_equal(res.cloned_blocks, BLOCKS - 4);
    assert_int_equal(res.bytes_read, SIZE); /* the snapshot is read once, in full */
    assert_file_is(f.staging, f.data, f.len);
    assert_file_is(f.final, old, f.len); /* copy-on-write: the backup kept its bytes */
    uint64_t *hashes = th_journaled_hashes(f.journal, BLOCKS);
    for (uint64_t b = 0; b < BLOCKS; b++)
        assert_true(hashes[b] == ps_hash64(f.data + b * BS, BS));
    free(hashes);
    /* The filesystem agrees: all but the four rewritten blocks are shared. */
    assert_int_equal(shared_bytes(f.staging), SIZE - 4 * BS);
    free(old);
    fixture_free(&f);
}

static void test_a_file_that_grew_or_shrank_is_patched_and_cut_to_size(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "resize");
    /* Grows by one and a half blocks: the old last block and the new ones
     * are written. */
    f.data = realloc(f.data, SIZE + BS + BS / 2);
    unsigned char *more = make_data(BS + BS / 2, 99);
    memcpy(f.data + SIZE, more, BS + BS / 2);
    free(more);
    f.len = SIZE + BS + BS / 2;
    write_source(&f);
    copy_result res;
    copy_request r = request_for(&f);
    copy_ok(&r, &res);
    assert_int_equal(res.cloned, 1);
    assert_int_equal(res.bytes_written, BS + BS / 2);
    assert_file_is(f.staging, f.data, f.len);
    publish(&f, &res);
    /* Shrinks to a block and a bit less than the original. */
    f.len = SIZE - BS - 300;
    write_source(&f);
    r = request_for(&f);
    copy_ok(&r, &res);
    assert_int_equal(res.cloned, 1);
    assert_int_equal(res.bytes_written, BS - 300); /* the new partial last block */
    assert_file_is(f.staging, f.data, f.len);
    fixture_free(&f);
}

static void test_backup_replaced_by_a_sync_client_is_never_cloned(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "replaced");
    /* Same size and mtime, other bytes, another file: what a sync client
     * restoring an older version from the cloud leaves. */
    pf_stat was = ts_stat(f.final);
    unsigned char *other = make_data(f.len, 1234);
    char *tmp = ts_path(f.dir, "sync.tmp");
    ts_write_file(tmp, other, f.len);
    ts_set_mtime_ns(tmp, was.mtime_ns);
    assert_int_equal(rename(tmp, f.final), 0);
    const uint64_t changed[] = {3};
    change_blocks(&f, changed, 1);
    copy_result res;
    copy_request r = request_for(&f);
    copy_ok(&r, &res);
    assert_int_equal(res.cloned, 0);
    assert_int_equal(res.bytes_written, SIZE);
    assert_file_is(f.staging, f.data, f.len);
    free(tmp);
    free(other);
    fixture_free(&f);
}

static void test_backup_written_in_place_is_never_cloned(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "inplace");
    pf_stat was = ts_stat(f.final);
    int fd = open(f.final, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "damage", 6, 5 * BS), 6);
    close(fd);
    /* A second later than the publish, as any real writer is: within one
     * tick of the clock the mtime could not tell (see compare.h). */
    ts_set_mtime_ns(f.final, was.mtime_ns + 1000000000LL);
    const uint64_t changed[] = {9};
    change_blocks(&f, changed, 1);
    copy_result res;
    copy_request r = request_for(&f);
    copy_ok(&r, &res);
    assert_int_equal(res.cloned, 0);
    assert_int_equal(res.bytes_written, SIZE);
    assert_file_is(f.staging, f.data, f.len);
    fixture_free(&f);
}

static void test_blockmap_of_another_block_size_is_not_used(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "blocksize");
    const uint64_t changed[] = {1};
    change_blocks(&f, changed, 1);
    copy_result res;
    copy_request r = request_for(&f);
    r.block_size = 2 * BS;
    copy_ok(&r, &res);
    assert_int_equal(res.cloned, 0);
    assert_int_equal(res.bytes_written, SIZE);
    assert_file_is(f.staging, f.data, f.len);
    fixture_free(&f);
}

/* An interrupted delta copy resumes without trusting the blocks it wrote
 * after its last journal commit: past the journal, the staging file is
 * cloned from the backup again. Here the staged block beyond the journal is
 * scribbled on (as a write that never got its record would leave it), and
 * the resumed copy must still equal the source. */
static void test_resumed_delta_copy_clones_again_past_its_journal(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "resume");
    const uint64_t changed[] = {2, 70, 100};
    change_blocks(&f, changed, 3);
    copy_request r = request_for(&f);
    th_clear(&g_host);
    g_host.cancel_after_progress = 1; /* stop after the first 4 MiB chunk */
    copy_result res;
    ps_err err;
    assert_int_equal(copy_file(&r, &res, &err), PS_ERR_CANCELLED);
    g_host.cancel_after_progress = 0;
    th_clear(&g_host);
    reload_base(&f); /* as the next run does */
    r = request_for(&f);
    int fd = open(f.staging, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "unjournaled", 11, 90 * BS), 11);
    close(fd);
    copy_ok(&r, &res);
    assert_int_equal(res.resumed, 1);
    assert_int_equal(res.cloned, 1);
    assert_int_equal(res.reused_blocks, 64);     /* the first chunk */
    assert_int_equal(res.bytes_written, 2 * BS); /* blocks 70 and 100 */
    assert_file_is(f.staging, f.data, f.len);
    fixture_free(&f);
}

/* keepVersions hard-links the old backup; the delta must leave that inode's
 * bytes alone. */
static void test_kept_version_keeps_its_bytes(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "version");
    unsigned char *old = malloc(f.len);
    memcpy(old, f.data, f.len);
    char *version = ts_path(f.dir, "Mail backup (2026-01-01 000000).pst");
    assert_int_equal(link(f.final, version), 0);
    /* A version is linked at publish, after the blockmap was written: the
     * link moved the ctime the fixture recorded. */
    f.base.ctime_ns = ts_stat(f.final).ctime_ns;
    const uint64_t changed[] = {0, 50};
    change_blocks(&f, changed, 2);
    copy_result res;
    copy_request r = request_for(&f);
    copy_ok(&r, &res);
    assert_int_equal(res.cloned, 1);
    assert_int_equal(res.bytes_written, 2 * BS);
    assert_int_equal(rename(f.staging, f.final), 0);
    assert_file_is(f.final, f.data, f.len);
    assert_file_is(version, old, f.len);
    free(version);
    free(old);
    fixture_free(&f);
}

int main(void)
{
    const char *mnt = getenv("PSTSNAP_BTRFS_MNT");
    if (!mnt || !*mnt)
        ts_skip("PSTSNAP_BTRFS_MNT is not set (run tests/tools/btrfs-loop.sh up "
                "DIR and export "
                "PSTSNAP_BTRFS_MNT=DIR/mnt)");
    struct statfs fs;
    if (statfs(mnt, &fs) != 0 || fs.f_type != BTRFS_SUPER_MAGIC)
        ts_skip("PSTSNAP_BTRFS_MNT is not a mounted btrfs");
    static char path[4096];
    snprintf(path, sizeof path, "%s/home", mnt);
    home = path;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_changed_file_writes_only_its_changed_blocks),
        cmocka_unit_test(test_a_file_that_grew_or_shrank_is_patched_and_cut_to_size),
        cmocka_unit_test(test_backup_replaced_by_a_sync_client_is_never_cloned),
        cmocka_unit_test(test_backup_written_in_place_is_never_cloned),
        cmocka_unit_test(test_blockmap_of_another_block_size_is_not_used),
        cmocka_unit_test(test_resumed_delta_copy_clones_again_past_its_journal),
        cmocka_unit_test(test_kept_version_keeps_its_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
