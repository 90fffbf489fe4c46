/*
 * blockmap.h - the block hashes of a published backup, for the next delta.
 *
 * A changed PST is read once from its snapshot and hashed block by block;
 * only blocks whose hash differs from the published backup's need writing,
 * when the staging file starts as a clone of that backup (copy.h). The
 * blockmap is what makes that safe: it records the hashes of exactly the
 * bytes that were published, and the identity (file id, size, mtime) of the
 * published file they describe. A sync client that replaced the backup
 * leaves another identity, and the blockmap is then worthless: the copy is
 * written in full.
 *
 * One blockmap per backup, in the user's state folder (never in the synced
 * destination): kept out of the manifest because it grows with the file
 * (8 bytes per block: 512 KiB for a 4 GiB PST at 64 KiB blocks) and is read
 * only when a file changed, while the manifest is read on every run.
 *
 * Format (little-endian), version 2:
 *   header, 64 bytes: "PSTSNAPB", u32 version, u32 block size, u64 size,
 *   u64 file id, i64 mtime (ns), u64 block count, i64 ctime (ns; 0 when
 *   unknown), 8 reserved bytes
 * Version 1 had no ctime: a sync client that rewrote the backup in place and
 * put its mtime back went unnoticed, and the next delta kept its bytes. A
 * version 1 map is refused (one full write).
 *   block count u64 hashes
 *   u64 XXH3 of everything before it
 * A damaged file is PS_ERR_CORRUPT: the caller forgets it and writes in full.
 *
 * The hashes are not read into memory (that grew with the file): a loaded
 * blockmap keeps its file open and hands them out through a window
 * (hashfile.h, blockmap_hash); a saved one is written from the copy's
 * journal the same way.
 *
 * Ownership: blockmap_load fills a caller-owned ps_blockmap holding an open
 * file (blockmap_free closes it, and is harmless on a zeroed one);
 * blockmap_save borrows what it is given.
 */
#ifndef PS_BLOCKMAP_H
#define PS_BLOCKMAP_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "hashfile.h"
#include "platform.h"

#define PS_BLOCKMAP_VERSION 2u

typedef struct ps_blockmap {
    uint32_t block_size;
    uint64_t size;    /* bytes in the published file */
    uint64_t file_id; /* pf_stat.ino of the published file */
    int64_t mtime_ns; /* pf_stat.mtime_ns of the published file */
    int64_t ctime_ns; /* pf_stat.ctime_ns of it, 0 where unknown */
    uint64_t block_count;
    ps_hashfile hashes; /* after blockmap_load: block_count hashes, ps_hash64 of
                         * each block (blockmap_hash) */
} ps_blockmap;

/* PS_ERR_NOTFOUND when there is none, PS_ERR_CORRUPT when it is damaged or
 * inconsistent (hash count not matching size and block size). The checksum
 * is checked here, in one read of the file; the hashes are read again, in
 * windows, as they are asked for. */
ps_status blockmap_load(const char *path, ps_blockmap *bm, ps_err *err);
static inline int blockmap_loaded(const ps_blockmap *bm) { return hashfile_is_open(&bm->hashes); }
static inline ps_status blockmap_hash(ps_blockmap *bm, uint64_t b, uint64_t *hash, ps_err *err)
{
    return hashfile_get(&bm->hashes, b, hash, err);
}
/* Write atomically (temp file, flush, rename) the blockmap of `bm`'s
 * fields (its own hashes unused) with the block_count hashes in `hashes`. */
ps_status blockmap_save(const char *path, const ps_blockmap *bm, ps_hashfile *hashes, ps_err *err);
void blockmap_free(ps_blockmap *bm);

/* Does `bm` describe the file `st` was taken of? The device is left out on
 * purpose: btrfs gives each subvolume an anonymous device number that may
 * change at the next mount, and the path already names the volume. */
int blockmap_describes(const ps_blockmap *bm, const pf_stat *st);

/* Can a state file's block size be one of ours? A power of two from 4 KiB
 * to 64 MiB: the parameters allow 4 KiB to 4 MiB, the rest is room for a
 * later build; anything else is damage. */
static inline int blockmap_block_size_valid(uint32_t bs)
{
    return bs >= 4096 && bs <= (64u << 20) && (bs & (bs - 1)) == 0;
}

/* How many blocks a file of `size` bytes has, and how many bytes block b
 * of it holds (the last one may be short). */
uint64_t blockmap_blocks_for(uint64_t size, uint32_t block_size);
size_t blockmap_block_len(uint64_t size, uint32_t block_size, uint64_t b);

/* A non-zero tag of the backup `bm` describes (identity and block size, not
 * the hashes): an in-place update's journal names the backup it patches
 * with it, so a resume or a redo never patches another. */
uint64_t blockmap_tag(const ps_blockmap *bm);

#endif
