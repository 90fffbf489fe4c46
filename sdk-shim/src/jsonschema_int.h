/*
 * jsonschema_int.h - internals shared by the jsonschema*.c files; not part of
 * the host's API.
 *
 * Work is split so js_validate never has to allocate or resolve anything
 * about the schema: compiling (jsonschema_compile.c) walks every reachable
 * subschema once, records its base URI, compiles its patterns and resolves its
 * $ref, and stores that in a js_node looked up by the subschema's address.
 */
#ifndef JS_JSONSCHEMA_INT_H
#define JS_JSONSCHEMA_INT_H

#include "jsonschema.h"
#include "jsonschema_regex.h"
#include "printf_like.h"

#include <stdarg.h>
#include <stddef.h>

typedef struct js_pattern_prop {
    const char *key; /* borrowed from the patternProperties object */
    js_regex *re;
} js_pattern_prop;

/* What compiling learned about one subschema (an object or a boolean). */
typedef struct js_node {
    const json_t *schema;      /* borrowed; the lookup key */
    const char *base;          /* base URI, from the schema's string pool */
    const char *ref;           /* the $ref text (borrowed), NULL if none */
    char *ref_uri;             /* ref resolved against base; owned */
    char *where;               /* "doc#/pointer" of a $ref node, for messages; owned */
    const json_t *ref_target;  /* NULL while the $ref is unresolved */
    js_regex *pattern;         /* compiled "pattern"; owned */
    size_t pattern_prop_count;
    js_pattern_prop *pattern_props; /* owned array */
} js_node;

/* A URI that names a schema: a document, an $id, or a plain-name $id
 * ("http://x/y#foo"). */
typedef struct js_resource {
    char *uri;          /* owned, without an empty fragment */
    const json_t *node; /* borrowed */
    const char *base;   /* base URI inside it, from the string pool */
} js_resource;

struct js_schema {
    json_t *root;
    json_t **docs; /* every document we hold a reference to, root first */
    size_t doc_count;
    js_resource *resources;
    size_t resource_count;
    js_node *nodes;
    size_t node_count, node_cap;
    size_t *slots; /* hash of schema address -> node index + 1; 0 is empty */
    size_t slot_cap;
    char **strings; /* pool of base URIs, freed with the schema */
    size_t string_count;
    char error[512];
};

/* ---- jsonschema_compile.c ---- */

/* Walk a document registered under `uri`, then resolve what $refs can be.
 * Returns 0, or -1 with a message in errbuf. */
int js_compile_document(js_schema *s, const char *uri, json_t *doc, char *errbuf, size_t errlen);

/* The node for a subschema, NULL if it was never reached while compiling. */
const js_node *js_node_find(const js_schema *s, const json_t *schema);

/* Free everything compiling attached to the schema. */
void js_compile_free(js_schema *s);

/* ---- jsonschema_uri.c ---- */

/* RFC 3986 section 5.2 reference resolution. Returns a malloc'd URI. */
char *js_uri_resolve(const char *base, const char *ref);

/* Decode %XX escapes (a fragment such as "/percent%25field"); malloc'd. */
char *js_percent_decode(const char *s, size_t len);

/* ---- jsonschema_json.c ---- */

/* A JSON pointer under construction, in a growing buffer. */
typedef struct js_path {
    char *buf;
    size_t len, cap;
    int oom;
} js_path;

void js_path_init(js_path *p, const char *prefix);
/* Append "/<key>" (escaped) or "/<index>"; return the length to pop back to. */
size_t js_path_push_key(js_path *p, const char *key);
size_t js_path_push_index(js_path *p, size_t index);
void js_path_pop(js_path *p, size_t len);
const char *js_path_str(const js_path *p);
void js_path_free(js_path *p);

/* Deep equality in the JSON sense: 1 equals 1.0, object order is irrelevant. */
int js_json_equal(const json_t *a, const json_t *b);
/* A number with no fractional part, whether written 1 or 1.0. */
int js_is_integral(const json_t *v);
/* Compare two numbers: <0, 0, >0. Integers are compared exactly. */
int js_number_cmp(const json_t *a, const json_t *b);
/* Is `value` a multiple of `divisor` (both numbers, divisor > 0)? */
int js_is_multiple_of(const json_t *value, const json_t *divisor);
/* "integer", "number", "string", ...: what an admin would call the value. */
const char *js_type_name(const json_t *v);
/* Compact JSON text of a value, shortened with "..." past `max` bytes;
 * malloc'd (NULL when out of memory). */
char *js_value_text(const json_t *v, size_t max);
/* Read a count keyword (minLength, maxItems, ...): 1 and *out set when the
 * schema has it as a non-negative whole number, else 0 (ignored). */
int js_get_count(const json_t *schema, const char *kw, size_t *out);
/* strdup, which C11 lacks; NULL when out of memory. */
char *js_strdup(const char *s);
/* Number of Unicode code points in a UTF-8 string. */
size_t js_utf8_length(const char *s, size_t len);

/* ---- jsonschema_validate.c / jsonschema_containers.c ---- */

typedef struct js_vctx {
    const js_schema *s;
    js_path *path;  /* instance location, shared with nested contexts */
    js_errors *out; /* NULL when only asking "is it valid?" */
    size_t count;   /* violations found through this context */
    int depth;
} js_vctx;

/* A probe (out == NULL) stops at the first violation: one is enough. */
#define JS_DONE(c) ((c)->out == NULL && (c)->count > 0)

/* Record a violation at the current instance location. */
void js_report(js_vctx *c, const char *fmt, ...)
    EMH_PRINTF_LIKE(2, 3)
    ;

/* Validate `inst` against one subschema, reporting into c. */
void js_check(js_vctx *c, const json_t *schema, const json_t *inst);

/* 1 when `inst` satisfies `schema`; reports nothing. */
int js_is_valid(js_vctx *c, const json_t *schema, const json_t *inst);

void js_check_object(js_vctx *c, const js_node *node, const json_t *inst);
void js_check_array(js_vctx *c, const json_t *schema, const json_t *inst);

/* Append a violation to a list; the strings are copied. 0 or -1 (no memory). */
int js_errors_add(js_errors *e, const char *pointer, const char *message);

#endif /* JS_JSONSCHEMA_INT_H */
