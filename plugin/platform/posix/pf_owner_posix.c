/* POSIX implementation of platform.h: handing what an elevated run created
 * in the destination to the user it acts for. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../platform.h"
#include "pf_posix.h"

ps_status pf_user_can_read(const char *path, const char *user_sid, ps_err *err)
{
    /* No SIDs here: the owner check in discovery does this job. */
    (void)path;
    (void)user_sid;
    (void)err;
    return PS_OK;
}

ps_status pf_give_to_user(const char *path, int64_t uid, int64_t gid, const char *user_sid,
                          ps_err *err)
{
    (void)user_sid; /* POSIX acts for a uid */
    if (uid < 0 || (uid_t)uid == geteuid())
        return PS_OK;
    /* Through a descriptor, so what is checked is what is changed: O_NOFOLLOW
     * refuses a link in the last component, O_NONBLOCK keeps a FIFO swapped
     * in from blocking the open. */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return pf_errno_err(err, errno, "cannot give to the user", path);
    struct stat st;
    ps_status s = PS_OK;
    if (fstat(fd, &st) != 0)
        s = pf_errno_err(err, errno, "cannot examine", path);
    else if (!S_ISDIR(st.st_mode) && !(S_ISREG(st.st_mode) && st.st_nlink == 1))
        s = ps_err_set(err, PS_ERR_UNSAFE,
                       "'%s' is not a folder or a file of our own; not given to the user", path);
    else if ((st.st_uid != (uid_t)uid || (gid >= 0 && st.st_gid != (gid_t)gid)) &&
             fchown(fd, (uid_t)uid, gid >= 0 ? (gid_t)gid : (gid_t)-1) != 0)
        s = pf_errno_err(err, errno, "cannot give to the user", path);
    close(fd);
    return s;
}
