#include "blockmap.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "hashfile.h"

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
    hashfile_close(&bm->hashes);
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

/* The checksum in the last 8 bytes against everything before it, read a
 * bufferful at a time. */
static ps_status check_sum(pf_file *f, const char *path, uint64_t len, ps_err *err)
{
    ps_hash_stream *h = ps_hash_stream_new();
    if (!h)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory reading '%s'", path);
    unsigned char buf[16384];
    uint64_t off = 0;
    ps_status s = PS_OK;
    while (s == PS_OK && off < len - 8) {
        size_t want = len - 8 - off < sizeof buf ? (size_t)(len - 8 - off) : sizeof buf, got = 0;
        s = pf_pread(f, buf, want, off, &got, err);
        if (s == PS_OK && got != want)
            s = ps_err_set(err, PS_ERR_CORRUPT, "blockmap '%s' shrank while it was read", path);
        if (s == PS_OK)
            ps_hash_stream_add(h, buf, got);
        off += got;
    }
    size_t got = 0;
    if (s == PS_OK)
        s = pf_pread(f, buf, 8, len - 8, &got, err);
    if (s == PS_OK && (got != 8 || ps_hash_stream_value(h) != ps_get_u64le(buf)))
        s = ps_err_set(err, PS_ERR_CORRUPT, "blockmap '%s': checksum mismatch", path);
    ps_hash_stream_free(h);
    return s;
}

static ps_status read_header(pf_file *f, const char *path, uint64_t len, ps_blockmap *bm,
                             ps_err *err)
{
    unsigned char p[HEADER_SIZE];
    size_t got = 0;
    ps_status s = len > HEADER_SIZE + 8u * (uint64_t)MAX_BLOCKS + 8u
                      ? ps_err_set(err, PS_ERR_CORRUPT, "blockmap '%s' is larger than any of ours",
                                   path)
                      : pf_pread(f, p, sizeof p, 0, &got, err);
    if (s != PS_OK)
        return s;
    if (len < HEADER_SIZE + 8 || got != sizeof p || memcmp(p, magic, sizeof magic) != 0)
        return ps_err_set(err, PS_ERR_CORRUPT, "'%s' is not a pstsnap blockmap", path);
    if ((s = check_sum(f, path, len, err)) != PS_OK)
        return s;
    uint32_t version = ps_get_u32le(p + 8);
    bm->block_size = ps_get_u32le(p + 12);
    bm->size = ps_get_u64le(p + 16);
    bm->file_id = ps_get_u64le(p + 24);
    bm->mtime_ns = (int64_t)ps_get_u64le(p + 32);
    bm->block_count = ps_get_u64le(p + 40);
    bm->ctime_ns = (int64_t)ps_get_u64le(p + 48);
    if (version != PS_BLOCKMAP_VERSION || !blockmap_block_size_valid(bm->block_size) ||
        bm->block_count > MAX_BLOCKS ||
        bm->block_count != blockmap_blocks_for(bm->size, bm->block_size) ||
        len != HEADER_SIZE + 8 * bm->block_count + 8)
        return ps_err_set(err, PS_ERR_CORRUPT, "blockmap '%s' is inconsistent", path);
    return PS_OK;
}

ps_status blockmap_load(const char *path, ps_blockmap *bm, ps_err *err)
{
    memset(bm, 0, sizeof *bm);
    pf_stat st;
    pf_file *f = NULL;
    ps_status s = pf_lstat(path, &st, err);
    if (s == PS_OK && st.kind != PF_KIND_FILE)
        s = ps_err_set(err, PS_ERR_CORRUPT, "blockmap '%s' is not a file", path);
    if (s == PS_OK)
        s = pf_open_read(path, &f, err);
    if (s == PS_OK)
        s = pf_fstat(f, &st, err);
    /* Checked and then read through the same handle: a file renamed over
     * the name meanwhile is not the one read. */
    if (s == PS_OK)
        s = read_header(f, path, st.size, bm, err);
    if (s != PS_OK) {
        pf_close(f, NULL);
        memset(bm, 0, sizeof *bm);
        return s;
    }
    s = hashfile_open(&bm->hashes, path, f, HEADER_SIZE, 8, 0, 0, bm->block_count, err);
    if (s != PS_OK)
        memset(bm, 0, sizeof *bm);
    return s;
}

ps_status blockmap_save(const char *path, const ps_blockmap *bm, ps_hashfile *hashes, ps_err *err)
{
    if (bm->block_count > MAX_BLOCKS || hashes->count != bm->block_count)
        return ps_err_set(err, PS_ERR_INVALID, "blockmap '%s': %llu block hashes for %llu blocks",
                          path, (unsigned long long)hashes->count,
                          (unsigned long long)bm->block_count);
    unsigned char p[HEADER_SIZE + 8 * 512];
    memset(p, 0, HEADER_SIZE);
    memcpy(p, magic, sizeof magic);
    ps_put_u32le(p + 8, PS_BLOCKMAP_VERSION);
    ps_put_u32le(p + 12, bm->block_size);
    ps_put_u64le(p + 16, bm->size);
    ps_put_u64le(p + 24, bm->file_id);
    ps_put_u64le(p + 32, (uint64_t)bm->mtime_ns);
    ps_put_u64le(p + 40, bm->block_count);
    ps_put_u64le(p + 48, (uint64_t)bm->ctime_ns);
    ps_hash_stream *sum = ps_hash_stream_new();
    pf_atomic_file *out = NULL;
    ps_status s = sum ? pf_atomic_create(path, &out, err)
                      : ps_err_set(err, PS_ERR_NOMEM, "out of memory writing '%s'", path);
    /* The header, then the hashes 512 at a time behind it. */
    size_t len = HEADER_SIZE;
    for (uint64_t i = 0; s == PS_OK && i <= bm->block_count; i++) {
        if (len == sizeof p || (i == bm->block_count && len > 0)) {
            ps_hash_stream_add(sum, p, len);
            s = pf_atomic_append(out, p, len, err);
            len = 0;
        }
        uint64_t h = 0;
        if (s == PS_OK && i < bm->block_count && (s = hashfile_get(hashes, i, &h, err)) == PS_OK) {
            ps_put_u64le(p + len, h);
            len += 8;
        }
    }
    if (s == PS_OK) {
        ps_put_u64le(p, ps_hash_stream_value(sum));
        s = pf_atomic_append(out, p, 8, err);
    }
    if (s == PS_OK)
        s = pf_atomic_commit(out, err);
    else
        pf_atomic_abandon(out);
    ps_hash_stream_free(sum);
    return s;
}
