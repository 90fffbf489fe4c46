/*
 * publish.h - make a staged copy the backup, atomically.
 *
 * Order matters and is the whole point: verify the staged copy (as
 * configured), keep the previous backup as a version if asked (a hard link,
 * so the final name never disappears), then rename the staging file over the
 * final name. Before the rename the previous good backup is untouched; after
 * it the new one is complete. No reader ever sees a partial file under the
 * final name.
 *
 * Ownership: strings and arrays in publish_request are borrowed.
 */
#ifndef PS_PUBLISH_H
#define PS_PUBLISH_H

#include <stdint.h>

#include "error.h"
#include "hashfile.h"
#include "params.h"
#include "platform.h"

typedef struct publish_request {
    const char *staging_path;
    const char *final_path;
    uint64_t size;
    ps_hashfile *hashes;    /* block hashes of what was staged (its journal's) */
    uint32_t block_size;
    ps_verify verify;
    uint32_t keep_versions;
} publish_request;

/* *published receives the final file's metadata after the rename;
 * *version_kept is set when the previous backup was kept as a version. */
ps_status publish_file(const publish_request *req, pf_stat *published, int *version_kept,
                       ps_err *err);

/* Re-read a written file and compare it with the hashes of what was
 * written: quick checks the size, the first and the last block (a wrong
 * size, a lost tail, an unwritten start, at the cost of two reads); full
 * every block; none nothing. */
ps_status publish_verify_file(const char *path, uint64_t size, ps_hashfile *hashes,
                              uint32_t block_size, ps_verify verify, ps_err *err);

/* The name a kept version gets: "<stem> (YYYY-MM-DD HHMMSS)<ext>" in local
 * time, beside the final file. malloc'd. */
char *publish_version_path(const char *final_path, int64_t wall_ns);
/* Is `name` a kept version of `base` ("Mail (2026-11-25 105606).pst" of
 * "Mail.pst")? The fixed-width stamp makes names sort by age. */
int publish_is_version_of(const char *name, const char *base);

#endif
