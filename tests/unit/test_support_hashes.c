#include "test_hashes.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "journal.h"

static void must(ps_status s, const ps_err *err, const char *what)
{
    if (s != PS_OK)
        fail_msg("%s: %s (%s)", what, ps_status_name(s), err->msg);
}

uint64_t *th_block_hashes(const unsigned char *data, size_t len, uint32_t bs, uint64_t *count)
{
    *count = blockmap_blocks_for(len, bs);
    uint64_t *h = malloc((*count ? *count : 1) * sizeof *h);
    assert_non_null(h);
    for (uint64_t b = 0; b < *count; b++)
        h[b] = ps_hash64(data + b * bs, blockmap_block_len(len, bs, b));
    return h;
}

uint64_t *th_journaled_hashes(const char *path, uint64_t blocks)
{
    ps_journal_header hdr;
    ps_hashfile hf;
    ps_err err;
    ps_err_clear(&err);
    must(journal_open_hashes(path, &hdr, &hf, &err), &err, "journal_open_hashes");
    if (hf.count != blocks)
        fail_msg("the journal '%s' holds %llu hashes, not %llu", path,
                 (unsigned long long)hf.count, (unsigned long long)blocks);
    uint64_t *h = malloc((blocks ? blocks : 1) * sizeof *h);
    assert_non_null(h);
    for (uint64_t b = 0; b < blocks; b++)
        must(hashfile_get(&hf, b, &h[b], &err), &err, "hashfile_get");
    hashfile_close(&hf);
    return h;
}

void th_hashfile_of(const char *path, const uint64_t *hashes, uint64_t count, uint32_t bs,
                    uint64_t size, ps_hashfile *out)
{
    ps_journal_header hdr = {.block_size = bs, .source_size = size};
    ps_journal *j = NULL;
    ps_err err;
    ps_err_clear(&err);
    must(journal_create(path, &hdr, &j, &err), &err, "journal_create");
    for (uint64_t b = 0; b < count; b++) {
        if (journal_room(j) == 0)
            must(journal_commit(j, &err), &err, "journal_commit");
        must(journal_append(j, b, hashes[b], &err), &err, "journal_append");
    }
    must(journal_commit(j, &err), &err, "journal_commit");
    must(journal_close(j, &err), &err, "journal_close");
    must(journal_open_hashes(path, &hdr, out, &err), &err, "journal_open_hashes");
    if (out->count != count)
        fail_msg("the journal '%s' holds %llu hashes, not %llu", path,
                 (unsigned long long)out->count, (unsigned long long)count);
}

void th_blockmap_write(const char *path, const ps_blockmap *fields, const uint64_t *hashes,
                       ps_blockmap *loaded)
{
    char *scratch = malloc(strlen(path) + sizeof ".hashes");
    assert_non_null(scratch);
    sprintf(scratch, "%s.hashes", path);
    ps_hashfile hf;
    th_hashfile_of(scratch, hashes, fields->block_count, fields->block_size, fields->size, &hf);
    ps_err err;
    ps_err_clear(&err);
    must(blockmap_save(path, fields, &hf, &err), &err, "blockmap_save");
    hashfile_close(&hf);
    must(pf_unlink(scratch, &err), &err, "unlink");
    free(scratch);
    if (loaded)
        must(blockmap_load(path, loaded, &err), &err, "blockmap_load");
}
