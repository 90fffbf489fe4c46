/*
 * journal.h - the resume journal of one file's copy.
 *
 * While a PST is copied into its staging file, the journal records, block by
 * block, the hash of what the staging file durably holds. After a kill,
 * power loss or logoff the next run reads it back and continues instead of
 * starting over. Ordering makes it safe: staged data is flushed BEFORE the
 * records describing it are written and flushed, so a record never claims
 * data that is not on disk.
 *
 * Format (little-endian), version 1:
 *   header, 64 bytes: "PSTSNAPJ", u32 version, u32 block size, u64 source
 *   size, i64 source mtime (ns), i64 creation time (ns, wall clock), u64
 *   patch base (0: the staging file holds every journaled block; else the
 *   tag of the backup an in-place update patches, see copy.h), 8 reserved
 *   bytes, u64 XXH3 of bytes 0..55. Journals written before the patch base
 *   existed have zeros there, which reads as what they are.
 *   records, 24 bytes each: u64 block index, u64 block hash, u64 XXH3 of the
 *   first 16 bytes seeded with the header hash
 * A damaged header makes the whole journal untrusted (PS_ERR_CORRUPT); a
 * damaged or torn record ends the trusted part (the usual torn tail of a
 * crash). The header hash seeds the records so records of an older journal
 * at the same path never validate against a new header.
 *
 * Ownership: a ps_journal is freed by journal_close; the hashes the open
 * functions give are the caller's to hashfile_close.
 */
#ifndef PS_JOURNAL_H
#define PS_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "hashfile.h"

#define PS_JOURNAL_VERSION 1u

typedef struct ps_journal_header {
    uint32_t block_size;
    uint64_t source_size;
    int64_t source_mtime_ns;
    int64_t created_ns; /* when the journal was started (see copy.c: racy) */
    /* 0, or the tag (copy_base_tag) of the backup whose changed blocks the
     * staging file holds as a redo log (an in-place update, copy.h). */
    uint64_t patch_base;
} ps_journal_header;

typedef struct ps_journal ps_journal;

/* Open a journal for reading: *hdr, and in *hashes the hashes of its
 * trusted records - the contiguous run of blocks 0..count-1 found in
 * order, hashes->count of them - read through a window (hashfile.h), never
 * all at once. PS_ERR_NOTFOUND when there is no journal, PS_ERR_CORRUPT
 * (with the reason) when it cannot be trusted at all. The caller closes
 * *hashes (hashfile_close) before the journal is replaced or removed. */
ps_status journal_open_hashes(const char *path, ps_journal_header *hdr, ps_hashfile *hashes,
                              ps_err *err);
/* The same, for how many records are trusted only. */
ps_status journal_count(const char *path, ps_journal_header *hdr, uint64_t *count, ps_err *err);
/* Move the journal at `path` aside, to "<path>.prev" (journal_aside_path,
 * malloc'd), and open its hashes there: a copy whose source changed
 * re-checks the staged blocks against them while a new journal takes
 * `path`. Only that run reads it; journal_remove_aside removes it, and so
 * does any later copy of the same file or cleanup of its state. */
ps_status journal_open_aside(const char *path, ps_journal_header *hdr, ps_hashfile *hashes,
                             ps_err *err);
void journal_remove_aside(const char *path);
char *journal_aside_path(const char *path);

/* Start a new journal (replacing any) and flush its header. */
ps_status journal_create(const char *path, const ps_journal_header *hdr, ps_journal **out,
                         ps_err *err);
/* Continue a loaded journal after its first `keep` records: anything past
 * them (a torn tail, or blocks the caller will redo) is cut off. */
ps_status journal_reopen(const char *path, const ps_journal_header *hdr, uint64_t keep,
                         ps_journal **out, ps_err *err);
/* Queue a record; nothing is durable until journal_commit. */
ps_status journal_append(ps_journal *j, uint64_t index, uint64_t hash, ps_err *err);
/* How many more records can be queued before a commit is needed. */
size_t journal_room(const ps_journal *j);
/* Write queued records and flush them. Call only after the staged data they
 * describe was flushed. */
ps_status journal_commit(ps_journal *j, ps_err *err);
ps_status journal_close(ps_journal *j, ps_err *err);

#endif
