/*
 * snapshot.h - point-in-time views of live files, behind one interface.
 *
 * Outlook keeps its PSTs open and rewrites pages while it runs, so a plain
 * read can see a torn file. A provider gives the copy engine a path from
 * which each file reads as it was at one moment. Providers (one file each):
 *   btrfs   - read-only subvolume snapshot via the kernel's ioctls (Linux)
 *   reflink - per-file clone via FICLONE (Linux: btrfs, XFS)
 *   vss     - Volume Shadow Copy (Windows)
 *   none    - the live file; the engine must check that size and mtime did
 *             not move while it read, and refuse to publish if they did
 *
 * Leak safety: before a provider creates anything that outlives the process
 * (a snapshot subvolume, a clone file, a VSS snapshot id) it writes the
 * artifact's name to a durable record with snap_record_add. A run that is
 * killed leaves the record behind; the next run calls
 * snapshot_remove_orphans, which hands every recorded artifact back to its
 * provider's remove_artifact and then deletes the record.
 *
 * Ownership: a snap_session is created by provider->create and freed by
 * provider->release (also on failure of release). Paths in and out are UTF-8;
 * strings returned through char **out are malloc'd and freed by the caller.
 */
#ifndef PS_SNAPSHOT_H
#define PS_SNAPSHOT_H

#include <stddef.h>

#include "../core/error.h"

typedef struct snap_record snap_record;   /* see snapshot_record.c */
typedef struct snap_session snap_session; /* provider-specific */

/* How a provider whose create can wait long (VSS: seconds to minutes on the
 * service) learns that the run must stop (logoff, shutdown). The struct is
 * borrowed for the call; a provider that also polls it in release (vss)
 * keeps a copy; ctx must outlive the session. cancelled may be NULL (never
 * cancelled). */
typedef struct snap_cancel {
    int (*cancelled)(void *ctx);
    void *ctx;
} snap_cancel;

typedef struct snap_provider {
    const char *name; /* "btrfs", "reflink", "vss", "none" */
    /* Nonzero when files read through this provider are NOT frozen and the
     * engine must verify stability itself (only "none"). */
    int is_live;
    /* Cheap check that this provider can work for the live file at `path`
     * (right filesystem, right privileges). PS_OK or PS_ERR_UNSUPPORTED /
     * PS_ERR_ACCESS with the reason. Creates nothing. */
    ps_status (*probe)(const char *path, ps_err *err);
    /* Freeze the `count` files (all probed OK). Records every artifact with
     * snap_record_add BEFORE creating it. On failure nothing is left behind
     * except what the record names. */
    ps_status (*create)(const char *const *paths, size_t count, snap_record *record,
                        snap_session **out, ps_err *err);
    /* Path to read `live_path` (one of the created set) in its frozen state.
     * *out is malloc'd; the caller frees it. */
    ps_status (*map_path)(snap_session *session, const char *live_path, char **out, ps_err *err);
    /* Remove everything create made and free the session. */
    ps_status (*release)(snap_session *session, ps_err *err);
    /* Remove one artifact named in a record a crashed run left. An artifact
     * that no longer exists counts as removed (PS_OK). */
    ps_status (*remove_artifact)(const char *artifact, ps_err *err);
    /* Optional, appended (NULL: create is quick and ignores cancellation, as
     * btrfs, reflink and none are): create, polling `cancel` (may be NULL)
     * while it waits, and failing with PS_ERR_CANCELLED when it is set.
     * Callers use it when present, else create. */
    ps_status (*create_cancellable)(const char *const *paths, size_t count, snap_record *record,
                                    const snap_cancel *cancel, snap_session **out, ps_err *err);
} snap_provider;

/* The providers compiled into this build, best first, for "auto". */
const snap_provider *const *snapshot_providers(size_t *count);

/* The provider called `name`, or NULL. */
const snap_provider *snapshot_provider_by_name(const char *name);

/* --- durable artifact records (snapshot_record.c) ------------------------ */

/* Open a new record file in `records_dir` for one session of `provider`.
 * The file is created (and its directory made) at once; artifacts are added
 * with snap_record_add. */
ps_status snap_record_open(const char *records_dir, const char *provider, snap_record **out,
                           ps_err *err);
/* Append `artifact` (one line, no newlines) and flush it to disk before
 * returning, so a crash right after still leaves the name on disk. */
ps_status snap_record_add(snap_record *record, const char *artifact, ps_err *err);
/* The record is no longer needed (all its artifacts were removed): delete the
 * file and free. */
ps_status snap_record_discard(snap_record *record, ps_err *err);
/* Free the in-memory handle but keep the file (used when release failed, so
 * the next run retries). */
void snap_record_close(snap_record *record);

/* For every record file in `records_dir`, remove each artifact through its
 * provider, then delete the record. *removed counts artifacts removed.
 * Records whose artifacts cannot be removed are kept for the next run and
 * reported in err (the function still processes the rest). */
ps_status snapshot_remove_orphans(const char *records_dir, size_t *removed, ps_err *err);

#endif /* PS_SNAPSHOT_H */
