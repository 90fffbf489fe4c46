/* The resume journal: a torn or hostile journal must never be trusted
 * beyond what its checksums vouch for. */
#include "fuzz_support.h"
#include "journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_scratch_path("journal");
    fuzz_write_file(path, data, size);
    ps_journal_header hdr;
    ps_hashfile hashes;
    ps_err err;
    if (journal_open_hashes(path, &hdr, &hashes, &err) == PS_OK) {
        uint64_t count = hashes.count;
        uint64_t blocks = hdr.source_size / hdr.block_size + (hdr.source_size % hdr.block_size != 0);
        /* Never more records than the input holds, nor than the source has blocks. */
        if (count > blocks || (size >= 64 && count > (size - 64) / 24))
            abort();
        /* Every record vouched for reads back (the file did not change). */
        volatile uint64_t sink = 0;
        for (uint64_t i = 0; i < count; i++) {
            uint64_t h = 0;
            if (hashfile_get(&hashes, i, &h, &err) != PS_OK)
                abort();
            sink ^= h;
        }
        (void)sink;
        hashfile_close(&hashes);
    } else if (!err.msg[0] || hashfile_is_open(&hashes)) {
        abort();
    }
    return 0;
}
