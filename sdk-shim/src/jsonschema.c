/*
 * jsonschema.c - the validator's public lifecycle: creating a schema,
 * registering more documents, and the error list. Compiling is in
 * jsonschema_compile.c, validating in jsonschema_validate.c.
 */
#include "jsonschema_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int keep_document(js_schema *s, json_t *doc)
{
    json_t **docs = realloc(s->docs, (s->doc_count + 1) * sizeof *docs);
    if (!docs)
        return -1;
    s->docs = docs;
    s->docs[s->doc_count++] = json_incref(doc);
    return 0;
}

js_schema *js_schema_new(json_t *root, char *errbuf, size_t errlen)
{
    char scratch[16];
    if (!errbuf || !errlen) { /* callers may not care why */
        errbuf = scratch;
        errlen = sizeof scratch;
    }
    errbuf[0] = '\0';
    if (!json_is_object(root) && !json_is_boolean(root)) {
        snprintf(errbuf, errlen, "a schema must be a JSON object or a boolean");
        return NULL;
    }
    js_schema *s = calloc(1, sizeof *s);
    if (!s || keep_document(s, root) < 0) {
        snprintf(errbuf, errlen, "out of memory");
        free(s);
        return NULL;
    }
    s->root = root;
    /* The root has no URI of its own; "" makes "#/definitions/x" name it. */
    if (js_compile_document(s, "", root, errbuf, errlen) < 0) {
        js_schema_free(s);
        return NULL;
    }
    return s;
}

int js_schema_add_document(js_schema *s, const char *uri, json_t *doc)
{
    if (!s)
        return -1;
    s->error[0] = '\0';
    if (!uri || !doc) {
        snprintf(s->error, sizeof s->error, "a document needs a URI and a JSON value");
        return -1;
    }
    if (keep_document(s, doc) < 0) {
        snprintf(s->error, sizeof s->error, "out of memory");
        return -1;
    }
    return js_compile_document(s, uri, doc, s->error, sizeof s->error);
}

const char *js_schema_error(const js_schema *s)
{
    return s ? s->error : "no schema";
}

int js_schema_check_refs(const js_schema *s, char *errbuf, size_t errlen)
{
    for (size_t i = 0; s && i < s->node_count; i++) {
        const js_node *n = &s->nodes[i];
        if (n->ref && !n->ref_target) {
            if (errbuf && errlen)
                snprintf(errbuf, errlen,
                         "cannot resolve $ref \"%s\" at %s: no document is registered as \"%s\"",
                         n->ref, n->where, n->ref_uri);
            return -1;
        }
    }
    return 0;
}

void js_schema_free(js_schema *s)
{
    if (!s)
        return;
    js_compile_free(s);
    for (size_t i = 0; i < s->doc_count; i++)
        json_decref(s->docs[i]);
    free(s->docs);
    free(s);
}

/* ---- the error list ---- */

int js_errors_add(js_errors *e, const char *pointer, const char *message)
{
    js_error *items = realloc(e->items, (e->count + 1) * sizeof *items);
    if (!items)
        return -1;
    e->items = items;
    char *p = js_strdup(pointer), *m = js_strdup(message);
    if (!p || !m) {
        free(p);
        free(m);
        return -1;
    }
    items[e->count].pointer = p;
    items[e->count].message = m;
    e->count++;
    return 0;
}

void js_errors_free(js_errors *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->count; i++) {
        free(e->items[i].pointer);
        free(e->items[i].message);
    }
    free(e->items);
    e->items = NULL;
    e->count = 0;
}

char *js_errors_format(const js_errors *e)
{
    static const char root_name[] = "(root)";
    size_t total = 1;
    for (size_t i = 0; e && i < e->count; i++)
        total += strlen(e->items[i].pointer) + sizeof root_name + strlen(e->items[i].message) + 3;
    char *out = malloc(total), *at = out;
    if (!out)
        return NULL;
    *at = '\0';
    for (size_t i = 0; e && i < e->count; i++) {
        const char *ptr = e->items[i].pointer[0] ? e->items[i].pointer : root_name;
        at += sprintf(at, "%s: %s\n", ptr, e->items[i].message);
    }
    return out;
}
