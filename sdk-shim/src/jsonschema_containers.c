/*
 * jsonschema_containers.c - the object and array keywords: properties,
 * patternProperties, additionalProperties, required, dependencies,
 * propertyNames, min/maxProperties; items, additionalItems, min/maxItems,
 * uniqueItems, contains.
 *
 * Every violation inside a member is reported at that member's pointer, and
 * a missing required member at the pointer it would have, so the admin is
 * sent to the exact line of the policy to fix.
 */
#include "jsonschema_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- objects ---- */

/* Apply properties, patternProperties and additionalProperties to one
 * member; the path already points at it. */
static void check_member(js_vctx *c, const js_node *node, const char *key, const json_t *value)
{
    const json_t *props = json_object_get(node->schema, "properties");
    const json_t *patterns = json_object_get(node->schema, "patternProperties");
    const json_t *additional = json_object_get(node->schema, "additionalProperties");
    const json_t *sub = json_is_object(props) ? json_object_get(props, key) : NULL;
    int covered = sub != NULL;

    if (sub)
        js_check(c, sub, value);
    for (size_t k = 0; k < node->pattern_prop_count && !JS_DONE(c); k++) {
        const js_pattern_prop *pp = &node->pattern_props[k];
        int r = js_regex_search(pp->re, key, strlen(key));
        if (r < 0)
            js_report(c, "property name could not be checked against pattern \"%s\" (too complex)",
                      pp->key);
        else if (r > 0)
            js_check(c, json_object_get(patterns, pp->key), value);
        covered |= r != 0;
    }
    if (covered || !additional || JS_DONE(c))
        return;
    if (json_is_false(additional))
        js_report(c, "unknown property (additionalProperties is false)");
    else
        js_check(c, additional, value);
}

/* propertyNames applies a schema to each member's name. Its complaints are
 * reported at the member, marked as being about the name. */
static void check_property_name(js_vctx *c, const json_t *schema, const char *key)
{
    json_t *name = json_string(key);
    js_errors found = {0};
    js_vctx sub = *c;

    if (!name) {
        js_report(c, "out of memory checking the property name");
        return;
    }
    sub.out = c->out ? &found : NULL;
    sub.count = 0;
    js_check(&sub, schema, name);
    for (size_t i = 0; i < found.count; i++)
        js_report(c, "invalid property name: %s", found.items[i].message);
    /* a probe, or errors lost to a full memory, still count */
    c->count += sub.count - found.count;
    js_errors_free(&found);
    json_decref(name);
}

static void report_missing(js_vctx *c, const char *member, const char *because)
{
    size_t mark = js_path_push_key(c->path, member);
    if (because)
        js_report(c, "required (because \"%s\" is present)", because);
    else
        js_report(c, "required");
    js_path_pop(c->path, mark);
}

static void check_required(js_vctx *c, const json_t *names, const json_t *inst,
                           const char *because)
{
    for (size_t i = 0; i < json_array_size(names) && !JS_DONE(c); i++) {
        const char *member = json_string_value(json_array_get(names, i));
        if (member && !json_object_get(inst, member))
            report_missing(c, member, because);
    }
}

static void check_dependencies(js_vctx *c, const json_t *deps, const json_t *inst)
{
    const char *key;
    json_t *dep;
    if (!json_is_object(deps))
        return;
    json_object_foreach((json_t *)deps, key, dep) {
        if (JS_DONE(c))
            break;
        if (!json_object_get(inst, key))
            continue;
        if (json_is_array(dep))
            check_required(c, dep, inst, key);
        else
            js_check(c, dep, inst);
    }
}

static void check_property_count(js_vctx *c, const json_t *schema, const json_t *inst)
{
    size_t n = json_object_size(inst), limit;
    if (js_get_count(schema, "minProperties", &limit) && n < limit)
        js_report(c, "must have at least %lu propert%s", (unsigned long)limit,
                  limit == 1 ? "y" : "ies");
    if (js_get_count(schema, "maxProperties", &limit) && n > limit)
        js_report(c, "must have at most %lu propert%s", (unsigned long)limit,
                  limit == 1 ? "y" : "ies");
}

void js_check_object(js_vctx *c, const js_node *node, const json_t *inst)
{
    const json_t *names = json_object_get(node->schema, "propertyNames");
    const char *key;
    json_t *value;

    /* jansson's iteration API is not const-correct; nothing is modified. */
    json_object_foreach((json_t *)inst, key, value) {
        if (JS_DONE(c))
            return;
        size_t mark = js_path_push_key(c->path, key);
        check_member(c, node, key, value);
        if (names)
            check_property_name(c, names, key);
        js_path_pop(c->path, mark);
    }
    check_required(c, json_object_get(node->schema, "required"), inst, NULL);
    check_dependencies(c, json_object_get(node->schema, "dependencies"), inst);
    check_property_count(c, node->schema, inst);
}

/* ---- arrays ---- */

static void check_item(js_vctx *c, const json_t *schema, const json_t *inst, size_t i,
                       int additional)
{
    size_t mark = js_path_push_index(c->path, i);
    if (additional && json_is_false(schema))
        js_report(c, "unexpected item (additionalItems is false)");
    else
        js_check(c, schema, json_array_get(inst, i));
    js_path_pop(c->path, mark);
}

static void check_items(js_vctx *c, const json_t *schema, const json_t *inst)
{
    const json_t *items = json_object_get(schema, "items");
    const json_t *additional = json_object_get(schema, "additionalItems");
    size_t n = json_array_size(inst);

    if (!items)
        return;
    if (!json_is_array(items)) { /* one schema for every item */
        for (size_t i = 0; i < n && !JS_DONE(c); i++)
            check_item(c, items, inst, i, 0);
        return;
    }
    /* tuple form: item i has schema i; the rest go to additionalItems */
    for (size_t i = 0; i < n && !JS_DONE(c); i++) {
        int extra = i >= json_array_size(items);
        const json_t *sub = extra ? additional : json_array_get(items, i);
        if (!sub)
            break;
        check_item(c, sub, inst, i, extra);
    }
}

static void check_unique(js_vctx *c, const json_t *inst)
{
    size_t n = json_array_size(inst);
    /* Quadratic, but arrays in a policy have a handful of items. */
    for (size_t i = 1; i < n && !JS_DONE(c); i++) {
        for (size_t j = 0; j < i; j++) {
            if (!js_json_equal(json_array_get(inst, i), json_array_get(inst, j)))
                continue;
            size_t mark = js_path_push_index(c->path, i);
            js_report(c, "duplicate of item %lu (items must be unique)", (unsigned long)j);
            js_path_pop(c->path, mark);
            break;
        }
    }
}

void js_check_array(js_vctx *c, const json_t *schema, const json_t *inst)
{
    const json_t *contains = json_object_get(schema, "contains");
    size_t n = json_array_size(inst), limit;

    check_items(c, schema, inst);
    if (js_get_count(schema, "minItems", &limit) && n < limit)
        js_report(c, "must have at least %lu item%s", (unsigned long)limit,
                  limit == 1 ? "" : "s");
    if (js_get_count(schema, "maxItems", &limit) && n > limit)
        js_report(c, "must have at most %lu item%s", (unsigned long)limit,
                  limit == 1 ? "" : "s");
    if (json_is_true(json_object_get(schema, "uniqueItems")))
        check_unique(c, inst);
    if (contains) {
        size_t i = 0;
        while (i < n && !js_is_valid(c, contains, json_array_get(inst, i)))
            i++;
        if (i == n)
            js_report(c, "must contain at least one item matching the \"contains\" schema");
    }
}
