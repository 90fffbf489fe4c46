#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discover.h"
#include "journal.h"
#include "manifest.h"
#include "platform.h"
#include "publish.h"

#define NS_PER_S 1000000000LL
#define TARGET_SUFFIX ".journal.target"
#define RECORD_MAX_BYTES (1024 * 1024) /* as snapshot_record.c: larger is not ours */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static json_t *time_or_null(int64_t ns)
{
    if (ns <= 0)
        return json_null();
    char text[40];
    pf_format_utc_time(ns, text, sizeof text);
    return json_string(text);
}

/* The item of `key`, made on first use. Borrowed from `items`. */
static json_t *item_for(json_t *items, const char *key)
{
    json_t *it = json_object_get(items, key);
    if (!it) {
        it = json_pack("{s:s, s:b}", "name", key, "sourceFound", 0);
        json_object_set_new(items, key, it);
    }
    return it;
}

static void add_problem(json_t *item, const char *fmt, const char *arg)
{
    json_t *list = json_object_get(item, "problems");
    char text[1200];
    snprintf(text, sizeof text, fmt, arg);
    json_t *s = json_string(text);
    if (s)
        json_array_append_new(list, s);
}

/* --- what the PSTs are ------------------------------------------------------- */
/* Discovery exactly as a run does it, with no events: a status query must
 * not fill the audit log with the skip warnings the runs already gave. */
static void add_discovered(const ps_job *job, json_t *items)
{
    ps_host quiet = {0};
    ps_candidates found;
    if (pipeline_discover(job, &quiet, &found, NULL) == PS_OK) {
        for (size_t i = 0; i < found.count; i++) {
            json_t *it = item_for(items, found.items[i].key);
            json_object_set_new(it, "source", json_string(found.items[i].path));
            json_object_set_new(it, "sourceFound", json_true());
        }
        candidates_free(&found);
    }
}

/* Copies whose staging file is in this destination and whose journal waits
 * for the next run: a first backup that was interrupted has no manifest
 * entry, only this. */
static void add_staged(const ps_job *job, json_t *items)
{
    char *dir = pf_path_join(job->state_dir, "journals");
    pf_dir *d = NULL;
    if (!dir || pf_dir_open(dir, &d, NULL) != PS_OK) {
        free(dir);
        return;
    }
    size_t dest_len = strlen(job->destination), suffix_len = strlen(PIPELINE_STAGING_SUFFIX);
    const char *name;
    pf_kind kind;
    while (pf_dir_next(d, &name, &kind, NULL) == PS_OK && name) {
        if (kind != PF_KIND_FILE || !ends_with(name, TARGET_SUFFIX))
            continue;
        char *target = pf_path_join(dir, name), *staging = NULL;
        size_t len = 0;
        if (target && pf_read_file(target, 8192, &staging, &len, NULL) == PS_OK &&
            strlen(staging) == len && ends_with(staging, PIPELINE_STAGING_SUFFIX) &&
            len > dest_len + 1 + suffix_len && strncmp(staging, job->destination, dest_len) == 0 &&
            staging[dest_len] == pf_sep) {
            /* The key is the destination-relative path, '/'-separated. */
            char *key = staging + dest_len + 1;
            key[strlen(key) - suffix_len] = '\0';
            for (char *p = key; *p; p++)
                if (*p == pf_sep)
                    *p = '/';
            item_for(items, key);
        }
        free(staging);
        free(target);
    }
    pf_dir_close(d);
    free(dir);
}

/* --- one item's details ---------------------------------------------------------- */
static size_t count_versions(const char *final_path)
{
    char *dir = pf_dirname(final_path);
    pf_dir *d = NULL;
    size_t n = 0;
    if (dir && pf_dir_open(dir, &d, NULL) == PS_OK) {
        const char *name;
        pf_kind kind;
        while (pf_dir_next(d, &name, &kind, NULL) == PS_OK && name)
            n += kind == PF_KIND_FILE && publish_is_version_of(name, pf_basename(final_path));
        pf_dir_close(d);
    }
    free(dir);
    return n;
}

static json_t *pending_resume(const ps_job *job, const char *final_path)
{
    char *journal = pipeline_state_path(job->state_dir, "journals", final_path, ".journal");
    ps_journal_header hdr;
    uint64_t count = 0;
    ps_status s = journal ? journal_count(journal, &hdr, &count, NULL) : PS_ERR_NOMEM;
    free(journal);
    if (s == PS_ERR_CORRUPT)
        return json_pack("{s:b}", "damaged", 1);
    if (s != PS_OK)
        return json_null();
    uint64_t staged = count * hdr.block_size;
    if (staged > hdr.source_size)
        staged = hdr.source_size;
    return json_pack("{s:I, s:I}", "stagedBytes", (json_int_t)staged, "totalBytes",
                     (json_int_t)hdr.source_size);
}

/* Where the published copy stands against what the manifest says we left. */
static const char *backup_state(const ps_manifest_entry *e, const char *final_path)
{
    if (!e || e->backed_up_ns <= 0)
        return "none";
    pf_stat st;
    if (pf_lstat(final_path, &st, NULL) != PS_OK)
        return "missing";
    if (st.kind != PF_KIND_FILE || st.size != e->dest_size || st.mtime_ns != e->dest_mtime_ns)
        return "replaced";
    return "intact";
}

static void describe_item(const ps_job *job, const ps_manifest *m, json_t *it, int64_t now_ns,
                          int64_t max_age_s)
{
    const char *key = json_string_value(json_object_get(it, "name"));
    const ps_manifest_entry *e = manifest_get(m, key);
    char *rel = pf_native_path(key);
    char *final_path = rel ? pf_path_join(job->destination, rel) : NULL;
    free(rel);
    json_object_set_new(it, "problems", json_array());
    if (!json_object_get(it, "source"))
        json_object_set_new(it, "source", e ? json_string(e->source) : json_null());
    json_object_set_new(it, "backup", final_path ? json_string(final_path) : json_null());

    int backed_up = e && e->backed_up_ns > 0;
    int64_t age_s = backed_up ? (now_ns - e->backed_up_ns) / NS_PER_S : -1;
    json_object_set_new(it, "lastSuccess", time_or_null(backed_up ? e->backed_up_ns : 0));
    json_object_set_new(it, "lastSuccessNs", backed_up ? json_integer(e->backed_up_ns) : json_null());
    json_object_set_new(it, "ageSeconds", backed_up ? json_integer(age_s < 0 ? 0 : age_s) : json_null());
    json_object_set_new(it, "size", backed_up ? json_integer((json_int_t)e->dest_size) : json_null());
    const char *state = final_path ? backup_state(e, final_path) : "none";
    json_object_set_new(it, "backupState", json_string(state));

    /* Manifests of earlier builds know only the last success. */
    const char *result = e && e->last_result[0] ? e->last_result : backed_up ? "ok" : "never";
    int64_t attempt_ns = e && e->last_attempt_ns > 0 ? e->last_attempt_ns
                                                     : backed_up ? e->backed_up_ns : 0;
    json_object_set_new(it, "lastAttempt", time_or_null(attempt_ns));
    json_object_set_new(it, "lastResult", json_string(result));
    json_t *why = e && e->last_error ? json_string(e->last_error) : NULL;
    json_object_set_new(it, "lastError", why ? why : json_null());
    json_object_set_new(it, "pendingResume", final_path ? pending_resume(job, final_path) : json_null());
    json_object_set_new(it, "versionsKept",
                        json_integer(final_path ? (json_int_t)count_versions(final_path) : 0));
    free(final_path);

    if (!backed_up)
        add_problem(it, "%s", "no good backup yet");
    else if (max_age_s > 0 && age_s > max_age_s)
        add_problem(it, "last good backup is older than the %s allowed", "maximum age");
    if (!strcmp(state, "missing"))
        add_problem(it, "%s", "the backup was deleted (the next run copies it again)");
    else if (!strcmp(state, "replaced"))
        add_problem(it, "%s", "the backup was replaced by someone else (the next run copies it again)");
    if (!strcmp(result, "failed"))
        add_problem(it, "last attempt failed: %s",
                    e && e->last_error ? e->last_error : "(no reason recorded)");
    json_object_set_new(it, "healthy", json_boolean(json_array_size(json_object_get(it, "problems")) == 0));
}

/* --- orphaned snapshots ---------------------------------------------------------- */
/* A record its owner still holds locked belongs to a live run; one we can
 * lock was left by a run that died, and names what the next run removes. */
static json_t *read_orphan(const char *path)
{
    pf_file *f = NULL;
    pf_stat st;
    json_t *out = NULL;
    if (pf_open_read(path, &f, NULL) != PS_OK)
        return NULL;
    if (pf_file_trylock(f, NULL) == PS_OK && pf_fstat(f, &st, NULL) == PS_OK && st.nlink > 0 &&
        st.size <= RECORD_MAX_BYTES) {
        char *buf = malloc((size_t)st.size + 1);
        size_t got = 0;
        if (buf && pf_pread(f, buf, (size_t)st.size, 0, &got, NULL) == PS_OK) {
            buf[got] = '\0';
            json_t *artifacts = json_array();
            char *line = buf, *nl;
            const char *provider = NULL;
            /* Only complete lines: an unfinished one names nothing made. */
            while ((nl = strchr(line, '\n')) != NULL) {
                *nl = '\0';
                if (!provider)
                    provider = line;
                else if (*line)
                    json_array_append_new(artifacts, json_string(line));
                line = nl + 1;
            }
            out = json_pack("{s:s, s:s?, s:o}", "record", path, "provider", provider, "artifacts",
                            artifacts);
        }
        free(buf);
    }
    pf_close(f, NULL);
    return out;
}

static json_t *orphaned_snapshots(const ps_job *job)
{
    json_t *list = json_array();
    char *dir = pf_path_join(job->state_dir, "snapshots");
    pf_dir *d = NULL;
    if (dir && pf_dir_open(dir, &d, NULL) == PS_OK) {
        const char *name;
        pf_kind kind;
        while (pf_dir_next(d, &name, &kind, NULL) == PS_OK && name) {
            if (kind != PF_KIND_FILE || !ends_with(name, ".rec"))
                continue;
            char *path = pf_path_join(dir, name);
            json_t *o = path ? read_orphan(path) : NULL;
            if (o)
                json_array_append_new(list, o);
            free(path);
        }
        pf_dir_close(d);
    }
    free(dir);
    return list;
}

/* Is a run working on this destination right now? A lock we get at once
 * says no (and is let go at once). */
static int run_in_progress(const ps_job *job)
{
    char *path = pipeline_state_path(job->state_dir, "locks", job->destination, ".lock");
    char *dir = path ? pf_dirname(path) : NULL;
    pf_stat st;
    pf_lock *lock = NULL;
    int busy = 0;
    if (dir && pf_lstat(dir, &st, NULL) == PS_OK)
        busy = pf_lock_acquire(path, 0, &lock, NULL) == PS_ERR_BUSY;
    pf_lock_release(lock);
    free(dir);
    free(path);
    return busy;
}

static int compare_items(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "name"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "name"));
    return strcmp(x, y);
}

ps_status status_report(const ps_job *job, int64_t max_age_s, json_t **report, ps_err *err)
{
    *report = NULL;
    int64_t now = pf_wall_ns();
    char *manifest_path = pipeline_state_path(job->state_dir, "manifests", job->destination, ".json");
    if (!manifest_path)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    ps_manifest m = {0};
    ps_err merr;
    pf_stat st;
    int present = pf_lstat(manifest_path, &st, NULL) == PS_OK;
    ps_status ms = manifest_load(manifest_path, &m, &merr);
    free(manifest_path);
    json_t *doc = json_object(), *by_key = json_object(), *problems = json_array();
    json_object_set_new(doc, "itemKind", json_string("PST"));
    json_object_set_new(doc, "destination", json_string(job->destination));
    json_object_set_new(doc, "stateDir", json_string(job->state_dir));
    json_object_set_new(doc, "generatedAt", time_or_null(now));
    json_object_set_new(doc, "maxAgeSeconds", json_integer(max_age_s));
    json_object_set_new(doc, "running", json_boolean(run_in_progress(job)));
    json_object_set_new(doc, "manifest", json_string(ms != PS_OK ? "damaged" : present ? "ok" : "missing"));
    json_object_set_new(doc, "problems", problems);
    if (ms != PS_OK) {
        char text[PS_ERR_MSG_MAX + 64];
        snprintf(text, sizeof text, "manifest untrusted (%s): the next run copies every PST in full",
                 merr.msg);
        json_array_append_new(problems, json_string(text));
    }

    add_discovered(job, by_key);
    for (ps_manifest_entry *e = m.entries; e; e = e->hh.next)
        item_for(by_key, e->key);
    add_staged(job, by_key);

    size_t n = json_object_size(by_key), i = 0;
    json_t **sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (!sorted) {
        manifest_free(&m);
        json_decref(by_key);
        json_decref(doc);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    const char *key;
    json_t *it;
    json_object_foreach(by_key, key, it) sorted[i++] = it;
    qsort(sorted, n, sizeof *sorted, compare_items);
    json_t *items = json_array();
    int healthy = ms == PS_OK;
    for (i = 0; i < n; i++) {
        describe_item(job, &m, sorted[i], now, max_age_s);
        healthy &= json_is_true(json_object_get(sorted[i], "healthy"));
        json_array_append(items, sorted[i]);
    }
    free(sorted);
    json_decref(by_key);
    manifest_free(&m);
    json_object_set_new(doc, "items", items);
    json_object_set_new(doc, "orphanedSnapshots", orphaned_snapshots(job));
    json_object_set_new(doc, "healthy", json_boolean(healthy));
    *report = doc;
    return PS_OK;
}
