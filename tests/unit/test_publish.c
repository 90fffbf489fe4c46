/*
 * test_publish.c - plugin/core/publish.c: verify the staged copy, keep the
 * previous backup as a version if asked, rename the staging file over the
 * final name. The previous backup must stay untouched until the rename.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hash.h"
#include "publish.h"
#include "test_fs.h"
#include "test_hashes.h"
#include "test_support.h"

#define BS 4096u

typedef struct staged {
    char *dir, *staging, *final;
    char *state; /* the journals' folder (never the destination) */
    unsigned char *data;
    size_t len;
    uint64_t *hashes;
    uint64_t blocks;
    ps_hashfile hf; /* the hashes as the copy's journal holds them */
} staged;

/* A staging file of `len` bytes (fill byte `fill`), its block hashes, and
 * the final path beside it. */
static void stage(staged *s, const char *name, size_t len, unsigned char fill)
{
    s->dir = ts_temp_dir(name);
    s->staging = ts_path(s->dir, "Mail.pst.pstsnap.partial");
    s->final = ts_path(s->dir, "Mail.pst");
    s->len = len;
    s->data = malloc(len ? len : 1);
    assert_non_null(s->data);
    for (size_t i = 0; i < len; i++)
        s->data[i] = (unsigned char)(fill + i / BS);
    s->blocks = (len + BS - 1) / BS;
    s->hashes = malloc((s->blocks ? s->blocks : 1) * sizeof *s->hashes);
    assert_non_null(s->hashes);
    for (uint64_t b = 0; b < s->blocks; b++) {
        size_t n = len - b * BS < BS ? len - b * BS : BS;
        s->hashes[b] = ps_hash64(s->data + b * BS, n);
    }
    ts_write_file(s->staging, s->data, len);
    char state_name[160];
    snprintf(state_name, sizeof state_name, "%s_state", name);
    s->state = ts_temp_dir(state_name);
    char *journal = ts_path(s->state, "Mail.journal");
    th_hashfile_of(journal, s->hashes, s->blocks, BS, len, &s->hf);
    free(journal);
}

static void staged_free(staged *s)
{
    ts_remove_tree(s->dir);
    free(s->dir);
    free(s->staging);
    free(s->final);
    free(s->data);
    free(s->hashes);
    hashfile_close(&s->hf);
    ts_remove_tree(s->state);
    free(s->state);
}

static publish_request request_for(staged *s, ps_verify verify, uint32_t keep)
{
    publish_request r = {.staging_path = s->staging, .final_path = s->final, .size = s->len,
                         .hashes = &s->hf, .block_size = BS,
                         .verify = verify, .keep_versions = keep};
    return r;
}

static void corrupt_byte(const char *path, size_t offset)
{
    size_t len = 0;
    char *data = ts_read_file(path, &len);
    assert_true(offset < len);
    data[offset] ^= 0x01;
    ts_write_file(path, data, len);
    free(data);
}

static void assert_file_is(const char *path, const void *data, size_t len)
{
    size_t got = 0;
    char *text = ts_read_file(path, &got);
    assert_int_equal(got, len);
    assert_memory_equal(text, data, len);
    free(text);
}

static void set_mtime(const char *path, time_t sec)
{
    ts_set_mtime_ns(path, (int64_t)sec * 1000000000LL);
}

/* Version names are in local time: make it UTC. Windows takes the zone
 * from the system, not from TZ, so there the test needs a UTC machine. */
static void use_utc(void)
{
#ifdef _WIN32
    TIME_ZONE_INFORMATION tz;
    DWORD r = GetTimeZoneInformation(&tz);
    if (tz.Bias != 0 || (r == TIME_ZONE_ID_DAYLIGHT && tz.DaylightBias != 0))
        skip();
#else
    setenv("TZ", "UTC", 1);
    tzset();
#endif
}

/* Verification fails with PS_ERR_IO naming the staging file; the previous
 * backup and the staging file are left as they were. */
static void expect_verify_failure(staged *s, ps_verify verify, const char *why)
{
    ts_write_file(s->final, "previous backup", 15);
    publish_request r = request_for(s, verify, 0);
    pf_stat pub;
    int kept = 1;
    ps_err err;
    ps_err_clear(&err);
    assert_int_equal(publish_file(&r, &pub, &kept, &err), PS_ERR_IO);
    assert_int_equal(err.code, PS_ERR_IO);
    assert_false(kept);
    if (!strstr(err.msg, s->staging) || !strstr(err.msg, why))
        fail_msg("message '%s' should name '%s' and say '%s'", err.msg, s->staging, why);
    assert_file_is(s->final, "previous backup", 15);
    assert_true(ts_exists(s->staging));
}

static void test_success_renames_the_staging_file_over_the_final_one(void **state)
{
    (void)state;
    staged s;
    stage(&s, "publish_success", 5 * BS + 7, 'a');
    ts_write_file(s.final, "previous backup", 15);
    publish_request r = request_for(&s, PS_VERIFY_FULL, 0);
    pf_stat pub;
    int kept = 1;
    ps_err err;
    assert_int_equal(publish_file(&r, &pub, &kept, &err), PS_OK);
    assert_false(kept);
    assert_false(ts_exists(s.staging));
    assert_file_is(s.final, s.data, s.len);
    /* What the caller records is what now lies under the final name. */
    pf_stat st = ts_stat(s.final);
    assert_int_equal(pub.kind, PF_KIND_FILE);
    assert_int_equal(pub.size, s.len);
    assert_true(pub.ino == st.ino);
    assert_true(pub.mtime_ns == st.mtime_ns);
    /* With keepVersions 0 nothing else is left in the folder. */
    char *version_dir = s.dir;
    DIR *d = opendir(version_dir);
    assert_non_null(d);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        entries += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(entries, 1);
    staged_free(&s);
}

static void test_first_publish_creates_the_final_file(void **state)
{
    (void)state;
    staged s;
    stage(&s, "publish_first", BS, 'f');
    publish_request r = request_for(&s, PS_VERIFY_QUICK, 3);
    pf_stat pub;
    int kept = 1;
    ps_err err;
    assert_int_equal(publish_file(&r, &pub, &kept, &err), PS_OK);
    assert_false(kept); /* nothing to keep yet */
    assert_file_is(s.final, s.data, s.len);
    staged_free(&s);
}

static void test_empty_file_publishes_under_every_verify_mode(void **state)
{
    (void)state;
    ps_verify modes[] = {PS_VERIFY_NONE, PS_VERIFY_QUICK, PS_VERIFY_FULL};
    for (size_t i = 0; i < 3; i++) {
        staged s;
        stage(&s, "publish_empty", 0, 'e');
        publish_request r = request_for(&s, modes[i], 0);
        pf_stat pub;
        int kept;
        ps_err err;
        assert_int_equal(publish_file(&r, &pub, &kept, &err), PS_OK);
        assert_int_equal(pub.size, 0);
        staged_free(&s);
    }
}

static void test_quick_verify_catches_a_damaged_first_or_last_block(void **state)
{
    (void)state;
    staged s;
    stage(&s, "publish_quick_first", 6 * BS + 100, 'q');
    corrupt_byte(s.staging, 17);
    expect_verify_failure(&s, PS_VERIFY_QUICK, "block 0 (offset 0) does not match");
    staged_free(&s);

    stage(&s, "publish_quick_last", 6 * BS + 100, 'q');
    corrupt_byte(s.staging, 6 * BS + 99);
    expect_verify_failure(&s, PS_VERIFY_QUICK, "block 6 (offset 24576) does not match");
    staged_free(&s);
}

static void test_full_verify_catches_a_damaged_middle_block(void **state)
{
    (void)state;
    staged s;
    stage(&s, "publish_full_middle", 6 * BS + 100, 'm');
    corrupt_byte(s.staging, 3 * BS + 1);
    expect_verify_failure(&s, PS_VERIFY_FULL, "block 3 (offset 12288) does not match");
    /* quick reads the first and the last block only: this one passes it. */
    publish_request r = request_for(&s, PS_VERIFY_QUICK, 0);
    pf_stat pub;
    int kept;
    ps_err err;
    assert_int_equal(publish_file(&r, &pub, &kept, &err), PS_OK);
    staged_free(&s);
}

static void test_every_verify_mode_but_none_catches_a_wrong_size(void **state)
{
    (void)state;
    staged s;
    stage(&s, "publish_size", 3 * BS, 's');
    assert_int_equal(ts_truncate(s.staging, 3 * BS - 1), 0); /* lost tail */
    expect_verify_failure(&s, PS_VERIFY_QUICK, "bytes written");
    expect_verify_failure(&s, PS_VERIFY_FULL, "bytes written");
    assert_int_equal(ts_truncate(s.staging, 3 * BS + 1), 0); /* stale tail */
    expect_verify_failure(&s, PS_VERIFY_QUICK, "12289 bytes written, 12288 expected");
    staged_free(&s);
}

static void test_verify_none_trusts_the_write(void **state)
{
    (void)state;
    staged s;
    stage(&s, "publish_none", 2 * BS, 'n');
    corrupt_byte(s.staging, 0);
    publish_request r = request_for(&s, PS_VERIFY_NONE, 0);
    pf_stat pub;
    int kept;
    ps_err err;
    assert_int_equal(publish_file(&r, &pub, &kept, &err), PS_OK);
    assert_false(ts_exists(s.staging));
    staged_free(&s);
}

static void test_missing_staging_file_fails_and_keeps_the_backup(void **state)
{
    (void)state;
    staged s;
    stage(&s, "publish_missing", BS, 'x');
    unlink(s.staging);
    ts_write_file(s.final, "previous backup", 15);
    ps_verify modes[] = {PS_VERIFY_NONE, PS_VERIFY_QUICK};
    for (size_t i = 0; i < 2; i++) {
        publish_request r = request_for(&s, modes[i], 2);
        pf_stat pub;
        int kept;
        ps_err err;
        assert_int_equal(publish_file(&r, &pub, &kept, &err), PS_ERR_NOTFOUND);
        assert_file_is(s.final, "previous backup", 15);
    }
    staged_free(&s);
}

/* Publish `content` over s->final with keepVersions `keep`. */
static void publish_content(staged *s, const char *content, uint32_t keep, int expect_kept)
{
    ts_write_file(s->staging, content, strlen(content));
    uint64_t h = ps_hash64(content, strlen(content));
    ps_hashfile hf;
    char *journal = ts_path(s->state, "Content.journal");
    th_hashfile_of(journal, &h, 1, BS, strlen(content), &hf);
    publish_request r = {.staging_path = s->staging, .final_path = s->final,
                         .size = strlen(content), .hashes = &hf,
                         .block_size = BS, .verify = PS_VERIFY_FULL, .keep_versions = keep};
    pf_stat pub;
    int kept = -1;
    ps_err err;
    ps_err_clear(&err);
    if (publish_file(&r, &pub, &kept, &err) != PS_OK)
        fail_msg("publish_file: %s", err.msg);
    hashfile_close(&hf);
    free(journal);
    assert_int_equal(kept, expect_kept);
    assert_file_is(s->final, content, strlen(content));
}

static void test_keep_versions_keeps_exactly_the_newest_ones(void **state)
{
    (void)state;
    use_utc();
    staged s;
    stage(&s, "publish_versions", 0, 0);
    /* Unrelated files that look almost like versions are never touched. */
    char *other = ts_path(s.dir, "Mail (2000-01-01 000000).ost");
    char *archive = ts_path(s.dir, "Archive (2000-01-01 000000).pst");
    ts_write_file(other, "o", 1);
    ts_write_file(archive, "a", 1);

    publish_content(&s, "v1", 2, 0);
    set_mtime(s.final, 1700000001); /* 2023-11-14 22:13:21 UTC */
    publish_content(&s, "v2", 2, 1);
    set_mtime(s.final, 1700003602); /* 2023-11-14 23:13:22 */
    publish_content(&s, "v3", 2, 1);
    set_mtime(s.final, 1700090003); /* 2023-11-15 23:13:23 */
    publish_content(&s, "v4", 2, 1);

    char *v1 = ts_path(s.dir, "Mail (2023-11-14 221321).pst");
    char *v2 = ts_path(s.dir, "Mail (2023-11-14 231322).pst");
    char *v3 = ts_path(s.dir, "Mail (2023-11-15 231323).pst");
    assert_false(ts_exists(v1)); /* the oldest went */
    assert_file_is(v2, "v2", 2);
    assert_file_is(v3, "v3", 2);
    assert_file_is(s.final, "v4", 2);
    assert_true(ts_exists(other));
    assert_true(ts_exists(archive));
    assert_false(ts_exists(s.staging));
    /* Exactly: final + 2 versions + the 2 unrelated files. */
    DIR *d = opendir(s.dir);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        entries += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(entries, 5);

    /* keepVersions 1 later on prunes down to one. */
    set_mtime(s.final, 1700100004); /* 2023-11-16 02:00:04 */
    publish_content(&s, "v5", 1, 1);
    char *v4 = ts_path(s.dir, "Mail (2023-11-16 020004).pst");
    assert_file_is(v4, "v4", 2);
    assert_false(ts_exists(v2));
    assert_false(ts_exists(v3));
    free(v1);
    free(v2);
    free(v3);
    free(v4);
    free(other);
    free(archive);
    staged_free(&s);
}

static void test_keep_versions_zero_leaves_existing_versions_alone(void **state)
{
    (void)state;
    use_utc();
    staged s;
    stage(&s, "publish_versions_zero", 0, 0);
    char *old = ts_path(s.dir, "Mail (2020-01-01 000000).pst");
    ts_write_file(old, "old", 3);
    publish_content(&s, "v1", 0, 0);
    set_mtime(s.final, 1700000001);
    publish_content(&s, "v2", 0, 0);
    assert_true(ts_exists(old));
    char *v1 = ts_path(s.dir, "Mail (2023-11-14 221321).pst");
    assert_false(ts_exists(v1));
    free(v1);
    free(old);
    staged_free(&s);
}

static void test_version_path_puts_the_local_time_before_the_extension(void **state)
{
    (void)state;
    use_utc();
    int64_t t = 1700000001LL * 1000000000LL + 999999999LL; /* 2023-11-14 22:13:21.999 */
    static const struct {
        const char *final, *version;
    } table[] = {
        {"/b/Mail.pst", "/b/Mail (2023-11-14 221321).pst"},
        {"/b/Outlook Files/My Mail.PST", "/b/Outlook Files/My Mail (2023-11-14 221321).PST"},
        {"/b/archive.2023.pst", "/b/archive.2023 (2023-11-14 221321).pst"},
        {"/b/Mail", "/b/Mail (2023-11-14 221321)"},
        {"/b/.pst", "/b/.pst (2023-11-14 221321)"},
        {"/b.d/Mail", "/b.d/Mail (2023-11-14 221321)"},
        {"Mail.pst", "Mail (2023-11-14 221321).pst"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        char *p = publish_version_path(table[i].final, t);
        assert_non_null(p);
        assert_string_equal(p, table[i].version);
        free(p);
    }
#ifndef _WIN32
    setenv("TZ", "CET-1", 1); /* local time, as admins read it in Explorer */
    tzset();
    char *p = publish_version_path("/b/Mail.pst", t);
    assert_string_equal(p, "/b/Mail (2023-11-14 231321).pst");
    free(p);
    setenv("TZ", "UTC", 1);
    tzset();
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_success_renames_the_staging_file_over_the_final_one),
        cmocka_unit_test(test_first_publish_creates_the_final_file),
        cmocka_unit_test(test_empty_file_publishes_under_every_verify_mode),
        cmocka_unit_test(test_quick_verify_catches_a_damaged_first_or_last_block),
        cmocka_unit_test(test_full_verify_catches_a_damaged_middle_block),
        cmocka_unit_test(test_every_verify_mode_but_none_catches_a_wrong_size),
        cmocka_unit_test(test_verify_none_trusts_the_write),
        cmocka_unit_test(test_missing_staging_file_fails_and_keeps_the_backup),
        cmocka_unit_test(test_keep_versions_keeps_exactly_the_newest_ones),
        cmocka_unit_test(test_keep_versions_zero_leaves_existing_versions_alone),
        cmocka_unit_test(test_version_path_puts_the_local_time_before_the_extension),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
