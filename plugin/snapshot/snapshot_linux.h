/*
 * snapshot_linux.h - what the Linux providers (btrfs.c, reflink.c) share:
 * the mapping of errno to a status and the random name of a session.
 * Internal to plugin/snapshot; nothing here allocates.
 */
#ifndef PS_SNAPSHOT_LINUX_H
#define PS_SNAPSHOT_LINUX_H

#include "../core/error.h"

#define SNAP_SESSION_ID_LEN 16

/* errno of a failed snapshot or clone call as a status. ENOTTY and
 * EOPNOTSUPP (the filesystem lacks the ioctl) are PS_ERR_UNSUPPORTED, so
 * `auto` moves on to the next method. */
ps_status snap_errno_status(int e);

/* 64 random bits in hex, NUL-terminated: snapshot and clone names of two
 * sessions never collide (and creating them fails on a clash anyway). */
void snap_session_id(char id[SNAP_SESSION_ID_LEN + 1]);

#endif /* PS_SNAPSHOT_LINUX_H */
