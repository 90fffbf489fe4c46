/* The resume journal: a torn or hostile journal must never be trusted
 * beyond what its checksums vouch for. */
#include "fuzz_support.h"
#include "journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_scratch_path("journal");
    fuzz_write_file(path, data, size);
    ps_journal_header hdr;
    uint64_t *hashes = NULL, count = 0;
    ps_err err;
    if (journal_load(path, &hdr, &hashes, &count, &err) == PS_OK) {
        uint64_t blocks = hdr.source_size / hdr.block_size + (hdr.source_size % hdr.block_size != 0);
        /* Never more records than the input holds, nor than the source has blocks. */
        if (count > blocks || (size >= 64 && count > (size - 64) / 24) || (count && !hashes))
            abort();
        volatile uint64_t sink = 0;
        for (uint64_t i = 0; i < count; i++)
            sink ^= hashes[i];
        (void)sink;
    } else if (!err.msg[0]) {
        abort();
    }
    free(hashes);
    return 0;
}
