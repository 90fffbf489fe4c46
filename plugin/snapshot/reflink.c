/*
 * reflink.c - per-file point-in-time copies with the FICLONE ioctl.
 *
 * A clone shares the source's extents, so it costs no data copy and no
 * space until Outlook rewrites a page. On btrfs the clone is taken under
 * the source inode's lock with its dirty pages flushed first, so each clone
 * is one consistent image of its file even while Outlook writes; files of
 * a set are frozen one after the other, not all at the same moment (the
 * btrfs provider does that, and is preferred by "auto").
 *
 * FICLONE only works within one filesystem, so the clone goes next to its
 * source: "<dir>/.pstsnap-clone-<session>-<n>", created O_EXCL|O_NOFOLLOW
 * with mode 0600 because the folder is usually the user's and may hold
 * planted symlinks, and the mail inside is private. Artifact = clone path.
 */
#include "snapshot.h"
#include "snapshot_linux.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#define CLONE_PREFIX ".pstsnap-clone-"

typedef struct clone_file {
    char *live;  /* the caller's path, as given to create */
    char *clone; /* absolute path of the clone */
    int made;    /* the clone file exists (we created it) */
} clone_file;

struct snap_session {
    char id[SNAP_SESSION_ID_LEN + 1]; /* random: clone names never collide */
    clone_file *files;
    size_t count;
};

/* ".pstsnap-clone-<hex>-<digits>" and nothing else. */
static int clone_name_valid(const char *name)
{
    size_t plen = strlen(CLONE_PREFIX);
    if (strncmp(name, CLONE_PREFIX, plen) != 0)
        return 0;
    const char *p = name + plen;
    size_t hex = strspn(p, "0123456789abcdef");
    if (hex == 0 || p[hex] != '-')
        return 0;
    p += hex + 1;
    size_t digits = strspn(p, "0123456789");
    return digits > 0 && p[digits] == '\0';
}

/* The folder holding `path`, canonical and absolute, so the recorded clone
 * path still means the same file when the sweep runs from another cwd. */
static ps_status canonical_dir(const char *path, char **out, ps_err *err)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    *out = realpath(dir, NULL);
    int e = errno;
    free(dir);
    if (!*out)
        return ps_err_set(err, snap_errno_status(e), "cannot resolve the folder of '%s': %s", path,
                          strerror(e));
    return PS_OK;
}

static ps_status reflink_probe(const char *path, ps_err *err)
{
    if (!path)
        return ps_err_set(err, PS_ERR_INVALID, "no path to probe");
    struct stat st;
    if (lstat(path, &st) != 0)
        return ps_err_set(err, snap_errno_status(errno), "cannot read '%s': %s", path,
                          strerror(errno));
    if (S_ISLNK(st.st_mode))
        return ps_err_set(err, PS_ERR_UNSAFE, "'%s' is a symbolic link; refused", path);
    if (!S_ISREG(st.st_mode))
        return ps_err_set(err, PS_ERR_UNSUPPORTED, "'%s' is not a regular file", path);

    /* Only a hint: XFS without reflink=1 still fails, in create, with a
     * clear message. Other filesystems (OCFS2, NFS 4.2) are left out on
     * purpose: "auto" should not pick what was never tested. */
    struct statfs fs;
    if (statfs(path, &fs) != 0)
        return ps_err_set(err, snap_errno_status(errno), "cannot inspect the filesystem of '%s': %s",
                          path, strerror(errno));
    if (fs.f_type != BTRFS_SUPER_MAGIC && fs.f_type != XFS_SUPER_MAGIC)
        return ps_err_set(err, PS_ERR_UNSUPPORTED,
                          "cannot clone '%s': its filesystem does not support reflink copies "
                          "(needs btrfs or XFS)",
                          path);

    char *dir = NULL;
    ps_status rc = canonical_dir(path, &dir, err);
    if (rc != PS_OK)
        return rc;
    if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) != 0)
        rc = ps_err_set(err, snap_errno_status(errno), "cannot create clone files in '%s': %s", dir,
                        strerror(errno));
    free(dir);
    return rc;
}

static ps_status remove_clone(const char *artifact, ps_err *err)
{
    const char *slash = artifact ? strrchr(artifact, '/') : NULL;
    /* The record could have been edited: delete nothing that this provider
     * would not have created. */
    if (!slash || artifact[0] != '/' || !clone_name_valid(slash + 1))
        return ps_err_set(err, PS_ERR_UNSAFE,
                          "refusing to remove '%s': not a reflink clone made by pstsnap",
                          artifact ? artifact : "(null)");
    struct stat st;
    if (lstat(artifact, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return PS_OK;
        return ps_err_set(err, snap_errno_status(errno), "cannot inspect clone '%s': %s", artifact,
                          strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return ps_err_set(err, PS_ERR_UNSAFE,
                          "refusing to remove '%s': not a regular file, so not a clone",
                          artifact);
    if (unlink(artifact) != 0 && errno != ENOENT)
        return ps_err_set(err, snap_errno_status(errno), "cannot remove clone '%s': %s", artifact,
                          strerror(errno));
    return PS_OK;
}

static ps_status session_free(snap_session *s, ps_err *err)
{
    ps_status first = PS_OK;
    for (size_t i = 0; i < s->count; i++) {
        if (s->files[i].made) {
            ps_err e;
            ps_status rc = remove_clone(s->files[i].clone, &e);
            if (rc != PS_OK && first == PS_OK) {
                first = rc;
                if (err)
                    *err = e;
            }
        }
        free(s->files[i].live);
        free(s->files[i].clone);
    }
    free(s->files);
    free(s);
    return first;
}

static ps_status clone_error(int e, const char *live, const char *clone, ps_err *err)
{
    if (e == EOPNOTSUPP || e == EXDEV || e == EINVAL || e == ENOTTY)
        return ps_err_set(err, PS_ERR_UNSUPPORTED,
                          "cannot clone '%s' to '%s': %s (the filesystem, or this file's "
                          "attributes such as nodatacow, do not allow reflink copies)",
                          live, clone, strerror(e));
    return ps_err_set(err, snap_errno_status(e), "cannot clone '%s' to '%s': %s", live, clone,
                      strerror(e));
}

/* Record, create and fill the clone of one file. */
static ps_status clone_one(clone_file *f, snap_record *record, ps_err *err)
{
    ps_status rc = snap_record_add(record, f->clone, err);
    if (rc != PS_OK)
        return rc;
    /* O_NONBLOCK: a FIFO swapped in after probe must not hang the run. */
    int src = open(f->live, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (src < 0) {
        if (errno == ELOOP)
            return ps_err_set(err, PS_ERR_UNSAFE, "'%s' is a symbolic link; refused", f->live);
        return ps_err_set(err, snap_errno_status(errno), "cannot open '%s': %s", f->live,
                          strerror(errno));
    }
    /* Times are read before the clone, so the clone's mtime is never newer
     * than its content: an incremental run then sees the live file as
     * changed again rather than wrongly as already saved. */
    struct stat st;
    if (fstat(src, &st) != 0) {
        int e = errno;
        close(src);
        return ps_err_set(err, snap_errno_status(e), "cannot inspect '%s': %s", f->live, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(src);
        return ps_err_set(err, PS_ERR_UNSUPPORTED, "cannot clone '%s': not a regular file",
                          f->live);
    }
    int dst = open(f->clone, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (dst < 0) {
        int e = errno;
        close(src);
        return ps_err_set(err, snap_errno_status(e), "cannot create clone file '%s': %s", f->clone,
                          strerror(e));
    }
    f->made = 1;
    if (ioctl(dst, FICLONE, src) != 0) {
        rc = clone_error(errno, f->live, f->clone, err);
    } else {
        struct timespec times[2] = {st.st_atim, st.st_mtim};
        if (futimens(dst, times) != 0)
            rc = ps_err_set(err, snap_errno_status(errno), "cannot set the times of clone '%s': %s",
                            f->clone, strerror(errno));
    }
    close(src);
    if (close(dst) != 0 && rc == PS_OK)
        rc = ps_err_set(err, PS_ERR_IO, "cannot close clone '%s': %s", f->clone,
                        strerror(errno));
    return rc;
}

static ps_status reflink_create(const char *const *paths, size_t count, snap_record *record,
                                snap_session **out, ps_err *err)
{
    if (!out || !record || (count && !paths))
        return ps_err_set(err, PS_ERR_INVALID, "reflink snapshot: bad arguments");
    *out = NULL;
    snap_session *s = calloc(1, sizeof *s);
    if (!s || (count && !(s->files = calloc(count, sizeof *s->files)))) {
        free(s);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    snap_session_id(s->id);

    ps_status rc = PS_OK;
    for (size_t i = 0; i < count && rc == PS_OK; i++) {
        clone_file *f = &s->files[i];
        s->count++;
        char *dir = NULL;
        if (!paths[i]) {
            rc = ps_err_set(err, PS_ERR_INVALID, "reflink snapshot: null path");
            break;
        }
        rc = canonical_dir(paths[i], &dir, err);
        if (rc != PS_OK)
            break;
        f->live = strdup(paths[i]);
        size_t n = strlen(dir) + sizeof "/" CLONE_PREFIX + sizeof s->id + 24;
        f->clone = malloc(n);
        if (f->live && f->clone)
            snprintf(f->clone, n, "%s/" CLONE_PREFIX "%s-%zu", strcmp(dir, "/") ? dir : "",
                     s->id, i);
        free(dir);
        if (!f->live || !f->clone)
            rc = ps_err_set(err, PS_ERR_NOMEM, "out of memory");
        else
            rc = clone_one(f, record, err);
    }
    if (rc != PS_OK) {
        /* Take back what was made; the record still names it, so a failure
         * here is left for the next sweep and does not hide the first. */
        session_free(s, NULL);
        return rc;
    }
    *out = s;
    return PS_OK;
}

static ps_status reflink_map_path(snap_session *session, const char *live_path, char **out,
                                  ps_err *err)
{
    if (!session || !live_path || !out)
        return ps_err_set(err, PS_ERR_INVALID, "reflink map_path: bad arguments");
    *out = NULL;
    for (size_t i = 0; i < session->count; i++) {
        if (strcmp(session->files[i].live, live_path) == 0) {
            *out = strdup(session->files[i].clone);
            return *out ? PS_OK : ps_err_set(err, PS_ERR_NOMEM, "out of memory");
        }
    }
    return ps_err_set(err, PS_ERR_INVALID, "'%s' is not one of the files of this snapshot",
                      live_path);
}

static ps_status reflink_release(snap_session *session, ps_err *err)
{
    if (!session)
        return PS_OK;
    return session_free(session, err);
}

const snap_provider snapshot_reflink_provider = {
    .name = "reflink",
    .is_live = 0,
    .probe = reflink_probe,
    .create = reflink_create,
    .map_path = reflink_map_path,
    .release = reflink_release,
    .remove_artifact = remove_clone,
};
