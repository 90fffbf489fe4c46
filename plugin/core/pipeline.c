#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blockmap.h"
#include "compare.h"
#include "copy.h"
#include "discover.h"
#include "events.h"
#include "hash.h"
#include "journal.h"
#include "manifest.h"
#include "patch.h"
#include "platform.h"
#include "publish.h"
#include "snapshot.h"
#include "snapshot_plan.h"

/* Outlook started twice in a row: the second run waits this long for the
 * first, then leaves the work to it. */
#define LOCK_WAIT_MS 2000u
#define STAGING_SUFFIX PIPELINE_STAGING_SUFFIX

char *pipeline_state_path(const char *state_dir, const char *what, const char *destination,
                          const char *suffix)
{
    char hex[17];
    ps_hash_hex(ps_hash64(destination, strlen(destination)), hex);
    char *dir = pf_path_join(state_dir, what);
    size_t n = strlen(hex) + strlen(suffix) + 1;
    char *name = malloc(n);
    char *path = NULL;
    if (dir && name) {
        snprintf(name, n, "%s%s", hex, suffix);
        path = pf_path_join(dir, name);
    }
    free(dir);
    free(name);
    return path;
}

/* Everything one run carries from step to step. */
typedef struct run {
    const ps_job *job;
    ps_summary *sum;
    ps_manifest manifest;
    char *manifest_path;
    char *records_dir;
    ps_status first_error;
    ps_err first_err;
    /* Why the files of this run are read without a snapshot, when a method
     * failed (borrowed from the snapshot plan), for a locked file's event. */
    const char *no_snapshot_reason;
    int attempts_noted; /* the manifest holds attempts not yet saved */
} run;

static void note_failure(run *r, ps_status s, const ps_err *err)
{
    r->sum->failed++;
    if (r->first_error == PS_OK) {
        r->first_error = s;
        r->first_err = *err;
    }
}

/* Remember how this run's attempt at `c` ended, for `emhost status`; saved
 * with the manifest (at the latest when the run ends). */
static void note_attempt(run *r, const ps_candidate *c, const char *result, const ps_err *why)
{
    if (manifest_note_attempt(&r->manifest, c->key, c->path, pf_wall_ns(), result,
                              why ? why->msg : NULL, NULL) == PS_OK)
        r->attempts_noted = 1;
}

static char *final_path_for(const run *r, const ps_candidate *c)
{
    char *rel = pf_native_path(c->key);
    char *path = rel ? pf_path_join(r->job->destination, rel) : NULL;
    free(rel);
    return path;
}

/* A name may have 255 bytes (NAME_MAX; 255 UTF-16 units on Windows): a
 * backup whose name is that long leaves no room for the suffix. Its staging
 * name keeps the head of the name and a hash of the whole, so it stays
 * unique and the same from run to run (a resume finds it). */
#define NAME_LIMIT 255

static char *staging_path_for(const char *final_path)
{
    const char *base = pf_basename(final_path);
    size_t dir_len = (size_t)(base - final_path), base_len = strlen(base);
    size_t suffix_len = strlen(STAGING_SUFFIX), n = strlen(final_path) + suffix_len + 20;
    char *p = malloc(n);
    if (!p)
        return NULL;
    if (base_len + suffix_len <= NAME_LIMIT) {
        snprintf(p, n, "%s%s", final_path, STAGING_SUFFIX);
        return p;
    }
    char hex[17];
    ps_hash_hex(ps_hash64(base, base_len), hex);
    size_t keep = NAME_LIMIT - suffix_len - 1 - 16;
    while (keep > 0 && ((unsigned char)base[keep] & 0xC0) == 0x80)
        keep--; /* cut on a character boundary */
    snprintf(p, n, "%.*s%.*s~%s%s", (int)dir_len, final_path, (int)keep, base, hex, STAGING_SUFFIX);
    return p;
}

/* --- the user's own destination ------------------------------------------ */
/* Run elevated for a user (root, or SYSTEM, acting for the logged-on user),
 * the folders and backups this creates must be the user's, or their sync
 * client can neither replace nor delete them. A failure only costs that
 * convenience, never the backup: it is a warning. */
static int acts_for_user(const ps_job *job)
{
    return job->owner_uid >= 0 || job->user_sid; /* a uid on POSIX, a SID on Windows */
}

static void give_to_user(const ps_job *job, const char *path)
{
    ps_err err;
    if (acts_for_user(job) &&
        pf_give_to_user(path, job->owner_uid, job->owner_gid, job->user_sid, &err) != PS_OK)
        ps_emit(job->host, PS_WARNING, PS_EV_DESTINATION_ERROR, "pstsnap.destination.notGiven",
                json_pack("{s:s, s:s}", "path", path, "reason", err.msg),
                "'%s' stays the service's, so the user's sync client cannot replace it: %s", path,
                err.msg);
}

/* Give `top` and every folder below it on the way to `dir` (which starts
 * with `top`). Folders already the user's cost one open each. */
static void give_chain_to_user(const ps_job *job, const char *top, const char *dir)
{
    size_t n = strlen(top);
    if (!acts_for_user(job) || strncmp(dir, top, n) != 0 || (dir[n] && dir[n] != pf_sep))
        return;
    char *p = strdup(dir);
    if (!p)
        return;
    for (size_t i = n;; i++) {
        if (p[i] != pf_sep && p[i] != '\0')
            continue;
        char saved = p[i];
        p[i] = '\0';
        if (i > 0)
            give_to_user(job, p);
        p[i] = saved;
        if (!saved)
            break;
    }
    free(p);
}

/* A link the user made on the destination's path (their sync folder, say,
 * swapped for a link to /etc) would have an elevated run create folders and
 * backups where the user may not write. Links others made (an admin's
 * /home -> /data/home) are followed as usual. POSIX only: Windows paths
 * carry no owner uid. */
static ps_status refuse_user_links(const ps_job *job, ps_err *err)
{
    if (job->owner_uid < 0)
        return PS_OK;
    char *p = strdup(job->destination);
    if (!p)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    ps_status s = PS_OK;
    for (size_t i = 1; s == PS_OK; i++) {
        if (p[i] != pf_sep && p[i] != '\0')
            continue;
        char saved = p[i];
        p[i] = '\0';
        pf_stat st;
        if (pf_lstat(p, &st, NULL) != PS_OK) {
            p[i] = saved;
            break; /* not there yet: created below, without links */
        }
        if (st.kind == PF_KIND_LINK && st.owner_uid == job->owner_uid)
            s = ps_err_set(err, PS_ERR_UNSAFE,
                           "'%s' on the destination's path is a link the user made; an elevated "
                           "run does not follow it (the backups could land where the user may "
                           "not write)",
                           p);
        p[i] = saved;
        if (!saved)
            break;
    }
    free(p);
    return s;
}

/* mkdir -p the destination. The folders that creates, above it too (the
 * sync client's folder may not exist yet), become the user's. */
static ps_status make_destination(const ps_job *job, ps_err *err)
{
    if (refuse_user_links(job, err) != PS_OK)
        return PS_ERR_UNSAFE;
    char *first_new = NULL, *p = acts_for_user(job) ? strdup(job->destination) : NULL;
    pf_stat st;
    while (p && pf_lstat(p, &st, NULL) == PS_ERR_NOTFOUND) {
        free(first_new);
        first_new = p;
        p = pf_dirname(first_new);
        if (p && strcmp(p, first_new) == 0) {
            free(p);
            p = NULL;
        }
    }
    free(p);
    ps_status s = pf_mkdirs(job->destination, err);
    if (s == PS_OK && first_new)
        give_chain_to_user(job, first_new, job->destination);
    free(first_new);
    return s;
}

/* mkdir -p a folder below the destination, and make the whole chain the
 * user's on every publish: a run killed between making a folder and giving
 * it away leaves nothing root's for long. */
static ps_status make_backup_dir(const ps_job *job, const char *dir, ps_err *err)
{
    ps_status s = pf_mkdirs(dir, err);
    if (s == PS_OK)
        give_chain_to_user(job, job->destination, dir);
    return s;
}

/* --- step: orphans ------------------------------------------------------- */
static void remove_orphans(run *r)
{
    size_t removed = 0;
    ps_err err;
    ps_status s = snapshot_remove_orphans(r->records_dir, &removed, &err);
    if (removed)
        ps_emit(r->job->host, PS_INFO, PS_EV_ORPHAN_REMOVED, "pstsnap.snapshot.orphanRemoved",
                json_pack("{s:I}", "removed", (json_int_t)removed),
                "removed %zu snapshot artifact(s) left by an interrupted run", removed);
    if (s != PS_OK)
        ps_emit(r->job->host, PS_WARNING, PS_EV_ORPHAN_REMOVED, "pstsnap.snapshot.orphanKept",
                json_pack("{s:s}", "reason", err.msg), "%s", err.msg);
}

/* --- step: one file --------------------------------------------------------- */
typedef struct file_job {
    const ps_candidate *c;
    char *final_path, *staging_path, *journal_path;
} file_job;

static char *journal_sibling(const char *journal_path, const char *suffix)
{
    size_t n = strlen(journal_path) + strlen(suffix) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s", journal_path, suffix);
    return p;
}

/* "<journal>.target" names the staging file a journal belongs to, so a
 * later run can clean up after a PST that disappeared mid-copy. */
static char *target_path_for(const char *journal_path)
{
    return journal_sibling(journal_path, ".target");
}

/* "<journal>.apply" says an in-place update is being applied (patch.h). */
static char *marker_path_for(const char *journal_path)
{
    return journal_sibling(journal_path, ".apply");
}

/* A staging file (or redo log), its journal and their target file, and
 * the apply marker with them when asked: only once the redo is done or
 * worthless. The marker goes first: the sweep finds markers through the
 * target files, and one left without its target would never be seen
 * again; a redo log and journal left without their marker are swept, or
 * refused by the next copy (their backup has a new blockmap). */
static void drop_copy_state(const char *staging_path, const char *journal_path, int with_marker)
{
    char *target = target_path_for(journal_path);
    char *marker = with_marker ? marker_path_for(journal_path) : NULL;
    if (marker)
        pf_unlink(marker, NULL);
    pf_unlink(staging_path, NULL);
    pf_unlink(journal_path, NULL);
    journal_remove_aside(journal_path);
    if (target)
        pf_unlink(target, NULL);
    free(target);
    free(marker);
}

static void drop_staging(const file_job *f)
{
    drop_copy_state(f->staging_path, f->journal_path, 0);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Record what was published for the next run's delta. Failing costs that
 * run a full write, never a backup: the old blockmap is removed first, so a
 * stale one can never be taken for the new backup (it names the old file's
 * id anyway). */
static void save_base(const char *blockmap_path, ps_hashfile *hashes, uint64_t size,
                      const pf_stat *published, uint32_t block_size)
{
    if (!blockmap_path)
        return;
    ps_blockmap bm = {.block_size = block_size, .size = published->size,
                      .file_id = published->ino, .mtime_ns = published->mtime_ns,
                      .ctime_ns = published->ctime_ns, .block_count = hashes->count};
    pf_unlink(blockmap_path, NULL);
    if (published->size == size)
        blockmap_save(blockmap_path, &bm, hashes, NULL);
}

/* The new content's block hashes, from the journal of the copy that staged
 * it: all of them, or PS_ERR_CORRUPT. */
static ps_status open_new_hashes(const char *journal_path, uint64_t blocks, const char *what,
                                 ps_journal_header *hdr, ps_hashfile *hashes, ps_err *err)
{
    ps_status s = journal_open_hashes(journal_path, hdr, hashes, err);
    if (s == PS_OK && hashes->count != blocks) {
        s = ps_err_set(err, PS_ERR_CORRUPT, "the journal of the copy of '%s' holds %llu of its "
                       "%llu blocks", what, (unsigned long long)hashes->count,
                       (unsigned long long)blocks);
        hashfile_close(hashes);
    }
    return s;
}

/* The manifest learns that `published` now holds the PST `source` as it
 * was (size, mtime) when `provider` froze it; saved at once, so a kill
 * later in the run keeps it (and an in-place update's redo, patch.h, finds
 * the manifest describing the backup it finished). */
static ps_status record_backup(run *r, char *key, char *source, uint64_t size, int64_t mtime_ns,
                               const pf_stat *published, int64_t frozen_ns, const char *provider,
                               ps_err *err)
{
    ps_manifest_entry e = {.key = key, .source = source, .size = size, .mtime_ns = mtime_ns,
                           .dest_size = published->size, .dest_mtime_ns = published->mtime_ns,
                           .backed_up_ns = pf_wall_ns(), .frozen_ns = frozen_ns,
                           .last_result = "ok"};
    e.last_attempt_ns = e.backed_up_ns;
    snprintf(e.snapshot, sizeof e.snapshot, "%s", provider);
    ps_status s = manifest_set(&r->manifest, &e, err);
    if (s == PS_OK)
        s = manifest_save(&r->manifest, r->manifest_path, r->job->destination, err);
    return s;
}

/* Is `path` a file below the destination, without a ".." on the way? What
 * the state folder says is checked before an elevated run acts on it. */
static int below_destination(const run *r, const char *path)
{
    size_t n = strlen(r->job->destination);
    if (strncmp(path, r->job->destination, n) != 0 || path[n] != pf_sep)
        return 0;
    for (const char *p = path + n; p; p = strchr(p + 1, pf_sep))
        if (strncmp(p + 1, "..", 2) == 0 && (p[3] == pf_sep || p[3] == '\0'))
            return 0;
    return 1;
}

/* --- in-place updates an interrupted run left ------------------------------ */
/* Finish the apply the marker at `marker_path` records (patch.h). 1 when
 * nothing of it is left (finished, or worthless and dropped), 0 when it
 * waits for a later run (the backup stays part old, part new until then,
 * or until a full copy replaces it). */
static int finish_patch(run *r, const char *journal_path, const char *marker_path)
{
    const ps_job *job = r->job;
    uint32_t bs = 0;
    patch_marker m;
    ps_journal_header hdr = {0};
    ps_hashfile hashes = {0};
    ps_blockmap base = {0};
    char *blockmap_path = NULL, *redo = NULL;
    pf_stat patched;
    uint64_t written = 0;
    int applied = 0;
    ps_err err;
    ps_status s = patch_marker_load(marker_path, &m, &err);
    if (s == PS_OK && !below_destination(r, m.final_path))
        s = ps_err_set(&err, PS_ERR_CORRUPT, "apply marker '%s' names '%s', which is not a file "
                       "below the destination", marker_path, m.final_path);
    if (s == PS_OK)
        s = journal_open_hashes(journal_path, &hdr, &hashes, &err);
    if (s == PS_OK) {
        bs = hdr.block_size;
        uint64_t blocks = blockmap_blocks_for(hdr.source_size, bs);
        if (hdr.patch_base == 0 || hashes.count != blocks)
            s = ps_err_set(&err, PS_ERR_CORRUPT, "the journal of the in-place update of '%s' holds "
                           "%llu of its %llu blocks", m.final_path,
                           (unsigned long long)hashes.count, (unsigned long long)blocks);
    }
    if (s == PS_OK) {
        blockmap_path = pipeline_state_path(job->state_dir, "blockmaps", m.final_path, ".blocks");
        redo = staging_path_for(m.final_path);
        if (!blockmap_path || !redo)
            s = ps_err_set(&err, PS_ERR_NOMEM, "out of memory");
    }
    /* The blockmap describes the backup as it was until the apply is done;
     * another one (or none) means the apply finished and its new blockmap
     * was saved, or was being saved: nothing to redo. */
    if (s == PS_OK && blockmap_load(blockmap_path, &base, NULL) == PS_OK &&
        base.block_size == bs && blockmap_tag(&base) == hdr.patch_base) {
        patch_request p = {.redo_path = redo, .final_path = m.final_path,
                           .size = hdr.source_size, .block_size = bs, .hashes = &hashes,
                           .base = &base, .owner_uid = job->owner_uid,
                           .verify = job->params->verify};
        s = patch_apply(&p, &patched, &written, &err);
        blockmap_free(&base); /* closed before a new one takes its name */
        if (s == PS_OK)
            s = record_backup(r, (char *)m.key, (char *)m.source, hdr.source_size,
                              hdr.source_mtime_ns, &patched, m.frozen_ns, m.snapshot, &err);
        if (s == PS_OK) {
            save_base(blockmap_path, &hashes, hdr.source_size, &patched, bs);
            applied = 1;
        }
    }
    hashfile_close(&hashes); /* closed before the journal goes */
    int done = s == PS_OK || s == PS_ERR_CHANGED || s == PS_ERR_CORRUPT || s == PS_ERR_NOTFOUND;
    if (done && redo)
        drop_copy_state(redo, journal_path, 1);
    else if (done) /* a marker that names no usable backup: the journal's own target is swept */
        pf_unlink(marker_path, NULL);
    const char *what = m.final_path ? m.final_path : marker_path;
    if (applied)
        ps_emit(job->host, PS_INFO, PS_EV_PATCH_FINISHED, "pstsnap.patch.finished",
                json_pack("{s:s, s:I}", "backup", what, "bytesWritten", (json_int_t)written),
                "finished updating '%s' in place, which an interrupted run had begun", what);
    else if (s != PS_OK && done)
        ps_emit(job->host, PS_WARNING, PS_EV_JOURNAL_UNTRUSTED, "pstsnap.patch.dropped",
                json_pack("{s:s, s:s, s:s}", "backup", what, "error", ps_status_name(s), "reason",
                          err.msg),
                "the interrupted in-place update of '%s' cannot be finished and was dropped; "
                "its PST is copied in full: %s", what, err.msg);
    else if (s != PS_OK) {
        ps_emit(job->host, PS_ERROR, PS_EV_COPY_FAILED, "pstsnap.patch.failed",
                json_pack("{s:s, s:s, s:s}", "backup", what, "error", ps_status_name(s), "reason",
                          err.msg),
                "could not finish the interrupted in-place update of '%s'; it is tried again "
                "next time: %s", what, err.msg);
        note_failure(r, s, &err);
    }
    patch_marker_free(&m);
    blockmap_free(&base);
    free(blockmap_path);
    free(redo);
    return done;
}

/* Remove staging files and journals of copies whose PST is gone: nothing
 * will ever resume them. Only names under the destination that end in the
 * staging suffix are deleted, whatever a damaged target file says. */
static void sweep_stale_staging(run *r, const ps_candidates *found)
{
    char *dir = pf_path_join(r->job->state_dir, "journals");
    pf_dir *d = NULL;
    if (!dir || pf_dir_open(dir, &d, NULL) != PS_OK) {
        free(dir);
        return;
    }
    size_t dest_len = strlen(r->job->destination);
    const char *name;
    pf_kind kind;
    while (pf_dir_next(d, &name, &kind, NULL) == PS_OK && name) {
        if (kind != PF_KIND_FILE || !ends_with(name, ".journal.target"))
            continue;
        char *target = pf_path_join(dir, name), *staging = NULL;
        size_t len = 0;
        /* An in-place update left mid-apply is finished first, whether or
         * not its PST is still there: its backup is part old, part new. */
        char *journal = target ? strdup(target) : NULL;
        char *marker = NULL;
        pf_stat mst;
        if (journal) {
            journal[strlen(journal) - strlen(".target")] = '\0';
            marker = marker_path_for(journal);
        }
        int pending = marker && pf_lstat(marker, &mst, NULL) == PS_OK &&
                      !finish_patch(r, journal, marker);
        free(journal);
        free(marker);
        if (pending || !target || pf_read_file(target, 8192, &staging, &len, NULL) != PS_OK) {
            free(target);
            continue;
        }
        int ours = strlen(staging) == len && ends_with(staging, STAGING_SUFFIX) &&
                   strncmp(staging, r->job->destination, dest_len) == 0 &&
                   staging[dest_len] == pf_sep;
        int alive = 0;
        for (size_t i = 0; ours && !alive && i < found->count; i++) {
            char *final_path = final_path_for(r, &found->items[i]);
            char *expected = final_path ? staging_path_for(final_path) : NULL;
            alive = expected && strcmp(staging, expected) == 0;
            free(expected);
            free(final_path);
        }
        /* A journal without its staging file can never be resumed (a kill
         * after the publish renamed the staging file, before the journal
         * went): if the PST stays unchanged no copy would ever remove it. */
        pf_stat st;
        int staged = ours && pf_lstat(staging, &st, NULL) == PS_OK;
        if (ours && (!alive || !staged)) {
            pf_unlink(staging, NULL);
            target[strlen(target) - strlen(".target")] = '\0'; /* the journal itself */
            pf_unlink(target, NULL);
            journal_remove_aside(target);
            strcat(target, ".target");
            pf_unlink(target, NULL);
        }
        free(staging);
        free(target);
    }
    pf_dir_close(d);
    free(dir);
}

static void report_copy_error(run *r, const file_job *f, ps_status s, const ps_err *err)
{
    const ps_host *h = r->job->host;
    json_t *detail = json_pack("{s:s, s:s, s:s}", "path", f->c->path, "error", ps_status_name(s),
                               "reason", err->msg);
    if (s == PS_ERR_LOCKED) {
        /* Only a live read (no snapshot) meets a lock: Outlook holds the PST
         * with no sharing. Nothing was staged (the source is opened first).
         * The fix is the admin's - a snapshot needs Run As System - so this
         * is a skip with the remedy, not a copy failure. */
        json_object_set_new(detail, "snapshotFailure",
                            json_string(r->no_snapshot_reason ? r->no_snapshot_reason : ""));
        ps_emit(h, PS_WARNING, PS_EV_FILE_SKIPPED, "pstsnap.file.lockedNoSnapshot", detail,
                "skipped '%s': Outlook (or another program) holds it open, and without a "
                "snapshot it cannot be read%s%s. Set the action's Run As to System with snapshot "
                "'auto' or 'vss' so that VSS can snapshot it; the other PSTs were backed up",
                f->c->path, r->no_snapshot_reason ? "; no snapshot was taken because " : "",
                r->no_snapshot_reason ? r->no_snapshot_reason : "");
        r->sum->locked++;
        note_attempt(r, f->c, "failed", err);
        return;
    }
    if (s == PS_ERR_CHANGED) {
        /* The staged bytes may mix two states of the file: worthless. */
        drop_staging(f);
        ps_emit(h, PS_WARNING, PS_EV_CHANGED_DURING_COPY, "pstsnap.copy.changed", detail, "%s",
                err->msg);
    } else if (s == PS_ERR_NOSPACE) {
        /* A full sync cache hurts the user more than a lost head start. */
        drop_staging(f);
        ps_emit(h, PS_ERROR, PS_EV_NO_SPACE, "pstsnap.copy.noSpace", detail,
                "destination full while copying '%s'; the previous backup is intact: %s",
                f->c->path, err->msg);
    } else {
        /* Kept for resume: most other failures are transient. */
        ps_emit(h, PS_ERROR, PS_EV_COPY_FAILED, "pstsnap.copy.failed", detail,
                "could not back up '%s'; the previous backup is intact: %s", f->c->path, err->msg);
    }
    note_attempt(r, f->c, "failed", err);
    note_failure(r, s, err);
}

/* An in-place update that failed while applied. A backup that is gone or
 * another file, or a redo log that does not hold what its journal says,
 * make the redo worthless: dropped, and the next run copies in full. Else
 * the marker stays and the next run finishes the update. */
static void report_patch_error(run *r, const file_job *f, ps_status s, const ps_err *err)
{
    int drop = s == PS_ERR_CHANGED || s == PS_ERR_CORRUPT;
    if (drop)
        drop_copy_state(f->staging_path, f->journal_path, 1);
    ps_emit(r->job->host, PS_ERROR, PS_EV_COPY_FAILED, "pstsnap.patch.failed",
            json_pack("{s:s, s:s, s:s, s:s}", "path", f->c->path, "backup", f->final_path, "error",
                      ps_status_name(s), "reason", err->msg),
            drop ? "could not update the backup of '%s' in place: %s"
                 : "could not finish updating the backup of '%s' in place; it is part old, part "
                   "new until the next run finishes it: %s",
            f->c->path, err->msg);
    note_attempt(r, f->c, "failed", err);
    note_failure(r, s, err);
}

/* The blockmap of the backup the manifest last recorded, for a delta copy;
 * none (a full write) when there is no such backup or the blockmap is of
 * another publish. A damaged blockmap only costs that full write. */
static void load_base(const run *r, const file_job *f, const char *blockmap_path, ps_blockmap *bm)
{
    const ps_manifest_entry *last = manifest_get(&r->manifest, f->c->key);
    ps_err err;
    ps_status s = blockmap_path && last ? blockmap_load(blockmap_path, bm, &err) : PS_ERR_NOTFOUND;
    if (s == PS_ERR_CORRUPT) {
        /* Removed, never followed (a link planted there included): the
         * backup written now gets a new one. */
        pf_unlink(blockmap_path, NULL);
        ps_emit(r->job->host, PS_WARNING, PS_EV_JOURNAL_UNTRUSTED, "pstsnap.blockmap.untrusted",
                json_pack("{s:s, s:s}", "path", f->c->path, "reason", err.msg),
                "the block hashes of the last backup of '%s' cannot be trusted, so it is copied "
                "in full: %s", f->c->path, err.msg);
    }
    if (s != PS_OK)
        return;
    if (bm->size != last->dest_size || bm->mtime_ns != last->dest_mtime_ns)
        blockmap_free(bm);
}

static ps_status back_up_file(run *r, const file_job *f, const char *read_path, int live,
                              const char *provider, int64_t frozen_ns, uint64_t progress_base,
                              uint64_t progress_total)
{
    const ps_job *job = r->job;
    ps_err err;
    char *dir = pf_dirname(f->final_path);
    ps_status s = dir ? make_backup_dir(job, dir, &err)
                      : ps_err_set(&err, PS_ERR_NOMEM, "out of memory");
    free(dir);
    copy_request req = {.read_path = read_path, .live_path = f->c->path, .live = live,
                        .source_size = f->c->st.size, .source_mtime_ns = f->c->st.mtime_ns,
                        .source_dev = f->c->st.dev, .source_ino = f->c->st.ino,
                        .staging_path = f->staging_path, .journal_path = f->journal_path,
                        .block_size = job->params->block_size,
                        .max_bandwidth_mibps = job->params->max_bandwidth_mibps, .host = job->host,
                        .progress_base = progress_base, .progress_total = progress_total,
                        /* A kept version is a link to the backup: never patched. */
                        .in_place = job->params->update_in_place && job->params->keep_versions == 0};
    copy_result res = {0};
    ps_blockmap base = {0};
    ps_hashfile hashes = {0};
    ps_journal_header hdr;
    char *blockmap_path = pipeline_state_path(job->state_dir, "blockmaps", f->final_path, ".blocks");
    load_base(r, f, blockmap_path, &base);
    if (blockmap_loaded(&base)) {
        req.base_path = f->final_path;
        req.base = &base;
    }
    char *target = target_path_for(f->journal_path);
    char *marker = marker_path_for(f->journal_path);
    if (s == PS_OK && (!target || !marker))
        s = ps_err_set(&err, PS_ERR_NOMEM, "out of memory");
    /* An in-place update the sweep could not finish is given up: this copy
     * replaces the part-old, part-new backup with a whole new one. */
    if (s == PS_OK)
        pf_unlink(marker, NULL);
    if (s == PS_OK)
        s = pf_write_file_atomic(target, f->staging_path, strlen(f->staging_path), &err);
    if (s == PS_OK)
        s = copy_file(&req, &res, &err);
    if (s == PS_OK)
        s = open_new_hashes(f->journal_path, res.block_count, f->c->path, &hdr, &hashes, &err);
    r->sum->bytes_read += res.bytes_read;
    r->sum->bytes_written += res.bytes_written;
    pf_stat published;
    int version_kept = 0, applying = 0;
    if (s == PS_OK && res.in_place) {
        patch_marker m = {.final_path = f->final_path, .key = f->c->key, .source = f->c->path,
                          .snapshot = provider, .frozen_ns = frozen_ns};
        patch_request p = {.redo_path = f->staging_path, .final_path = f->final_path,
                           .size = res.size, .block_size = job->params->block_size,
                           .hashes = &hashes, .base = &base, .owner_uid = job->owner_uid,
                           .verify = job->params->verify};
        uint64_t applied = 0;
        s = patch_marker_save(marker, &m, &err);
        applying = s == PS_OK;
        if (s == PS_OK)
            s = patch_apply(&p, &published, &applied, &err);
        res.bytes_written += applied;
        r->sum->bytes_written += applied;
    } else if (s == PS_OK) {
        /* Before the rename, so the backup is the user's from its first
         * moment under the final name (kept versions are links to it). */
        give_to_user(job, f->staging_path);
        publish_request pub = {.staging_path = f->staging_path, .final_path = f->final_path,
                               .size = res.size, .hashes = &hashes,
                               .block_size = job->params->block_size,
                               .verify = job->params->verify,
                               .keep_versions = job->params->keep_versions};
        s = publish_file(&pub, &published, &version_kept, &err);
    }
    /* The base is closed before a new blockmap takes its name. */
    blockmap_free(&base);
    if (s == PS_OK) {
        s = record_backup(r, f->c->key, f->c->path, f->c->st.size, f->c->st.mtime_ns, &published,
                          frozen_ns, provider, &err);
        /* The new blockmap is written from the journal, so before the
         * journal goes; for an in-place update, also before the marker: a
         * kill before it goes then finds the update finished (patch.h). A
         * kill before the journal goes leaves it without its staging file,
         * which the sweep removes. */
        if (s == PS_OK)
            save_base(blockmap_path, &hashes, res.size, &published, job->params->block_size);
        hashfile_close(&hashes);
        if (s == PS_OK && res.in_place) {
            drop_copy_state(f->staging_path, f->journal_path, 1);
        } else if (s == PS_OK) {
            pf_unlink(f->journal_path, NULL);
            pf_unlink(target, NULL);
        }
    }
    hashfile_close(&hashes);
    if (s == PS_OK) {
        r->sum->copied++;
        ps_emit(job->host, PS_INFO, PS_EV_FILE_BACKED_UP, "pstsnap.file.backedUp",
                json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:b, s:b, s:s, s:b, s:b}", "path",
                          f->c->path, "backup", f->final_path, "size", (json_int_t)res.size,
                          "bytesWritten", (json_int_t)res.bytes_written, "reusedBlocks",
                          (json_int_t)res.reused_blocks, "clonedBlocks",
                          (json_int_t)res.cloned_blocks, "cloned", res.cloned, "inPlace",
                          res.in_place, "snapshot", provider, "resumed", res.resumed,
                          "versionKept", version_kept),
                "backed up '%s' to '%s' (%.1f MiB, %s%s)", f->c->path, f->final_path,
                (double)res.size / 1048576.0, provider, res.in_place ? ", updated in place" : "");
    } else if (s == PS_ERR_CANCELLED) {
        r->sum->cancelled = 1;
        note_attempt(r, f->c, "interrupted", &err);
        ps_emit(job->host, PS_WARNING, PS_EV_CANCELLED, "pstsnap.copy.cancelled",
                json_pack("{s:s}", "path", f->c->path), "%s", err.msg);
    } else if (applying) {
        report_patch_error(r, f, s, &err);
    } else {
        report_copy_error(r, f, s, &err);
    }
    blockmap_free(&base);
    free(blockmap_path);
    free(target);
    free(marker);
    return s;
}

/* --- step: copy what changed -------------------------------------------------- */
static void copy_changed(run *r, ps_candidate **changed, size_t count)
{
    const ps_job *job = r->job;
    const char **paths = malloc((count ? count : 1) * sizeof *paths);
    uint64_t total = 0;
    for (size_t i = 0; paths && i < count; i++) {
        paths[i] = changed[i]->path;
        total += changed[i]->st.size;
    }
    snapshot_plan *plan = NULL;
    ps_err err;
    int64_t frozen_ns = pf_wall_ns(); /* before the snapshot: see compare.h */
    ps_status s = paths ? snapshot_plan_create(paths, count, job->params->snapshot, r->records_dir,
                                               job->host, &plan, &err)
                        : ps_err_set(&err, PS_ERR_NOMEM, "out of memory");
    if (s != PS_OK) {
        note_failure(r, s, &err);
        free(paths);
        return;
    }
    r->no_snapshot_reason = snapshot_plan_failure(plan);
    uint64_t done = 0;
    int disk_full = 0;
    for (size_t i = 0; i < count && !r->sum->cancelled && !disk_full; i++) {
        file_job f = {.c = changed[i], .final_path = final_path_for(r, changed[i])};
        f.staging_path = f.final_path ? staging_path_for(f.final_path) : NULL;
        f.journal_path = f.final_path ? pipeline_state_path(job->state_dir, "journals",
                                                            f.final_path, ".journal") : NULL;
        char *read_path = NULL;
        int live = 0;
        const char *provider = "none";
        if (!f.final_path || !f.staging_path || !f.journal_path) {
            ps_err_set(&err, PS_ERR_NOMEM, "out of memory");
            note_failure(r, PS_ERR_NOMEM, &err);
        } else if ((s = snapshot_plan_map(plan, i, &read_path, &live, &provider, &err)) != PS_OK) {
            ps_emit(job->host, PS_ERROR, PS_EV_SNAPSHOT_FAILED, "pstsnap.snapshot.failed",
                    json_pack("{s:s, s:s}", "path", f.c->path, "reason", err.msg),
                    "'%s' was not backed up: no snapshot: %s", f.c->path, err.msg);
            note_attempt(r, f.c, "failed", &err);
            note_failure(r, s, &err);
        } else {
            s = back_up_file(r, &f, read_path, live, provider, frozen_ns, done, total);
            disk_full = s == PS_ERR_NOSPACE; /* the next file would fail the same way */
        }
        done += f.c->st.size;
        free(read_path);
        free(f.final_path);
        free(f.staging_path);
        free(f.journal_path);
    }
    snprintf(r->sum->providers, sizeof r->sum->providers, "%s", snapshot_plan_providers(plan));
    r->sum->snapshots = snapshot_plan_sessions(plan);
    r->no_snapshot_reason = NULL; /* it lived in the plan */
    snapshot_plan_release(plan, job->host);
    free(paths);
}

/* --- step: discover ------------------------------------------------------------ */
/* The PSTs the user's Outlook profiles name, when the admin asked for them.
 * A profile that cannot be read costs only those extra PSTs: a warning. */
static void list_profile_psts(const ps_job *job, const ps_host *host, pf_path_list *list)
{
    list->paths = NULL;
    list->count = 0;
    if (!job->params->outlook_profiles)
        return;
    ps_err err;
    if (pf_outlook_profile_psts(job->user_sid, list, &err) != PS_OK)
        ps_emit(host, PS_WARNING, PS_EV_SOURCE_SKIPPED, "pstsnap.profiles.skipped",
                json_pack("{s:s, s:s}", "field", "/outlookProfiles", "reason", err.msg),
                "the PSTs listed in the Outlook profiles were not added: %s", err.msg);
}

ps_status pipeline_discover(const ps_job *job, const ps_host *host, ps_candidates *found,
                            ps_err *err)
{
    discover_request dq = {.sources = job->sources, .source_count = job->source_count,
                           .include = job->params->include,
                           .include_count = job->params->include_count,
                           .exclude = job->params->exclude,
                           .exclude_count = job->params->exclude_count,
                           .recurse = job->params->recurse, .destination = job->destination,
                           .owner_uid = job->owner_uid, .host = host,
                           .user_sid = job->user_sid};
    pf_path_list profile_psts;
    list_profile_psts(job, host, &profile_psts);
    dq.profile_psts = profile_psts.paths;
    dq.profile_pst_count = profile_psts.count;
    ps_status s = discover_files(&dq, found, err);
    pf_path_list_free(&profile_psts);
    return s;
}

/* --- step: compare -------------------------------------------------------------- */
/* "90m", "1h", "45s": the largest unit that states `s` exactly, as an admin
 * writes minInterval. */
static void format_interval(int64_t s, char *buf, size_t len)
{
    static const struct {
        int64_t seconds;
        char unit;
    } units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (s >= units[i].seconds && s % units[i].seconds == 0) {
            snprintf(buf, len, "%lld%c", (long long)(s / units[i].seconds), units[i].unit);
            return;
        }
    snprintf(buf, len, "%llds", (long long)s);
}

/* Say which PST waits, and until when, so an admin reading the log can tell
 * a deliberate wait from a backup that is not working. */
static void report_too_soon(run *r, const ps_candidate *c, int64_t now_ns)
{
    const ps_manifest_entry *last = manifest_get(&r->manifest, c->key);
    int64_t interval_s = r->job->params->min_interval_s;
    int64_t due_ns = (last ? last->backed_up_ns : now_ns) + interval_s * 1000000000LL;
    char interval[32], last_text[32], due_text[32];
    format_interval(interval_s, interval, sizeof interval);
    pf_format_utc_time(last ? last->backed_up_ns : now_ns, last_text, sizeof last_text);
    pf_format_utc_time(due_ns, due_text, sizeof due_text);
    ps_emit(r->job->host, PS_INFO, PS_EV_TOO_SOON, "pstsnap.file.tooSoon",
            json_pack("{s:s, s:I, s:s, s:s}", "path", c->path, "minIntervalSeconds",
                      (json_int_t)interval_s, "lastBackup", last_text, "due", due_text),
            "'%s' changed, but its last backup (%s) is less than minInterval (%s) old; it is "
            "backed up at the first start after %s",
            c->path, last_text, interval, due_text);
    /* A wait is no news: it must not hide that the attempt before it failed
     * (status reports the last real outcome until the next copy), and noting
     * it again would rewrite the manifest, with a flush, at every Outlook
     * start within minInterval. Only the first wait after a good copy is
     * noted. */
    if (!last || !strcmp(last->last_result, "ok") || !last->last_result[0])
        note_attempt(r, c, "tooSoon", NULL);
}

static ps_candidate **select_changed(run *r, ps_candidates *found, size_t *count)
{
    ps_candidate **changed = malloc((found->count ? found->count : 1) * sizeof *changed);
    *count = 0;
    if (!changed)
        return NULL;
    int64_t now = pf_wall_ns();
    for (size_t i = 0; i < found->count; i++) {
        ps_candidate *c = &found->items[i];
        char *final_path = final_path_for(r, c);
        ps_verdict v = final_path ? compare_candidate(c, manifest_get(&r->manifest, c->key), final_path,
                                                      r->job->params->min_interval_s, now)
                                  : PS_CHANGED;
        free(final_path);
        if (v == PS_UNCHANGED) {
            r->sum->unchanged++;
        } else if (v == PS_TOO_SOON) {
            r->sum->too_soon++;
            report_too_soon(r, c, now);
        } else {
            changed[(*count)++] = c;
        }
    }
    return changed;
}

/* --- the run ------------------------------------------------------------------------ */
static ps_status prepare_state(const ps_job *job, ps_err *err)
{
    static const char *const dirs[] = {"journals", "snapshots", "manifests", "locks", "blockmaps"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char *d = pf_path_join(job->state_dir, dirs[i]);
        ps_status s = d ? pf_mkdirs(d, err) : ps_err_set(err, PS_ERR_NOMEM, "out of memory");
        free(d);
        if (s != PS_OK) {
            ps_emit(job->host, PS_ERROR, PS_EV_STATE_ERROR, "pstsnap.state.error",
                    json_pack("{s:s}", "reason", err->msg), "cannot use the state folder: %s",
                    err->msg);
            return s;
        }
    }
    return PS_OK;
}

static void emit_summary(const ps_job *job, const ps_summary *s)
{
    /* Locked PSTs skipped for want of a snapshot make the run a partial
     * success: a warning, though the run itself did not fail. */
    int partial = s->locked && !s->failed;
    json_t *detail =
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:b, s:s}", "seen",
                  (json_int_t)s->seen, "skipped", (json_int_t)s->skipped, "unchanged", (json_int_t)s->unchanged, "tooSoon",
                  (json_int_t)s->too_soon, "copied", (json_int_t)s->copied, "failed",
                  (json_int_t)s->failed, "bytesRead", (json_int_t)s->bytes_read,
                  "bytesWritten", (json_int_t)s->bytes_written, "durationMs",
                  (json_int_t)s->duration_ms, "snapshot",
                  s->providers[0] ? s->providers : "none taken", "cancelled", s->cancelled,
                  "destination", job->destination);
    json_object_set_new(detail, "locked", json_integer((json_int_t)s->locked));
    json_object_set_new(detail, "partial", json_boolean(partial));
    char locked[96] = "";
    if (s->locked)
        snprintf(locked, sizeof locked, ", %zu locked and skipped (no snapshot)", s->locked);
    ps_emit(job->host, s->failed || s->locked ? PS_WARNING : PS_INFO, PS_EV_SUMMARY,
            "pstsnap.summary", detail,
            "PST backup%s: %zu found, %zu copied, %zu unchanged, %zu skipped, %zu failed%s%s in "
            "%llu ms (snapshot: %s)",
            partial ? " partly done" : "", s->seen, s->copied, s->unchanged, s->skipped,
            s->failed, locked, s->cancelled ? ", stopped early" : "",
            (unsigned long long)s->duration_ms, s->providers[0] ? s->providers : "none taken");
}

static ps_status run_locked(run *r)
{
    const ps_job *job = r->job;
    ps_err err;
    ps_status s = manifest_load(r->manifest_path, &r->manifest, &err);
    /* A manifest we cannot trust (damaged, or unreadable) only costs a full
     * copy; it must never stop the backup. */
    if (s != PS_OK)
        ps_emit(job->host, PS_WARNING, PS_EV_MANIFEST_UNTRUSTED, "pstsnap.manifest.untrusted",
                json_pack("{s:s}", "reason", err.msg),
                "%s; every PST is copied in full this time", err.msg);
    ps_candidates found;
    s = pipeline_discover(job, job->host, &found, &err);
    if (s != PS_OK) {
        note_failure(r, s, &err);
        return s;
    }
    r->sum->seen = found.count;
    r->sum->skipped = found.skipped;
    sweep_stale_staging(r, &found);
    size_t count = 0;
    ps_candidate **changed = select_changed(r, &found, &count);
    if (!changed) {
        candidates_free(&found);
        return ps_err_set(&r->first_err, PS_ERR_NOMEM, "out of memory");
    }
    if (count == 0)
        ps_emit(job->host, PS_DEBUG, PS_EV_NOTHING_CHANGED, "pstsnap.nothingChanged", NULL,
                "no PST changed since its last backup: no snapshot taken");
    else
        copy_changed(r, changed, count);
    free(changed);
    candidates_free(&found);
    /* Successes saved the manifest as they went; failures and waits are
     * only noted, and land here. Losing them costs `emhost status` the
     * last attempt's result, never a backup: a warning. */
    if (r->attempts_noted && manifest_save(&r->manifest, r->manifest_path, job->destination,
                                           &err) != PS_OK)
        ps_emit(job->host, PS_WARNING, PS_EV_STATE_ERROR, "pstsnap.state.attemptsLost",
                json_pack("{s:s}", "reason", err.msg),
                "the result of this run's attempts was not recorded: %s", err.msg);
    return PS_OK;
}

ps_status pipeline_run(const ps_job *job, ps_summary *sum, ps_err *err)
{
    memset(sum, 0, sizeof *sum);
    uint64_t start = pf_monotonic_ms();
    ps_status s = prepare_state(job, err);
    if (s != PS_OK)
        return s;
    run r = {.job = job, .sum = sum};
    r.manifest_path = pipeline_state_path(job->state_dir, "manifests", job->destination, ".json");
    r.records_dir = pf_path_join(job->state_dir, "snapshots");
    char *lock_path = pipeline_state_path(job->state_dir, "locks", job->destination, ".lock");
    pf_lock *lock = NULL;
    if (!r.manifest_path || !r.records_dir || !lock_path)
        s = ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    else if ((s = pf_lock_acquire(lock_path, LOCK_WAIT_MS, &lock, err)) == PS_ERR_BUSY) {
        sum->busy = 1;
        ps_emit(job->host, PS_INFO, PS_EV_BUSY, "pstsnap.busy",
                json_pack("{s:s}", "destination", job->destination),
                "another backup to '%s' is running; leaving the work to it", job->destination);
        s = PS_OK;
    } else if (s == PS_OK) {
        remove_orphans(&r);
        ps_err derr;
        ps_status ds = make_destination(job, &derr);
        if (ds != PS_OK) {
            ps_emit(job->host, PS_ERROR, PS_EV_DESTINATION_ERROR, "pstsnap.destination.error",
                    json_pack("{s:s, s:s}", "destination", job->destination, "reason", derr.msg),
                    "cannot use the destination: %s", derr.msg);
            note_failure(&r, ds, &derr);
        } else {
            run_locked(&r);
        }
        sum->duration_ms = pf_monotonic_ms() - start;
        emit_summary(job, sum);
        s = r.first_error;
        if (s != PS_OK)
            *err = r.first_err;
    }
    pf_lock_release(lock);
    manifest_free(&r.manifest);
    free(r.manifest_path);
    free(r.records_dir);
    free(lock_path);
    return s;
}
