/*
 * test_verify.c - plugin/core/verify.c: checking published backups against
 * the manifest and the block hashes recorded at publish time, and their PST
 * structure. A backup is "published" here by writing what the pipeline
 * leaves behind (the backup, its manifest entry and its blockmap, at the
 * paths pipeline_state_path gives), then damaged the way a disk or a sync
 * client would.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blockmap.h"
#include "hash.h"
#include "manifest.h"
#include "pipeline.h"
#include "platform.h"
#include "verify.h"
#include "test_pst_build.h"
#include "test_hashes.h"
#include "test_support.h"

#define BS 4096u

typedef struct fixture {
    char *dir, *dest, *state, *backup;
    tpb_pst pst;
} fixture;

static void must(ps_status s, const ps_err *err)
{
    if (s != PS_OK)
        fail_msg("%s", err->msg);
}

/* Publish the synthetic PST as dest/src/Mail.pst with manifest and
 * blockmap; with_blockmap 0 leaves the hashes out (an older build). */
static void publish(fixture *f, const char *name, int with_blockmap)
{
    ps_err err;
    f->dir = ts_temp_dir(name);
    f->dest = ts_path(f->dir, "dest");
    f->state = ts_path(f->dir, "state");
    char *folder = ts_path(f->dest, "src");
    must(pf_mkdirs(folder, &err), &err);
    f->backup = ts_path(folder, "Mail.pst");
    free(folder);
    tpb_build(&f->pst, 1);
    ts_write_file(f->backup, f->pst.data, f->pst.len);
    pf_stat st;
    must(pf_lstat(f->backup, &st, &err), &err);

    char *mdir = ts_path(f->state, "manifests"), *bdir = ts_path(f->state, "blockmaps");
    must(pf_mkdirs(mdir, &err), &err);
    must(pf_mkdirs(bdir, &err), &err);
    free(mdir);
    free(bdir);
    ps_manifest m = {0};
    ps_manifest_entry e = {.key = "src/Mail.pst", .source = "/home/u/Outlook Files/Mail.pst",
                           .size = f->pst.len, .mtime_ns = 1, .dest_size = st.size,
                           .dest_mtime_ns = st.mtime_ns, .backed_up_ns = 2, .frozen_ns = 1,
                           .snapshot = "none"};
    must(manifest_set(&m, &e, &err), &err);
    char *mpath = pipeline_state_path(f->state, "manifests", f->dest, ".json");
    must(manifest_save(&m, mpath, f->dest, &err), &err);
    free(mpath);
    manifest_free(&m);
    if (!with_blockmap)
        return;
    uint64_t count = (f->pst.len + BS - 1) / BS;
    uint64_t *hashes = calloc(count, sizeof *hashes);
    assert_non_null(hashes);
    for (uint64_t i = 0; i < count; i++) {
        size_t len = f->pst.len - i * BS < BS ? f->pst.len - i * BS : BS;
        hashes[i] = ps_hash64(f->pst.data + i * BS, len);
    }
    ps_blockmap bm = {.block_size = BS, .size = st.size, .file_id = st.ino,
                      .mtime_ns = st.mtime_ns, .ctime_ns = st.ctime_ns, .block_count = count};
    char *bpath = pipeline_state_path(f->state, "blockmaps", f->backup, ".blocks");
    th_blockmap_write(bpath, &bm, hashes, NULL);
    free(bpath);
    free(hashes);
}

static void fixture_free(fixture *f)
{
    ts_remove_tree(f->dir);
    free(f->dir);
    free(f->dest);
    free(f->state);
    free(f->backup);
    tpb_free(&f->pst);
}

static json_t *run_verify(const fixture *f)
{
    ps_job job = {.destination = f->dest, .state_dir = f->state, .owner_uid = -1,
                  .owner_gid = -1};
    json_t *report = NULL;
    ps_err err;
    must(verify_backups(&job, &report, &err), &err);
    assert_non_null(report);
    return report;
}

/* Overwrite bytes of the published backup in place. */
static void damage(const fixture *f, uint64_t off, const void *bytes, size_t len)
{
    ps_err err;
    pf_file *w = NULL;
    int created;
    must(pf_open_write(f->backup, &w, &created, &err), &err);
    must(pf_pwrite(w, bytes, len, off, &err), &err);
    must(pf_close(w, &err), &err);
}

static json_t *only_file(json_t *report)
{
    json_t *files = json_object_get(report, "files");
    assert_int_equal(json_array_size(files), 1);
    return json_array_get(files, 0);
}

static void intact_backup_verifies(void **state)
{
    (void)state;
    fixture f;
    publish(&f, "verify_intact", 1);
    json_t *r = run_verify(&f);
    json_t *file = only_file(r);
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_string_equal(json_string_value(json_object_get(file, "backup")), f.backup);
    assert_string_equal(json_string_value(json_object_get(file, "path")),
                        "/home/u/Outlook Files/Mail.pst");
    assert_true(json_is_true(json_object_get(file, "blocksOk")));
    assert_int_equal(json_array_size(json_object_get(file, "badBlocks")), 0);
    json_t *pst = json_object_get(file, "pst");
    assert_true(json_is_true(json_object_get(pst, "ok")));
    assert_string_equal(json_string_value(json_object_get(pst, "format")), "unicode");
    json_decref(r);
    fixture_free(&f);
}

static void damaged_block_is_reported_by_index_and_by_the_pst_check(void **state)
{
    (void)state;
    fixture f;
    publish(&f, "verify_damaged", 1);
    uint64_t at = f.pst.block_ib[2] + 5000; /* inside the 8 KiB block's data */
    unsigned char junk[3] = {0xde, 0xad, 0x00};
    junk[2] = (unsigned char)~f.pst.data[at + 2];
    damage(&f, at, junk, sizeof junk);
    json_t *r = run_verify(&f);
    json_t *file = only_file(r);
    assert_true(json_is_false(json_object_get(r, "ok")));
    assert_true(json_is_false(json_object_get(file, "ok")));
    assert_true(json_is_true(json_object_get(file, "sizeOk")));
    assert_true(json_is_false(json_object_get(file, "blocksOk")));
    json_t *bad = json_object_get(file, "badBlocks");
    assert_int_equal(json_array_size(bad), 1);
    assert_int_equal(json_integer_value(json_array_get(bad, 0)), at / BS);
    json_t *pst = json_object_get(file, "pst");
    assert_true(json_is_false(json_object_get(pst, "ok")));
    json_t *problems = json_object_get(pst, "problems");
    assert_true(json_array_size(problems) >= 1);
    json_t *p = json_array_get(problems, 0);
    uint64_t trailer = f.pst.block_ib[2] + f.pst.block_size[2] - f.pst.trailer;
    assert_int_equal(json_integer_value(json_object_get(p, "offset")), trailer);
    assert_non_null(strstr(json_string_value(json_object_get(p, "what")), "dwCRC"));
    json_decref(r);
    fixture_free(&f);
}

static void truncated_backup_fails_size_blocks_and_structure(void **state)
{
    (void)state;
    fixture f;
    publish(&f, "verify_truncated", 1);
    ts_write_file(f.backup, f.pst.data, f.pst.len - 100);
    json_t *r = run_verify(&f);
    json_t *file = only_file(r);
    assert_true(json_is_false(json_object_get(file, "sizeOk")));
    json_t *bad = json_object_get(file, "badBlocks");
    uint64_t last = (f.pst.len - 1) / BS;
    assert_int_equal(json_array_size(bad), 1);
    assert_int_equal(json_integer_value(json_array_get(bad, 0)), last);
    assert_true(json_is_false(json_object_get(json_object_get(file, "pst"), "ok")));
    json_decref(r);
    fixture_free(&f);
}

static void without_recorded_hashes_blocks_are_unchecked_not_good(void **state)
{
    (void)state;
    fixture f;
    publish(&f, "verify_nohashes", 0);
    json_t *r = run_verify(&f);
    json_t *file = only_file(r);
    assert_true(json_is_null(json_object_get(file, "blocksOk")));
    assert_string_equal(json_string_value(json_object_get(file, "blockHashes")), "missing");
    assert_true(json_is_true(json_object_get(json_object_get(file, "pst"), "ok")));
    json_decref(r);
    fixture_free(&f);
}

static void missing_backup_is_a_finding(void **state)
{
    (void)state;
    fixture f;
    publish(&f, "verify_missing", 1);
    ps_err err;
    must(pf_unlink(f.backup, &err), &err);
    json_t *r = run_verify(&f);
    json_t *file = only_file(r);
    assert_true(json_is_false(json_object_get(r, "ok")));
    assert_non_null(json_string_value(json_object_get(file, "error")));
    json_decref(r);
    fixture_free(&f);
}

static void damaged_manifest_is_an_error(void **state)
{
    (void)state;
    fixture f;
    publish(&f, "verify_badmanifest", 1);
    char *mpath = pipeline_state_path(f.state, "manifests", f.dest, ".json");
    ts_write_file(mpath, "{\"format\": \"pstsnap-manifest\"", 29);
    free(mpath);
    ps_job job = {.destination = f.dest, .state_dir = f.state, .owner_uid = -1, .owner_gid = -1};
    json_t *report = NULL;
    ps_err err;
    assert_int_equal(verify_backups(&job, &report, &err), PS_ERR_CORRUPT);
    assert_null(report);
    fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(intact_backup_verifies),
        cmocka_unit_test(damaged_block_is_reported_by_index_and_by_the_pst_check),
        cmocka_unit_test(truncated_backup_fails_size_blocks_and_structure),
        cmocka_unit_test(without_recorded_hashes_blocks_are_unchecked_not_good),
        cmocka_unit_test(missing_backup_is_a_finding),
        cmocka_unit_test(damaged_manifest_is_an_error),
    };
    return cmocka_run_group_tests_name("verify", tests, NULL, NULL);
}
