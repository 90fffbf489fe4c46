/*
 * jsonschema_validate.c - applies a compiled schema to an instance: $ref,
 * type, enum, const, number and string keywords, and the combinators
 * (allOf, anyOf, oneOf, not, if/then/else). Objects and arrays are in
 * jsonschema_containers.c.
 *
 * Messages are written for the admin who edits the policy: they say what the
 * value must be ("must be >= 0"), and the pointer says where it is.
 */
#include "jsonschema_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Far deeper than any policy; reached only by a $ref cycle that never moves
 * into the instance ({"$ref": "#"} at the root), which would otherwise
 * recurse until the stack overflows. */
#define JS_MAX_DEPTH 256

void js_report(js_vctx *c, const char *fmt, ...)
{
    /* A fixed buffer, and no %zu anywhere: mingw's msvcrt printf neither
     * measures with vsnprintf(NULL, 0) nor knows 'z'. Longer messages are
     * only possible with huge patterns or values, and are cut. */
    char msg[2048];
    va_list ap;
    c->count++;
    if (!c->out)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    msg[sizeof msg - 1] = '\0';
    js_errors_add(c->out, js_path_str(c->path), msg); /* on failure still counted */
}

int js_is_valid(js_vctx *c, const json_t *schema, const json_t *inst)
{
    js_vctx probe = *c;
    probe.out = NULL;
    probe.count = 0;
    js_check(&probe, schema, inst);
    return probe.count == 0;
}

/* ---- type, enum, const ---- */

static int type_matches(const char *type, const json_t *inst)
{
    if (strcmp(type, "integer") == 0)
        return js_is_integral(inst); /* 1.0 is an integer in JSON Schema */
    if (strcmp(type, "number") == 0)
        return json_is_number(inst);
    if (strcmp(type, "boolean") == 0)
        return json_is_boolean(inst);
    return strcmp(type, js_type_name(inst)) == 0; /* object array string null */
}

/* Returns 0 (after reporting) when the type is wrong. */
static int check_type(js_vctx *c, const json_t *schema, const json_t *inst)
{
    const json_t *type = json_object_get(schema, "type");
    char expected[256] = "";
    size_t count = json_is_array(type) ? json_array_size(type) : 1;

    if (!json_is_string(type) && !json_is_array(type))
        return 1;
    for (size_t i = 0; i < count; i++) {
        const char *t = json_string_value(json_is_array(type) ? json_array_get(type, i) : type);
        if (!t)
            continue;
        if (type_matches(t, inst))
            return 1;
        size_t used = strlen(expected);
        snprintf(expected + used, sizeof expected - used, "%s%s", used ? " or " : "", t);
    }
    js_report(c, "expected %s, got %s", expected, js_type_name(inst));
    return 0;
}

/* "must be one of: "auto", "vss", "none"" — long lists are cut short. */
static void report_enum(js_vctx *c, const json_t *values)
{
    char list[1024] = "";
    size_t used = 0;
    for (size_t i = 0; i < json_array_size(values) && used < sizeof list - 8; i++) {
        char *text = js_value_text(json_array_get(values, i), 80);
        int n = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                         text ? text : "?");
        free(text);
        used = n < 0 ? used : used + (size_t)n;
    }
    if (used >= sizeof list - 8)
        snprintf(list + sizeof list - 8, 8, ", ...");
    js_report(c, "must be one of: %s", list);
}

static void check_enum_const(js_vctx *c, const json_t *schema, const json_t *inst)
{
    const json_t *values = json_object_get(schema, "enum");
    const json_t *konst = json_object_get(schema, "const");

    if (json_is_array(values)) {
        size_t i = 0;
        while (i < json_array_size(values) && !js_json_equal(json_array_get(values, i), inst))
            i++;
        if (i == json_array_size(values))
            report_enum(c, values);
    }
    if (konst && !js_json_equal(konst, inst)) {
        char *text = js_value_text(konst, 200);
        js_report(c, "must equal %s", text ? text : "the value given by \"const\"");
        free(text);
    }
}

/* ---- numbers and strings ---- */

static void check_number(js_vctx *c, const json_t *schema, const json_t *inst)
{
    /* keyword, the comparison results that fail, and the message */
    static const struct {
        const char *kw;
        int fail_below, fail_equal, fail_above;
        const char *fmt;
    } limits[] = {
        {"minimum", 1, 0, 0, "must be >= %s"},
        {"maximum", 0, 0, 1, "must be <= %s"},
        {"exclusiveMinimum", 1, 1, 0, "must be > %s"},
        {"exclusiveMaximum", 0, 1, 1, "must be < %s"},
    };
    for (size_t k = 0; k < sizeof limits / sizeof limits[0]; k++) {
        const json_t *limit = json_object_get(schema, limits[k].kw);
        if (!json_is_number(limit))
            continue;
        int cmp = js_number_cmp(inst, limit);
        if ((cmp < 0 && limits[k].fail_below) || (cmp == 0 && limits[k].fail_equal) ||
            (cmp > 0 && limits[k].fail_above)) {
            char *text = js_value_text(limit, 64);
            js_report(c, limits[k].fmt, text ? text : "the limit");
            free(text);
        }
    }
    const json_t *divisor = json_object_get(schema, "multipleOf");
    if (json_is_number(divisor) && json_number_value(divisor) > 0 &&
        !js_is_multiple_of(inst, divisor)) {
        char *text = js_value_text(divisor, 64);
        js_report(c, "must be a multiple of %s", text ? text : "multipleOf");
        free(text);
    }
}

static void check_string(js_vctx *c, const js_node *node, const json_t *inst)
{
    const char *str = json_string_value(inst);
    size_t bytes = json_string_length(inst), chars = js_utf8_length(str, bytes), limit;

    if (js_get_count(node->schema, "minLength", &limit) && chars < limit)
        js_report(c, "must be at least %lu character%s", (unsigned long)limit,
                  limit == 1 ? "" : "s");
    if (js_get_count(node->schema, "maxLength", &limit) && chars > limit)
        js_report(c, "must be at most %lu character%s", (unsigned long)limit,
                  limit == 1 ? "" : "s");
    if (node->pattern) {
        const char *pattern = json_string_value(json_object_get(node->schema, "pattern"));
        int r = js_regex_search(node->pattern, str, bytes);
        if (r == 0)
            js_report(c, "does not match pattern \"%s\"", pattern);
        else if (r < 0)
            js_report(c, "could not be checked against pattern \"%s\" (too complex)", pattern);
    }
}

/* ---- combinators ---- */

/* For anyOf/oneOf that matched nothing: when exactly one alternative accepts
 * the value's type (say the string form of "a string or an object"), its
 * own errors explain the problem better than "matched none". */
static const json_t *sole_type_match(const js_vctx *c, const json_t *list, const json_t *inst)
{
    const json_t *found = NULL;
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *alt = json_array_get(list, i);
        const js_node *n = js_node_find(c->s, alt);
        while (n && n->ref_target)
            n = js_node_find(c->s, n->ref_target);
        const json_t *type = n ? json_object_get(n->schema, "type") : NULL;
        if (!json_is_string(type))
            return NULL; /* an alternative without a single type: no guess */
        if (type_matches(json_string_value(type), inst)) {
            if (found)
                return NULL;
            found = n->schema;
        }
    }
    return found;
}

static void check_any_one(js_vctx *c, const json_t *schema, const json_t *inst)
{
    const json_t *any = json_object_get(schema, "anyOf");
    const json_t *one = json_object_get(schema, "oneOf");
    size_t matched = 0;

    for (size_t i = 0; i < json_array_size(any) && !matched; i++)
        matched = js_is_valid(c, json_array_get(any, i), inst);
    if (json_is_array(any) && !matched) {
        const json_t *alt = sole_type_match(c, any, inst);
        if (alt)
            js_check(c, alt, inst);
        else
            js_report(c, "must match at least one of the \"anyOf\" schemas");
    }
    matched = 0;
    for (size_t i = 0; i < json_array_size(one) && matched < 2; i++)
        matched += (size_t)js_is_valid(c, json_array_get(one, i), inst);
    if (json_is_array(one) && matched == 0) {
        const json_t *alt = sole_type_match(c, one, inst);
        if (alt)
            js_check(c, alt, inst);
        else
            js_report(c, "must match exactly one of the \"oneOf\" schemas, but matches none");
    } else if (json_is_array(one) && matched > 1) {
        js_report(c, "must match exactly one of the \"oneOf\" schemas, but matches several");
    }
}

static void check_combinators(js_vctx *c, const json_t *schema, const json_t *inst)
{
    const json_t *all = json_object_get(schema, "allOf");
    const json_t *not_s = json_object_get(schema, "not");
    const json_t *if_s = json_object_get(schema, "if");

    for (size_t i = 0; i < json_array_size(all) && !JS_DONE(c); i++)
        js_check(c, json_array_get(all, i), inst);
    check_any_one(c, schema, inst);
    if (not_s && js_is_valid(c, not_s, inst))
        js_report(c, "must not match the \"not\" schema");
    if (if_s) {
        /* draft-07: "if" only chooses between "then" and "else" */
        const char *kw = js_is_valid(c, if_s, inst) ? "then" : "else";
        const json_t *branch = json_object_get(schema, kw);
        if (branch)
            js_check(c, branch, inst);
    }
}

/* ---- dispatch ---- */

static void check_keywords(js_vctx *c, const js_node *node, const json_t *inst)
{
    const json_t *schema = node->schema;
    /* A wrong type makes the other keywords' complaints noise. */
    if (!check_type(c, schema, inst))
        return;
    check_enum_const(c, schema, inst);
    if (json_is_number(inst))
        check_number(c, schema, inst);
    else if (json_is_string(inst))
        check_string(c, node, inst);
    else if (json_is_array(inst))
        js_check_array(c, schema, inst);
    else if (json_is_object(inst))
        js_check_object(c, node, inst);
    if (!JS_DONE(c))
        check_combinators(c, schema, inst);
}

void js_check(js_vctx *c, const json_t *schema, const json_t *inst)
{
    const js_node *node = js_node_find(c->s, schema);
    if (JS_DONE(c))
        return;
    if (!node) {
        js_report(c, "internal error: a subschema was not compiled");
        return;
    }
    if (json_is_boolean(schema)) {
        if (json_is_false(schema))
            js_report(c, "not allowed here (the schema is false)");
        return;
    }
    if (c->depth >= JS_MAX_DEPTH) {
        js_report(c, "schema recursion too deep "
                     "(a $ref cycle that never descends into the value?)");
        return;
    }
    c->depth++;
    if (!node->ref)
        check_keywords(c, node, inst);
    else if (node->ref_target) /* draft-07: $ref makes its siblings ignored */
        js_check(c, node->ref_target, inst);
    else
        js_report(c, "cannot resolve $ref \"%s\": no document is registered under that URI",
                  node->ref_uri);
    c->depth--;
}

size_t js_validate(const js_schema *s, const json_t *instance, const char *pointer_prefix,
                   js_errors *out)
{
    js_path path;
    js_path_init(&path, pointer_prefix);
    js_vctx c = {s, &path, out, 0, 0};
    if (s && instance)
        js_check(&c, s->root, instance);
    else
        js_report(&c, "no schema or no value to validate");
    js_path_free(&path);
    return c.count;
}
