/* The blockmap: a damaged or hostile one must be refused (a full write
 * follows), never read past, and one that loads must say what it holds.
 * The first input byte chooses whether the checksum is left as given or
 * set right, so mutations also reach the checks behind it. A blockmap that
 * loads is saved again from its own hashes and must load back the same. */
#include "blockmap.h"
#include "fuzz_support.h"
#include "hash.h"
#include "journal.h"

static void round_trip(ps_blockmap *bm)
{
    const char *journal = fuzz_scratch_path("hashes"), *again = fuzz_scratch_path("again");
    ps_journal_header hdr = {.block_size = bm->block_size, .source_size = bm->size};
    ps_journal *j = NULL;
    ps_hashfile hf;
    ps_blockmap back;
    ps_err err;
    if (journal_create(journal, &hdr, &j, &err) != PS_OK)
        abort();
    for (uint64_t b = 0; b < bm->block_count; b++) {
        uint64_t h = 0;
        if (blockmap_hash(bm, b, &h, &err) != PS_OK)
            abort(); /* a blockmap that loaded reads back whole */
        if ((journal_room(j) == 0 && journal_commit(j, &err) != PS_OK) ||
            journal_append(j, b, h, &err) != PS_OK)
            abort();
    }
    if (journal_commit(j, &err) != PS_OK || journal_close(j, &err) != PS_OK ||
        journal_open_hashes(journal, &hdr, &hf, &err) != PS_OK || hf.count != bm->block_count ||
        blockmap_save(again, bm, &hf, &err) != PS_OK || blockmap_load(again, &back, &err) != PS_OK)
        abort();
    hashfile_close(&hf);
    if (back.block_size != bm->block_size || back.size != bm->size ||
        back.file_id != bm->file_id || back.mtime_ns != bm->mtime_ns ||
        back.ctime_ns != bm->ctime_ns || back.block_count != bm->block_count ||
        blockmap_tag(&back) != blockmap_tag(bm))
        abort();
    for (uint64_t b = 0; b < bm->block_count; b++) {
        uint64_t x = 0, y = 0;
        if (blockmap_hash(bm, b, &x, &err) != PS_OK || blockmap_hash(&back, b, &y, &err) != PS_OK ||
            x != y)
            abort();
    }
    blockmap_free(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int fix_checksum = data[0] & 1;
    data++;
    size--;
    /* Kept small: a blockmap of 1 M blocks is fine, but slow to fuzz. */
    if (size > (1u << 20))
        return 0;
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        abort();
    memcpy(copy, data, size);
    if (fix_checksum && size >= 8)
        ps_put_u64le(copy + size - 8, ps_hash64(copy, size - 8));
    const char *path = fuzz_scratch_path("blocks");
    fuzz_write_file(path, copy, size);
    free(copy);
    ps_blockmap bm;
    ps_err err;
    if (blockmap_load(path, &bm, &err) == PS_OK) {
        uint64_t blocks = blockmap_blocks_for(bm.size, bm.block_size);
        if (bm.block_count != blocks || size != 64 + 8 * bm.block_count + 8 ||
            !blockmap_loaded(&bm))
            abort();
        round_trip(&bm);
        blockmap_free(&bm);
    } else if (!err.msg[0] || blockmap_loaded(&bm)) {
        abort();
    }
    return 0;
}
