/*
 * test_snapshot_record.c - durable artifact records and the orphan sweep
 * (plugin/snapshot/snapshot_record.c). Runs on any filesystem: the fake
 * artifacts are plain files named like reflink clones, which the reflink
 * provider removes without needing FICLONE.
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
#ifndef _WIN32
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "snapshot.h"
#include "test_fs.h"
#include "test_support.h"

/* Number of entries in `dir` whose name ends with `suffix`. */
static int count_suffix(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    size_t m = strlen(suffix);
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        size_t len = strlen(de->d_name);
        if (len >= m && strcmp(de->d_name + len - m, suffix) == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* Path of the only "*.rec" file in `dir` (fails the test otherwise). */
static char *only_record(const char *dir)
{
    assert_int_equal(count_suffix(dir, ".rec"), 1);
    DIR *d = opendir(dir);
    assert_non_null(d);
    char *path = NULL;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        size_t len = strlen(de->d_name);
        if (len > 4 && strcmp(de->d_name + len - 4, ".rec") == 0)
            path = ts_path(dir, de->d_name);
    }
    closedir(d);
    return path;
}

/* Whether an error message names `path`. The record code joins names
 * with the native separator, the tests with '/': compare from the last
 * component's parent on. */
static const char *last_name(const char *path)
{
    const char *base = path;
    for (const char *c = path; *c; c++)
        if (*c == '/' || *c == '\\')
            base = c + 1;
    return base;
}

static int mentions(const char *msg, const char *path)
{
    return strstr(msg, path) || strstr(msg, last_name(path));
}

static char *records_dir(const char *test)
{
    char *base = ts_temp_dir(test);
    char *dir = ts_path(base, "records");
    free(base);
    return dir;
}

static void write_text(const char *path, const char *text)
{
    ts_write_file(path, text, strlen(text));
}

static void test_record_lists_provider_then_artifacts_in_order(void **state)
{
    (void)state;
    char *dir = records_dir("record_order");
    snap_record *rec = NULL;
    ps_err err;
    assert_int_equal(snap_record_open(dir, "none", &rec, &err), PS_OK);
    char *path = only_record(dir);
    const char *base = last_name(path);
    assert_true(strncmp(base, "none-", 5) == 0);

    size_t len = 0;
    char *text = ts_read_file(path, &len);
    assert_string_equal(text, "none\n"); /* on disk before the first add */
    free(text);

    assert_int_equal(snap_record_add(rec, "/a/first", &err), PS_OK);
    assert_int_equal(snap_record_add(rec, "/b/seconde \xc3\xa9t\xc3\xa9", &err), PS_OK);
    text = ts_read_file(path, &len);
    assert_string_equal(text, "none\n/a/first\n/b/seconde \xc3\xa9t\xc3\xa9\n");
    free(text);

#ifndef _WIN32 /* Windows: the state folder's inherited ACL decides */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
#endif

    assert_int_equal(snap_record_discard(rec, &err), PS_OK);
    assert_false(ts_exists(path));
    assert_int_equal(count_suffix(dir, ".rec") + count_suffix(dir, ".tmp"), 0);
    free(path);
    free(dir);
}

static void test_record_add_refuses_names_that_would_break_the_format(void **state)
{
    (void)state;
    char *dir = records_dir("record_bad_names");
    snap_record *rec = NULL;
    ps_err err;
    assert_int_equal(snap_record_open(dir, "none", &rec, &err), PS_OK);
    assert_int_equal(snap_record_add(rec, "two\nlines", &err), PS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "control character"));
    assert_int_equal(snap_record_add(rec, "", &err), PS_ERR_INVALID);
    assert_int_equal(snap_record_add(rec, "cr\rhere", &err), PS_ERR_INVALID);
    assert_int_equal(snap_record_add(rec, "bad \xff utf8", &err), PS_ERR_INVALID);
    assert_int_equal(snap_record_add(rec, "/still/fine", &err), PS_OK);

    char *path = only_record(dir);
    char *text = ts_read_file(path, NULL);
    assert_string_equal(text, "none\n/still/fine\n");
    free(text);
    free(path);
    assert_int_equal(snap_record_discard(rec, &err), PS_OK);
    free(dir);
}

static void test_record_open_refuses_bad_provider_names(void **state)
{
    (void)state;
    char *dir = records_dir("record_bad_provider");
    snap_record *rec = NULL;
    ps_err err;
    assert_int_equal(snap_record_open(dir, "../escape", &rec, &err), PS_ERR_INVALID);
    assert_null(rec);
    assert_int_equal(snap_record_open(dir, "", &rec, &err), PS_ERR_INVALID);
    assert_int_equal(snap_record_open(dir, "Upper", &rec, &err), PS_ERR_INVALID);
    assert_int_equal(count_suffix(dir, ".rec"), 0);
    free(dir);
}

static void test_sweep_of_missing_folder_is_nothing_to_do(void **state)
{
    (void)state;
    char *dir = records_dir("sweep_missing");
    size_t removed = 99;
    ps_err err;
    assert_int_equal(snapshot_remove_orphans(dir, &removed, &err), PS_OK);
    assert_int_equal(removed, 0);
    free(dir);
}

static void test_sweep_removes_closed_none_record(void **state)
{
    (void)state;
    char *dir = records_dir("sweep_none");
    snap_record *rec = NULL;
    ps_err err;
    assert_int_equal(snap_record_open(dir, "none", &rec, &err), PS_OK);
    assert_int_equal(snap_record_add(rec, "whatever", &err), PS_OK);
    assert_int_equal(snap_record_add(rec, "else", &err), PS_OK);
    snap_record_close(rec); /* as after a failed release: file kept */
    assert_int_equal(count_suffix(dir, ".rec"), 1);

    size_t removed = 0;
    assert_int_equal(snapshot_remove_orphans(dir, &removed, &err), PS_OK);
    assert_int_equal(removed, 2);
    assert_int_equal(count_suffix(dir, ".rec"), 0);
    free(dir);
}

static void test_sweep_leaves_a_live_sessions_record_alone(void **state)
{
    (void)state;
    char *dir = records_dir("sweep_live");
    snap_record *rec = NULL;
    ps_err err;
    assert_int_equal(snap_record_open(dir, "none", &rec, &err), PS_OK);
    assert_int_equal(snap_record_add(rec, "in-use", &err), PS_OK);

    size_t removed = 0;
    assert_int_equal(snapshot_remove_orphans(dir, &removed, &err), PS_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(count_suffix(dir, ".rec"), 1);
    /* The session can still append after the sweep passed. */
    assert_int_equal(snap_record_add(rec, "later", &err), PS_OK);
    assert_int_equal(snap_record_discard(rec, &err), PS_OK);
    assert_int_equal(count_suffix(dir, ".rec"), 0);
    free(dir);
}

/* Make fake clone files in `dir`, record them as the reflink provider
 * would, and close the record as a crashed run leaves it. */
static void test_sweep_removes_recorded_fake_clones(void **state)
{
    (void)state;
    if (!snapshot_provider_by_name("reflink"))
        skip();
    char *base = ts_temp_dir("sweep_fake_clones");
    char *dir = ts_path(base, "records");
    char *clone0 = ts_path(base, ".pstsnap-clone-00c0ffee-0");
    char *clone1 = ts_path(base, ".pstsnap-clone-00c0ffee-1");
    char *never = ts_path(base, ".pstsnap-clone-00c0ffee-2");
    char *live = ts_path(base, "Mail.pst");
    write_text(clone0, "frozen 0");
    write_text(clone1, "frozen 1");
    write_text(live, "live mail");

    snap_record *rec = NULL;
    ps_err err;
    assert_int_equal(snap_record_open(dir, "reflink", &rec, &err), PS_OK);
    assert_int_equal(snap_record_add(rec, clone0, &err), PS_OK);
    assert_int_equal(snap_record_add(rec, clone1, &err), PS_OK);
    assert_int_equal(snap_record_add(rec, never, &err), PS_OK); /* killed before creating it */
    snap_record_close(rec);

    size_t removed = 0;
    assert_int_equal(snapshot_remove_orphans(dir, &removed, &err), PS_OK);
    assert_int_equal(removed, 3); /* a missing artifact counts as removed */
    assert_false(ts_exists(clone0));
    assert_false(ts_exists(clone1));
    assert_true(ts_exists(live));
    assert_int_equal(count_suffix(dir, ".rec"), 0);
    free(clone0);
    free(clone1);
    free(never);
    free(live);
    free(dir);
    free(base);
}

static void test_sweep_refuses_tampered_artifacts_and_keeps_the_record(void **state)
{
    (void)state;
    if (!snapshot_provider_by_name("reflink"))
        skip();
    char *base = ts_temp_dir("sweep_tampered");
    char *dir = ts_path(base, "records");
    char *victim = ts_path(base, "Mail.pst");
    char *clone = ts_path(base, ".pstsnap-clone-1234-0");
    write_text(victim, "precious");
    write_text(clone, "frozen");
    assert_int_equal(ts_mkdir(dir), 0);
    char *rec_path = ts_path(dir, "reflink-1-2-3.rec");
    char text[4096];
    snprintf(text, sizeof text, "reflink\n%s\n%s\n", victim, clone);
    write_text(rec_path, text);

    size_t removed = 0;
    ps_err err;
    assert_int_equal(snapshot_remove_orphans(dir, &removed, &err), PS_ERR_UNSAFE);
    assert_true(mentions(err.msg, rec_path));
    assert_true(mentions(err.msg, victim));
    assert_true(ts_exists(victim));
    assert_false(ts_exists(clone)); /* the genuine artifact still went */
    assert_int_equal(removed, 1);
    assert_true(ts_exists(rec_path));
    free(rec_path);
    free(clone);
    free(victim);
    free(dir);
    free(base);
}

static void test_sweep_ignores_a_truncated_last_line(void **state)
{
    (void)state;
    if (!snapshot_provider_by_name("reflink"))
        skip();
    char *base = ts_temp_dir("sweep_truncated");
    char *dir = ts_path(base, "records");
    char *clone = ts_path(base, ".pstsnap-clone-beef-0");
    write_text(clone, "frozen");
    assert_int_equal(ts_mkdir(dir), 0);
    char *rec_path = ts_path(dir, "reflink-1-2-3.rec");
    char text[4096];
    /* The second add was cut short by a kill: no '\n', and a half name. */
    snprintf(text, sizeof text, "reflink\n%s\n%s/.pstsnap-clo", clone, base);
    write_text(rec_path, text);

    size_t removed = 0;
    ps_err err;
    assert_int_equal(snapshot_remove_orphans(dir, &removed, &err), PS_OK);
    assert_int_equal(removed, 1);
    assert_false(ts_exists(clone));
    assert_false(ts_exists(rec_path));
    free(rec_path);
    free(clone);
    free(dir);
    free(base);
}

static void test_sweep_deletes_empty_and_unfinished_records(void **state)
{
    (void)state;
    char *dir = records_dir("sweep_empty");
    assert_int_equal(ts_mkdir(dir), 0);
    char *empty = ts_path(dir, "none-1-1-1.rec");
    char *unfinished = ts_path(dir, "btrfs-2-2-2.rec");
    char *pending = ts_path(dir, "btrfs-3-3-3.rec.tmp");
    write_text(empty, "");
    write_text(unfinished, "btr"); /* killed while writing the provider line */
    write_text(pending, "btrfs\n"); /* killed before the rename */

    size_t removed = 7;
    ps_err err;
    assert_int_equal(snapshot_remove_orphans(dir, &removed, &err), PS_OK);
    assert_int_equal(removed, 0);
    assert_false(ts_exists(empty));
    assert_false(ts_exists(unfinished));
    assert_false(ts_exists(pending));
    free(pending);
    free(unfinished);
    free(empty);
    free(dir);
}

static void test_sweep_keeps_record_of_unknown_provider(void **state)
{
    (void)state;
    char *dir = records_dir("sweep_unknown");
    assert_int_equal(ts_mkdir(dir), 0);
    char *rec_path = ts_path(dir, "zfs-1-2-3.rec");
    write_text(rec_path, "zfs\ntank/home@pstsnap\n");

    size_t removed = 0;
    ps_err err;
    assert_int_equal(snapshot_remove_orphans(dir, &removed, &err), PS_ERR_UNSUPPORTED);
    assert_true(mentions(err.msg, rec_path));
    assert_non_null(strstr(err.msg, "'zfs'"));
    assert_true(ts_exists(rec_path));
    free(rec_path);
    free(dir);
}

static void test_sweep_reports_garbage_by_file_name_and_goes_on(void **state)
{
    (void)state;
    char *dir = records_dir("sweep_garbage");
    assert_int_equal(ts_mkdir(dir), 0);
    char *binary = ts_path(dir, "aaa-junk.rec");
    char *nul = ts_path(dir, "bbb-nul.rec");
    char *bad_provider = ts_path(dir, "ccc-provider.rec");
    static const unsigned char junk[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0xff,
                                         0xfe, '\n'};
    ts_write_file(binary, junk, sizeof junk);
    ts_write_file(nul, "none\n/a\0/b\n", 11);
    write_text(bad_provider, "not a provider!\n/x\n");

    /* A sound record next to the junk is still swept. */
    snap_record *rec = NULL;
    ps_err err;
    assert_int_equal(snap_record_open(dir, "none", &rec, &err), PS_OK);
    assert_int_equal(snap_record_add(rec, "/ok", &err), PS_OK);
    snap_record_close(rec);

    size_t removed = 0;
    assert_int_equal(snapshot_remove_orphans(dir, &removed, &err), PS_ERR_CORRUPT);
    assert_int_equal(removed, 1);
    assert_non_null(strstr(err.msg, "damaged"));
    assert_non_null(strstr(err.msg, "2 more"));
    assert_true(ts_exists(binary));
    assert_true(ts_exists(nul));
    assert_true(ts_exists(bad_provider));
    assert_int_equal(count_suffix(dir, ".rec"), 3);

    /* Each one alone is reported under its own name. */
    const char *files[] = {binary, nul, bad_provider};
    for (size_t i = 0; i < 3; i++) {
        char *alone = records_dir("sweep_garbage_alone");
        assert_int_equal(ts_mkdir(alone), 0);
        char *moved = ts_path(alone, last_name(files[i]));
        assert_int_equal(rename(files[i], moved), 0);
        assert_int_equal(snapshot_remove_orphans(alone, &removed, &err), PS_ERR_CORRUPT);
        assert_true(mentions(err.msg, moved));
        assert_true(ts_exists(moved));
        free(moved);
        free(alone);
    }
    free(bad_provider);
    free(nul);
    free(binary);
    free(dir);
}

static void test_sweep_refuses_oversized_and_non_regular_entries(void **state)
{
    (void)state;
    char *dir = records_dir("sweep_odd_entries");
    assert_int_equal(ts_mkdir(dir), 0);
    char *big = ts_path(dir, "none-1-1-1.rec");
    size_t size = 2u * 1024 * 1024;
    char *data = malloc(size);
    assert_non_null(data);
    memset(data, 'a', size);
    ts_write_file(big, data, size);
    free(data);
    char *subdir = ts_path(dir, "none-2-2-2.rec");
    assert_int_equal(ts_mkdir(subdir), 0);
    char *other = ts_path(dir, "README.txt");
    write_text(other, "not a record\n");

    size_t removed = 0;
    ps_err err;
    assert_int_not_equal(snapshot_remove_orphans(dir, &removed, &err), PS_OK);
    assert_non_null(strstr(err.msg, "1 more"));
    assert_true(ts_exists(big));
    assert_true(ts_exists(subdir));
    assert_true(ts_exists(other));
    free(other);
    free(subdir);
    free(big);
    free(dir);
}

#ifndef _WIN32 /* fork; the Windows kill is TerminateProcess in the fault tests */
/* A run killed with SIGKILL right after its adds leaves every name on disk. */
static void test_record_survives_sigkill(void **state)
{
    (void)state;
    char *dir = records_dir("record_sigkill");
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        snap_record *rec = NULL;
        ps_err err;
        if (snap_record_open(dir, "none", &rec, &err) != PS_OK ||
            snap_record_add(rec, "/one", &err) != PS_OK ||
            snap_record_add(rec, "/two", &err) != PS_OK ||
            snap_record_add(rec, "/three", &err) != PS_OK)
            _exit(1);
        raise(SIGKILL);
        _exit(2);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    char *path = only_record(dir);
    char *text = ts_read_file(path, NULL);
    assert_string_equal(text, "none\n/one\n/two\n/three\n");
    free(text);

    size_t removed = 0;
    ps_err err;
    assert_int_equal(snapshot_remove_orphans(dir, &removed, &err), PS_OK);
    assert_int_equal(removed, 3);
    assert_false(ts_exists(path));
    free(path);
    free(dir);
}

#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_lists_provider_then_artifacts_in_order),
        cmocka_unit_test(test_record_add_refuses_names_that_would_break_the_format),
        cmocka_unit_test(test_record_open_refuses_bad_provider_names),
        cmocka_unit_test(test_sweep_of_missing_folder_is_nothing_to_do),
        cmocka_unit_test(test_sweep_removes_closed_none_record),
        cmocka_unit_test(test_sweep_leaves_a_live_sessions_record_alone),
        cmocka_unit_test(test_sweep_removes_recorded_fake_clones),
        cmocka_unit_test(test_sweep_refuses_tampered_artifacts_and_keeps_the_record),
        cmocka_unit_test(test_sweep_ignores_a_truncated_last_line),
        cmocka_unit_test(test_sweep_deletes_empty_and_unfinished_records),
        cmocka_unit_test(test_sweep_keeps_record_of_unknown_provider),
        cmocka_unit_test(test_sweep_reports_garbage_by_file_name_and_goes_on),
        cmocka_unit_test(test_sweep_refuses_oversized_and_non_regular_entries),
#ifndef _WIN32
        cmocka_unit_test(test_record_survives_sigkill),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
