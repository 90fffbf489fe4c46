#include "journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blockmap.h"
#include "fault.h"
#include "hash.h"
#include "hashfile.h"
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
    if (!blockmap_block_size_valid(hdr->block_size))
        return ps_err_set(err, PS_ERR_CORRUPT, "resume journal '%s': block size %u is not valid",
                          path, hdr->block_size);
    *seed = ps_get_u64le(in + 56);
    return PS_OK;
}

/* How many records from the first validate, in order, each for a block of
 * the source: read a bufferful at a time, never the whole journal. */
static ps_status count_trusted(pf_file *f, const ps_journal_header *hdr, uint64_t seed,
                               uint64_t records, uint64_t *count, ps_err *err)
{
    /* A record past the source's last block vouches for nothing (a size
     * that is a whole number of blocks has no partial block after it). */
    uint64_t max_blocks = hdr->source_size / hdr->block_size +
                          (hdr->source_size % hdr->block_size != 0);
    unsigned char buf[256 * RECORD_SIZE];
    uint64_t n = 0;
    while (n < records) {
        uint64_t want = records - n < 256 ? records - n : 256;
        size_t got = 0;
        ps_status s = pf_pread(f, buf, (size_t)want * RECORD_SIZE, HEADER_SIZE + n * RECORD_SIZE,
                               &got, err);
        if (s != PS_OK)
            return s;
        for (uint64_t i = 0; i < got / RECORD_SIZE; i++) {
            const unsigned char *r = buf + i * RECORD_SIZE;
            /* A torn tail, or a record out of order (blocks are journaled
             * in order): either ends what is trusted. */
            if (!hashfile_record_valid(r, seed) || ps_get_u64le(r) != n || n >= max_blocks) {
                *count = n;
                return PS_OK;
            }
            n++;
        }
        if (got < (size_t)want * RECORD_SIZE)
            break;
    }
    *count = n;
    return PS_OK;
}

ps_status journal_open_hashes(const char *path, ps_journal_header *hdr, ps_hashfile *hashes,
                              ps_err *err)
{
    memset(hashes, 0, sizeof *hashes);
    pf_stat st;
    ps_status s = pf_lstat(path, &st, err);
    if (s != PS_OK)
        return s == PS_ERR_NOTFOUND ? PS_ERR_NOTFOUND : s;
    /* Not opened unless a plain file: a planted fifo would block the run. */
    if (st.kind != PF_KIND_FILE)
        return ps_err_set(err, PS_ERR_CORRUPT, "resume journal '%s' is not a file", path);
    pf_file *f = NULL;
    if ((s = pf_open_read(path, &f, err)) != PS_OK)
        return s;
    unsigned char head[HEADER_SIZE];
    size_t got = 0;
    uint64_t seed = 0, count = 0;
    pf_stat fst;
    s = pf_fstat(f, &fst, err);
    /* One record per block: 64 GiB of PST at 4 KiB blocks is 16 M records.
     * Anything larger is not ours. */
    if (s == PS_OK && fst.size > HEADER_SIZE + (uint64_t)RECORD_SIZE * (1u << 24))
        s = ps_err_set(err, PS_ERR_CORRUPT, "resume journal '%s' has an impossible size", path);
    if (s == PS_OK)
        s = pf_pread(f, head, sizeof head, 0, &got, err);
    if (s == PS_OK)
        s = decode_header(path, head, got, hdr, &seed, err);
    if (s == PS_OK)
        s = count_trusted(f, hdr, seed, (fst.size - HEADER_SIZE) / RECORD_SIZE, &count, err);
    if (s != PS_OK) {
        pf_close(f, NULL);
        return s;
    }
    /* The hash of record i sits 8 bytes into it. */
    return hashfile_open(hashes, path, f, HEADER_SIZE, RECORD_SIZE, 1, seed, count, err);
}

ps_status journal_count(const char *path, ps_journal_header *hdr, uint64_t *count, ps_err *err)
{
    ps_hashfile h;
    ps_status s = journal_open_hashes(path, hdr, &h, err);
    *count = s == PS_OK ? h.count : 0;
    hashfile_close(&h);
    return s;
}

char *journal_aside_path(const char *path)
{
    char *p = malloc(strlen(path) + sizeof ".prev");
    if (p)
        sprintf(p, "%s.prev", path);
    return p;
}

ps_status journal_open_aside(const char *path, ps_journal_header *hdr, ps_hashfile *hashes,
                             ps_err *err)
{
    memset(hashes, 0, sizeof *hashes);
    char *aside = journal_aside_path(path);
    if (!aside)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    ps_status s = pf_rename_replace(path, aside, err);
    if (s == PS_OK && (s = journal_open_hashes(aside, hdr, hashes, err)) != PS_OK)
        pf_unlink(aside, NULL);
    free(aside);
    return s;
}

void journal_remove_aside(const char *path)
{
    char *aside = journal_aside_path(path);
    if (aside)
        pf_unlink(aside, NULL);
    free(aside);
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
