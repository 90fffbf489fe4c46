/* Helpers shared by the Linux snapshot providers; see snapshot_linux.h. */
#include "snapshot_linux.h"

#include <errno.h>
#include <stdio.h>

#include "../platform/platform.h"

ps_status snap_errno_status(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR: return PS_ERR_NOTFOUND;
    case EACCES:
    case EPERM:
    case EROFS:
    case ETXTBSY: return PS_ERR_ACCESS;
    case ENOSPC:
    case EDQUOT: return PS_ERR_NOSPACE;
    case ENOMEM: return PS_ERR_NOMEM;
    case ELOOP: return PS_ERR_UNSAFE;
    case ENOTTY:
    case EOPNOTSUPP: return PS_ERR_UNSUPPORTED;
    default: return PS_ERR_IO;
    }
}

void snap_session_id(char id[SNAP_SESSION_ID_LEN + 1])
{
    snprintf(id, SNAP_SESSION_ID_LEN + 1, "%016llx", (unsigned long long)pf_random_u64());
}
