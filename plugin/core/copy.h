/*
 * copy.h - copy one file from its snapshot into a staging file, resumably.
 *
 * The staging file lives beside the final backup (same volume, so publishing
 * is a rename) under a name sync clients skip (*.partial). Every block is
 * hashed (XXH3) and journaled after the staged data is flushed, so a run
 * that is killed, cancelled or loses power resumes where it stopped:
 *  - source unchanged since the interrupted run (same size and mtime as the
 *    journal records): staged blocks are reused without reading them again;
 *  - source changed: each staged block is re-checked against the source and
 *    rewritten only where it differs.
 * Cancellation is honoured between chunks (well under a second): the run
 * checkpoints, then returns PS_ERR_CANCELLED.
 *
 * Delta: given the last published backup and its blockmap, and where the
 * volume clones extents (btrfs, XFS), the staging file starts as a clone of
 * that backup and only blocks whose hash differs from the blockmap's are
 * written: a changed PST costs one read of the snapshot plus the writes of
 * what changed. The backup is cloned only while it still is the file the
 * blockmap describes (file id, size, mtime, checked on the open handle
 * before and after the clone); a backup a sync client replaced, another
 * block size, or a volume that cannot clone gets the full staged write.
 * A resumed copy clones again past what its journal vouches for, so blocks
 * the interrupted run wrote but did not journal are never taken on trust.
 * Cloning gives the staging file its own extents map: writing it never
 * changes the backup, nor a kept version linked to it.
 *
 * In-place update (in_place, the updateInPlace parameter): where the base
 * cannot be cloned (NTFS, ext4, another volume) but still is the backup its
 * blockmap describes, the staging file becomes a redo log instead: the
 * blocks that differ from the base, one after another in block order, and
 * the journal (naming the base by its blockmap_tag) vouches for them as for
 * a staging file's. patch_apply (patch.h) then writes them into the backup.
 * Only a fresh copy of the very file discovery saw becomes one; a resume
 * continues one only for the same source and the same backup, else the
 * copy starts over.
 *
 * Hashes are never held in memory (peak memory does not grow with the
 * file): each new hash goes to the journal, which on PS_OK holds one record
 * per block, in order - publish, verify and the next blockmap read them
 * from there (journal_open_hashes); the base's are read from its blockmap
 * (blockmap_hash), and an interrupted run's from its journal, set aside
 * while this run writes a new one (journal_open_aside).
 *
 * Ownership: strings in copy_request are borrowed. The base blockmap is the
 * caller's to blockmap_free either way; copy_file frees it early when it is
 * neither cloned nor patched (it vouches for nothing then).
 */
#ifndef PS_COPY_H
#define PS_COPY_H

#include <stdint.h>

#include "blockmap.h"
#include "error.h"
#include "host.h"

typedef struct copy_request {
    const char *read_path;    /* where to read: the file inside the snapshot */
    const char *live_path;    /* the user's file, for messages and live checks */
    int live;                 /* no snapshot: fail with PS_ERR_CHANGED if it moves */
    uint64_t source_size;     /* the live file at discovery: the journal's identity */
    int64_t source_mtime_ns;
    uint64_t source_dev, source_ino; /* the live file discovery found: a live read
                                      * opens that file or nothing */
    const char *staging_path;
    const char *journal_path;
    uint32_t block_size;
    uint32_t max_bandwidth_mibps; /* 0 = unlimited */
    const ps_host *host;
    uint64_t progress_base, progress_total; /* run-wide progress accounting */
    const char *base_path;   /* the last published backup, or NULL */
    ps_blockmap *base;       /* its blockmap, or NULL: no delta (see Ownership) */
    int in_place;            /* an in-place update where the base cannot be cloned */
} copy_request;

typedef struct copy_result {
    uint64_t size;        /* bytes in the staged copy */
    uint64_t block_count; /* its journal holds one hash for each */
    uint64_t bytes_read, bytes_written;
    uint64_t reused_blocks; /* taken over from an interrupted run */
    uint64_t cloned_blocks; /* unchanged since the base: kept from its clone */
    int resumed;
    int cloned;             /* the staging file started as a clone of the base */
    int in_place;           /* the staging file is a redo log of the changed blocks
                             * (redo_bytes long) for patch_apply */
    uint64_t redo_bytes;
} copy_result;

ps_status copy_file(const copy_request *req, copy_result *res, ps_err *err);

#endif
