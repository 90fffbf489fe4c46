#include "copy.h"

#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "compare.h"
#include "fault.h"
#include "hash.h"
#include "journal.h"
#include "platform.h"

/* Reads are made in chunks of several blocks: large sequential reads keep
 * the disk streaming, while per-block hashing keeps change detection fine. */
#define CHUNK_BYTES (4u << 20)
/* Checkpoint at least this often, so a kill loses little work; each
 * checkpoint costs two flushes. */
#define CHECKPOINT_BYTES (32u << 20)
#define CHECKPOINT_MS 1000u
/* How far reading runs ahead of hashing: the next chunks are requested
 * before the current one is processed, so the source device works while
 * this thread hashes, writes and checkpoints (one thread, no copy between
 * buffers: the kernel's cache is the second buffer). Four (16 MiB) rather
 * than one: enough to cover a checkpoint's flush; measured ~9% faster on a
 * loop-mounted btrfs, the same on ext4 (tests/bench/RESULTS.md). */
#define PREFETCH_CHUNKS 4u

typedef struct copy_state {
    const copy_request *req;
    pf_file *src, *staging;
    ps_journal *journal;
    uint64_t size, blocks;
    int64_t mtime_ns;       /* of the file read (the snapshot's view), at open */
    uint64_t start_block;   /* first block to read */
    ps_hashfile known;      /* hashes already staged, to re-check (an interrupted
                             * run's journal, set aside; open or not) */
    uint64_t known_count;
    ps_blockmap *base;      /* the base cloned into blocks base_from.., or NULL */
    uint64_t base_from, base_count;
    /* In-place update (copy.h): the staging file is a redo log holding the
     * changed blocks one after another, redo_end bytes of it vouched for. */
    int patching;
    uint64_t redo_end;
    uint64_t since_checkpoint, last_checkpoint_ms;
    uint64_t throttle_start_ms, throttle_bytes;
} copy_state;

static ps_status checkpoint(copy_state *c, ps_err *err)
{
    /* Data first, then the records that vouch for it. */
    FAULT_POINT("copy.staging.before-flush");
    ps_status s = pf_sync(c->staging, err);
    FAULT_POINT("copy.staging.flushed");
    if (s == PS_OK)
        s = journal_commit(c->journal, err);
    c->since_checkpoint = 0;
    c->last_checkpoint_ms = pf_monotonic_ms();
    return s;
}

/* Is the base still the backup its blockmap describes, with no other name
 * (a kept version) that writing into it would change? Checked on an open
 * handle: only then may the copy stage just what differs from it. */
static int base_is_backup(const copy_request *r)
{
    pf_file *f = NULL;
    pf_stat st;
    int ok = r->base_path && r->base && r->base->block_size == r->block_size &&
             pf_open_read(r->base_path, &f, NULL) == PS_OK && pf_fstat(f, &st, NULL) == PS_OK &&
             blockmap_describes(r->base, &st) && st.nlink == 1;
    pf_close(f, NULL);
    return ok;
}

/* May this copy be an in-place update? Asked for, a base that still is the
 * backup, and a view of the file that is the one discovery saw (the
 * journal's identity is then the content's, which a redo relies on). */
static int can_patch(const copy_state *c)
{
    const copy_request *r = c->req;
    return r->in_place && c->size == r->source_size && c->mtime_ns == r->source_mtime_ns &&
           base_is_backup(r);
}

static void use_base_for_patch(copy_state *c, copy_result *res)
{
    c->patching = 1;
    c->base = c->req->base;
    c->base_from = 0;
    c->base_count = c->req->base->block_count;
    res->in_place = 1;
}

/* Does block b, now hashing to h, differ from the base's? */
static ps_status block_changed(copy_state *c, uint64_t b, uint64_t h, int *changed, ps_err *err)
{
    uint64_t before = 0;
    ps_status s = b < c->base_count ? blockmap_hash(c->base, b, &before, err) : PS_OK;
    *changed = b >= c->base_count || before != h;
    return s;
}

/* Take over what an interrupted run staged, when its journal is trusted. */
static ps_status prepare_resume(copy_state *c, copy_result *res, ps_err *err)
{
    const copy_request *r = c->req;
    ps_journal_header old;
    ps_hashfile hashes;
    ps_err jerr;
    /* A journal an earlier run set aside and did not remove (killed) is
     * nobody's now. */
    journal_remove_aside(r->journal_path);
    ps_status s = journal_open_hashes(r->journal_path, &old, &hashes, &jerr);
    uint64_t count = s == PS_OK ? hashes.count : 0;
    ps_journal_header hdr = {r->block_size, r->source_size, r->source_mtime_ns, pf_wall_ns(), 0};
    pf_stat staged;
    int usable = s == PS_OK && old.block_size == r->block_size && count > 0 &&
                 pf_lstat(r->staging_path, &staged, NULL) == PS_OK && staged.kind == PF_KIND_FILE;
    /* A redo log is worth something only to a resume of the same in-place
     * update: same source, same backup, still asked for. */
    int patch_resume = usable && old.patch_base != 0;
    if (patch_resume)
        usable = old.source_size == r->source_size && old.source_mtime_ns == r->source_mtime_ns &&
                 !ps_mtime_is_racy(old.source_mtime_ns, old.created_ns) && can_patch(c) &&
                 old.patch_base == blockmap_tag(r->base);
    if (s == PS_ERR_CORRUPT)
        ps_emit(r->host, PS_WARNING, PS_EV_JOURNAL_UNTRUSTED, "pstsnap.journal.untrusted",
                json_pack("{s:s, s:s}", "path", r->live_path, "reason", jerr.msg),
                "copy of '%s' starts over: %s", r->live_path, jerr.msg);
    if (s == PS_ERR_CORRUPT) /* a planted link or file in its place is removed, never followed */
        pf_unlink(r->journal_path, NULL);
    if (!usable) {
        hashfile_close(&hashes);
        if ((s = journal_create(r->journal_path, &hdr, &c->journal, err)) != PS_OK)
            return s;
        return pf_truncate(c->staging, 0, err);
    }
    if (count > c->blocks)
        count = c->blocks;
    /* Staged bytes beyond the file's end cannot be vouched for. */
    uint64_t staged_blocks = (staged.size + r->block_size - 1) / r->block_size;
    if (!patch_resume && count > staged_blocks)
        count = staged_blocks;
    /* Equal size and mtime prove nothing when the mtime was within the
     * timestamp granularity of the moment the journal started: a write in
     * that window leaves the mtime as it was. Such blocks are re-checked. */
    /* The view read now must also be the file discovery saw: a file
     * written between discovery and this run's snapshot keeps its old
     * identity in the request, but the snapshot holds newer bytes, and
     * taking the staged blocks on trust would mix two states of it. */
    int same_source = old.source_size == r->source_size &&
                      old.source_mtime_ns == r->source_mtime_ns &&
                      !ps_mtime_is_racy(old.source_mtime_ns, old.created_ns) &&
                      c->size == r->source_size && c->mtime_ns == r->source_mtime_ns;
    res->resumed = 1;
    if (patch_resume) {
        use_base_for_patch(c, res);
        /* The journaled blocks that differ from the base are in the redo
         * log in order; one it does not wholly hold ends the trusted part. */
        uint64_t b = 0, h = 0;
        int changed = 0;
        s = PS_OK;
        for (; s == PS_OK && b < count; b++) {
            if ((s = hashfile_get(&hashes, b, &h, err)) != PS_OK ||
                (s = block_changed(c, b, h, &changed, err)) != PS_OK)
                break;
            uint64_t len = changed ? blockmap_block_len(c->size, r->block_size, b) : 0;
            if (c->redo_end + len > staged.size)
                break;
            c->redo_end += len;
        }
        count = b;
        c->start_block = count;
        res->reused_blocks = count;
        hashfile_close(&hashes);
        /* What the redo log holds past the journaled blocks is not vouched
         * for: cut, and appended again. */
        if (s == PS_OK)
            s = pf_truncate(c->staging, c->redo_end, err);
        if (s == PS_OK)
            s = journal_reopen(r->journal_path, &old, count, &c->journal, err);
    } else if (same_source) {
        c->start_block = count;
        res->reused_blocks = count;
        hashfile_close(&hashes);
        /* The old header stays: its hash seeds the records being kept. */
        s = journal_reopen(r->journal_path, &old, count, &c->journal, err);
    } else {
        /* The source moved on: the old journal is set aside, its hashes to
         * re-check each staged block, and a new one started for the new
         * identity (before any write: the old one must stop vouching). */
        hashfile_close(&hashes);
        s = journal_open_aside(r->journal_path, &old, &c->known, err);
        c->known_count = s == PS_OK && c->known.count < count ? c->known.count : count;
        if (s == PS_OK)
            s = journal_create(r->journal_path, &hdr, &c->journal, err);
    }
    if (s == PS_OK)
        ps_emit(r->host, PS_INFO, PS_EV_RESUMED, "pstsnap.copy.resumed",
                json_pack("{s:s, s:I, s:b}", "path", r->live_path, "stagedBlocks", (json_int_t)count,
                          "sourceUnchanged", same_source),
                "continuing the interrupted copy of '%s' (%llu blocks already staged%s)",
                r->live_path, (unsigned long long)count,
                same_source ? "" : ", re-checking them because the file changed");
    return s;
}

/* Start the staging file, past what the journal vouches for, as a clone of
 * the last published backup. Best effort: whatever goes wrong, nothing is
 * taken from the base and every block from there on is written. */
static void clone_base(copy_state *c, copy_result *res)
{
    const copy_request *r = c->req;
    ps_blockmap *bm = r->base;
    uint64_t from = c->known_count > c->start_block ? c->known_count : c->start_block;
    if (!r->base_path || !bm || bm->block_size != r->block_size || from >= bm->block_count ||
        from >= c->blocks)
        return;
    pf_file *base = NULL;
    pf_stat st;
    if (pf_open_read(r->base_path, &base, NULL) != PS_OK)
        return;
    /* The handle pins the file checked: a sync client renaming another
     * file over the name now cannot slip its bytes into the clone. Checked
     * again after the clone for one writing into it in place. What nothing
     * vouches for is cut first: a clone of the base's partial last block
     * must reach the staging file's end (btrfs refuses it otherwise). */
    if (pf_fstat(base, &st, NULL) == PS_OK && blockmap_describes(bm, &st) &&
        pf_truncate(c->staging, from * r->block_size, NULL) == PS_OK &&
        pf_clone_file(base, c->staging, from * r->block_size, NULL) == PS_OK &&
        pf_fstat(base, &st, NULL) == PS_OK && blockmap_describes(bm, &st)) {
        FAULT_POINT("copy.base.cloned");
        c->base = bm;
        c->base_from = from;
        c->base_count = bm->block_count < c->blocks ? bm->block_count : c->blocks;
        res->cloned = 1;
    }
    pf_close(base, NULL);
}

/* Make this fresh copy an in-place update: the journal names the backup
 * patched, and the staging file starts empty as its redo log. */
static ps_status start_patch(copy_state *c, copy_result *res, ps_err *err)
{
    const copy_request *r = c->req;
    ps_journal_header hdr = {r->block_size, r->source_size, r->source_mtime_ns, pf_wall_ns(),
                             blockmap_tag(r->base)};
    ps_status s = journal_close(c->journal, err);
    c->journal = NULL;
    if (s == PS_OK)
        s = journal_create(r->journal_path, &hdr, &c->journal, err);
    if (s == PS_OK)
        s = pf_truncate(c->staging, 0, err);
    if (s == PS_OK)
        use_base_for_patch(c, res);
    return s;
}

/* The hash of what staging block b holds, when it is known (*known). */
static ps_status staged_hash(copy_state *c, uint64_t b, uint64_t *h, int *known, ps_err *err)
{
    *known = 1;
    if (b < c->known_count)
        return hashfile_get(&c->known, b, h, err);
    if (c->base && b >= c->base_from && b < c->base_count)
        return blockmap_hash(c->base, b, h, err);
    *known = 0;
    return PS_OK;
}

static void throttle(copy_state *c, size_t bytes)
{
    uint32_t limit = c->req->max_bandwidth_mibps;
    if (!limit)
        return;
    c->throttle_bytes += bytes;
    uint64_t due_ms = c->throttle_bytes * 1000u / ((uint64_t)limit << 20);
    uint64_t elapsed = pf_monotonic_ms() - c->throttle_start_ms;
    /* Sleep in short slices so cancellation stays prompt. */
    while (due_ms > elapsed && !ps_cancelled(c->req->host)) {
        uint64_t nap = due_ms - elapsed;
        pf_sleep_ms((uint32_t)(nap > 100 ? 100 : nap));
        elapsed = pf_monotonic_ms() - c->throttle_start_ms;
    }
}

static ps_status copy_blocks(copy_state *c, copy_result *res, unsigned char *buf, ps_err *err)
{
    const copy_request *r = c->req;
    uint32_t bs = r->block_size;
    uint64_t blocks_per_chunk = CHUNK_BYTES / bs ? CHUNK_BYTES / bs : 1;
    uint64_t chunk_bytes = blocks_per_chunk * bs;
    for (uint64_t b = c->start_block; b < c->blocks; b += blocks_per_chunk) {
        if (ps_cancelled(r->host)) {
            ps_status s = checkpoint(c, err);
            return s != PS_OK ? s
                              : ps_err_set(err, PS_ERR_CANCELLED, "copy of '%s' stopped for logoff "
                                           "or shutdown; it resumes next time", r->live_path);
        }
        uint64_t n = c->blocks - b < blocks_per_chunk ? c->blocks - b : blocks_per_chunk;
        if (journal_room(c->journal) < n) {
            ps_status s = checkpoint(c, err);
            if (s != PS_OK)
                return s;
        }
        uint64_t off = b * bs;
        size_t want = (size_t)(off + n * bs > c->size ? c->size - off : n * bs), got = 0;
        if (off + want < c->size)
            pf_prefetch(c->src, off + want, PREFETCH_CHUNKS * chunk_bytes);
        ps_status s = pf_pread(c->src, buf, want, off, &got, err);
        if (s != PS_OK)
            return s;
        res->bytes_read += got;
        if (got != want)
            return ps_err_set(err, r->live ? PS_ERR_CHANGED : PS_ERR_IO,
                              "'%s' ended at %llu bytes while %llu were expected", r->live_path,
                              (unsigned long long)(off + got), (unsigned long long)c->size);
        uint64_t written_from = UINT64_MAX, written_to = 0;
        for (uint64_t i = 0; i < n; i++) {
            size_t len = (size_t)(want - i * bs < bs ? want - i * bs : bs);
            const unsigned char *block = buf + i * bs;
            uint64_t h = ps_hash64(block, len), staged = 0;
            int known = 0, write = 1;
            /* A redo log appends what differs from the backup; a staging
             * file holds each block at its place. */
            if (c->patching)
                s = block_changed(c, b + i, h, &write, err);
            else if ((s = staged_hash(c, b + i, &staged, &known, err)) == PS_OK)
                write = !known || staged != h;
            if (s != PS_OK)
                return s;
            uint64_t at = c->patching ? c->redo_end : off + i * bs;
            if (write) {
                /* One write per block on purpose: one per run of blocks (a
                 * 4 MiB write per chunk in a first backup) doubled a first
                 * backup's time on ext4 and gained nothing on btrfs
                 * (tests/bench/RESULTS.md, goal 1). */
                if ((s = pf_pwrite(c->staging, block, len, at, err)) != PS_OK)
                    return s;
                res->bytes_written += len;
                if (written_from == UINT64_MAX)
                    written_from = at;
                written_to = at + len;
                if (c->patching)
                    c->redo_end += len;
                FAULT_POINT("copy.block.written");
            } else if (b + i >= c->known_count) {
                res->cloned_blocks++;
            }
            if ((s = journal_append(c->journal, b + i, h, err)) != PS_OK)
                return s;
        }
        /* Let the device write this chunk while the next one is read: the
         * checkpoint's flush then waits for little. Only a hint; the order
         * that vouches for data (flush, then journal) is the checkpoint's. */
        if (written_to > written_from)
            pf_start_writeback(c->staging, written_from, written_to - written_from);
        c->since_checkpoint += got;
        ps_progress(r->host, r->progress_base + off + got, r->progress_total);
        throttle(c, got);
        if (c->since_checkpoint >= CHECKPOINT_BYTES ||
            pf_monotonic_ms() - c->last_checkpoint_ms >= CHECKPOINT_MS) {
            if ((s = checkpoint(c, err)) != PS_OK)
                return s;
        }
    }
    return PS_OK;
}

/* Without a snapshot the file may have moved under us: refuse to publish a
 * copy that may mix two states. */
static ps_status check_still_same(const copy_state *c, const pf_stat *before, ps_err *err)
{
    const copy_request *r = c->req;
    pf_stat after, live;
    ps_status s = pf_fstat(c->src, &after, err);
    if (s == PS_OK)
        s = pf_lstat(r->live_path, &live, err);
    if (s != PS_OK)
        return s;
    if (after.size != before->size || after.mtime_ns != before->mtime_ns ||
        live.ino != before->ino || live.size != r->source_size || live.mtime_ns != r->source_mtime_ns)
        return ps_err_set(err, PS_ERR_CHANGED,
                          "'%s' changed while it was copied without a snapshot; the copy is not "
                          "published (enable snapshots, or back up while Outlook is closed)",
                          r->live_path);
    return PS_OK;
}

ps_status copy_file(const copy_request *req, copy_result *res, ps_err *err)
{
    memset(res, 0, sizeof *res);
    copy_state c = {.req = req};
    pf_stat before;
    ps_status s = pf_open_read(req->read_path, &c.src, err);
    if (s == PS_OK)
        s = pf_fstat(c.src, &before, err);
    /* The open refuses a link in the last component only: a folder on the
     * path swapped for a link after discovery (a hostile profile, while an
     * elevated run reads) leads elsewhere, to a file that may even have the
     * size and mtime discovery saw. Only the opened file's identity tells. */
    if (s == PS_OK && req->live && req->source_ino &&
        (before.dev != req->source_dev || before.ino != req->source_ino))
        s = ps_err_set(err, PS_ERR_CHANGED,
                       "'%s' was replaced after it was found (by another file, or a folder on "
                       "its path by a link); it is not read now and is backed up next time",
                       req->live_path);
    if (s != PS_OK) {
        pf_close(c.src, NULL);
        return s;
    }
    pf_advise_sequential(c.src);
    c.size = before.size;
    c.mtime_ns = before.mtime_ns;
    c.blocks = (c.size + req->block_size - 1) / req->block_size;
    res->size = c.size;
    res->block_count = c.blocks;
    s = pf_open_write(req->staging_path, &c.staging, NULL, err);
    if (s == PS_OK)
        s = prepare_resume(&c, res, err);
    if (s == PS_OK && !c.patching)
        clone_base(&c, res);
    /* Where the base could not be cloned, an in-place update if asked for:
     * only from the start, never on top of a full copy's staged blocks. */
    if (s == PS_OK && !c.patching && !c.base && c.start_block == 0 &&
        !hashfile_is_open(&c.known) && can_patch(&c))
        s = start_patch(&c, res, err);
    /* Without the clone the base's hashes vouch for nothing here. */
    if (req->base && !c.base)
        blockmap_free(req->base);
    unsigned char *buf = NULL;
    if (s == PS_OK && !(buf = malloc(CHUNK_BYTES > req->block_size ? CHUNK_BYTES : req->block_size)))
        s = ps_err_set(err, PS_ERR_NOMEM, "out of memory copying '%s'", req->live_path);
    c.last_checkpoint_ms = c.throttle_start_ms = pf_monotonic_ms();
    if (s == PS_OK)
        s = copy_blocks(&c, res, buf, err);
    /* A copy that started over on a shorter source must not keep old tail
     * bytes; nor a redo log bytes past its last block. */
    if (s == PS_OK)
        s = pf_truncate(c.staging, c.patching ? c.redo_end : c.size, err);
    res->redo_bytes = c.redo_end;
    if (s == PS_OK)
        s = checkpoint(&c, err);
    if (s == PS_OK && req->live)
        s = check_still_same(&c, &before, err);
    ps_status cs = journal_close(c.journal, s == PS_OK ? err : NULL);
    if (s == PS_OK)
        s = cs;
    cs = pf_close(c.staging, s == PS_OK ? err : NULL);
    if (s == PS_OK)
        s = cs;
    pf_close(c.src, NULL);
    free(buf);
    if (hashfile_is_open(&c.known)) {
        hashfile_close(&c.known);
        journal_remove_aside(req->journal_path);
    }
    return s;
}
