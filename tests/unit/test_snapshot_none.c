/*
 * test_snapshot_none.c - the provider registry (plugin/snapshot/snapshot.c)
 * and the "none" provider (plugin/snapshot/none.c).
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "snapshot.h"
#include "test_support.h"

static void test_registry_lists_providers_best_first_with_none_last(void **state)
{
    (void)state;
    size_t count = 0;
    const snap_provider *const *list = snapshot_providers(&count);
    assert_non_null(list);
#if defined(__linux__)
    assert_int_equal(count, 3);
    /* The clone first: it blocks writers while it clones (snapshot.c). */
    assert_string_equal(list[0]->name, "reflink");
    assert_string_equal(list[1]->name, "btrfs");
#endif
    assert_true(count >= 1);
    assert_string_equal(list[count - 1]->name, "none");
    for (size_t i = 0; i < count; i++) {
        assert_non_null(list[i]->probe);
        assert_non_null(list[i]->create);
        assert_non_null(list[i]->map_path);
        assert_non_null(list[i]->release);
        assert_non_null(list[i]->remove_artifact);
        /* Only "none" leaves the engine to check stability itself. */
        assert_int_equal(list[i]->is_live, strcmp(list[i]->name, "none") == 0);
    }
}

static void test_provider_by_name_finds_each_and_rejects_unknown(void **state)
{
    (void)state;
    size_t count = 0;
    const snap_provider *const *list = snapshot_providers(&count);
    for (size_t i = 0; i < count; i++)
        assert_ptr_equal(snapshot_provider_by_name(list[i]->name), list[i]);
    assert_null(snapshot_provider_by_name("NONE"));
    assert_null(snapshot_provider_by_name(""));
    assert_null(snapshot_provider_by_name("zfs"));
    assert_null(snapshot_provider_by_name(NULL));
}

static void test_none_probe_accepts_a_regular_file(void **state)
{
    (void)state;
    const snap_provider *none = snapshot_provider_by_name("none");
    char *dir = ts_temp_dir("none_probe");
    char *file = ts_path(dir, "Mail.pst");
    ts_write_file(file, "pst", 3);
    ps_err err;
    assert_int_equal(none->probe(file, &err), PS_OK);
    free(file);
    free(dir);
}

static void test_none_probe_names_a_missing_file(void **state)
{
    (void)state;
    const snap_provider *none = snapshot_provider_by_name("none");
    char *dir = ts_temp_dir("none_probe_missing");
    char *file = ts_path(dir, "Gone.pst");
    ps_err err;
    assert_int_equal(none->probe(file, &err), PS_ERR_NOTFOUND);
    assert_int_equal(err.code, PS_ERR_NOTFOUND);
    assert_non_null(strstr(err.msg, file));
    free(file);
    free(dir);
}

static void test_none_probe_refuses_a_folder(void **state)
{
    (void)state;
    const snap_provider *none = snapshot_provider_by_name("none");
    char *dir = ts_temp_dir("none_probe_dir");
    ps_err err;
    assert_int_equal(none->probe(dir, &err), PS_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "not a regular file"));
    free(dir);
}

static void test_none_maps_each_path_to_itself_and_makes_nothing(void **state)
{
    (void)state;
    const snap_provider *none = snapshot_provider_by_name("none");
    char *dir = ts_temp_dir("none_map");
    char *records = ts_path(dir, "records");
    char *a = ts_path(dir, "a.pst");
    char *b = ts_path(dir, "b.pst");
    ts_write_file(a, "a", 1);
    ts_write_file(b, "b", 1);
    const char *paths[] = {a, b};

    ps_err err;
    snap_record *rec = NULL;
    snap_session *session = NULL;
    assert_int_equal(snap_record_open(records, none->name, &rec, &err), PS_OK);
    assert_int_equal(none->create(paths, 2, rec, &session, &err), PS_OK);
    assert_non_null(session);

    char *mapped = NULL;
    assert_int_equal(none->map_path(session, b, &mapped, &err), PS_OK);
    assert_string_equal(mapped, b);
    assert_ptr_not_equal(mapped, b); /* a copy the caller frees */
    free(mapped);
    assert_int_equal(none->map_path(session, a, &mapped, &err), PS_OK);
    assert_string_equal(mapped, a);
    free(mapped);

    /* Nothing was made, so nothing was recorded. */
    size_t removed = 0;
    snap_record_close(rec);
    assert_int_equal(snapshot_remove_orphans(records, &removed, &err), PS_OK);
    assert_int_equal(removed, 0);

    assert_int_equal(none->release(session, &err), PS_OK);
    assert_true(ts_exists(a));
    assert_true(ts_exists(b));
    free(b);
    free(a);
    free(records);
    free(dir);
}

static void test_none_map_path_refuses_a_file_outside_the_set(void **state)
{
    (void)state;
    const snap_provider *none = snapshot_provider_by_name("none");
    const char *paths[] = {"/x/a.pst"};
    snap_session *session = NULL;
    ps_err err;
    assert_int_equal(none->create(paths, 1, NULL, &session, &err), PS_OK);
    char *mapped = (char *)"untouched";
    assert_int_equal(none->map_path(session, "/x/other.pst", &mapped, &err), PS_ERR_INVALID);
    assert_null(mapped);
    assert_non_null(strstr(err.msg, "/x/other.pst"));
    assert_int_equal(none->release(session, &err), PS_OK);
}

static void test_none_handles_an_empty_set(void **state)
{
    (void)state;
    const snap_provider *none = snapshot_provider_by_name("none");
    snap_session *session = NULL;
    ps_err err;
    assert_int_equal(none->create(NULL, 0, NULL, &session, &err), PS_OK);
    assert_int_equal(none->release(session, &err), PS_OK);
}

static void test_none_remove_artifact_always_succeeds(void **state)
{
    (void)state;
    const snap_provider *none = snapshot_provider_by_name("none");
    ps_err err;
    assert_int_equal(none->remove_artifact("/anything/at/all", &err), PS_OK);
    assert_int_equal(none->remove_artifact("", &err), PS_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_lists_providers_best_first_with_none_last),
        cmocka_unit_test(test_provider_by_name_finds_each_and_rejects_unknown),
        cmocka_unit_test(test_none_probe_accepts_a_regular_file),
        cmocka_unit_test(test_none_probe_names_a_missing_file),
        cmocka_unit_test(test_none_probe_refuses_a_folder),
        cmocka_unit_test(test_none_maps_each_path_to_itself_and_makes_nothing),
        cmocka_unit_test(test_none_map_path_refuses_a_file_outside_the_set),
        cmocka_unit_test(test_none_handles_an_empty_set),
        cmocka_unit_test(test_none_remove_artifact_always_succeeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
