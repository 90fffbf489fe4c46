/* Win32 implementation of platform.h: I/O overlap hints.
 *
 * Both are no-ops on purpose. Reading: pf_open_read opens with
 * FILE_FLAG_SEQUENTIAL_SCAN, which makes the cache manager read ahead
 * further and asynchronously already; a PrefetchVirtualMemory or an extra
 * overlapped read would only duplicate it. Writing: the cache manager's
 * lazy writer already writes dirty pages behind the writer, and Win32 has
 * no call that starts write-back without waiting for it (FlushFileBuffers,
 * what pf_sync uses, waits). */
#include "../platform.h"

void pf_prefetch(pf_file *f, uint64_t off, uint64_t len)
{
    (void)f;
    (void)off;
    (void)len;
}

void pf_start_writeback(pf_file *f, uint64_t off, uint64_t len)
{
    (void)f;
    (void)off;
    (void)len;
}
