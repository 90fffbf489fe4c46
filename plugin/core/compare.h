/*
 * compare.h - decide, from metadata alone, which candidates need a backup.
 * This is the no-change fast path: one stat of the source (done by
 * discovery) and one of the destination per file; no hashing, no snapshot.
 *
 * Ownership: all arguments borrowed.
 */
#ifndef PS_COMPARE_H
#define PS_COMPARE_H

#include <stdint.h>

#include "discover.h"
#include "manifest.h"

typedef enum ps_verdict {
    PS_UNCHANGED = 0,   /* source and published copy as recorded */
    PS_CHANGED,         /* copy it */
    PS_TOO_SOON,        /* changed, but minInterval has not elapsed */
    PS_DEST_MISMATCH    /* our copy was deleted or replaced: copy it again */
} ps_verdict;

/* File times are coarse (a kernel tick on Linux; see PF_MTIME_SLACK_NS): a
 * write right after the snapshot can leave the mtime where it was, so size
 * and mtime vouch for content only when the mtime is older than the
 * snapshot by more than that slack (git's "racily clean" index entries
 * have the same problem). frozen_ns: wall clock just before the snapshot. */
int ps_mtime_is_racy(int64_t mtime_ns, int64_t frozen_ns);

/* final_path: where the backup of `c` lives. now_ns: wall clock. */
ps_verdict compare_candidate(const ps_candidate *c, const ps_manifest_entry *last,
                             const char *final_path, int64_t min_interval_s, int64_t now_ns);

#endif
