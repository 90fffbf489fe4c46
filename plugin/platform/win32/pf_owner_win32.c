/* Win32 implementation of platform.h: ownership of what a run creates. */
#include "pf_win32.h"

ps_status pf_give_to_user(const char *path, int64_t uid, int64_t gid, ps_err *err)
{
    /* Windows has no uids: new files and folders inherit the destination
     * folder's ACL, which already grants the user the access they need, and
     * the owner (SYSTEM or Administrators when elevated) does not stop
     * them replacing or deleting the backup. Nothing to change. */
    (void)path;
    (void)uid;
    (void)gid;
    (void)err;
    return PS_OK;
}
