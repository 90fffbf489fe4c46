/*
 * test_patch.c - plugin/core/patch.c: write a redo log's blocks into the
 * backup in place, only into the file the base describes, and the apply
 * marker a redo needs.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <unistd.h>
#endif

#include "hash.h"
#include "patch.h"
#include "test_fs.h"
#include "test_hashes.h"
#include "test_support.h"

#define BS 4096u

typedef struct world {
    char *dir, *redo, *backup;
    unsigned char *old_data, *new_data;
    size_t old_len, new_len;
    uint64_t *old_hashes, *new_hashes;
    uint64_t old_blocks, new_blocks;
    ps_hashfile new_hf; /* the new hashes as the copy's journal holds them */
    ps_blockmap base;   /* the old ones as the backup's blockmap holds them */
    patch_request req;
} world;

static uint64_t *hashes_of(const unsigned char *data, size_t len, uint64_t *blocks)
{
    *blocks = (len + BS - 1) / BS;
    uint64_t *h = malloc((*blocks ? *blocks : 1) * sizeof *h);
    assert_non_null(h);
    for (uint64_t b = 0; b < *blocks; b++)
        h[b] = ps_hash64(data + b * BS, len - b * BS < BS ? len - b * BS : BS);
    return h;
}

/* A backup of old_len bytes, new content of new_len bytes differing in the
 * blocks listed in `changed` (and whatever lies past the old end), and the
 * redo log copy_file would have written: the changed blocks in order. */
static void make_world(world *w, const char *name, size_t old_len, size_t new_len,
                       const int *changed, size_t changed_count)
{
    memset(w, 0, sizeof *w);
    w->dir = ts_temp_dir(name);
    w->redo = ts_path(w->dir, "Mail.pst.pstsnap.partial");
    w->backup = ts_path(w->dir, "Mail.pst");
    w->old_len = old_len;
    w->new_len = new_len;
    w->old_data = malloc(old_len + 1);
    w->new_data = malloc(new_len + 1);
    assert_true(w->old_data && w->new_data);
    for (size_t i = 0; i < old_len; i++)
        w->old_data[i] = (unsigned char)(i * 7 + i / BS);
    for (size_t i = 0; i < new_len; i++)
        w->new_data[i] = i < old_len ? w->old_data[i] : (unsigned char)(i * 13);
    for (size_t k = 0; k < changed_count; k++)
        for (size_t i = (size_t)changed[k] * BS; i < (size_t)(changed[k] + 1) * BS && i < new_len; i++)
            w->new_data[i] ^= 0x5a;
    w->old_hashes = hashes_of(w->old_data, old_len, &w->old_blocks);
    w->new_hashes = hashes_of(w->new_data, new_len, &w->new_blocks);
    ts_write_file(w->backup, w->old_data, old_len);
    /* The redo log, as copy_file appends it. */
    FILE *f = fopen(w->redo, "wb");
    assert_non_null(f);
    for (uint64_t b = 0; b < w->new_blocks; b++) {
        if (b < w->old_blocks && w->old_hashes[b] == w->new_hashes[b])
            continue;
        size_t len = new_len - b * BS < BS ? new_len - b * BS : BS;
        assert_int_equal(fwrite(w->new_data + b * BS, 1, len, f), len);
    }
    fclose(f);
    char *journal = ts_path(w->dir, "Mail.journal"), *blocks = ts_path(w->dir, "Mail.blocks");
    th_hashfile_of(journal, w->new_hashes, w->new_blocks, BS, new_len, &w->new_hf);
    pf_stat st = ts_stat(w->backup);
    ps_blockmap fields = {.block_size = BS, .size = old_len, .file_id = st.ino,
                          .mtime_ns = st.mtime_ns, .ctime_ns = st.ctime_ns,
                          .block_count = w->old_blocks};
    th_blockmap_write(blocks, &fields, w->old_hashes, &w->base);
    free(journal);
    free(blocks);
    w->req = (patch_request){.redo_path = w->redo, .final_path = w->backup, .size = new_len,
                             .block_size = BS, .hashes = &w->new_hf, .base = &w->base,
                             .owner_uid = -1, .verify = PS_VERIFY_FULL};
}

static void world_free(world *w)
{
    ts_remove_tree(w->dir);
    free(w->dir);
    free(w->redo);
    free(w->backup);
    free(w->old_data);
    free(w->new_data);
    free(w->old_hashes);
    free(w->new_hashes);
    hashfile_close(&w->new_hf);
    blockmap_free(&w->base);
}

static void assert_file_is(const char *path, const unsigned char *data, size_t len)
{
    size_t got = 0;
    char *text = ts_read_file(path, &got);
    assert_non_null(text);
    assert_int_equal(got, len);
    assert_memory_equal(text, data, len);
    free(text);
}

static void test_only_the_changed_blocks_are_written_in_place(void **state)
{
    (void)state;
    world w;
    const int changed[] = {1, 5, 6};
    make_world(&w, "patch-basic", 10 * BS, 10 * BS, changed, 3);
    uint64_t ino = ts_stat(w.backup).ino, written = 0;
    pf_stat patched;
    ps_err err = {0};
    assert_int_equal(patch_apply(&w.req, &patched, &written, &err), PS_OK);
    assert_int_equal(written, 3 * BS);
    assert_int_equal(patched.ino, ino);
    assert_int_equal(patched.size, 10 * BS);
    assert_file_is(w.backup, w.new_data, w.new_len);
    /* A redo: applying again changes nothing. */
    assert_int_equal(patch_apply(&w.req, &patched, &written, &err), PS_OK);
    assert_file_is(w.backup, w.new_data, w.new_len);
    world_free(&w);
}

static void test_a_file_that_grows_or_shrinks_gets_its_new_size(void **state)
{
    (void)state;
    const int changed[] = {2};
    size_t sizes[] = {13 * BS + 100, 4 * BS + 17, 0};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        world w;
        make_world(&w, "patch-size", 8 * BS + 1234, sizes[k], changed, 1);
        pf_stat patched;
        uint64_t written = 0;
        ps_err err = {0};
        assert_int_equal(patch_apply(&w.req, &patched, &written, &err), PS_OK);
        assert_int_equal(patched.size, sizes[k]);
        assert_file_is(w.backup, w.new_data, w.new_len);
        world_free(&w);
    }
}

static void test_a_replaced_backup_is_never_written(void **state)
{
    (void)state;
    world w;
    const int changed[] = {0};
    make_world(&w, "patch-replaced", 4 * BS, 4 * BS, changed, 1);
    /* A sync client's own copy under the name: another file id. */
    char *other = ts_path(w.dir, "sync.tmp");
    unsigned char junk[100] = {1, 2, 3};
    ts_write_file(other, junk, sizeof junk);
    assert_int_equal(remove(w.backup), 0); /* Windows' rename() does not replace */
    assert_int_equal(rename(other, w.backup), 0);
    pf_stat patched;
    uint64_t written = 0;
    ps_err err = {0};
    assert_int_equal(patch_apply(&w.req, &patched, &written, &err), PS_ERR_CHANGED);
    assert_non_null(strstr(err.msg, "replaced"));
    assert_non_null(strstr(err.msg, w.backup));
    assert_file_is(w.backup, junk, sizeof junk);
    assert_int_equal(written, 0);
    /* Gone altogether: not created either. */
    assert_int_equal(remove(w.backup), 0);
    assert_int_equal(patch_apply(&w.req, &patched, &written, &err), PS_ERR_CHANGED);
    assert_false(ts_exists(w.backup));
    free(other);
    world_free(&w);
}

static void test_a_backup_with_another_name_is_never_written(void **state)
{
    (void)state;
#ifdef _WIN32
    skip(); /* hard links under Wine: see tests/windows */
#else
    world w;
    const int changed[] = {3};
    make_world(&w, "patch-linked", 4 * BS, 4 * BS, changed, 1);
    char *version = ts_path(w.dir, "Mail (2026-11-30 101010).pst");
    assert_int_equal(link(w.backup, version), 0);
    pf_stat patched;
    uint64_t written = 0;
    ps_err err = {0};
    assert_int_equal(patch_apply(&w.req, &patched, &written, &err), PS_ERR_CHANGED);
    assert_non_null(strstr(err.msg, "one name"));
    assert_file_is(w.backup, w.old_data, w.old_len);
    free(version);
    world_free(&w);
#endif
}

static void test_a_redo_log_of_the_wrong_size_touches_nothing(void **state)
{
    (void)state;
    world w;
    const int changed[] = {1, 2};
    make_world(&w, "patch-shortredo", 6 * BS, 6 * BS, changed, 2);
    assert_int_equal(ts_truncate(w.redo, BS + 10), 0);
    pf_stat patched;
    uint64_t written = 0;
    ps_err err = {0};
    assert_int_equal(patch_apply(&w.req, &patched, &written, &err), PS_ERR_CORRUPT);
    assert_non_null(strstr(err.msg, w.redo));
    assert_non_null(strstr(err.msg, "4106 bytes where 8192"));
    assert_file_is(w.backup, w.old_data, w.old_len);
    world_free(&w);
}

static void test_verify_catches_a_redo_log_with_other_bytes(void **state)
{
    (void)state;
    world w;
    const int changed[] = {4};
    make_world(&w, "patch-badredo", 6 * BS, 6 * BS, changed, 1);
    unsigned char other[BS];
    memset(other, 0xee, sizeof other);
    ts_write_file(w.redo, other, sizeof other);
    pf_stat patched;
    uint64_t written = 0;
    ps_err err = {0};
    assert_int_equal(patch_apply(&w.req, &patched, &written, &err), PS_ERR_IO);
    assert_non_null(strstr(err.msg, "block 4"));
    world_free(&w);
}

static void test_the_marker_round_trips_and_refuses_damage(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("patch-marker");
    char *path = ts_path(dir, "x.journal.apply");
    patch_marker m = {.final_path = "/d/Outlook/Mail.pst", .key = "Outlook/Mail.pst",
                      .source = "/h/Mail.pst", .snapshot = "reflink", .frozen_ns = 1234567890123LL};
    ps_err err = {0};
    assert_int_equal(patch_marker_save(path, &m, &err), PS_OK);
    patch_marker back;
    assert_int_equal(patch_marker_load(path, &back, &err), PS_OK);
    assert_string_equal(back.final_path, m.final_path);
    assert_string_equal(back.key, m.key);
    assert_string_equal(back.source, m.source);
    assert_string_equal(back.snapshot, m.snapshot);
    assert_int_equal(back.frozen_ns, m.frozen_ns);
    patch_marker_free(&back);
    static const struct { const char *text, *says; } bad[] = {
        {"", "not JSON"},
        {"{\"format\":2,\"backup\":\"a\",\"key\":\"k\",\"source\":\"s\",\"snapshot\":\"n\",\"frozen\":1}", "/format"},
        {"{\"format\":1,\"key\":\"k\",\"source\":\"s\",\"snapshot\":\"n\",\"frozen\":1}", "/backup"},
        {"{\"format\":1,\"backup\":7,\"key\":\"k\",\"source\":\"s\",\"snapshot\":\"n\",\"frozen\":1}", "/backup"},
        {"{\"format\":1,\"backup\":\"a\",\"key\":\"k\",\"source\":\"s\",\"snapshot\":\"n\",\"frozen\":\"1\"}", "/frozen"},
        {"{\"format\":1,\"backup\":\"a\",\"key\":\"\",\"source\":\"s\",\"snapshot\":\"n\",\"frozen\":1}", "/key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ts_write_file(path, bad[i].text, strlen(bad[i].text));
        assert_int_equal(patch_marker_load(path, &back, &err), PS_ERR_CORRUPT);
        assert_non_null(strstr(err.msg, bad[i].says));
        assert_non_null(strstr(err.msg, path));
        assert_null(back.final_path);
    }
    ts_remove_tree(dir);
    free(dir);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_only_the_changed_blocks_are_written_in_place),
        cmocka_unit_test(test_a_file_that_grows_or_shrinks_gets_its_new_size),
        cmocka_unit_test(test_a_replaced_backup_is_never_written),
        cmocka_unit_test(test_a_backup_with_another_name_is_never_written),
        cmocka_unit_test(test_a_redo_log_of_the_wrong_size_touches_nothing),
        cmocka_unit_test(test_verify_catches_a_redo_log_with_other_bytes),
        cmocka_unit_test(test_the_marker_round_trips_and_refuses_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
