/*
 * test_jsonschema_suite.c - runs the official JSON-Schema-Test-Suite (draft 7)
 * cases for the keywords the host relies on through sdk-shim/src/jsonschema.c.
 *
 * The suite comes from Debian's json-schema-test-suite package (or the folder
 * named by JSON_SCHEMA_TEST_SUITE: the one holding tests/ and remotes/). Its
 * remotes are registered under http://localhost:1234/, where the suite
 * expects a server. Cases that $ref the draft-07 metaschema get it from
 * Debian's python3-jsonschema package (or JSON_SCHEMA_DRAFT7_METASCHEMA); we
 * never carry a copy. Without either, the test is skipped, not passed.
 */
#include "jsonschema.h"
#include "test_support.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REMOTE_BASE "http://localhost:1234/"
#define METASCHEMA_URI "http://json-schema.org/draft-07/schema"

static const char *const suite_files[] = {
    "type", "properties", "patternProperties", "additionalProperties", "required",
    "items", "additionalItems", "enum", "const", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "minItems",
    "maxItems", "pattern", "ref", "refRemote", "definitions", "default",
    "boolean_schema", NULL,
};

/* Documents every schema may $ref: the suite's remotes and the metaschema. */
typedef struct registry {
    size_t count;
    char *uri[64];
    json_t *doc[64];
} registry;

static registry docs;
static const char *suite_dir;

static json_t *load_json(const char *path)
{
    json_error_t jerr;
    json_t *v = json_load_file(path, JSON_DECODE_ANY, &jerr);
    if (!v)
        fail_msg("cannot parse '%s' line %d: %s", path, jerr.line, jerr.text);
    return v;
}

static void register_doc(const char *uri, json_t *doc)
{
    assert_true(docs.count < sizeof docs.doc / sizeof docs.doc[0]);
    docs.uri[docs.count] = strdup(uri);
    docs.doc[docs.count] = doc;
    docs.count++;
}

/* Register remotes/<rel>/... as http://localhost:1234/<rel>/... */
static void load_remotes(const char *dir, const char *rel)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        fail_msg("cannot list '%s'", dir);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *path = ts_path(dir, e->d_name);
        char sub[512];
        snprintf(sub, sizeof sub, "%s%s", rel, e->d_name);
        size_t n = strlen(e->d_name);
        if (n > 5 && strcmp(e->d_name + n - 5, ".json") == 0) {
            char uri[600];
            snprintf(uri, sizeof uri, REMOTE_BASE "%s", sub);
            register_doc(uri, load_json(path));
        } else {
            strncat(sub, "/", sizeof sub - strlen(sub) - 1);
            load_remotes(path, sub);
        }
        free(path);
    }
    closedir(d);
}

typedef struct tally {
    size_t passed, total;
} tally;

static void report_failure(const char *file, const json_t *group, const json_t *test,
                           const char *why)
{
    printf("FAIL %s.json: %s: %s (%s)\n", file,
           json_string_value(json_object_get(group, "description")),
           json_string_value(json_object_get(test, "description")), why);
}

static js_schema *compile_group(json_t *schema, char *why, size_t len)
{
    js_schema *s = js_schema_new(schema, why, len);
    for (size_t i = 0; s && i < docs.count; i++) {
        if (js_schema_add_document(s, docs.uri[i], docs.doc[i]) != 0) {
            snprintf(why, len, "registering %s: %s", docs.uri[i], js_schema_error(s));
            js_schema_free(s);
            s = NULL;
        }
    }
    return s;
}

static void run_case(js_schema *s, const char *file, const json_t *group, const json_t *test,
                     tally *t)
{
    js_errors errs = {0};
    int expect_valid = json_is_true(json_object_get(test, "valid"));
    size_t n = js_validate(s, json_object_get(test, "data"), NULL, &errs);
    t->total++;
    if ((n == 0) == expect_valid) {
        t->passed++;
    } else {
        char why[512];
        snprintf(why, sizeof why, "expected %s, got %lu error(s)%s%s%s",
                 expect_valid ? "valid" : "invalid", (unsigned long)n, n ? ": " : "",
                 n ? errs.items[0].pointer : "", n ? errs.items[0].message : "");
        report_failure(file, group, test, why);
    }
    js_errors_free(&errs);
}

static void run_file(const char *file, tally *t)
{
    char name[256];
    snprintf(name, sizeof name, "tests/draft7/%s.json", file);
    char *path = ts_path(suite_dir, name);
    json_t *groups = load_json(path);
    size_t gi, ti;
    json_t *group, *test;

    json_array_foreach(groups, gi, group) {
        char why[512] = "";
        json_t *tests = json_object_get(group, "tests");
        js_schema *s = compile_group(json_object_get(group, "schema"), why, sizeof why);
        json_array_foreach(tests, ti, test) {
            if (s) {
                run_case(s, file, group, test, t);
            } else {
                t->total++;
                report_failure(file, group, test, why);
            }
        }
        js_schema_free(s);
    }
    json_decref(groups);
    free(path);
}

static void draft7_suite_passes_every_case(void **state)
{
    (void)state;
    tally t = {0, 0};
    for (size_t i = 0; suite_files[i]; i++)
        run_file(suite_files[i], &t);
    printf("json-schema-test-suite draft7: %lu/%lu passed (%.1f%%)\n", (unsigned long)t.passed,
           (unsigned long)t.total,
           t.total ? 100.0 * (double)t.passed / (double)t.total : 0.0);
    fflush(stdout);
    assert_true(t.total > 0);
    assert_int_equal(t.passed, t.total);
}

int main(void)
{
    suite_dir = ts_env("JSON_SCHEMA_TEST_SUITE", "/usr/share/json-schema-test-suite");
    const char *meta_path = ts_env("JSON_SCHEMA_DRAFT7_METASCHEMA",
                                   "/usr/lib/python3/dist-packages/jsonschema/schemas/draft7.json");
    char *draft7 = ts_path(suite_dir, "tests/draft7");
    char *remotes = ts_path(suite_dir, "remotes");
    char why[1024];

    if (!ts_exists(draft7)) {
        snprintf(why, sizeof why, "no JSON-Schema-Test-Suite at '%s' (install Debian's "
                 "json-schema-test-suite or set JSON_SCHEMA_TEST_SUITE)", suite_dir);
        ts_skip(why);
    }
    if (!ts_exists(meta_path)) {
        snprintf(why, sizeof why, "no draft-07 metaschema at '%s' (install Debian's "
                 "python3-jsonschema or set JSON_SCHEMA_DRAFT7_METASCHEMA)", meta_path);
        ts_skip(why);
    }
    register_doc(METASCHEMA_URI, load_json(meta_path));
    if (ts_exists(remotes))
        load_remotes(remotes, "");

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(draft7_suite_passes_every_case),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    for (size_t i = 0; i < docs.count; i++) {
        free(docs.uri[i]);
        json_decref(docs.doc[i]);
    }
    free(draft7);
    free(remotes);
    return rc;
}
