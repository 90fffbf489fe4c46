/*
 * hashfile.h - block hashes read from a state file through a fixed window.
 *
 * A file's block hashes grow with the file: 8 bytes per block, 512 KiB for
 * a 4 GiB PST at 64 KiB blocks (its journal's records: 24 bytes per block).
 * Held in memory they made a run's peak memory grow with the largest PST;
 * so they stay in the files that keep them anyway - the new ones in the
 * copy's journal (journal.h), the last backup's in its blockmap
 * (blockmap.h) - and are read from there through a window of
 * HASHFILE_WINDOW entries. Every reader walks blocks in order (copy, patch,
 * verify, saving a blockmap), so each entry is read from disk once per
 * walk; any other order still works, a window at a time.
 *
 * Entries are either plain hashes (a blockmap, whose checksum the opener
 * checked) or journal records, each re-checked as it is read: a record that
 * no longer validates, or names another block, is PS_ERR_CORRUPT.
 *
 * Ownership: a ps_hashfile owns its open file, path copy and window, all
 * freed by hashfile_close (harmless on a zeroed or closed one).
 */
#ifndef PS_HASHFILE_H
#define PS_HASHFILE_H

#include <stdint.h>

#include "error.h"
#include "platform.h"

#define HASHFILE_WINDOW 4096u /* entries: 32 KiB of hashes, 96 KiB of records */

typedef struct ps_hashfile {
    pf_file *file;
    char *path;       /* for messages */
    uint64_t first;   /* file offset of entry 0 */
    uint32_t stride;  /* bytes per entry: 8 (a hash) or 24 (a journal record) */
    int records;      /* entries are journal records: u64 index, hash, check */
    uint64_t seed;    /* the seed of a record's check hash */
    uint64_t count;   /* entries */
    uint64_t win_first, win_count;
    unsigned char *win;
} ps_hashfile;

/* Read `count` entries of `stride` bytes from `first` in `file`, which the
 * hashfile takes (it is closed here on failure too). */
ps_status hashfile_open(ps_hashfile *h, const char *path, pf_file *file, uint64_t first,
                        uint32_t stride, int records, uint64_t seed, uint64_t count, ps_err *err);
/* The hash of entry i (< count). */
ps_status hashfile_get(ps_hashfile *h, uint64_t i, uint64_t *hash, ps_err *err);
void hashfile_close(ps_hashfile *h);
static inline int hashfile_is_open(const ps_hashfile *h) { return h->file != NULL; }

/* Is a journal record at `rec` (24 bytes) valid under `seed`? Shared with
 * journal.c, which finds how many there are. */
int hashfile_record_valid(const unsigned char *rec, uint64_t seed);

#endif
