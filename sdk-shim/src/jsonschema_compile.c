/*
 * jsonschema_compile.c - prepares documents for validation: walks every
 * subschema, works out its base URI from the $ids above it, registers the URIs
 * $refs can name, compiles patterns, and resolves each $ref to the subschema
 * it points at.
 *
 * References are resolved once here, not during validation, so a schema that
 * points nowhere is refused at load time ("cannot resolve $ref ...") instead
 * of failing only for the admins whose policy happens to reach that branch.
 * A $ref into a document that has not been registered yet stays pending until
 * js_schema_add_document supplies it.
 */
#include "jsonschema_int.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct compiler {
    js_schema *s;
    js_path where; /* JSON pointer of the subschema being walked */
    const char *doc_uri;
    char loc[512]; /* "doc#pointer", filled by locate() */
    char *err;
    size_t errlen;
} compiler;

/* Where in which document the walk is, for messages. */
static const char *locate(compiler *C)
{
    snprintf(C->loc, sizeof C->loc, "%s#%s", C->doc_uri, js_path_str(&C->where));
    return C->loc;
}

static int fail(compiler *C, const char *fmt, ...)
    EMH_PRINTF_LIKE(2, 3)
    ;

static int fail(compiler *C, const char *fmt, ...)
{
    if (C->err && C->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(C->err, C->errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---- the address -> node hash ---- */

static size_t slot_of(const void *p, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)p;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL; /* a 64-bit mixer, so aligned pointers spread */
    h ^= h >> 33;
    return (size_t)h & (cap - 1);
}

static int map_grow(js_schema *s)
{
    size_t cap = s->slot_cap ? s->slot_cap * 2 : 64;
    size_t *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < s->node_count; i++) {
        size_t k = slot_of(s->nodes[i].schema, cap);
        while (slots[k])
            k = (k + 1) & (cap - 1);
        slots[k] = i + 1;
    }
    free(s->slots);
    s->slots = slots;
    s->slot_cap = cap;
    return 0;
}

const js_node *js_node_find(const js_schema *s, const json_t *schema)
{
    if (!s->slot_cap)
        return NULL;
    for (size_t k = slot_of(schema, s->slot_cap); s->slots[k]; k = (k + 1) & (s->slot_cap - 1))
        if (s->nodes[s->slots[k] - 1].schema == schema)
            return &s->nodes[s->slots[k] - 1];
    return NULL;
}

/* Add a node for `schema`; returns its index, or -1 when out of memory. */
static long node_add(js_schema *s, const json_t *schema, const char *base)
{
    if ((s->node_count + 1) * 2 > s->slot_cap && map_grow(s) < 0)
        return -1;
    if (s->node_count == s->node_cap) {
        size_t cap = s->node_cap ? s->node_cap * 2 : 32;
        js_node *nodes = realloc(s->nodes, cap * sizeof *nodes);
        if (!nodes)
            return -1;
        s->nodes = nodes;
        s->node_cap = cap;
    }
    js_node *n = &s->nodes[s->node_count];
    memset(n, 0, sizeof *n);
    n->schema = schema;
    n->base = base;
    size_t k = slot_of(schema, s->slot_cap);
    while (s->slots[k])
        k = (k + 1) & (s->slot_cap - 1);
    s->slots[k] = s->node_count + 1;
    return (long)s->node_count++;
}

/* ---- URIs ---- */

/* Keep a string for the schema's lifetime; returns it, or NULL (and frees
 * it) when out of memory. */
static const char *pool_keep(js_schema *s, char *str)
{
    char **strings = str ? realloc(s->strings, (s->string_count + 1) * sizeof *strings) : NULL;
    if (!strings) {
        free(str);
        return NULL;
    }
    s->strings = strings;
    s->strings[s->string_count++] = str;
    return str;
}

/* Split off the fragment: returns a malloc'd copy without "#..." and points
 * *frag into `uri` just past the '#' (or at "" when there is none). */
static char *without_fragment(const char *uri, const char **frag)
{
    size_t n = strcspn(uri, "#");
    char *doc = malloc(n + 1);
    if (doc) {
        memcpy(doc, uri, n);
        doc[n] = '\0';
    }
    *frag = uri[n] ? uri + n + 1 : uri + n;
    return doc;
}

static const js_resource *resource_find(const js_schema *s, const char *uri)
{
    for (size_t i = 0; i < s->resource_count; i++)
        if (strcmp(s->resources[i].uri, uri) == 0)
            return &s->resources[i];
    return NULL;
}

/* Register `uri` (malloc'd, taken over) as naming `node`. The first
 * registration of a URI wins, as a document cannot be redefined. */
static int resource_add(js_schema *s, char *uri, const json_t *node, const char *base)
{
    if (!uri)
        return -1;
    if (resource_find(s, uri)) {
        free(uri);
        return 0;
    }
    js_resource *r = realloc(s->resources, (s->resource_count + 1) * sizeof *r);
    if (!r) {
        free(uri);
        return -1;
    }
    s->resources = r;
    r[s->resource_count++] = (js_resource){uri, node, base};
    return 0;
}

/* The $id a subschema declares, or NULL. In draft-07 a $ref makes every
 * sibling keyword, $id included, ignored. */
static const char *declared_id(const json_t *schema)
{
    if (!json_is_object(schema) || json_object_get(schema, "$ref"))
        return NULL;
    return json_string_value(json_object_get(schema, "$id"));
}

/* Base URI inside `schema` given the base around it. A plain-name $id
 * ("#foo") names the schema without changing the base. */
static const char *apply_id(js_schema *s, const char *base, const json_t *schema)
{
    const char *id = declared_id(schema), *frag;
    if (!id || id[0] == '#')
        return base;
    char *abs = js_uri_resolve(base, id);
    char *doc = abs ? without_fragment(abs, &frag) : NULL;
    free(abs);
    return pool_keep(s, doc);
}

/* Register the URIs a subschema's $id gives it. */
static int register_id(js_schema *s, const char *outer_base, const char *base,
                       const json_t *schema)
{
    const char *id = declared_id(schema);
    if (!id)
        return 0;
    if (base != outer_base && resource_add(s, js_strdup(base), schema, base) < 0)
        return -1;
    char *abs = js_uri_resolve(base, id);
    if (!abs)
        return -1;
    const char *frag = abs + strcspn(abs, "#");
    if (frag[0] && frag[1] && frag[1] != '/')
        return resource_add(s, abs, schema, base); /* "http://x/y#foo" */
    free(abs);
    return 0;
}

/* ---- walking subschemas ---- */

static int walk(compiler *C, const json_t *schema, const char *base);

static int walk_child(compiler *C, const char *key, long index, const json_t *child,
                      const char *base)
{
    size_t mark = key ? js_path_push_key(&C->where, key)
                      : js_path_push_index(&C->where, (size_t)index);
    int rc = walk(C, child, base);
    js_path_pop(&C->where, mark);
    return rc;
}

static int in_list(const char *const *list, const char *kw)
{
    for (; *list; list++)
        if (strcmp(*list, kw) == 0)
            return 1;
    return 0;
}

static int walk_keyword(compiler *C, const char *kw, const json_t *v, const char *base)
{
    /* Keywords whose value is a schema, an array of schemas, or an object
     * whose members are schemas. Nothing else can hold a subschema. */
    static const char *const single[] = {"additionalItems", "additionalProperties",
                                         "contains", "propertyNames", "not", "if",
                                         "then", "else", "items", NULL};
    static const char *const lists[] = {"allOf", "anyOf", "oneOf", "items", NULL};
    static const char *const maps[] = {"properties", "patternProperties", "definitions",
                                       "dependencies", NULL};
    int is_single = in_list(single, kw) && !json_is_array(v);
    int is_list = in_list(lists, kw) && json_is_array(v);
    int is_map = in_list(maps, kw) && json_is_object(v);
    if (!is_single && !is_list && !is_map)
        return 0;

    size_t mark = js_path_push_key(&C->where, kw);
    int rc = 0;
    if (is_single)
        rc = walk(C, v, base);
    for (size_t i = 0; is_list && i < json_array_size(v) && rc == 0; i++)
        rc = walk_child(C, NULL, (long)i, json_array_get(v, i), base);
    if (is_map) {
        const char *name;
        json_t *child;
        json_object_foreach((json_t *)v, name, child) {
            if ((rc = walk_child(C, name, 0, child, base)) != 0)
                break;
        }
    }
    js_path_pop(&C->where, mark);
    return rc;
}

static int compile_patterns(compiler *C, long idx)
{
    js_node *n = &C->s->nodes[idx];
    const json_t *pp = json_object_get(n->schema, "patternProperties");
    const char *pattern = json_string_value(json_object_get(n->schema, "pattern"));
    const char *key;
    json_t *sub;
    char why[160];

    if (pattern && !(n->pattern = js_regex_compile(pattern, why, sizeof why)))
        return fail(C, "invalid pattern \"%s\" at %s: %s", pattern, locate(C), why);
    if (!json_is_object(pp))
        return 0;
    n->pattern_props = calloc(json_object_size(pp) + 1, sizeof *n->pattern_props);
    if (!n->pattern_props)
        return fail(C, "out of memory");
    json_object_foreach((json_t *)pp, key, sub) {
        js_pattern_prop *p = &n->pattern_props[n->pattern_prop_count];
        p->key = key;
        if (!(p->re = js_regex_compile(key, why, sizeof why)))
            return fail(C, "invalid patternProperties pattern \"%s\" at %s: %s", key,
                        locate(C), why);
        n->pattern_prop_count++;
    }
    return 0;
}

static int walk(compiler *C, const json_t *schema, const char *outer_base)
{
    js_schema *s = C->s;
    if ((!json_is_object(schema) && !json_is_boolean(schema)) || js_node_find(s, schema))
        return 0; /* not a schema, or already done */
    const char *base = apply_id(s, outer_base, schema);
    long idx = base ? node_add(s, schema, base) : -1;
    if (idx < 0 || register_id(s, outer_base, base, schema) < 0)
        return fail(C, "out of memory");
    if (!json_is_object(schema))
        return 0;
    const char *ref = json_string_value(json_object_get(schema, "$ref"));
    if (ref) {
        s->nodes[idx].ref = ref;
        s->nodes[idx].ref_uri = js_uri_resolve(base, ref);
        s->nodes[idx].where = js_strdup(locate(C));
        if (!s->nodes[idx].ref_uri || !s->nodes[idx].where)
            return fail(C, "out of memory");
    }
    if (compile_patterns(C, idx) < 0)
        return -1;
    /* Siblings of $ref are still walked: they do not validate, but $refs
     * elsewhere may point into them (a "definitions" beside a root $ref). */
    const char *kw;
    json_t *v;
    json_object_foreach((json_t *)schema, kw, v) {
        if (walk_keyword(C, kw, v, base) < 0)
            return -1;
    }
    return 0;
}

/* ---- resolving $refs ---- */

/* Follow a JSON pointer fragment from `node`, whose base URI is *base.
 * Passing through subschemas updates *base with their $id, so it ends as the
 * base around the target (walk() applies the target's own $id). Returns NULL
 * when the pointer names nothing. */
static const json_t *follow_pointer(js_schema *s, const json_t *node, const char *ptr,
                                    const char **base)
{
    for (int first = 1; *ptr == '/' && node; first = 0) {
        if (!first && !(*base = apply_id(s, *base, node)))
            return NULL;
        size_t n = strcspn(ptr + 1, "/");
        char *tok = malloc(n + 1), *out = tok;
        if (!tok)
            return NULL;
        for (size_t i = 1; i <= n; i++) { /* RFC 6901: ~1 is '/', ~0 is '~' */
            if (ptr[i] == '~' && i < n && (ptr[i + 1] == '0' || ptr[i + 1] == '1'))
                *out++ = ptr[++i] == '0' ? '~' : '/';
            else
                *out++ = ptr[i];
        }
        *out = '\0';
        ptr += n + 1;
        if (json_is_object(node)) {
            node = json_object_get(node, tok);
        } else if (json_is_array(node) && tok[0] && strspn(tok, "0123456789") == strlen(tok) &&
                   (tok[0] != '0' || tok[1] == '\0')) {
            node = json_array_get(node, strtoul(tok, NULL, 10));
        } else {
            node = NULL;
        }
        free(tok);
    }
    return *ptr ? NULL : node;
}

/* Returns 1 resolved, 0 pending (its document is not registered), -1 bad. */
static int resolve_one(compiler *C, size_t idx)
{
    js_schema *s = C->s;
    const char *frag, *base = NULL;
    const json_t *target = NULL;
    char *doc = without_fragment(s->nodes[idx].ref_uri, &frag);
    char *ptr = js_percent_decode(frag, strlen(frag));
    int rc = -1;

    if (doc && ptr) {
        int plain_name = *ptr && *ptr != '/'; /* "#foo", defined by an $id */
        const js_resource *r = resource_find(s, plain_name ? s->nodes[idx].ref_uri : doc);
        if (r) {
            base = r->base;
            target = plain_name ? r->node : follow_pointer(s, r->node, ptr, &base);
        }
        rc = target ? 1 : (r || resource_find(s, doc)) ? -1 : 0;
    }
    if (rc == 1 && !js_node_find(s, target)) {
        /* A pointer into a place no keyword leads to ("#/tilda~0field"). */
        const char *saved_doc = C->doc_uri;
        C->doc_uri = doc;
        js_path_free(&C->where);
        js_path_init(&C->where, frag);
        if (walk(C, target, base) < 0)
            rc = -2;
        C->doc_uri = saved_doc;
    }
    if (rc == 1)
        s->nodes[idx].ref_target = target;
    if (rc == -1 && C->err && C->errlen)
        snprintf(C->err, C->errlen, "cannot resolve $ref \"%s\" at %s: %s", s->nodes[idx].ref,
                 s->nodes[idx].where, doc && ptr ? "it names nothing in that document"
                                                 : "out of memory");
    free(doc);
    free(ptr);
    return rc < -1 ? -1 : rc;
}

static int link_refs(compiler *C)
{
    /* Walking a target can register an $id that a ref found pending earlier
     * in the pass needs, so repeat until a pass resolves nothing. Nodes added
     * by those walks are visited in the same pass (node_count grows). */
    size_t resolved;
    do {
        resolved = 0;
        for (size_t i = 0; i < C->s->node_count; i++) {
            const js_node *n = &C->s->nodes[i];
            if (!n->ref || n->ref_target)
                continue;
            int rc = resolve_one(C, i);
            if (rc < 0)
                return -1;
            resolved += (size_t)rc;
        }
    } while (resolved);
    return 0;
}

int js_compile_document(js_schema *s, const char *uri, json_t *doc, char *errbuf, size_t errlen)
{
    compiler C = {.s = s, .err = errbuf, .errlen = errlen};
    const char *frag;
    char *doc_uri = without_fragment(uri, &frag);
    const char *base = pool_keep(s, doc_uri);
    int rc = -1;

    js_path_init(&C.where, "");
    C.doc_uri = base;
    if (!base || C.where.oom)
        snprintf(errbuf, errlen, "out of memory");
    else if (*frag)
        snprintf(errbuf, errlen, "document URI \"%s\" must not have a fragment", uri);
    else if (!json_is_object(doc) && !json_is_boolean(doc))
        snprintf(errbuf, errlen, "schema document \"%s\" must be an object or a boolean", uri);
    else if (resource_add(s, js_strdup(base), doc, apply_id(s, base, doc)) < 0)
        snprintf(errbuf, errlen, "out of memory");
    else if (walk(&C, doc, base) == 0)
        rc = link_refs(&C);
    js_path_free(&C.where);
    return rc;
}

void js_compile_free(js_schema *s)
{
    for (size_t i = 0; i < s->node_count; i++) {
        js_node *n = &s->nodes[i];
        free(n->ref_uri);
        free(n->where);
        js_regex_free(n->pattern);
        for (size_t k = 0; k < n->pattern_prop_count; k++)
            js_regex_free(n->pattern_props[k].re);
        free(n->pattern_props);
    }
    for (size_t i = 0; i < s->resource_count; i++)
        free(s->resources[i].uri);
    for (size_t i = 0; i < s->string_count; i++)
        free(s->strings[i]);
    free(s->nodes);
    free(s->slots);
    free(s->resources);
    free(s->strings);
}
