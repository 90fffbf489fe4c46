#include "journal.h"

#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "hash.h"
#include "platform.h"

#define HEADER_SIZE 64u
#define RECORD_SIZE 24u
#define PENDING_MAX 1024u /* records buffered between commits */
static const char magic[8] = {'P', 'S', 'T', 'S', 'N', 'A', 'P', 'J'};

struct ps_journal {
    pf_file *file;
    uint64_t seed;     /* the header hash */
    uint64_t end;      /* file offset after the last committed record */
    unsigned char pending[PENDING_MAX * RECORD_SIZE];
    size_t pending_count;
};

static uint64_t encode_header(const ps_journal_header *hdr, unsigned char out[HEADER_SIZE])
{
    memset(out, 0, HEADER_SIZE);
    memcpy(out, magic, sizeof magic);
    ps_put_u32le(out + 8, PS_JOURNAL_VERSION);
    ps_put_u32le(out + 12, hdr->block_size);
    ps_put_u64le(out + 16, hdr->source_size);
    ps_put_u64le(out + 24, (uint64_t)hdr->source_mtime_ns);
    ps_put_u64le(out + 32, (uint64_t)hdr->created_ns);
    ps_put_u64le(out + 40, hdr->patch_base);
    uint64_t h = ps_hash64(out, 56);
    ps_put_u64le(out + 56, h);
    return h;
}

static ps_status decode_header(const char *path, const unsigned char *in, size_t len,
                               ps_journal_header *hdr, uint64_t *seed, ps_err *err)
{
    if (len < HEADER_SIZE)
        return ps_err_set(err, PS_ERR_CORRUPT, "resume journal '%s' is truncated (%zu bytes)", path, len);
    if (memcmp(in, magic, sizeof magic) != 0)
        return ps_err_set(err, PS_ERR_CORRUPT, "'%s' is not a pstsnap resume journal", path);
    if (ps_hash64(in, 56) != ps_get_u64le(in + 56))
        return ps_err_set(err, PS_ERR_CORRUPT, "resume journal '%s': header checksum mismatch", path);
    uint32_t version = ps_get_u32le(in + 8);
    if (version != PS_JOURNAL_VERSION)
        return ps_err_set(err, PS_ERR_CORRUPT, "resume journal '%s' has version %u; this build reads %u",
                          path, version, PS_JOURNAL_VERSION);
    hdr->block_size = ps_get_u32le(in + 12);
    hdr->source_size = ps_get_u64le(in + 16);
    hdr->source_mtime_ns = (int64_t)ps_get_u64le(in + 24);
    hdr->created_ns = (int64_t)ps_get_u64le(in + 32);
    hdr->patch_base = ps_get_u64le(in + 40);
    if (hdr->block_size < 4096 || hdr->block_size > (64u << 20) ||
        (hdr->block_size & (hdr->block_size - 1)))
        return ps_err_set(err, PS_ERR_CORRUPT, "resume journal '%s': block size %u is not valid",
                          path, hdr->block_size);
    *seed = ps_get_u64le(in + 56);
    return PS_OK;
}

ps_status journal_load(const char *path, ps_journal_header *hdr, uint64_t **hashes,
                       uint64_t *count, ps_err *err)
{
    *hashes = NULL;
    *count = 0;
    pf_stat st;
    ps_status s = pf_lstat(path, &st, err);
    if (s != PS_OK)
        return s == PS_ERR_NOTFOUND ? PS_ERR_NOTFOUND : s;
    /* One record per block: 64 GiB of PST at 4 KiB blocks is 16 M records.
     * Anything larger is not ours. */
    if (st.kind != PF_KIND_FILE || st.size > HEADER_SIZE + (uint64_t)RECORD_SIZE * (1u << 24))
        return ps_err_set(err, PS_ERR_CORRUPT, "resume journal '%s' has an impossible size", path);
    char *data = NULL;
    size_t len = 0;
    s = pf_read_file(path, (size_t)st.size, &data, &len, err);
    if (s != PS_OK)
        return s;
    uint64_t seed = 0;
    s = decode_header(path, (unsigned char *)data, len, hdr, &seed, err);
    if (s != PS_OK) {
        free(data);
        return s;
    }
    size_t records = (len - HEADER_SIZE) / RECORD_SIZE;
    /* A record past the source's last block vouches for nothing (a size
     * that is a whole number of blocks has no partial block after it). */
    uint64_t max_blocks = hdr->source_size / hdr->block_size +
                          (hdr->source_size % hdr->block_size != 0);
    uint64_t *out = malloc((records ? records : 1) * sizeof *out);
    if (!out) {
        free(data);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory reading '%s'", path);
    }
    uint64_t n = 0;
    for (size_t i = 0; i < records; i++) {
        const unsigned char *r = (unsigned char *)data + HEADER_SIZE + i * RECORD_SIZE;
        if (ps_hash64_seeded(r, 16, seed) != ps_get_u64le(r + 16))
            break; /* torn tail */
        uint64_t index = ps_get_u64le(r);
        if (index != n || index >= max_blocks)
            break; /* blocks are journaled in order; anything else ends trust */
        out[n++] = ps_get_u64le(r + 8);
    }
    free(data);
    *hashes = out;
    *count = n;
    return PS_OK;
}

static ps_status open_at(const char *path, uint64_t seed, uint64_t end, ps_journal **out,
                         ps_err *err)
{
    ps_journal *j = calloc(1, sizeof *j);
    if (!j)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    ps_status s = pf_open_write(path, &j->file, NULL, err);
    if (s != PS_OK) {
        free(j);
        return s;
    }
    j->seed = seed;
    j->end = end;
    *out = j;
    return PS_OK;
}

ps_status journal_create(const char *path, const ps_journal_header *hdr, ps_journal **out,
                         ps_err *err)
{
    unsigned char buf[HEADER_SIZE];
    uint64_t seed = encode_header(hdr, buf);
    ps_status s = open_at(path, seed, HEADER_SIZE, out, err);
    if (s != PS_OK)
        return s;
    ps_journal *j = *out;
    if ((s = pf_truncate(j->file, 0, err)) == PS_OK && (s = pf_pwrite(j->file, buf, HEADER_SIZE, 0, err)) == PS_OK)
        s = pf_sync(j->file, err);
    FAULT_POINT("journal.created");
    if (s != PS_OK) {
        journal_close(j, NULL);
        *out = NULL;
    }
    return s;
}

ps_status journal_reopen(const char *path, const ps_journal_header *hdr, uint64_t keep,
                         ps_journal **out, ps_err *err)
{
    unsigned char buf[HEADER_SIZE];
    uint64_t seed = encode_header(hdr, buf);
    uint64_t end = HEADER_SIZE + keep * RECORD_SIZE;
    ps_status s = open_at(path, seed, end, out, err);
    if (s == PS_OK && (s = pf_truncate((*out)->file, end, err)) == PS_OK)
        s = pf_sync((*out)->file, err);
    if (s != PS_OK && *out) {
        journal_close(*out, NULL);
        *out = NULL;
    }
    return s;
}

ps_status journal_append(ps_journal *j, uint64_t index, uint64_t hash, ps_err *err)
{
    /* Committing here would write records ahead of their data's flush:
     * the caller checkpoints before the buffer fills (journal_room). */
    if (j->pending_count == PENDING_MAX)
        return ps_err_set(err, PS_ERR_INVALID, "internal error: resume journal buffer full");
    unsigned char *r = j->pending + j->pending_count * RECORD_SIZE;
    ps_put_u64le(r, index);
    ps_put_u64le(r + 8, hash);
    ps_put_u64le(r + 16, ps_hash64_seeded(r, 16, j->seed));
    j->pending_count++;
    return PS_OK;
}

ps_status journal_commit(ps_journal *j, ps_err *err)
{
    if (j->pending_count == 0)
        return PS_OK;
    size_t len = j->pending_count * RECORD_SIZE;
    ps_status s = pf_pwrite(j->file, j->pending, len, j->end, err);
    FAULT_POINT("journal.before-flush");
    if (s == PS_OK)
        s = pf_sync(j->file, err);
    if (s != PS_OK)
        return s;
    j->end += len;
    j->pending_count = 0;
    FAULT_POINT("journal.committed");
    return PS_OK;
}

size_t journal_room(const ps_journal *j) { return PENDING_MAX - j->pending_count; }

ps_status journal_close(ps_journal *j, ps_err *err)
{
    if (!j)
        return PS_OK;
    ps_status s = pf_close(j->file, err);
    free(j);
    return s;
}
