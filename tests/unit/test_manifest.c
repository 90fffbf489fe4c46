/*
 * test_manifest.c - plugin/core/manifest.c: the record of the last complete
 * backup of each file. A manifest is trusted only when it is exactly what
 * this build wrote; anything else is PS_ERR_CORRUPT (and a full copy).
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "manifest.h"
#include "test_fs.h"
#include "test_support.h"

static ps_manifest_entry sample(const char *key, int64_t n)
{
    ps_manifest_entry e = {.key = (char *)key,
                           .source = (char *)"/home/u/Outlook/Mail.pst",
                           .size = 1000 + (uint64_t)n,
                           .mtime_ns = 1700000000000000000LL + n,
                           .dest_size = 2000 + (uint64_t)n,
                           .dest_mtime_ns = 1700000001000000000LL + n,
                           .backed_up_ns = 1700000002000000000LL + n,
                           .frozen_ns = 1700000001500000000LL + n};
    snprintf(e.snapshot, sizeof e.snapshot, "%s", n % 2 ? "btrfs" : "none");
    return e;
}

static void assert_entry_equal(const ps_manifest_entry *got, const ps_manifest_entry *want)
{
    assert_non_null(got);
    assert_string_equal(got->key, want->key);
    assert_string_equal(got->source, want->source);
    assert_true(got->size == want->size);
    assert_true(got->mtime_ns == want->mtime_ns);
    assert_true(got->dest_size == want->dest_size);
    assert_true(got->dest_mtime_ns == want->dest_mtime_ns);
    assert_true(got->backed_up_ns == want->backed_up_ns);
    assert_true(got->frozen_ns == want->frozen_ns);
    assert_string_equal(got->snapshot, want->snapshot);
}

/* Write a manifest with two entries to `path`. */
static void save_two(const char *path)
{
    ps_manifest m = {0};
    ps_err err;
    ps_manifest_entry a = sample("Outlook/Mail.pst", 1), b = sample("Outlook Files/Archive.pst", 2);
    assert_int_equal(manifest_set(&m, &a, &err), PS_OK);
    assert_int_equal(manifest_set(&m, &b, &err), PS_OK);
    assert_int_equal(manifest_save(&m, path, "/backup/dest", &err), PS_OK);
    manifest_free(&m);
}

/* Load and expect PS_ERR_CORRUPT, an empty manifest, and a message naming
 * the file and containing `why`. */
static void expect_corrupt(const char *path, const char *why)
{
    ps_manifest m = {(ps_manifest_entry *)1};
    ps_err err;
    ps_err_clear(&err);
    ps_status st = manifest_load(path, &m, &err);
    if (st != PS_ERR_CORRUPT)
        fail_msg("expected PS_ERR_CORRUPT, got %d (%s)", st, err.msg);
    assert_int_equal(err.code, PS_ERR_CORRUPT);
    assert_null(m.entries);
    if (!strstr(err.msg, why) || !strstr(err.msg, path))
        fail_msg("message '%s' should name '%s' and say '%s'", err.msg, path, why);
}

static json_t *load_json(const char *path)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc)
        fail_msg("%s: %s", path, jerr.text);
    return doc;
}

/* Write `doc` (consumed) with a checksum computed the way the manifest
 * defines it, so that only the part a test changed is wrong. */
static void save_signed(json_t *doc, const char *path)
{
    json_object_del(doc, "checksum");
    char *canonical = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(canonical);
    char hex[17];
    ps_hash_hex(ps_hash64(canonical, strlen(canonical)), hex);
    free(canonical);
    json_object_set_new(doc, "checksum", json_string(hex));
    assert_int_equal(json_dump_file(doc, path, JSON_INDENT(1)), 0);
    json_decref(doc);
}

/* Replace the first occurrence of `from` in the file by `to`. */
static void edit_file(const char *path, const char *from, const char *to)
{
    size_t len = 0;
    char *text = ts_read_file(path, &len);
    char *at = strstr(text, from);
    if (!at)
        fail_msg("'%s' not found in %s", from, path);
    size_t n = len - strlen(from) + strlen(to);
    char *out = malloc(n + 1);
    assert_non_null(out);
    size_t head = (size_t)(at - text);
    memcpy(out, text, head);
    memcpy(out + head, to, strlen(to));
    strcpy(out + head + strlen(to), at + strlen(from));
    ts_write_file(path, out, n);
    free(out);
    free(text);
}

static void test_saved_entries_load_back_unchanged(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("manifest_round_trip");
    char *path = ts_path(dir, "m.json");
    save_two(path);
    ps_manifest m = {0};
    ps_err err;
    assert_int_equal(manifest_load(path, &m, &err), PS_OK);
    assert_int_equal(HASH_COUNT(m.entries), 2);
    ps_manifest_entry a = sample("Outlook/Mail.pst", 1), b = sample("Outlook Files/Archive.pst", 2);
    assert_entry_equal(manifest_get(&m, "Outlook/Mail.pst"), &a);
    assert_entry_equal(manifest_get(&m, "Outlook Files/Archive.pst"), &b);
    assert_null(manifest_get(&m, "Outlook/mail.pst")); /* keys are exact */
    manifest_free(&m);
    assert_null(m.entries);
    /* The destination it was written for is recorded. */
    json_t *doc = load_json(path);
    assert_string_equal(json_string_value(json_object_get(doc, "destination")), "/backup/dest");
    json_decref(doc);
    free(path);
    free(dir);
}

static void test_extreme_values_and_unicode_keys_round_trip(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("manifest_extremes");
    char *path = ts_path(dir, "m.json");
    ps_manifest m = {0};
    ps_err err;
    ps_manifest_entry e = sample("Outlook/\xd0\x9f\xd0\xbe\xd1\x87\xd1\x82\xd0\xb0 \"q\".pst", 0);
    e.size = (uint64_t)INT64_MAX;
    e.mtime_ns = -1; /* before 1970 is a valid mtime */
    e.dest_mtime_ns = INT64_MIN;
    e.backed_up_ns = 0;
    e.frozen_ns = INT64_MAX;
    snprintf(e.snapshot, sizeof e.snapshot, "%s", "reflink");
    assert_int_equal(manifest_set(&m, &e, &err), PS_OK);
    assert_int_equal(manifest_save(&m, path, "C:\\Users\\u\\Backup", &err), PS_OK);
    manifest_free(&m);
    assert_int_equal(manifest_load(path, &m, &err), PS_OK);
    assert_entry_equal(manifest_get(&m, e.key), &e);
    manifest_free(&m);
    free(path);
    free(dir);
}

static void test_set_replaces_an_entry_with_the_same_key(void **state)
{
    (void)state;
    ps_manifest m = {0};
    ps_err err;
    ps_manifest_entry a = sample("k", 1), b = sample("k", 2);
    char key[] = "k";
    b.key = key; /* a caller's buffer: the manifest keeps its own copy */
    assert_int_equal(manifest_set(&m, &a, &err), PS_OK);
    assert_int_equal(manifest_set(&m, &b, &err), PS_OK);
    key[0] = 'x';
    assert_int_equal(HASH_COUNT(m.entries), 1);
    b.key = (char *)"k";
    assert_entry_equal(manifest_get(&m, "k"), &b);
    manifest_free(&m);
}

static void test_missing_file_is_an_empty_manifest(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("manifest_missing");
    char *path = ts_path(dir, "none.json");
    ps_manifest m = {(ps_manifest_entry *)1};
    ps_err err;
    assert_int_equal(manifest_load(path, &m, &err), PS_OK);
    assert_null(m.entries);
    free(path);
    free(dir);
}

static void test_edited_value_fails_the_checksum(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("manifest_edited");
    char *path = ts_path(dir, "m.json");
    save_two(path);
    edit_file(path, "\"size\": 1001", "\"size\": 1002");
    expect_corrupt(path, "checksum mismatch");
    save_two(path);
    edit_file(path, "Outlook/Mail.pst", "Outlook/Mail.psu");
    expect_corrupt(path, "checksum mismatch");
    /* A checksum that is missing or not 16 hex digits never matches. */
    json_t *doc = load_json(path);
    json_object_del(doc, "checksum");
    assert_int_equal(json_dump_file(doc, path, 0), 0);
    json_decref(doc);
    expect_corrupt(path, "checksum mismatch");
    doc = load_json(path);
    json_object_set_new(doc, "checksum", json_integer(7));
    assert_int_equal(json_dump_file(doc, path, 0), 0);
    json_decref(doc);
    expect_corrupt(path, "checksum mismatch");
    free(path);
    free(dir);
}

static void test_layout_changes_that_keep_the_content_are_accepted(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("manifest_layout");
    char *path = ts_path(dir, "m.json");
    save_two(path);
    /* Reformatting (another indent, other key order) is not damage: the
     * checksum covers the canonical form. */
    json_t *doc = load_json(path);
    assert_int_equal(json_dump_file(doc, path, JSON_COMPACT), 0);
    json_decref(doc);
    ps_manifest m = {0};
    ps_err err;
    assert_int_equal(manifest_load(path, &m, &err), PS_OK);
    assert_int_equal(HASH_COUNT(m.entries), 2);
    manifest_free(&m);
    free(path);
    free(dir);
}

static void test_other_version_is_refused(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("manifest_version");
    char *path = ts_path(dir, "m.json");
    save_two(path);
    json_t *doc = load_json(path);
    json_object_set_new(doc, "version", json_integer(2));
    save_signed(doc, path);
    expect_corrupt(path, "has version 2; this build reads 1");
    doc = load_json(path);
    json_object_set_new(doc, "version", json_string("1"));
    save_signed(doc, path);
    expect_corrupt(path, "this build reads 1");
    free(path);
    free(dir);
}

static void test_other_format_is_not_a_manifest(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("manifest_format");
    char *path = ts_path(dir, "m.json");
    save_two(path);
    json_t *doc = load_json(path);
    json_object_set_new(doc, "format", json_string("pstsnap-journal"));
    save_signed(doc, path);
    expect_corrupt(path, "is not a pstsnap manifest");
    ts_write_file(path, "[1, 2, 3]", 9);
    expect_corrupt(path, "is not a pstsnap manifest");
    ts_write_file(path, "{}", 2);
    expect_corrupt(path, "is not a pstsnap manifest");
    free(path);
    free(dir);
}

static void test_truncated_or_empty_file_is_not_valid_json(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("manifest_truncated");
    char *path = ts_path(dir, "m.json");
    save_two(path);
    size_t len = 0;
    free(ts_read_file(path, &len));
    assert_int_equal(ts_truncate(path, (uint64_t)(len / 2)), 0);
    expect_corrupt(path, "is not valid JSON");
    assert_int_equal(ts_truncate(path, 0), 0);
    expect_corrupt(path, "is not valid JSON");
    free(path);
    free(dir);
}

/* Set /files/0/<field> to `value` (consumed), re-sign, expect refusal. */
static void expect_bad_field(const char *path, const char *field, json_t *value, const char *why)
{
    save_two(path);
    json_t *doc = load_json(path);
    json_t *entry = json_array_get(json_object_get(doc, "files"), 0);
    assert_non_null(entry);
    if (value)
        json_object_set_new(entry, field, value);
    else
        json_object_del(entry, field);
    save_signed(doc, path);
    expect_corrupt(path, why);
}

static void test_fields_of_the_wrong_type_are_refused(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("manifest_field_types");
    char *path = ts_path(dir, "m.json");
    const char *lacks = "/files/0 lacks key, source or snapshot";
    const char *bad = "/files/0 has a bad number";
    expect_bad_field(path, "key", json_integer(3), lacks);
    expect_bad_field(path, "key", json_string(""), lacks);
    expect_bad_field(path, "key", NULL, lacks);
    expect_bad_field(path, "source", json_null(), lacks);
    expect_bad_field(path, "snapshot", json_string("a-very-long-provider"), lacks);
    expect_bad_field(path, "size", json_string("12"), bad);
    expect_bad_field(path, "size", json_integer(-1), bad);
    expect_bad_field(path, "size", json_real(1.5), bad);
    expect_bad_field(path, "destSize", json_integer(-5), bad);
    expect_bad_field(path, "backedUpNs", json_integer(-5), bad);
    expect_bad_field(path, "frozenNs", json_integer(-5), bad);
    expect_bad_field(path, "mtimeNs", json_true(), bad);
    expect_bad_field(path, "destMtimeNs", NULL, bad);
    expect_bad_field(path, "frozenNs", NULL, bad);
    /* /files itself must be a list. */
    save_two(path);
    json_t *doc = load_json(path);
    json_object_set_new(doc, "files", json_object());
    save_signed(doc, path);
    expect_corrupt(path, "/files is not a list");
    free(path);
    free(dir);
}

static void test_duplicate_names_are_refused(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("manifest_duplicates");
    char *path = ts_path(dir, "m.json");
    /* A name given twice in one object: JSON readers disagree on which value
     * wins, so the file is not trusted. */
    save_two(path);
    edit_file(path, "\"size\": 1001", "\"size\": 1001, \"size\": 7");
    expect_corrupt(path, "is not valid JSON");
    save_two(path);
    edit_file(path, "\"version\": 1", "\"version\": 1, \"version\": 1");
    expect_corrupt(path, "is not valid JSON");
    /* Two entries for one key: the manifest never writes that, so the file
     * is not what this build wrote, even with a valid checksum. */
    save_two(path);
    json_t *doc = load_json(path);
    json_t *files = json_object_get(doc, "files");
    json_array_append_new(files, json_deep_copy(json_array_get(files, 0)));
    save_signed(doc, path);
    expect_corrupt(path, "/files/2");
    free(path);
    free(dir);
}

static void test_oversized_file_is_refused_as_corrupt(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("manifest_oversized");
    char *path = ts_path(dir, "m.json");
    ts_write_file(path, "{", 1);
    assert_int_equal(ts_truncate(path, (uint64_t)65 << 20), 0); /* sparse */
    expect_corrupt(path, "allowed");
    free(path);
    free(dir);
}

static void test_ten_thousand_entries_round_trip(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("manifest_big");
    char *path = ts_path(dir, "m.json");
    ps_manifest m = {0};
    ps_err err;
    char key[64];
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "Outlook/sub%d/Mail %05d.pst", i % 97, i);
        ps_manifest_entry e = sample(key, i);
        assert_int_equal(manifest_set(&m, &e, &err), PS_OK);
    }
    assert_int_equal(manifest_save(&m, path, "/dest", &err), PS_OK);
    manifest_free(&m);
    assert_int_equal(manifest_load(path, &m, &err), PS_OK);
    assert_int_equal(HASH_COUNT(m.entries), 10000);
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "Outlook/sub%d/Mail %05d.pst", i % 97, i);
        ps_manifest_entry want = sample(key, i);
        assert_entry_equal(manifest_get(&m, key), &want);
    }
    manifest_free(&m);
    free(path);
    free(dir);
}

static void test_save_replaces_the_old_file_and_leaves_no_temp_file(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("manifest_atomic");
    char *path = ts_path(dir, "m.json");
    save_two(path);
    ps_manifest m = {0};
    ps_err err;
    ps_manifest_entry only = sample("Only.pst", 9);
    assert_int_equal(manifest_set(&m, &only, &err), PS_OK);
    assert_int_equal(manifest_save(&m, path, "/d", &err), PS_OK);
    manifest_free(&m);
    assert_int_equal(manifest_load(path, &m, &err), PS_OK);
    assert_int_equal(HASH_COUNT(m.entries), 1);
    assert_entry_equal(manifest_get(&m, "Only.pst"), &only);
    manifest_free(&m);
    /* Nothing but the manifest in the folder. */
    assert_int_equal(ts_count_entries(dir), 1);
    free(path);
    free(dir);
}

static void test_save_never_writes_through_a_link(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("manifest_link");
    char *path = ts_path(dir, "m.json");
    char *target = ts_path(dir, "target");
    ts_write_file(target, "keep", 4);
    if (ts_symlink(target, path, 0) != 0)
        skip(); /* no symbolic links here (Windows without the right) */
    ps_manifest m = {0};
    ps_err err;
    ps_manifest_entry e = sample("a", 1);
    assert_int_equal(manifest_set(&m, &e, &err), PS_OK);
    manifest_save(&m, path, "/d", &err); /* replaces the link itself, or fails */
    manifest_free(&m);
    size_t len = 0;
    char *data = ts_read_file(target, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(data, "keep", 4);
    free(data);
    free(target);
    free(path);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_saved_entries_load_back_unchanged),
        cmocka_unit_test(test_extreme_values_and_unicode_keys_round_trip),
        cmocka_unit_test(test_set_replaces_an_entry_with_the_same_key),
        cmocka_unit_test(test_missing_file_is_an_empty_manifest),
        cmocka_unit_test(test_edited_value_fails_the_checksum),
        cmocka_unit_test(test_layout_changes_that_keep_the_content_are_accepted),
        cmocka_unit_test(test_other_version_is_refused),
        cmocka_unit_test(test_other_format_is_not_a_manifest),
        cmocka_unit_test(test_truncated_or_empty_file_is_not_valid_json),
        cmocka_unit_test(test_fields_of_the_wrong_type_are_refused),
        cmocka_unit_test(test_duplicate_names_are_refused),
        cmocka_unit_test(test_oversized_file_is_refused_as_corrupt),
        cmocka_unit_test(test_ten_thousand_entries_round_trip),
        cmocka_unit_test(test_save_replaces_the_old_file_and_leaves_no_temp_file),
        cmocka_unit_test(test_save_never_writes_through_a_link),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
