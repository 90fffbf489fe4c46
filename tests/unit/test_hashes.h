/*
 * test_hashes.h - block hashes for the engine's unit tests, which keeps
 * them in files (hashfile.h): a copy's in its journal, a backup's in its
 * blockmap. These helpers turn arrays into such files and back. Like every
 * test helper, each fails the test on any error.
 * Ownership: returned arrays are malloc'd (free()); opened hashfiles and
 * blockmaps are the caller's to close (hashfile_close, blockmap_free).
 */
#ifndef PS_TEST_HASHES_H
#define PS_TEST_HASHES_H

#include <stddef.h>
#include <stdint.h>

#include "blockmap.h"
#include "hashfile.h"

/* The ps_hash64 of each `bs`-byte block of data; *count receives how many. */
uint64_t *th_block_hashes(const unsigned char *data, size_t len, uint32_t bs, uint64_t *count);
/* The hashes the journal at `path` vouches for; the test fails unless it
 * holds exactly `blocks` of them. */
uint64_t *th_journaled_hashes(const char *path, uint64_t blocks);
/* `count` hashes written as a journal at `path` (block size bs, for a
 * source of `size` bytes) and opened from there. */
void th_hashfile_of(const char *path, const uint64_t *hashes, uint64_t count, uint32_t bs,
                    uint64_t size, ps_hashfile *out);
/* A blockmap at `path` with the fields of `fields` and `hashes`
 * (fields->block_count of them), loaded into *loaded when it is not NULL. */
void th_blockmap_write(const char *path, const ps_blockmap *fields, const uint64_t *hashes,
                       ps_blockmap *loaded);

#endif
