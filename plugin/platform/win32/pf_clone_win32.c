/* Win32 implementation of platform.h: block cloning (not yet).
 *
 * ReFS (and Windows Server 2025's Dev Drive) can share extents between two
 * files with FSCTL_DUPLICATE_EXTENTS_TO_FILE (DUPLICATE_EXTENTS_DATA: the
 * source handle, source and target offsets and a byte count, each a multiple
 * of the volume's cluster size; the target must first be extended with
 * SetFileInformationByHandle(FileEndOfFileInfo)). NTFS, where nearly every
 * user's PSTs live, cannot. Until that is written and tested on ReFS, every
 * Windows copy takes the full staged write, which is always correct. */
#include "../platform.h"

ps_status pf_clone_file(pf_file *src, pf_file *dst, uint64_t from, ps_err *err)
{
    (void)src;
    (void)dst;
    (void)from;
    return ps_err_set(err, PS_ERR_UNSUPPORTED,
                      "block cloning (FSCTL_DUPLICATE_EXTENTS_TO_FILE) is not "
                      "implemented on Windows");
}
