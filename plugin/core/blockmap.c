#include "blockmap.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"

#define HEADER_SIZE 64u
/* 64 GiB of PST at the smallest block size (4 KiB): 16 M hashes. */
#define MAX_BLOCKS (1u << 24)
static const char magic[8] = {'P', 'S', 'T', 'S', 'N', 'A', 'P', 'B'};

uint64_t blockmap_blocks_for(uint64_t size, uint32_t block_size)
{
    return size / block_size + (size % block_size != 0);
}

size_t blockmap_block_len(uint64_t size, uint32_t block_size, uint64_t b)
{
    uint64_t off = b * block_size;
    return (size_t)(size - off < block_size ? size - off : block_size);
}

void blockmap_free(ps_blockmap *bm)
{
    free(bm->hashes);
    bm->hashes = NULL;
    bm->block_count = 0;
}

int blockmap_describes(const ps_blockmap *bm, const pf_stat *st)
{
    return st->kind == PF_KIND_FILE && st->ino == bm->file_id && st->size == bm->size &&
           st->mtime_ns == bm->mtime_ns && st->ctime_ns == bm->ctime_ns;
}

uint64_t blockmap_tag(const ps_blockmap *bm)
{
    unsigned char id[40];
    ps_put_u64le(id, bm->block_size);
    ps_put_u64le(id + 8, bm->size);
    ps_put_u64le(id + 16, bm->file_id);
    ps_put_u64le(id + 24, (uint64_t)bm->mtime_ns);
    ps_put_u64le(id + 32, (uint64_t)bm->ctime_ns);
    uint64_t tag = ps_hash64(id, sizeof id);
    return tag ? tag : 1;
}

ps_status blockmap_load(const char *path, ps_blockmap *bm, ps_err *err)
{
    memset(bm, 0, sizeof *bm);
    char *data = NULL;
    size_t len = 0;
    ps_status s = pf_read_file(path, HEADER_SIZE + 8u * (size_t)MAX_BLOCKS + 8u, &data, &len, err);
    if (s == PS_ERR_INVALID)
        return ps_err_set(err, PS_ERR_CORRUPT, "blockmap '%s' is larger than any of ours", path);
    if (s != PS_OK)
        return s;
    const unsigned char *p = (const unsigned char *)data;
    if (len < HEADER_SIZE + 8 || memcmp(p, magic, sizeof magic) != 0) {
        free(data);
        return ps_err_set(err, PS_ERR_CORRUPT, "'%s' is not a pstsnap blockmap", path);
    }
    if (ps_hash64(p, len - 8) != ps_get_u64le(p + len - 8)) {
        free(data);
        return ps_err_set(err, PS_ERR_CORRUPT, "blockmap '%s': checksum mismatch", path);
    }
    uint32_t version = ps_get_u32le(p + 8);
    bm->block_size = ps_get_u32le(p + 12);
    bm->size = ps_get_u64le(p + 16);
    bm->file_id = ps_get_u64le(p + 24);
    bm->mtime_ns = (int64_t)ps_get_u64le(p + 32);
    bm->block_count = ps_get_u64le(p + 40);
    bm->ctime_ns = (int64_t)ps_get_u64le(p + 48);
    if (version != PS_BLOCKMAP_VERSION || bm->block_size < 4096 ||
        (bm->block_size & (bm->block_size - 1)) || bm->block_count > MAX_BLOCKS ||
        bm->block_count != blockmap_blocks_for(bm->size, bm->block_size) ||
        len != HEADER_SIZE + 8 * bm->block_count + 8) {
        free(data);
        memset(bm, 0, sizeof *bm);
        return ps_err_set(err, PS_ERR_CORRUPT, "blockmap '%s' is inconsistent", path);
    }
    /* Decoded where they were read: hash i moves from byte 64 + 8i down to
     * byte 8i, never over one not yet read. One buffer, not the file and an
     * array beside it: the load's peak memory is the array's (tests/bench
     * row 4), and the allocator is not taught to keep freed memory. */
    uint64_t *hashes = (uint64_t *)(void *)data;
    for (uint64_t i = 0; i < bm->block_count; i++)
        hashes[i] = ps_get_u64le(p + HEADER_SIZE + 8 * i);
    uint64_t *fitted = realloc(data, (bm->block_count ? bm->block_count : 1) * sizeof *hashes);
    bm->hashes = fitted ? fitted : hashes;
    return PS_OK;
}

ps_status blockmap_save(const char *path, const ps_blockmap *bm, ps_err *err)
{
    if (bm->block_count > MAX_BLOCKS)
        return ps_err_set(err, PS_ERR_INVALID, "blockmap '%s': %llu blocks is too many", path,
                          (unsigned long long)bm->block_count);
    size_t len = HEADER_SIZE + 8 * (size_t)bm->block_count + 8;
    unsigned char *p = calloc(1, len);
    if (!p)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory writing '%s'", path);
    memcpy(p, magic, sizeof magic);
    ps_put_u32le(p + 8, PS_BLOCKMAP_VERSION);
    ps_put_u32le(p + 12, bm->block_size);
    ps_put_u64le(p + 16, bm->size);
    ps_put_u64le(p + 24, bm->file_id);
    ps_put_u64le(p + 32, (uint64_t)bm->mtime_ns);
    ps_put_u64le(p + 40, bm->block_count);
    ps_put_u64le(p + 48, (uint64_t)bm->ctime_ns);
    for (uint64_t i = 0; i < bm->block_count; i++)
        ps_put_u64le(p + HEADER_SIZE + 8 * i, bm->hashes[i]);
    ps_put_u64le(p + len - 8, ps_hash64(p, len - 8));
    ps_status s = pf_write_file_atomic(path, p, len, err);
    free(p);
    return s;
}
