/*
 * jsonschema.h - a small JSON Schema (draft-07) validator for the host.
 *
 * The host checks an action's parameters against the schema the plugin ships
 * before the action runs, so an admin sees "/destination: required" in the
 * console instead of a plugin failing half-way through a logon.
 *
 * Usage:
 *     js_schema *s = js_schema_new(schema_json, err, sizeof err);
 *     js_errors errs = {0};
 *     if (js_validate(s, params, "/actions/0/parameters", &errs) > 0)
 *         ... report errs.items[i].pointer and .message ...
 *     js_errors_free(&errs);
 *     js_schema_free(s);
 *
 * Supported (draft-07 semantics): type, enum, const, minimum, maximum,
 * exclusiveMinimum, exclusiveMaximum, multipleOf, minLength, maxLength,
 * pattern, items, additionalItems, minItems, maxItems, uniqueItems, contains,
 * properties, patternProperties, additionalProperties, required,
 * minProperties, maxProperties, dependencies, propertyNames, allOf, anyOf,
 * oneOf, not, if/then/else, $ref (with $id base changes, plain-name ids and
 * registered documents), definitions, boolean schemas. Other keywords
 * (format, default, title, ...) are annotations and are ignored, as draft-07
 * allows. A keyword whose value has the wrong type (e.g. "minLength": "3") is
 * ignored too; validate schemas against the draft-07 metaschema to catch that.
 *
 * Patterns are ECMA-262 regular expressions run by our own engine (see
 * jsonschema_regex.h); a pattern it cannot compile makes the schema unusable.
 *
 * Ownership and threads: a js_schema borrows the JSON documents it is given
 * and holds a reference to each (json_incref) until js_schema_free. The
 * documents must not be modified while the schema exists. js_validate does
 * not modify the schema, so one schema may validate from several threads at
 * once. All strings are UTF-8.
 */
#ifndef JS_JSONSCHEMA_H
#define JS_JSONSCHEMA_H

#include <jansson.h>
#include <stddef.h>

/* One violation. `pointer` is the RFC 6901 JSON pointer of the offending value
 * in the instance (for a missing required property: of the missing member),
 * "" for the instance itself. `message` says what is wrong, e.g.
 * "expected string, got integer". Both are malloc'd and owned by the
 * js_errors list that holds them. */
typedef struct js_error {
    char *pointer;
    char *message;
} js_error;

/* A growing list of violations. Zero-initialise before first use; free the
 * whole list with js_errors_free. */
typedef struct js_errors {
    size_t count;
    js_error *items;
} js_errors;

typedef struct js_schema js_schema;

/* Compile a schema. `root` is borrowed and json_incref'd. Returns a new schema
 * (free with js_schema_free), or NULL with a message in errbuf when the schema
 * is unusable: not an object or boolean, a pattern that does not compile, or a
 * $ref into this document (or another registered one) that names nothing.
 * A $ref to a document not registered yet is left pending: register it with
 * js_schema_add_document before validating. */
js_schema *js_schema_new(json_t *root, char *errbuf, size_t errlen);

/* Register another document (a remote schema, the draft-07 metaschema) under
 * the absolute URI `uri` so $refs can reach it; a trailing empty fragment
 * ("...schema#") is ignored. `doc` is borrowed and json_incref'd. Pending
 * $refs that point at it are resolved now.
 * Returns 0, or -1 when the document or the references it completes are
 * unusable; js_schema_error then says why. The schema may still be freed,
 * and validation reports any $ref that stays unresolved. */
int js_schema_add_document(js_schema *s, const char *uri, json_t *doc);

/* The reason the last js_schema_add_document failed ("" if none). The string
 * belongs to the schema and lives until the next call on it. */
const char *js_schema_error(const js_schema *s);

/* Check that every $ref reachable so far resolves. Returns 0, or -1 with the
 * first unresolved reference named in errbuf. Call it after the last
 * js_schema_add_document to catch a missing document at load time. */
int js_schema_check_refs(const js_schema *s, char *errbuf, size_t errlen);

/* Validate `instance` (borrowed) and append one js_error per violation to
 * `out`. `pointer_prefix` (may be NULL) is an already-escaped JSON pointer put
 * before every error's pointer, to place the instance inside a larger
 * document (e.g. "/triggers/processStarted/0/nodes/0/actions/0/parameters").
 * Returns the number of violations found: 0 means valid. If memory runs out
 * while recording, a violation may be missing from `out` but is still
 * counted, so a nonzero return always means invalid. */
size_t js_validate(const js_schema *s, const json_t *instance, const char *pointer_prefix,
                   js_errors *out);

/* Free every error in `e` and reset it to empty (ready for reuse). */
void js_errors_free(js_errors *e);

void js_schema_free(js_schema *s);

/* Format the list as "pointer: message" lines, each ending in '\n'; the
 * instance itself is shown as "(root)". Returns a malloc'd string the caller
 * frees ("" for an empty list), or NULL when out of memory. */
char *js_errors_format(const js_errors *e);

#endif /* JS_JSONSCHEMA_H */
