/*
 * test_jsonschema.c - what an admin sees from sdk-shim/src/jsonschema.c: the
 * JSON pointer and message of each violation, and why a schema is refused.
 * Keyword semantics are covered by test_jsonschema_suite.c.
 */
#include "jsonschema.h"
#include "test_support.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!v)
        fail_msg("bad JSON in test (%s): %s", jerr.text, text);
    return v;
}

/* The schema holds its own reference to the JSON, so ours is dropped at once:
 * that also proves js_schema_new keeps what it needs. */
static js_schema *compile(const char *schema_text)
{
    char err[512];
    json_t *doc = parse(schema_text);
    js_schema *s = js_schema_new(doc, err, sizeof err);
    json_decref(doc);
    if (!s)
        fail_msg("schema rejected: %s", err);
    return s;
}

/* Validate `instance_text`; returns the count js_validate reported. */
static size_t check(const js_schema *s, const char *instance_text, const char *prefix,
                    js_errors *out)
{
    json_t *inst = parse(instance_text);
    size_t n = js_validate(s, inst, prefix, out);
    json_decref(inst);
    return n;
}

/* Validate and expect exactly one violation, with this pointer and message. */
static void expect_one(const char *schema_text, const char *instance_text, const char *pointer,
                       const char *message)
{
    js_schema *s = compile(schema_text);
    js_errors errs = {0};
    assert_int_equal(check(s, instance_text, NULL, &errs), 1);
    assert_int_equal(errs.count, 1);
    assert_string_equal(errs.items[0].pointer, pointer);
    assert_string_equal(errs.items[0].message, message);
    js_errors_free(&errs);
    js_schema_free(s);
}

/* js_schema_new must refuse the schema with a message containing each of
 * the given fragments (NULL-terminated). */
static void expect_rejected(const char *schema_text, ...)
{
    char err[512] = "";
    json_t *doc = parse(schema_text);
    js_schema *s = js_schema_new(doc, err, sizeof err);
    json_decref(doc);
    if (s) {
        js_schema_free(s);
        fail_msg("schema accepted: %s", schema_text);
    }
    va_list ap;
    va_start(ap, schema_text);
    for (const char *want; (want = va_arg(ap, const char *)) != NULL;)
        if (!strstr(err, want))
            fail_msg("message \"%s\" lacks \"%s\"", err, want);
    va_end(ap);
}

/* ---- pointers ---- */

static void required_points_at_the_missing_member(void **state)
{
    (void)state;
    expect_one("{\"properties\": {\"a\": {\"properties\": "
               "{\"b\": {\"required\": [\"destination\"]}}}}}",
               "{\"a\": {\"b\": {}}}", "/a/b/destination", "required");
}

static void nested_array_indices_appear_in_the_pointer(void **state)
{
    (void)state;
    expect_one("{\"properties\": {\"rules\": {\"items\": "
               "{\"properties\": {\"n\": {\"minimum\": 0}}}}}}",
               "{\"rules\": [{\"n\": 1}, {\"n\": 5}, {\"n\": -1}]}", "/rules/2/n", "must be >= 0");
}

static void tilde_and_slash_in_names_are_escaped(void **state)
{
    (void)state;
    js_schema *s = compile("{\"additionalProperties\": false}");
    js_errors errs = {0};
    assert_int_equal(check(s, "{\"a/b\": 1, \"m~n\": 2}", NULL, &errs), 2);
    assert_string_equal(errs.items[0].pointer, "/a~1b");
    assert_string_equal(errs.items[1].pointer, "/m~0n");
    assert_string_equal(errs.items[0].message, "unknown property (additionalProperties is false)");
    js_errors_free(&errs);
    js_schema_free(s);
}

static void a_violation_of_the_whole_value_has_the_empty_pointer(void **state)
{
    (void)state;
    expect_one("{\"type\": \"object\"}", "[1]", "", "expected object, got array");
}

static void pointer_prefix_is_put_before_every_pointer(void **state)
{
    (void)state;
    const char *prefix = "/triggers/processStarted/0/nodes/0/actions/0/parameters";
    js_schema *s = compile("{\"required\": [\"destination\"], "
                           "\"properties\": {\"keep\": {\"type\": \"integer\"}}}");
    js_errors errs = {0};
    assert_int_equal(check(s, "{\"keep\": \"x\"}", prefix, &errs), 2);
    assert_string_equal(errs.items[0].pointer,
                        "/triggers/processStarted/0/nodes/0/actions/0/parameters/keep");
    assert_string_equal(errs.items[1].pointer,
                        "/triggers/processStarted/0/nodes/0/actions/0/parameters/destination");
    js_errors_free(&errs);
    js_schema_free(s);
}

static void ref_into_definitions_reports_at_the_instance_location(void **state)
{
    (void)state;
    expect_one("{\"definitions\": {\"mode\": {\"enum\": [\"auto\", \"vss\", \"none\"]}}, "
               "\"properties\": {\"snapshot\": {\"$ref\": \"#/definitions/mode\"}}}",
               "{\"snapshot\": \"always\"}", "/snapshot",
               "must be one of: \"auto\", \"vss\", \"none\"");
}

/* ---- collecting ---- */

static void every_violation_is_collected(void **state)
{
    (void)state;
    js_schema *s = compile("{\"type\": \"object\", \"required\": [\"destination\"], "
                           "\"properties\": {\"name\": {\"type\": \"string\", \"maxLength\": 3},"
                           " \"copies\": {\"type\": \"integer\", \"minimum\": 1}}}");
    js_errors errs = {0};
    assert_int_equal(check(s, "{\"name\": \"abcdef\", \"copies\": 0}", NULL, &errs), 3);
    assert_int_equal(errs.count, 3);
    assert_string_equal(errs.items[0].pointer, "/name");
    assert_string_equal(errs.items[0].message, "must be at most 3 characters");
    assert_string_equal(errs.items[1].pointer, "/copies");
    assert_string_equal(errs.items[1].message, "must be >= 1");
    assert_string_equal(errs.items[2].pointer, "/destination");
    assert_string_equal(errs.items[2].message, "required");
    js_errors_free(&errs);
    js_schema_free(s);
}

static void errors_accumulate_across_calls_and_free_resets_the_list(void **state)
{
    (void)state;
    js_schema *s = compile("{\"type\": \"string\"}");
    js_errors errs = {0};
    assert_int_equal(check(s, "1", "/first", &errs), 1);
    assert_int_equal(check(s, "\"ok\"", "/second", &errs), 0);
    assert_int_equal(check(s, "null", "/third", &errs), 1);
    assert_int_equal(errs.count, 2);
    assert_string_equal(errs.items[1].pointer, "/third");
    assert_string_equal(errs.items[1].message, "expected string, got null");
    js_errors_free(&errs);
    assert_int_equal(errs.count, 0);
    assert_null(errs.items);
    js_schema_free(s);
}

static void format_writes_one_pointer_and_message_per_line(void **state)
{
    (void)state;
    js_schema *s = compile("{\"type\": \"object\", \"required\": [\"a\"]}");
    js_errors errs = {0};
    check(s, "[]", NULL, &errs);
    check(s, "{}", "/p", &errs);
    char *text = js_errors_format(&errs);
    assert_string_equal(text, "(root): expected object, got array\n/p/a: required\n");
    free(text);
    js_errors_free(&errs);
    text = js_errors_format(&errs);
    assert_string_equal(text, "");
    free(text);
    js_schema_free(s);
}

/* ---- messages ---- */

static void type_message_names_expected_and_actual_types(void **state)
{
    (void)state;
    expect_one("{\"type\": \"string\"}", "42", "", "expected string, got integer");
    expect_one("{\"type\": [\"string\", \"null\"]}", "1.5", "",
               "expected string or null, got number");
}

static void integer_type_accepts_a_whole_real(void **state)
{
    (void)state;
    js_schema *s = compile("{\"type\": \"integer\", \"const\": 1}");
    js_errors errs = {0};
    assert_int_equal(check(s, "1.0", NULL, &errs), 0);
    assert_int_equal(check(s, "1.5", NULL, &errs), 1);
    assert_string_equal(errs.items[0].message, "expected integer, got number");
    js_errors_free(&errs);
    js_schema_free(s);
}

static void limits_are_stated_in_the_message(void **state)
{
    (void)state;
    expect_one("{\"exclusiveMaximum\": 0.5}", "0.5", "", "must be < 0.5");
    expect_one("{\"maximum\": 10}", "11", "", "must be <= 10");
    expect_one("{\"minItems\": 1}", "[]", "", "must have at least 1 item");
    expect_one("{\"maxProperties\": 1}", "{\"a\": 1, \"b\": 2}", "",
               "must have at most 1 property");
    expect_one("{\"multipleOf\": 5}", "12", "", "must be a multiple of 5");
}

static void length_counts_characters_not_bytes(void **state)
{
    (void)state;
    js_schema *s = compile("{\"maxLength\": 3}");
    js_errors errs = {0};
    assert_int_equal(check(s, "\"\xc3\xa9t\xc3\xa9\"", NULL, &errs), 0); /* "été": 5 bytes */
    assert_int_equal(check(s, "\"\xf0\x9f\x93\xa7mail\"", NULL, &errs), 1);
    assert_string_equal(errs.items[0].message, "must be at most 3 characters");
    js_errors_free(&errs);
    js_schema_free(s);
}

static void pattern_message_quotes_the_pattern(void **state)
{
    (void)state;
    expect_one("{\"properties\": {\"id\": {\"pattern\": \"^[a-z]+$\"}}}", "{\"id\": \"Ab\"}", "/id",
               "does not match pattern \"^[a-z]+$\"");
}

static void patterns_use_ecmascript_syntax(void **state)
{
    (void)state;
    js_schema *s = compile("{\"pattern\": \"^(?:\\\\d{1,3}\\\\.){3}\\\\d{1,3}$|^\\\\w+?-\\\\S$\"}");
    js_errors errs = {0};
    assert_int_equal(check(s, "\"10.0.0.1\"", NULL, &errs), 0);
    assert_int_equal(check(s, "\"host_1-x\"", NULL, &errs), 0);
    assert_int_equal(check(s, "\"10.0.0\"", NULL, &errs), 1);
    js_errors_free(&errs);
    js_schema_free(s);
}

static void runaway_pattern_is_reported_not_hung(void **state)
{
    (void)state;
    expect_one("{\"pattern\": \"^(a+)+$\"}", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\"", "",
               "could not be checked against pattern \"^(a+)+$\" (too complex)");
}

static void extra_tuple_items_are_pointed_at(void **state)
{
    (void)state;
    expect_one("{\"items\": [{}, {}], \"additionalItems\": false}", "[1, 2, 3]", "/2",
               "unexpected item (additionalItems is false)");
}

static void duplicate_items_name_the_first_copy(void **state)
{
    (void)state;
    expect_one("{\"uniqueItems\": true}", "[\"a\", \"b\", \"a\"]", "/2",
               "duplicate of item 0 (items must be unique)");
}

static void const_compares_json_values_deeply(void **state)
{
    (void)state;
    js_schema *s = compile("{\"const\": {\"a\": [1, 2.0], \"b\": null}}");
    js_errors errs = {0};
    assert_int_equal(check(s, "{\"b\": null, \"a\": [1.0, 2]}", NULL, &errs), 0);
    assert_int_equal(check(s, "{\"a\": [1, 2]}", NULL, &errs), 1);
    assert_string_equal(errs.items[0].message, "must equal {\"a\":[1,2.0],\"b\":null}");
    js_errors_free(&errs);
    js_schema_free(s);
}

static void anyof_explains_the_alternative_of_the_right_type(void **state)
{
    (void)state;
    const char *schema = "{\"anyOf\": [{\"type\": \"string\", \"minLength\": 2}, "
                         "{\"type\": \"object\", \"required\": [\"path\"]}]}";
    expect_one(schema, "\"x\"", "", "must be at least 2 characters");
    expect_one(schema, "{}", "/path", "required");
    expect_one(schema, "3", "", "must match at least one of the \"anyOf\" schemas");
}

static void property_names_errors_say_they_are_about_the_name(void **state)
{
    (void)state;
    expect_one("{\"propertyNames\": {\"maxLength\": 3}}", "{\"long\": 1}", "/long",
               "invalid property name: must be at most 3 characters");
}

static void dependencies_name_the_missing_member_and_why(void **state)
{
    (void)state;
    expect_one("{\"dependencies\": {\"user\": [\"domain\"]}}", "{\"user\": \"bob\"}", "/domain",
               "required (because \"user\" is present)");
}

/* ---- schemas ---- */

static void schema_with_unresolvable_ref_is_rejected(void **state)
{
    (void)state;
    expect_rejected("{\"properties\": {\"foo\": {\"$ref\": \"#/definitions/missing\"}}}",
                    "cannot resolve $ref \"#/definitions/missing\"", "#/properties/foo", NULL);
}

static void schema_with_bad_pattern_is_rejected(void **state)
{
    (void)state;
    expect_rejected("{\"properties\": {\"name\": {\"pattern\": \"([a-z]\"}}}",
                    "invalid pattern \"([a-z]\"", "#/properties/name", "missing ')'", NULL);
    expect_rejected("{\"patternProperties\": {\"a{3,1}\": {}}}", "a{3,1}", "out of order", NULL);
    expect_rejected("{\"pattern\": \"(a)\\\\1\"}", "backreferences", NULL);
}

static void schema_that_is_not_an_object_is_rejected(void **state)
{
    (void)state;
    expect_rejected("42", "must be a JSON object or a boolean", NULL);
}

static void ref_to_a_document_registered_later_resolves(void **state)
{
    (void)state;
    js_schema *s = compile("{\"properties\": {\"n\": "
                           "{\"$ref\": \"http://example.com/defs.json#/count\"}}}");
    js_errors errs = {0};
    char why[256];

    assert_int_equal(js_schema_check_refs(s, why, sizeof why), -1);
    assert_non_null(strstr(why, "http://example.com/defs.json#/count"));
    assert_int_equal(check(s, "{\"n\": 1}", NULL, &errs), 1);
    assert_string_equal(errs.items[0].pointer, "/n");
    assert_non_null(strstr(errs.items[0].message, "cannot resolve $ref"));
    js_errors_free(&errs);

    json_t *defs = parse("{\"count\": {\"type\": \"integer\", \"minimum\": 0}}");
    assert_int_equal(js_schema_add_document(s, "http://example.com/defs.json", defs), 0);
    json_decref(defs);
    assert_int_equal(js_schema_check_refs(s, why, sizeof why), 0);
    assert_int_equal(check(s, "{\"n\": -2}", NULL, &errs), 1);
    assert_string_equal(errs.items[0].message, "must be >= 0");
    js_errors_free(&errs);
    js_schema_free(s);
}

static void document_with_a_broken_ref_is_refused(void **state)
{
    (void)state;
    js_schema *s = compile("{\"$ref\": \"http://example.com/a.json\"}");
    json_t *doc = parse("{\"$ref\": \"#/nowhere\"}");
    assert_int_equal(js_schema_add_document(s, "http://example.com/a.json", doc), -1);
    assert_non_null(strstr(js_schema_error(s), "cannot resolve $ref \"#/nowhere\""));
    json_decref(doc);
    js_schema_free(s);
}

static void ref_cycle_is_reported_instead_of_crashing(void **state)
{
    (void)state;
    js_schema *s = compile("{\"definitions\": {\"a\": {\"$ref\": \"#/definitions/b\"}, "
                           "\"b\": {\"$ref\": \"#/definitions/a\"}}, "
                           "\"$ref\": \"#/definitions/a\"}");
    js_errors errs = {0};
    assert_int_equal(check(s, "1", NULL, &errs), 1);
    assert_non_null(strstr(errs.items[0].message, "recursion too deep"));
    js_errors_free(&errs);
    js_schema_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(required_points_at_the_missing_member),
        cmocka_unit_test(nested_array_indices_appear_in_the_pointer),
        cmocka_unit_test(tilde_and_slash_in_names_are_escaped),
        cmocka_unit_test(a_violation_of_the_whole_value_has_the_empty_pointer),
        cmocka_unit_test(pointer_prefix_is_put_before_every_pointer),
        cmocka_unit_test(ref_into_definitions_reports_at_the_instance_location),
        cmocka_unit_test(every_violation_is_collected),
        cmocka_unit_test(errors_accumulate_across_calls_and_free_resets_the_list),
        cmocka_unit_test(format_writes_one_pointer_and_message_per_line),
        cmocka_unit_test(type_message_names_expected_and_actual_types),
        cmocka_unit_test(integer_type_accepts_a_whole_real),
        cmocka_unit_test(limits_are_stated_in_the_message),
        cmocka_unit_test(length_counts_characters_not_bytes),
        cmocka_unit_test(pattern_message_quotes_the_pattern),
        cmocka_unit_test(patterns_use_ecmascript_syntax),
        cmocka_unit_test(runaway_pattern_is_reported_not_hung),
        cmocka_unit_test(extra_tuple_items_are_pointed_at),
        cmocka_unit_test(duplicate_items_name_the_first_copy),
        cmocka_unit_test(const_compares_json_values_deeply),
        cmocka_unit_test(anyof_explains_the_alternative_of_the_right_type),
        cmocka_unit_test(property_names_errors_say_they_are_about_the_name),
        cmocka_unit_test(dependencies_name_the_missing_member_and_why),
        cmocka_unit_test(schema_with_unresolvable_ref_is_rejected),
        cmocka_unit_test(schema_with_bad_pattern_is_rejected),
        cmocka_unit_test(schema_that_is_not_an_object_is_rejected),
        cmocka_unit_test(ref_to_a_document_registered_later_resolves),
        cmocka_unit_test(document_with_a_broken_ref_is_refused),
        cmocka_unit_test(ref_cycle_is_reported_instead_of_crashing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
