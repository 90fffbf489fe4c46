/*
 * manifest.h - what the last complete backup of each file was.
 *
 * One manifest per destination, kept in the user's state folder (not in the
 * destination, where a sync client would upload it). For each backed-up
 * file it records the source's size and mtime as seen before its snapshot,
 * and the published copy's size and mtime. The next run compares both: if
 * the source is unchanged AND the destination still is what we published,
 * there is nothing to do; if a sync client replaced or deleted the copy, it
 * is copied again.
 *
 * The file carries a format version and an XXH3 checksum over its canonical
 * form; a damaged or foreign manifest is never trusted (PS_ERR_CORRUPT), and
 * the caller then backs every file up in full.
 *
 * Ownership: a ps_manifest owns its entries (manifest_free); manifest_set
 * copies what it is given (last_error too); manifest_get returns a borrowed
 * entry.
 */
#ifndef PS_MANIFEST_H
#define PS_MANIFEST_H

#include <stdint.h>

#include <uthash.h>

#include "error.h"

#define PS_MANIFEST_VERSION 1

typedef struct ps_manifest_entry {
    char *key;    /* destination-relative path, '/'-separated */
    char *source; /* the live file */
    uint64_t size;
    int64_t mtime_ns;
    uint64_t dest_size;
    int64_t dest_mtime_ns;
    int64_t backed_up_ns; /* wall clock of the publish */
    int64_t frozen_ns;    /* wall clock just before its snapshot (compare.h) */
    char snapshot[16];    /* provider used */
    /* The last attempt to back the file up, successful or not, for `emhost
     * status`. Optional in the file (manifests of earlier builds lack them:
     * 0 / "" / NULL). An entry with backed_up_ns == 0 records only an
     * attempt: the file has no good backup yet. */
    int64_t last_attempt_ns;
    char last_result[16]; /* "ok", "failed", "tooSoon", "interrupted" or "" */
    char *last_error;     /* why the last attempt failed, or NULL */
    UT_hash_handle hh;
} ps_manifest_entry;

typedef struct ps_manifest {
    ps_manifest_entry *entries; /* uthash head */
} ps_manifest;

/* Load into an empty *m. A missing file gives an empty manifest and PS_OK;
 * a damaged one an empty manifest and PS_ERR_CORRUPT with the reason. */
ps_status manifest_load(const char *path, ps_manifest *m, ps_err *err);
/* Write atomically (temp file, flush, rename). */
ps_status manifest_save(const ps_manifest *m, const char *path, const char *destination,
                        ps_err *err);
ps_manifest_entry *manifest_get(const ps_manifest *m, const char *key);
ps_status manifest_set(ps_manifest *m, const ps_manifest_entry *values, ps_err *err);
/* Record an attempt to back up `key` (creating an attempt-only entry when
 * the file has none) without touching what its last good backup was.
 * result: "ok", "failed", "tooSoon", "interrupted"; error may be NULL. */
ps_status manifest_note_attempt(ps_manifest *m, const char *key, const char *source,
                                int64_t when_ns, const char *result, const char *error,
                                ps_err *err);
void manifest_free(ps_manifest *m);

#endif
