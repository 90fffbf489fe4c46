#include "verify.h"

#include <stdlib.h>
#include <string.h>

#include "blockmap.h"
#include "hash.h"
#include "manifest.h"
#include "platform.h"
#include "pst_check.h"

static int is_pst_name(const char *key)
{
    size_t n = strlen(key);
    if (n < 4 || key[n - 4] != '.')
        return 0;
    char ext[4];
    for (int i = 0; i < 3; i++) {
        char ch = key[n - 3 + i];
        ext[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
    }
    ext[3] = '\0';
    return strcmp(ext, "pst") == 0 || strcmp(ext, "ost") == 0;
}

static char *backup_path_for(const ps_job *job, const char *key)
{
    char *rel = pf_native_path(key);
    char *path = rel ? pf_path_join(job->destination, rel) : NULL;
    free(rel);
    return path;
}

/* Re-hash the backup block by block and compare with what was published.
 * Adds blocksOk, blockSize, badBlocks, badBlockCount to `out`. */
static ps_status check_blocks(const ps_job *job, pf_file *f, uint64_t size, ps_blockmap *bm,
                              json_t *out, int *ok, ps_err *err)
{
    uint32_t bs = bm->block_size;
    uint64_t blocks = blockmap_blocks_for(size, bs);
    unsigned char *buf = malloc(bs);
    json_t *bad = json_array();
    if (!buf || !bad) {
        free(buf);
        json_decref(bad);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    uint64_t bad_count = 0;
    ps_status s = PS_OK;
    uint64_t last = blocks > bm->block_count ? blocks : bm->block_count;
    for (uint64_t i = 0; i < last; i++) {
        int good = 0;
        if (i < blocks && i < bm->block_count) {
            uint64_t off = i * bs;
            size_t want = blockmap_block_len(size, bs, i), got = 0;
            uint64_t expected = 0;
            if ((s = blockmap_hash(bm, i, &expected, err)) != PS_OK ||
                (s = pf_pread(f, buf, want, off, &got, err)) != PS_OK)
                break;
            good = got == want && ps_hash64(buf, got) == expected;
        }
        if (!good) {
            if (bad_count < PS_VERIFY_MAX_BAD_BLOCKS)
                json_array_append_new(bad, json_integer((json_int_t)i));
            bad_count++;
        }
        /* Cancellation every 64 MiB or so: logoff must not wait for a
         * multi-gigabyte re-hash. */
        if ((i & 1023) == 1023 && ps_cancelled(job->host)) {
            s = ps_err_set(err, PS_ERR_CANCELLED, "verification stopped for logoff or shutdown");
            break;
        }
    }
    free(buf);
    json_object_set_new(out, "blockSize", json_integer(bs));
    json_object_set_new(out, "blocksOk", json_boolean(s == PS_OK && bad_count == 0));
    json_object_set_new(out, "badBlocks", bad);
    json_object_set_new(out, "badBlockCount", json_integer((json_int_t)bad_count));
    if (bad_count)
        *ok = 0;
    return s;
}

static json_t *pst_json(const pst_report *rep)
{
    json_t *problems = json_array();
    for (size_t i = 0; i < rep->problem_count; i++)
        json_array_append_new(problems,
                              json_pack("{s:I, s:s}", "offset", (json_int_t)rep->problems[i].offset,
                                        "what", rep->problems[i].what));
    const char *format = rep->format == PST_FORMAT_UNICODE ? "unicode"
                         : rep->format == PST_FORMAT_ANSI  ? "ansi"
                                                           : "unknown";
    return json_pack("{s:b, s:s, s:o, s:I}", "ok", rep->problem_count + rep->problems_dropped == 0,
                     "format", format, "problems", problems, "problemsNotListed",
                     (json_int_t)rep->problems_dropped);
}

/* One manifest entry. Problems with the backup go into `out` (and *ok);
 * only cancellation and lack of memory are returned. */
static ps_status verify_entry(const ps_job *job, const ps_manifest_entry *e, json_t *out, int *ok,
                              ps_err *err)
{
    char *path = backup_path_for(job, e->key);
    char *bm_path = path ? pipeline_state_path(job->state_dir, "blockmaps", path, ".blocks") : NULL;
    if (!path || !bm_path) {
        free(path);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    json_object_set_new(out, "path", json_string(e->source));
    json_object_set_new(out, "backup", json_string(path));
    json_object_set_new(out, "expectedSize", json_integer((json_int_t)e->dest_size));
    pf_file *f = NULL;
    pf_stat st;
    ps_err ferr;
    ps_status s = pf_open_read(path, &f, &ferr);
    if (s == PS_OK)
        s = pf_fstat(f, &st, &ferr);
    if (s != PS_OK) {
        /* A missing or unreadable backup is a finding, not a failure of
         * the verification. */
        *ok = 0;
        json_object_set_new(out, "error", json_string(ferr.msg));
        json_object_set_new(out, "blocksOk", json_false());
        json_object_set_new(out, "badBlocks", json_array());
        json_object_set_new(out, "pst", json_null());
        pf_close(f, NULL);
        free(path);
        free(bm_path);
        return PS_OK;
    }
    json_object_set_new(out, "size", json_integer((json_int_t)st.size));
    json_object_set_new(out, "sizeOk", json_boolean(st.size == e->dest_size));
    json_object_set_new(out, "replaced", json_boolean(st.mtime_ns != e->dest_mtime_ns));
    if (st.size != e->dest_size)
        *ok = 0;

    ps_blockmap bm;
    ps_status bs = blockmap_load(bm_path, &bm, NULL);
    s = PS_OK;
    if (bs == PS_OK && bm.size == e->dest_size && bm.mtime_ns == e->dest_mtime_ns &&
        bm.block_size > 0) {
        s = check_blocks(job, f, st.size, &bm, out, ok, err);
    } else {
        /* Published by a build that kept no hashes, or the hashes are of
         * another publish: the blocks cannot be vouched for either way. */
        json_object_set_new(out, "blocksOk", json_null());
        json_object_set_new(out, "badBlocks", json_array());
        json_object_set_new(out, "blockHashes", json_string(bs == PS_OK ? "stale" : "missing"));
    }
    blockmap_free(&bm);
    pf_close(f, NULL);

    if (s == PS_OK && is_pst_name(e->key)) {
        pst_report rep;
        ps_err perr;
        ps_status ps = pst_check_file(path, NULL, &rep, &perr);
        if (ps == PS_ERR_NOMEM) {
            s = ps_err_set(err, PS_ERR_NOMEM, "%s", perr.msg);
        } else if (ps != PS_OK) {
            *ok = 0;
            json_object_set_new(out, "pst", json_pack("{s:b, s:s, s:[], s:I}", "ok", 0, "error",
                                                      perr.msg, "problems",
                                                      "problemsNotListed", (json_int_t)0));
        } else {
            if (rep.problem_count || rep.problems_dropped)
                *ok = 0;
            json_object_set_new(out, "pst", pst_json(&rep));
        }
        pst_report_free(&rep);
    } else {
        json_object_set_new(out, "pst", json_null());
    }
    free(path);
    free(bm_path);
    return s;
}

static int cmp_entry(const void *a, const void *b)
{
    const ps_manifest_entry *x = *(ps_manifest_entry *const *)a;
    const ps_manifest_entry *y = *(ps_manifest_entry *const *)b;
    return strcmp(x->key, y->key);
}

ps_status verify_backups(const ps_job *job, json_t **report, ps_err *err)
{
    *report = NULL;
    char *manifest_path = pipeline_state_path(job->state_dir, "manifests", job->destination, ".json");
    if (!manifest_path)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    ps_manifest m = {0};
    ps_status s = manifest_load(manifest_path, &m, err);
    free(manifest_path);
    if (s != PS_OK)
        return s;
    /* In key order, so reports of two runs compare line by line. */
    size_t n = HASH_COUNT(m.entries), k = 0;
    ps_manifest_entry **sorted = malloc((n ? n : 1) * sizeof *sorted);
    json_t *files = json_array();
    if (!sorted || !files) {
        free(sorted);
        json_decref(files);
        manifest_free(&m);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    for (ps_manifest_entry *e = m.entries; e; e = e->hh.next)
        sorted[k++] = e;
    qsort(sorted, n, sizeof *sorted, cmp_entry);
    int all_ok = 1;
    for (size_t i = 0; i < n && s == PS_OK; i++) {
        if (sorted[i]->backed_up_ns == 0)
            continue; /* an attempt only: there is no backup to verify */
        json_t *one = json_object();
        int ok = 1;
        if (!one)
            s = ps_err_set(err, PS_ERR_NOMEM, "out of memory");
        else
            s = verify_entry(job, sorted[i], one, &ok, err);
        if (one) {
            json_object_set_new(one, "ok", json_boolean(ok));
            json_array_append_new(files, one);
        }
        all_ok &= ok;
        ps_progress(job->host, i + 1, n);
    }
    free(sorted);
    manifest_free(&m);
    if (s != PS_OK) {
        json_decref(files);
        return s;
    }
    *report = json_pack("{s:b, s:s, s:o}", "ok", all_ok, "destination", job->destination, "files",
                        files);
    if (!*report)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory building the verify report");
    return PS_OK;
}
