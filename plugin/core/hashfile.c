#include "hashfile.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"

int hashfile_record_valid(const unsigned char *rec, uint64_t seed)
{
    return ps_hash64_seeded(rec, 16, seed) == ps_get_u64le(rec + 16);
}

ps_status hashfile_open(ps_hashfile *h, const char *path, pf_file *file, uint64_t first,
                        uint32_t stride, int records, uint64_t seed, uint64_t count, ps_err *err)
{
    memset(h, 0, sizeof *h);
    h->path = strdup(path);
    h->win = malloc((size_t)HASHFILE_WINDOW * stride);
    if (!h->path || !h->win) {
        free(h->path);
        free(h->win);
        memset(h, 0, sizeof *h);
        pf_close(file, NULL);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory reading '%s'", path);
    }
    h->file = file;
    h->first = first;
    h->stride = stride;
    h->records = records;
    h->seed = seed;
    h->count = count;
    return PS_OK;
}

/* Read the window holding entry i. */
static ps_status fill(ps_hashfile *h, uint64_t i, ps_err *err)
{
    uint64_t n = h->count - i < HASHFILE_WINDOW ? h->count - i : HASHFILE_WINDOW;
    size_t want = (size_t)n * h->stride, got = 0;
    h->win_count = 0;
    ps_status s = pf_pread(h->file, h->win, want, h->first + i * h->stride, &got, err);
    if (s == PS_OK && got != want)
        s = ps_err_set(err, PS_ERR_CORRUPT, "'%s' ended after %llu of its %llu block hashes",
                       h->path, (unsigned long long)(i + got / h->stride),
                       (unsigned long long)h->count);
    if (s != PS_OK)
        return s;
    h->win_first = i;
    h->win_count = n;
    return PS_OK;
}

ps_status hashfile_get(ps_hashfile *h, uint64_t i, uint64_t *hash, ps_err *err)
{
    if (i >= h->count)
        return ps_err_set(err, PS_ERR_INVALID, "internal error: block %llu of '%s', which has %llu",
                          (unsigned long long)i, h->path, (unsigned long long)h->count);
    if (i < h->win_first || i - h->win_first >= h->win_count) {
        ps_status s = fill(h, i, err);
        if (s != PS_OK)
            return s;
    }
    const unsigned char *e = h->win + (i - h->win_first) * h->stride;
    if (!h->records) {
        *hash = ps_get_u64le(e);
        return PS_OK;
    }
    /* Re-checked: the journal may have changed since it was opened. */
    if (!hashfile_record_valid(e, h->seed) || ps_get_u64le(e) != i)
        return ps_err_set(err, PS_ERR_CORRUPT, "'%s': the record of block %llu changed after it "
                          "was read", h->path, (unsigned long long)i);
    *hash = ps_get_u64le(e + 8);
    return PS_OK;
}

void hashfile_close(ps_hashfile *h)
{
    pf_close(h->file, NULL);
    free(h->path);
    free(h->win);
    memset(h, 0, sizeof *h);
}
