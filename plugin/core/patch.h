/*
 * patch.h - an in-place update: write a redo log's blocks into the backup.
 *
 * The opt-in alternative (updateInPlace) to a full staged copy where the
 * destination cannot clone: copy_file stages only the blocks that differ
 * from the backup, one after another, into a redo log (copy.h), and this
 * writes them to their places in the backup. It writes what changed, not
 * the whole file; the price is that while it runs the backup under its
 * final name is part old, part new (README: "In-place updates").
 *
 * Crash safety is the redo log's: before the first block is written, the
 * pipeline records an apply marker (patch_marker_save) beside the journal.
 * A run that finds one finishes the apply from the same redo log, journal
 * and blockmap (which still describes the backup as it was, since the new
 * one is saved only after the apply), so a kill, logoff or power cut
 * mid-apply leaves a backup that the next run completes. Applying twice
 * is harmless: each block is written with the same bytes.
 *
 * Ownership: everything in patch_request is borrowed, and so are the
 * strings of a patch_marker given to patch_marker_save; patch_marker_load
 * malloc's them (patch_marker_free).
 */
#ifndef PS_PATCH_H
#define PS_PATCH_H

#include <stdint.h>

#include "blockmap.h"
#include "error.h"
#include "hashfile.h"
#include "params.h"
#include "platform.h"

typedef struct patch_request {
    const char *redo_path;    /* the redo log (the copy's staging file) */
    const char *final_path;   /* the backup written into */
    uint64_t size;            /* of the new content */
    uint32_t block_size;
    ps_hashfile *hashes;      /* of the new content, one per block (its journal's) */
    ps_blockmap *base;        /* the backup's before the update; the backup must
                               * still be its file (file id), */
    int64_t owner_uid;        /* owned by this user (-1: not checked), */
                              /* and have no other name (no kept version) */
    ps_verify verify;
} patch_request;

/* Write every block whose hash differs from the base's, from the redo log
 * into the backup, set its size and flush it, then verify it as asked. The
 * backup is opened without following a link and must be the base's file,
 * the user's, with one name: a marker, journal or blockmap forged in the
 * state folder can at most make an elevated run write the user's bytes
 * into the user's own backup.
 * *patched receives the backup's metadata afterwards and *bytes_written
 * what was written into it. PS_ERR_CHANGED when the backup is gone or is
 * another file (a sync client replaced it): nothing is written then.
 * PS_ERR_CORRUPT when the redo log does not hold what the hashes say. */
ps_status patch_apply(const patch_request *r, pf_stat *patched, uint64_t *bytes_written,
                      ps_err *err);

/* What a redo needs that the journal does not say: whose backup it is. */
typedef struct patch_marker {
    const char *final_path; /* the backup being patched */
    const char *key;        /* its manifest key */
    const char *source;     /* the PST it is a backup of */
    const char *snapshot;   /* the provider the content was read through */
    int64_t frozen_ns;  /* when that snapshot was taken */
} patch_marker;

/* Written atomically; PS_ERR_CORRUPT (naming the field) from a load of
 * anything else. */
ps_status patch_marker_save(const char *path, const patch_marker *m, ps_err *err);
ps_status patch_marker_load(const char *path, patch_marker *m, ps_err *err);
void patch_marker_free(patch_marker *m);

#endif
