/*
 * test_params.c - plugin/core/params.c: the Backup PSTs parameters, their
 * defaults (taken from the embedded schema) and the "/field: why" errors a
 * host that did not validate gets back.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "test_support.h"

/* Parse `json`, expect failure with exactly `message`. */
static void expect_error(const char *json, const char *message)
{
    ps_params p;
    ps_err err;
    ps_err_clear(&err);
    ps_status st = ps_params_parse(json, &p, &err);
    if (st != PS_ERR_INVALID)
        fail_msg("%s: expected PS_ERR_INVALID, got %d (%s)", json, st, err.msg);
    assert_int_equal(err.code, PS_ERR_INVALID);
    assert_string_equal(err.msg, message);
    /* A failed parse leaves nothing behind for the caller to free. */
    assert_null(p.destination);
    assert_null(p.sources);
    assert_null(p.include);
    assert_null(p.exclude);
    assert_null(p.snapshot);
}

/* Parse `json`, expect failure whose message starts with `prefix`. */
static void expect_error_prefix(const char *json, const char *prefix)
{
    ps_params p;
    ps_err err;
    ps_err_clear(&err);
    assert_int_equal(ps_params_parse(json, &p, &err), PS_ERR_INVALID);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0)
        fail_msg("%s: message '%s' does not start with '%s'", json, err.msg, prefix);
}

static void expect_ok(const char *json, ps_params *p)
{
    ps_err err;
    ps_err_clear(&err);
    ps_status st = ps_params_parse(json, p, &err);
    if (st != PS_OK)
        fail_msg("%s: expected PS_OK, got %d (%s)", json, st, err.msg);
}

static void test_only_destination_gives_the_schema_defaults(void **state)
{
    (void)state;
    ps_params p;
    expect_ok("{\"destination\": \"$(DataNowHome)\\\\Outlook Backup\"}", &p);
    assert_string_equal(p.destination, "$(DataNowHome)\\Outlook Backup");
    assert_int_equal(p.source_count, 2);
    assert_string_equal(p.sources[0], "%LOCALAPPDATA%\\Microsoft\\Outlook");
    assert_string_equal(p.sources[1], "%USERPROFILE%\\Documents\\Outlook Files");
    assert_true(p.outlook_profiles);
    assert_int_equal(p.include_count, 1);
    assert_string_equal(p.include[0], "*.pst");
    assert_int_equal(p.exclude_count, 1);
    assert_string_equal(p.exclude[0], "*.ost");
    assert_true(p.recurse);
    assert_false(p.update_in_place);
    assert_string_equal(p.snapshot, "auto");
    assert_int_equal(p.min_interval_s, 3600);
    assert_int_equal(p.keep_versions, 0);
    assert_int_equal(p.block_size, 64 * 1024);
    assert_int_equal(p.verify, PS_VERIFY_QUICK);
    assert_int_equal(p.max_bandwidth_mibps, 0);
    assert_true(p.io_priority_low);
    ps_params_free(&p);
    assert_null(p.destination); /* free leaves a zeroed struct */
    assert_int_equal(p.source_count, 0);
}

static void test_every_field_given_overrides_its_default(void **state)
{
    (void)state;
    ps_params p;
    expect_ok("{\"destination\": \"/backup\", \"sources\": [\"/a\", \"/b\", \"/c\"],"
              " \"outlookProfiles\": false, \"include\": [\"Archive/**/*.pst\", \"Mail.pst\"],"
              " \"exclude\": [], \"recurse\": false, \"snapshot\": \"none\","
              " \"minInterval\": \"90m\", \"keepVersions\": 3, \"blockSize\": 4096,"
              " \"verify\": \"full\", \"maxBandwidth\": 50, \"ioPriority\": \"normal\","
              " \"updateInPlace\": true}",
              &p);
    assert_string_equal(p.destination, "/backup");
    assert_int_equal(p.source_count, 3);
    assert_string_equal(p.sources[2], "/c");
    assert_false(p.outlook_profiles);
    assert_int_equal(p.include_count, 2);
    assert_string_equal(p.include[0], "Archive/**/*.pst");
    assert_string_equal(p.include[1], "Mail.pst");
    assert_int_equal(p.exclude_count, 0);
    assert_false(p.recurse);
    assert_string_equal(p.snapshot, "none");
    assert_int_equal(p.min_interval_s, 5400);
    assert_int_equal(p.keep_versions, 3);
    assert_int_equal(p.block_size, 4096u * 1024u);
    assert_int_equal(p.verify, PS_VERIFY_FULL);
    assert_int_equal(p.max_bandwidth_mibps, 50);
    assert_false(p.io_priority_low);
    assert_true(p.update_in_place);
    ps_params_free(&p);
}

static void test_edge_values_of_each_range_are_accepted(void **state)
{
    (void)state;
    ps_params p;
    expect_ok("{\"destination\": \"d\", \"keepVersions\": 0, \"blockSize\": 4,"
              " \"maxBandwidth\": 100000, \"minInterval\": \"0\", \"verify\": \"none\"}",
              &p);
    assert_int_equal(p.keep_versions, 0);
    assert_int_equal(p.block_size, 4096);
    assert_int_equal(p.max_bandwidth_mibps, 100000);
    assert_int_equal(p.min_interval_s, 0);
    assert_int_equal(p.verify, PS_VERIFY_NONE);
    ps_params_free(&p);
    expect_ok("{\"destination\": \"d\", \"keepVersions\": 100, \"sources\": [],"
              " \"minInterval\": \"999999d\"}",
              &p);
    assert_int_equal(p.keep_versions, 100);
    assert_int_equal(p.source_count, 0);
    assert_int_equal(p.min_interval_s, 999999LL * 86400);
    ps_params_free(&p);
}

static void test_every_snapshot_method_is_accepted(void **state)
{
    (void)state;
    const char *methods[] = {"auto", "vss", "btrfs", "reflink", "none"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        char json[128];
        snprintf(json, sizeof json, "{\"destination\": \"d\", \"snapshot\": \"%s\"}", methods[i]);
        ps_params p;
        expect_ok(json, &p);
        assert_string_equal(p.snapshot, methods[i]);
        ps_params_free(&p);
    }
}

static void test_every_power_of_two_block_size_is_accepted(void **state)
{
    (void)state;
    for (unsigned kib = 4; kib <= 4096; kib *= 2) {
        char json[128];
        snprintf(json, sizeof json, "{\"destination\": \"d\", \"blockSize\": %u}", kib);
        ps_params p;
        expect_ok(json, &p);
        assert_int_equal(p.block_size, kib * 1024u);
        ps_params_free(&p);
    }
}

static void test_destination_is_required_and_must_be_a_plain_string(void **state)
{
    (void)state;
    expect_error("{}", "/destination: required");
    expect_error("{\"recurse\": true}", "/destination: required");
    expect_error("{\"destination\": 5}", "/destination: expected a non-empty string");
    expect_error("{\"destination\": \"\"}", "/destination: expected a non-empty string");
    expect_error("{\"destination\": null}", "/destination: expected a non-empty string");
    expect_error("{\"destination\": [\"d\"]}", "/destination: expected a non-empty string");
}

static void test_sources_must_be_a_list_of_at_most_64_non_empty_strings(void **state)
{
    (void)state;
    expect_error("{\"destination\": \"d\", \"sources\": \"/a\"}", "/sources: expected a list of strings");
    expect_error("{\"destination\": \"d\", \"sources\": {}}", "/sources: expected a list of strings");
    expect_error("{\"destination\": \"d\", \"sources\": [\"/a\", 1]}",
                 "/sources/1: expected a non-empty string");
    expect_error("{\"destination\": \"d\", \"sources\": [\"/a\", \"\"]}",
                 "/sources/1: expected a non-empty string");
    char json[1024] = "{\"destination\": \"d\", \"sources\": [";
    for (int i = 0; i < 65; i++)
        strcat(json, i ? ",\"s\"" : "\"s\"");
    strcat(json, "]}");
    expect_error(json, "/sources: at most 64 entries");
}

static void test_booleans_refuse_other_types(void **state)
{
    (void)state;
    expect_error("{\"destination\": \"d\", \"outlookProfiles\": \"yes\"}",
                 "/outlookProfiles: expected true or false");
    expect_error("{\"destination\": \"d\", \"recurse\": 1}", "/recurse: expected true or false");
    expect_error("{\"destination\": \"d\", \"recurse\": null}", "/recurse: expected true or false");
    expect_error("{\"destination\": \"d\", \"updateInPlace\": \"true\"}",
                 "/updateInPlace: expected true or false");
}

static void test_include_needs_at_least_one_valid_pattern(void **state)
{
    (void)state;
    expect_error("{\"destination\": \"d\", \"include\": []}", "/include: needs at least one pattern");
    expect_error("{\"destination\": \"d\", \"include\": \"*.pst\"}",
                 "/include: expected a list of strings");
    expect_error("{\"destination\": \"d\", \"include\": [\"*.pst\", 7]}",
                 "/include/1: expected a non-empty string");
    expect_error("{\"destination\": \"d\", \"include\": [\"../x\"]}",
                 "/include/0: pattern '../x' has a '..' segment; patterns may not leave the "
                 "folder being searched");
    expect_error("{\"destination\": \"d\", \"include\": [\"*.pst\", \"/abs/*.pst\"]}",
                 "/include/1: pattern '/abs/*.pst' is absolute; patterns are relative to the "
                 "folder being searched");
    expect_error("{\"destination\": \"d\", \"include\": [\"C:\\\\x\\\\*.pst\"]}",
                 "/include/0: pattern 'C:\\x\\*.pst' is absolute; patterns are relative to the "
                 "folder being searched");
    expect_error("{\"destination\": \"d\", \"include\": [\"a**b\"]}",
                 "/include/0: pattern 'a**b' uses '**' inside a segment; '**' must be a whole "
                 "segment such as in 'Archive/**/*.pst'");
}

static void test_exclude_patterns_are_checked_like_include(void **state)
{
    (void)state;
    expect_error("{\"destination\": \"d\", \"exclude\": [\"*.ost\", \"a/../b\"]}",
                 "/exclude/1: pattern 'a/../b' has a '..' segment; patterns may not leave the "
                 "folder being searched");
    expect_error("{\"destination\": \"d\", \"exclude\": [\"\\\\x.pst\"]}",
                 "/exclude/0: pattern '\\x.pst' is absolute; patterns are relative to the "
                 "folder being searched");
    expect_error("{\"destination\": \"d\", \"exclude\": [\"**x\"]}",
                 "/exclude/0: pattern '**x' uses '**' inside a segment; '**' must be a whole "
                 "segment such as in 'Archive/**/*.pst'");
    expect_error("{\"destination\": \"d\", \"exclude\": false}", "/exclude: expected a list of strings");
}

static void test_enums_list_the_allowed_values(void **state)
{
    (void)state;
    expect_error("{\"destination\": \"d\", \"snapshot\": \"zfs\"}",
                 "/snapshot: must be one of auto, vss, btrfs, reflink, none");
    expect_error("{\"destination\": \"d\", \"snapshot\": \"AUTO\"}",
                 "/snapshot: must be one of auto, vss, btrfs, reflink, none");
    expect_error("{\"destination\": \"d\", \"snapshot\": 1}",
                 "/snapshot: must be one of auto, vss, btrfs, reflink, none");
    expect_error("{\"destination\": \"d\", \"verify\": \"fast\"}",
                 "/verify: must be one of none, quick, full");
    expect_error("{\"destination\": \"d\", \"ioPriority\": \"high\"}",
                 "/ioPriority: must be one of low, normal");
    expect_error("{\"destination\": \"d\", \"ioPriority\": true}",
                 "/ioPriority: must be one of low, normal");
}

static void test_min_interval_must_be_a_number_with_a_unit(void **state)
{
    (void)state;
    const char *msg = "/minInterval: expected a number with an optional unit s, m, h or d (e.g. \"90m\")";
    expect_error("{\"destination\": \"d\", \"minInterval\": \"1w\"}", msg);
    expect_error("{\"destination\": \"d\", \"minInterval\": \"\"}", msg);
    expect_error("{\"destination\": \"d\", \"minInterval\": 60}", msg);
    expect_error("{\"destination\": \"d\", \"minInterval\": \"1000000\"}", msg);
    expect_error("{\"destination\": \"d\", \"minInterval\": \"-1h\"}", msg);
}

static void test_integers_out_of_range_or_of_other_types_are_refused(void **state)
{
    (void)state;
    const char *kv = "/keepVersions: expected a whole number from 0 to 100";
    expect_error("{\"destination\": \"d\", \"keepVersions\": -1}", kv);
    expect_error("{\"destination\": \"d\", \"keepVersions\": 101}", kv);
    expect_error("{\"destination\": \"d\", \"keepVersions\": 1.5}", kv);
    expect_error("{\"destination\": \"d\", \"keepVersions\": \"2\"}", kv);
    const char *mb = "/maxBandwidth: expected a whole number from 0 to 100000";
    expect_error("{\"destination\": \"d\", \"maxBandwidth\": -1}", mb);
    expect_error("{\"destination\": \"d\", \"maxBandwidth\": 100001}", mb);
    expect_error("{\"destination\": \"d\", \"maxBandwidth\": 4294967296}", mb);
}

static void test_block_size_must_be_a_power_of_two_from_4_to_4096(void **state)
{
    (void)state;
    const char *pow2 = "/blockSize: must be a power of two from 4 to 4096 KiB";
    expect_error("{\"destination\": \"d\", \"blockSize\": 0}", pow2);
    expect_error("{\"destination\": \"d\", \"blockSize\": 2}", pow2);
    expect_error("{\"destination\": \"d\", \"blockSize\": 48}", pow2);
    expect_error("{\"destination\": \"d\", \"blockSize\": 8192}", pow2);
    expect_error("{\"destination\": \"d\", \"blockSize\": -64}", pow2);
    expect_error("{\"destination\": \"d\", \"blockSize\": 64.0}", pow2);
}

static void test_unknown_parameter_is_named(void **state)
{
    (void)state;
    expect_error("{\"destination\": \"d\", \"snapshots\": \"auto\"}", "/snapshots: unknown parameter");
    expect_error("{\"Destination\": \"d\"}", "/Destination: unknown parameter");
}

static void test_text_that_is_not_json_reports_where_it_broke(void **state)
{
    (void)state;
    expect_error_prefix("{\"destination\": ", "parameters are not valid JSON (line 1, column ");
    expect_error_prefix("", "parameters are not valid JSON (line ");
    expect_error_prefix("{\"destination\": \"d\",\n \"recurse\": tru}",
                        "parameters are not valid JSON (line 2, column ");
    /* Two values for one name: which one wins would be a guess. */
    expect_error_prefix("{\"destination\": \"a\", \"destination\": \"b\"}",
                        "parameters are not valid JSON (line 1, column ");
}

/* A NUL would cut a path or a pattern short where the engine reads it as a
 * C string ("none\u0000x" read as "none"): refused wherever it appears. */
static void test_a_nul_character_in_any_string_is_refused(void **state)
{
    (void)state;
    const char *jsons[] = {
        "{\"destination\": \"a\\u0000b\"}",
        "{\"destination\": \"d\", \"sources\": [\"a\\u0000\"]}",
        "{\"destination\": \"d\", \"include\": [\"x\\u0000.pst\"]}",
        "{\"destination\": \"d\", \"snapshot\": \"none\\u0000x\"}",
        "{\"destination\": \"d\", \"minInterval\": \"1h\\u0000x\"}",
    };
    for (size_t i = 0; i < sizeof jsons / sizeof jsons[0]; i++) {
        ps_params p;
        ps_err err;
        ps_err_clear(&err);
        if (ps_params_parse(jsons[i], &p, &err) != PS_ERR_INVALID)
            fail_msg("%s was accepted", jsons[i]);
        assert_non_null(strstr(err.msg, "\\u0000"));
    }
}

static void test_json_that_is_not_an_object_is_refused(void **state)
{
    (void)state;
    expect_error("[]", "parameters must be a JSON object");
    expect_error("[{\"destination\": \"d\"}]", "parameters must be a JSON object");
}

static void test_interval_parser_accepts_units_and_rejects_everything_else(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t seconds;
    } table[] = {
        {"0", 0},          {"1", 1},           {"30s", 30},        {"90m", 5400},
        {"1h", 3600},      {"1d", 86400},      {"0h", 0},          {"999999", 999999},
        {"999999d", 999999LL * 86400},         {"000001h", 3600},  {"", -1},
        {"h", -1},         {"1x", -1},         {"1hh", -1},        {"1h ", -1},
        {" 1h", -1},       {"1 h", -1},        {"-1", -1},         {"+1", -1},
        {"1.5h", -1},      {"1H", -1},         {"1000000", -1},    {"0000001", -1},
        {"1e3", -1},       {"h1", -1},
        /* Digits enough to overflow 64 bits (a fuzz finding): refused,
         * without undefined behaviour (UBSan in the sanitizer build). */
        {"666666666666666666666666666666666s", -1}, {"99999999999999999999999d", -1},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        int64_t got = ps_parse_interval(table[i].text);
        if (got != table[i].seconds)
            fail_msg("ps_parse_interval(\"%s\") = %lld, expected %lld", table[i].text,
                     (long long)got, (long long)table[i].seconds);
    }
    assert_int_equal(ps_parse_interval(NULL), -1);
}

static void test_embedded_schema_is_the_one_in_the_source_tree(void **state)
{
    (void)state;
    const char *src = ts_env("PSTSNAP_SOURCE_DIR", NULL);
    if (!src)
        skip();
    char *path = ts_path(src, "schemas/backup-psts.parameters.schema.json");
    size_t len = 0;
    char *text = ts_read_file(path, &len);
    assert_int_equal(strlen(pstsnap_backup_psts_schema_json), len);
    assert_memory_equal(pstsnap_backup_psts_schema_json, text, len);
    free(text);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_only_destination_gives_the_schema_defaults),
        cmocka_unit_test(test_every_field_given_overrides_its_default),
        cmocka_unit_test(test_edge_values_of_each_range_are_accepted),
        cmocka_unit_test(test_every_snapshot_method_is_accepted),
        cmocka_unit_test(test_every_power_of_two_block_size_is_accepted),
        cmocka_unit_test(test_destination_is_required_and_must_be_a_plain_string),
        cmocka_unit_test(test_sources_must_be_a_list_of_at_most_64_non_empty_strings),
        cmocka_unit_test(test_booleans_refuse_other_types),
        cmocka_unit_test(test_include_needs_at_least_one_valid_pattern),
        cmocka_unit_test(test_exclude_patterns_are_checked_like_include),
        cmocka_unit_test(test_enums_list_the_allowed_values),
        cmocka_unit_test(test_min_interval_must_be_a_number_with_a_unit),
        cmocka_unit_test(test_integers_out_of_range_or_of_other_types_are_refused),
        cmocka_unit_test(test_block_size_must_be_a_power_of_two_from_4_to_4096),
        cmocka_unit_test(test_unknown_parameter_is_named),
        cmocka_unit_test(test_text_that_is_not_json_reports_where_it_broke),
        cmocka_unit_test(test_a_nul_character_in_any_string_is_refused),
        cmocka_unit_test(test_json_that_is_not_an_object_is_refused),
        cmocka_unit_test(test_interval_parser_accepts_units_and_rejects_everything_else),
        cmocka_unit_test(test_embedded_schema_is_the_one_in_the_source_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
