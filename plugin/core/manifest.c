#include "manifest.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "hash.h"
#include "platform.h"

#define FORMAT_NAME "pstsnap-manifest"
#define MAX_MANIFEST_BYTES (64u << 20)

/* Canonical text (sorted keys, compact) of the document without its
 * checksum: what the checksum covers. */
static uint64_t canonical_hash(json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    uint64_t h = text ? ps_hash64(text, strlen(text)) : 0;
    free(text);
    return h;
}

static ps_status entry_from_json(const char *path, size_t index, json_t *j, ps_manifest_entry *e,
                                 ps_err *err)
{
    const char *key = json_string_value(json_object_get(j, "key"));
    const char *source = json_string_value(json_object_get(j, "source"));
    const char *snapshot = json_string_value(json_object_get(j, "snapshot"));
    json_t *nums[6] = {json_object_get(j, "size"), json_object_get(j, "mtimeNs"),
                       json_object_get(j, "destSize"), json_object_get(j, "destMtimeNs"),
                       json_object_get(j, "backedUpNs"), json_object_get(j, "frozenNs")};
    if (!key || !*key || !source || !snapshot || strlen(snapshot) >= sizeof e->snapshot)
        return ps_err_set(err, PS_ERR_CORRUPT, "manifest '%s': /files/%zu lacks key, source or snapshot",
                          path, index);
    for (int i = 0; i < 6; i++)
        if (!json_is_integer(nums[i]) || (i != 1 && i != 3 && json_integer_value(nums[i]) < 0))
            return ps_err_set(err, PS_ERR_CORRUPT, "manifest '%s': /files/%zu has a bad number", path,
                              index);
    e->key = (char *)key;
    e->source = (char *)source;
    e->size = (uint64_t)json_integer_value(nums[0]);
    e->mtime_ns = json_integer_value(nums[1]);
    e->dest_size = (uint64_t)json_integer_value(nums[2]);
    e->dest_mtime_ns = json_integer_value(nums[3]);
    e->backed_up_ns = json_integer_value(nums[4]);
    e->frozen_ns = json_integer_value(nums[5]);
    strcpy(e->snapshot, snapshot);
    /* The last attempt: optional (earlier builds wrote none), but when
     * present it must be well-formed like the rest. */
    json_t *attempt = json_object_get(j, "lastAttemptNs");
    json_t *result = json_object_get(j, "lastResult");
    json_t *error = json_object_get(j, "lastError");
    if ((attempt && (!json_is_integer(attempt) || json_integer_value(attempt) < 0)) ||
        (result && (!json_is_string(result) ||
                    strlen(json_string_value(result)) >= sizeof e->last_result)) ||
        (error && !json_is_string(error)))
        return ps_err_set(err, PS_ERR_CORRUPT, "manifest '%s': /files/%zu has a bad last attempt",
                          path, index);
    e->last_attempt_ns = attempt ? json_integer_value(attempt) : 0;
    snprintf(e->last_result, sizeof e->last_result, "%s", result ? json_string_value(result) : "");
    e->last_error = error ? (char *)json_string_value(error) : NULL;
    return PS_OK;
}

static ps_status parse(const char *path, json_t *doc, ps_manifest *m, ps_err *err)
{
    const char *format = json_string_value(json_object_get(doc, "format"));
    if (!json_is_object(doc) || !format || strcmp(format, FORMAT_NAME) != 0)
        return ps_err_set(err, PS_ERR_CORRUPT, "'%s' is not a pstsnap manifest", path);
    json_t *version = json_object_get(doc, "version");
    if (!json_is_integer(version) || json_integer_value(version) != PS_MANIFEST_VERSION)
        return ps_err_set(err, PS_ERR_CORRUPT, "manifest '%s' has version %lld; this build reads %d",
                          path, (long long)json_integer_value(version), PS_MANIFEST_VERSION);
    char stored[17] = "";
    const char *text = json_string_value(json_object_get(doc, "checksum"));
    if (text && strlen(text) == 16)
        memcpy(stored, text, sizeof stored);
    json_object_del(doc, "checksum"); /* frees `text` */
    char expect[17];
    ps_hash_hex(canonical_hash(doc), expect);
    if (strcmp(stored, expect) != 0)
        return ps_err_set(err, PS_ERR_CORRUPT, "manifest '%s': checksum mismatch (damaged or edited)",
                          path);
    json_t *files = json_object_get(doc, "files");
    if (!json_is_array(files))
        return ps_err_set(err, PS_ERR_CORRUPT, "manifest '%s': /files is not a list", path);
    for (size_t i = 0; i < json_array_size(files); i++) {
        ps_manifest_entry e = {0};
        ps_status s = entry_from_json(path, i, json_array_get(files, i), &e, err);
        /* manifest_save writes each key once: a repeat means the file is not
         * ours, and which entry to believe would be a guess. */
        if (s == PS_OK && manifest_get(m, e.key))
            s = ps_err_set(err, PS_ERR_CORRUPT, "manifest '%s': /files/%zu repeats the key '%s'",
                           path, i, e.key);
        if (s == PS_OK)
            s = manifest_set(m, &e, err);
        if (s != PS_OK)
            return s;
    }
    return PS_OK;
}

ps_status manifest_load(const char *path, ps_manifest *m, ps_err *err)
{
    m->entries = NULL;
    char *text = NULL;
    size_t len = 0;
    ps_status s = pf_read_file(path, MAX_MANIFEST_BYTES, &text, &len, err);
    if (s == PS_ERR_NOTFOUND)
        return PS_OK;
    if (s == PS_ERR_INVALID) {
        /* Too large to be ours: the message stands, the code says why it
         * is not trusted (err carries the code it returns). */
        if (err)
            err->code = PS_ERR_CORRUPT;
        return PS_ERR_CORRUPT;
    }
    if (s != PS_OK)
        return s;
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!doc)
        s = ps_err_set(err, PS_ERR_CORRUPT, "manifest '%s' is not valid JSON (line %d): %s", path,
                       jerr.line, jerr.text);
    else
        s = parse(path, doc, m, err);
    json_decref(doc);
    if (s != PS_OK)
        manifest_free(m);
    return s;
}

ps_status manifest_save(const ps_manifest *m, const char *path, const char *destination,
                        ps_err *err)
{
    json_t *files = json_array();
    for (ps_manifest_entry *e = m->entries; e; e = e->hh.next) {
        json_t *f = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "key", e->key, "source",
                              e->source, "size", (json_int_t)e->size, "mtimeNs",
                              (json_int_t)e->mtime_ns, "destSize", (json_int_t)e->dest_size,
                              "destMtimeNs", (json_int_t)e->dest_mtime_ns, "backedUpNs",
                              (json_int_t)e->backed_up_ns, "frozenNs",
                              (json_int_t)e->frozen_ns, "snapshot", e->snapshot);
        if (f && e->last_attempt_ns > 0) {
            json_object_set_new(f, "lastAttemptNs", json_integer((json_int_t)e->last_attempt_ns));
            json_object_set_new(f, "lastResult", json_string(e->last_result));
        }
        /* json_string refuses invalid UTF-8: a message quoting an odd path
         * must not cost the manifest. */
        json_t *why = f && e->last_error ? json_string(e->last_error) : NULL;
        if (why)
            json_object_set_new(f, "lastError", why);
        json_array_append_new(files, f);
    }
    json_t *doc = json_pack("{s:s, s:i, s:s, s:o}", "format", FORMAT_NAME, "version",
                            PS_MANIFEST_VERSION, "destination", destination, "files", files);
    if (!doc)
        return ps_err_set(err, PS_ERR_NOMEM, "cannot build manifest '%s' (invalid UTF-8 in a path?)",
                          path);
    char hex[17];
    ps_hash_hex(canonical_hash(doc), hex);
    json_object_set_new(doc, "checksum", json_string(hex));
    char *text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(doc);
    if (!text)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory writing manifest '%s'", path);
    FAULT_POINT("manifest.before-write");
    ps_status s = pf_write_file_atomic(path, text, strlen(text), err);
    free(text);
    FAULT_POINT("manifest.after-write");
    return s;
}

ps_manifest_entry *manifest_get(const ps_manifest *m, const char *key)
{
    ps_manifest_entry *e = NULL;
    HASH_FIND_STR(m->entries, key, e);
    return e;
}

ps_status manifest_set(ps_manifest *m, const ps_manifest_entry *v, ps_err *err)
{
    ps_manifest_entry *e = manifest_get(m, v->key);
    char *source = strdup(v->source);
    if (!source)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e || !(e->key = strdup(v->key))) {
            free(e);
            free(source);
            return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
        }
        HASH_ADD_KEYPTR(hh, m->entries, e->key, strlen(e->key), e);
    }
    free(e->source);
    e->source = source;
    e->size = v->size;
    e->mtime_ns = v->mtime_ns;
    e->dest_size = v->dest_size;
    e->dest_mtime_ns = v->dest_mtime_ns;
    e->backed_up_ns = v->backed_up_ns;
    e->frozen_ns = v->frozen_ns;
    memcpy(e->snapshot, v->snapshot, sizeof e->snapshot);
    e->snapshot[sizeof e->snapshot - 1] = '\0';
    return manifest_note_attempt(m, v->key, v->source, v->last_attempt_ns, v->last_result,
                                 v->last_error, err);
}

ps_status manifest_note_attempt(ps_manifest *m, const char *key, const char *source,
                                int64_t when_ns, const char *result, const char *error,
                                ps_err *err)
{
    ps_manifest_entry *e = manifest_get(m, key);
    if (!e) {
        /* No good backup yet: an entry that records only this attempt
         * (backed_up_ns 0, and a destination no file matches). */
        ps_manifest_entry blank = {.key = (char *)key, .source = (char *)source};
        ps_status s = manifest_set(m, &blank, err);
        if (s != PS_OK)
            return s;
        e = manifest_get(m, key);
    }
    /* Copies first: manifest_set may pass this very entry's own fields. */
    char *why = error ? strdup(error) : NULL;
    if (error && !why)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    char what[sizeof e->last_result];
    snprintf(what, sizeof what, "%s", result ? result : "");
    free(e->last_error);
    e->last_error = why;
    e->last_attempt_ns = when_ns;
    memcpy(e->last_result, what, sizeof what);
    return PS_OK;
}

void manifest_free(ps_manifest *m)
{
    ps_manifest_entry *e, *tmp;
    HASH_ITER(hh, m->entries, e, tmp) {
        HASH_DEL(m->entries, e);
        free(e->key);
        free(e->source);
        free(e->last_error);
        free(e);
    }
    m->entries = NULL;
}
