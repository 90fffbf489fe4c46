#include "patch.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "blockmap.h"
#include "fault.h"
#include "publish.h"

/* Does block b differ from the base's, so the redo log holds it? */
static ps_status block_changed(const patch_request *r, uint64_t b, int *changed, ps_err *err)
{
    uint64_t now = 0, before = 0;
    ps_status s = hashfile_get(r->hashes, b, &now, err);
    *changed = 1;
    if (s == PS_OK && b < r->base->block_count && (s = blockmap_hash(r->base, b, &before, err)) == PS_OK)
        *changed = now != before;
    return s;
}

/* Open the backup for writing, only if it still is the file the base
 * describes: never create it, never follow a link to it. */
static ps_status open_backup(const patch_request *r, pf_file **out, ps_err *err)
{
    int created = 0;
    pf_stat st;
    ps_status s = pf_open_write(r->final_path, out, &created, err);
    if (s == PS_OK && created) {
        pf_close(*out, NULL);
        *out = NULL;
        pf_unlink(r->final_path, NULL);
        return ps_err_set(err, PS_ERR_CHANGED,
                          "the backup '%s' to update in place is gone; it is copied in full "
                          "next time", r->final_path);
    }
    if (s == PS_OK && (s = pf_fstat(*out, &st, err)) == PS_OK && st.ino != r->base->file_id)
        s = ps_err_set(err, PS_ERR_CHANGED,
                       "the backup '%s' was replaced by another file (a sync client?); it is not "
                       "updated in place but copied in full next time", r->final_path);
    else if (s == PS_OK && (st.kind != PF_KIND_FILE || st.nlink != 1 ||
                            (r->owner_uid >= 0 && st.owner_uid != r->owner_uid)))
        s = ps_err_set(err, PS_ERR_CHANGED,
                       "the backup '%s' is not a plain file of the user's with one name (a kept "
                       "version links to it, or it is another user's); it is not updated in "
                       "place but copied in full next time", r->final_path);
    if (s != PS_OK) {
        pf_close(*out, NULL);
        *out = NULL;
    }
    return s;
}

ps_status patch_apply(const patch_request *r, pf_stat *patched, uint64_t *bytes_written,
                      ps_err *err)
{
    *bytes_written = 0;
    uint64_t expected = 0, block_count = r->hashes->count;
    int changed = 0;
    ps_status s = PS_OK;
    for (uint64_t b = 0; s == PS_OK && b < block_count; b++)
        if ((s = block_changed(r, b, &changed, err)) == PS_OK && changed)
            expected += blockmap_block_len(r->size, r->block_size, b);
    pf_file *redo = NULL, *backup = NULL;
    pf_stat st;
    if (s == PS_OK)
        s = pf_open_read(r->redo_path, &redo, err);
    if (s == PS_OK && (s = pf_fstat(redo, &st, err)) == PS_OK && st.size != expected)
        s = ps_err_set(err, PS_ERR_CORRUPT,
                       "the redo log '%s' holds %llu bytes where %llu were written; the backup "
                       "'%s' was not touched and is copied in full next time",
                       r->redo_path, (unsigned long long)st.size, (unsigned long long)expected,
                       r->final_path);
    if (s == PS_OK)
        s = open_backup(r, &backup, err);
    unsigned char *buf = s == PS_OK ? malloc(r->block_size) : NULL;
    if (s == PS_OK && !buf)
        s = ps_err_set(err, PS_ERR_NOMEM, "out of memory updating '%s'", r->final_path);
    uint64_t at = 0;
    for (uint64_t b = 0; s == PS_OK && b < block_count; b++) {
        if ((s = block_changed(r, b, &changed, err)) != PS_OK || !changed)
            continue;
        size_t len = blockmap_block_len(r->size, r->block_size, b), got = 0;
        s = pf_pread(redo, buf, len, at, &got, err);
        if (s == PS_OK && got != len)
            s = ps_err_set(err, PS_ERR_CORRUPT, "the redo log '%s' ends at %llu bytes",
                           r->redo_path, (unsigned long long)(at + got));
        if (s == PS_OK)
            s = pf_pwrite(backup, buf, len, b * r->block_size, err);
        if (s == PS_OK) {
            at += len;
            *bytes_written += len;
            FAULT_POINT("patch.block.applied");
        }
    }
    free(buf);
    if (s == PS_OK)
        s = pf_truncate(backup, r->size, err);
    if (s == PS_OK) {
        FAULT_POINT("patch.before-flush");
        s = pf_sync(backup, err);
        FAULT_POINT("patch.flushed");
    }
    ps_status cs = pf_close(backup, s == PS_OK ? err : NULL);
    if (s == PS_OK)
        s = cs;
    pf_close(redo, NULL);
    if (s == PS_OK)
        s = publish_verify_file(r->final_path, r->size, r->hashes, r->block_size, r->verify, err);
    if (s == PS_OK)
        s = pf_lstat(r->final_path, patched, err);
    return s;
}

/* --- the apply marker ------------------------------------------------------ */
ps_status patch_marker_save(const char *path, const patch_marker *m, ps_err *err)
{
    json_t *doc = json_pack("{s:i, s:s, s:s, s:s, s:s, s:I}", "format", 1, "backup", m->final_path,
                            "key", m->key, "source", m->source, "snapshot", m->snapshot,
                            "frozen", (json_int_t)m->frozen_ns);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory writing '%s'", path);
    ps_status s = pf_write_file_atomic(path, text, strlen(text), err);
    free(text);
    FAULT_POINT("patch.marked");
    return s;
}

static ps_status take_string(json_t *doc, const char *path, const char *field, const char **out,
                             ps_err *err)
{
    const char *v = json_string_value(json_object_get(doc, field));
    if (!v || !*v)
        return ps_err_set(err, PS_ERR_CORRUPT, "apply marker '%s': /%s is missing or not a string",
                          path, field);
    if (!(*out = strdup(v)))
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory reading '%s'", path);
    return PS_OK;
}

ps_status patch_marker_load(const char *path, patch_marker *m, ps_err *err)
{
    memset(m, 0, sizeof *m);
    char *text = NULL;
    size_t len = 0;
    ps_status s = pf_read_file(path, 16384, &text, &len, err);
    if (s != PS_OK)
        return s == PS_ERR_INVALID ? ps_err_set(err, PS_ERR_CORRUPT, "apply marker '%s' is too large", path) : s;
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    json_t *format = json_object_get(doc, "format");
    json_t *frozen = json_object_get(doc, "frozen");
    if (!doc)
        s = ps_err_set(err, PS_ERR_CORRUPT, "apply marker '%s' is not JSON: %s", path, jerr.text);
    else if (!json_is_integer(format) || json_integer_value(format) != 1)
        s = ps_err_set(err, PS_ERR_CORRUPT, "apply marker '%s': /format is not 1", path);
    else if (!json_is_integer(frozen))
        s = ps_err_set(err, PS_ERR_CORRUPT, "apply marker '%s': /frozen is not an integer", path);
    if (s == PS_OK)
        s = take_string(doc, path, "backup", &m->final_path, err);
    if (s == PS_OK)
        s = take_string(doc, path, "key", &m->key, err);
    if (s == PS_OK)
        s = take_string(doc, path, "source", &m->source, err);
    if (s == PS_OK)
        s = take_string(doc, path, "snapshot", &m->snapshot, err);
    if (s == PS_OK)
        m->frozen_ns = (int64_t)json_integer_value(frozen);
    json_decref(doc);
    if (s != PS_OK)
        patch_marker_free(m);
    return s;
}

void patch_marker_free(patch_marker *m)
{
    free((char *)m->final_path);
    free((char *)m->key);
    free((char *)m->source);
    free((char *)m->snapshot);
    memset(m, 0, sizeof *m);
}
