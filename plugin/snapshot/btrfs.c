/*
 * btrfs.c - read-only btrfs subvolume snapshots through the kernel ioctls.
 *
 * One snapshot per subvolume that holds a file of the set. The snapshot
 * holds what is on disk when it commits: btrfs flushes the dirty pages first,
 * but without blocking writers, page by page in file order, so a file that
 * is being rewritten while the flush runs can enter the snapshot with an
 * early page in its old state and a later page in a newer one (the
 * point-in-time test caught exactly that under load). The snapshot is
 * crash-consistent, not point-in-time, for a file under active writes; this
 * is why "auto" prefers the reflink provider, whose FICLONE holds the file's
 * lock against writers while it flushes and clones. Each file is fsync'd just
 * before the snapshot, which shrinks the window (less left to flush) but
 * cannot close it. The snapshot goes inside the subvolume it copies, at
 * "<subvolume root>/.pstsnap-snapshots/<session id>": a snapshot must live
 * on the same filesystem, and a nested subvolume is not part of later
 * snapshots of its parent, so the folder costs nothing. Artifact = the
 * snapshot's absolute path.
 *
 * The ioctls are called directly (not the btrfs tool) so that errors carry
 * errno and no child process has to be found and trusted.
 */
#include "snapshot.h"
#include "snapshot_linux.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#define SNAP_DIR ".pstsnap-snapshots"
#define ID_LEN SNAP_SESSION_ID_LEN

typedef struct subvol_snap {
    char *root; /* canonical path of the subvolume root */
    char *snap; /* root/.pstsnap-snapshots/<id> */
    int made;   /* the snapshot exists (we created it) */
} subvol_snap;

typedef struct snap_file {
    char *live;   /* the caller's path, as given to create */
    char *mapped; /* the same file inside the snapshot */
} snap_file;

struct snap_session {
    char id[ID_LEN + 1]; /* 64 random bits in hex */
    subvol_snap *subvols;
    size_t nsubvols;
    snap_file *files;
    size_t count;
};

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + 1 + strlen(b) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s%s", a, strcmp(a, "/") ? "/" : "", b);
    return p;
}

/* Creating a snapshot needs only ownership of the subvolume, but deleting
 * one needs CAP_SYS_ADMIN unless the filesystem is mounted with
 * user_subvol_rm_allowed (and a read-only one must first be made writable).
 * Without the capability we could make snapshots we cannot take back, so
 * the provider refuses up front. */
static int can_manage_snapshots(void)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &hdr, data) != 0)
        return geteuid() == 0;
    return (data[CAP_SYS_ADMIN / 32].effective >> (CAP_SYS_ADMIN % 32)) & 1U;
}

/* Find the root of the subvolume holding the regular file `path`: the
 * nearest ancestor folder with inode number 256, walking up without
 * crossing a mount or subvolume boundary (st_dev changes at both). *root is
 * canonical; *rel is the file's path below it. */
static ps_status find_subvol(const char *path, char **root, char **rel, ps_err *err)
{
    *root = *rel = NULL;
    struct stat st;
    if (lstat(path, &st) != 0)
        return ps_err_set(err, snap_errno_status(errno), "cannot read '%s': %s", path,
                          strerror(errno));
    if (S_ISLNK(st.st_mode))
        return ps_err_set(err, PS_ERR_UNSAFE, "'%s' is a symbolic link; refused", path);
    if (!S_ISREG(st.st_mode))
        return ps_err_set(err, PS_ERR_UNSUPPORTED, "'%s' is not a regular file", path);

    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    char *cur = dir ? realpath(dir, NULL) : NULL;
    int e = errno;
    free(dir);
    if (!cur)
        return ps_err_set(err, snap_errno_status(e), "cannot resolve the folder of '%s': %s", path,
                          strerror(e));
    /* Inode 256 marks a subvolume root only on btrfs; elsewhere it is just
     * some folder. */
    struct statfs fs;
    if (statfs(cur, &fs) != 0 || fs.f_type != BTRFS_SUPER_MAGIC) {
        free(cur);
        return ps_err_set(err, PS_ERR_UNSUPPORTED, "'%s' is not on a btrfs filesystem", path);
    }
    /* cur[0..len) is the folder being looked at; it only gets shorter. */
    dev_t dev = st.st_dev;
    size_t len = strlen(cur);
    for (;;) {
        char saved = cur[len];
        cur[len] = '\0';
        int same = stat(cur, &st) == 0 && st.st_dev == dev;
        cur[len] = saved;
        if (!same)
            break;
        if (st.st_ino == BTRFS_FIRST_FREE_OBJECTID) {
            const char *below = cur + len + (cur[len] == '/');
            size_t n = strlen(below) + 1 + strlen(base) + 1;
            *root = strndup(cur, len);
            *rel = malloc(n);
            if (*rel)
                snprintf(*rel, n, "%s%s%s", below, *below ? "/" : "", base);
            free(cur);
            if (!*rel || !*root) {
                free(*rel);
                free(*root);
                *rel = *root = NULL;
                return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
            }
            return PS_OK;
        }
        if (len == 1)
            break; /* "/" itself is not a subvolume root */
        while (len > 1 && cur[len - 1] != '/')
            len--;
        if (len > 1)
            len--; /* drop the slash too, except the one of "/" */
    }
    free(cur);
    return ps_err_set(err, PS_ERR_UNSUPPORTED,
                      "cannot find the btrfs subvolume holding '%s' (no subvolume root between "
                      "it and its mount point; is a subfolder bind-mounted?)",
                      path);
}

static ps_status btrfs_probe(const char *path, ps_err *err)
{
    if (!path)
        return ps_err_set(err, PS_ERR_INVALID, "no path to probe");
    struct statfs fs;
    if (statfs(path, &fs) != 0)
        return ps_err_set(err, snap_errno_status(errno), "cannot inspect the filesystem of '%s': %s",
                          path, strerror(errno));
    if (fs.f_type != BTRFS_SUPER_MAGIC)
        return ps_err_set(err, PS_ERR_UNSUPPORTED, "'%s' is not on a btrfs filesystem", path);
    if (!can_manage_snapshots())
        return ps_err_set(err, PS_ERR_ACCESS,
                          "cannot snapshot '%s': btrfs snapshots need root (CAP_SYS_ADMIN) so "
                          "that they can also be deleted",
                          path);
    char *root = NULL, *rel = NULL;
    ps_status rc = find_subvol(path, &root, &rel, err);
    free(root);
    free(rel);
    return rc;
}

/* True if `s` is exactly ID_LEN lowercase hex digits (a session id). */
static int is_session_id(const char *s)
{
    return strlen(s) == ID_LEN && strspn(s, "0123456789abcdef") == ID_LEN;
}

static ps_status destroy_snapshot(const char *artifact, ps_err *err)
{
    /* The record could have been edited: delete only a subvolume directly
     * in a ".pstsnap-snapshots" folder under a session-id name. */
    const char *slash = artifact ? strrchr(artifact, '/') : NULL;
    size_t dlen = strlen(SNAP_DIR);
    if (!slash || artifact[0] != '/' || !is_session_id(slash + 1) ||
        (size_t)(slash - artifact) < dlen + 1 ||
        strncmp(slash - dlen - 1, "/" SNAP_DIR, dlen + 1) != 0)
        return ps_err_set(err, PS_ERR_UNSAFE,
                          "refusing to remove '%s': not a snapshot made by pstsnap",
                          artifact ? artifact : "(null)");
    const char *name = slash + 1;
    char *parent = strndup(artifact, (size_t)(slash - artifact));
    if (!parent)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");

    ps_status rc = PS_OK;
    int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat pst, st;
    struct statfs fs;
    if (pfd < 0) {
        if (errno == ELOOP || errno == ENOTDIR)
            rc = ps_err_set(err, PS_ERR_UNSAFE,
                            "refusing to remove '%s': '%s' is not a real folder (%s)", artifact,
                            parent, strerror(errno));
        else if (errno != ENOENT)
            rc = ps_err_set(err, snap_errno_status(errno), "cannot open snapshot folder '%s': %s",
                            parent, strerror(errno));
    } else if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT)
            rc = ps_err_set(err, snap_errno_status(errno), "cannot inspect '%s': %s", artifact,
                            strerror(errno));
    } else if (fstat(pfd, &pst) != 0 || fstatfs(pfd, &fs) != 0) {
        rc = ps_err_set(err, snap_errno_status(errno), "cannot inspect '%s': %s", parent,
                        strerror(errno));
    } else if (fs.f_type != BTRFS_SUPER_MAGIC || !S_ISDIR(st.st_mode) ||
               st.st_ino != BTRFS_FIRST_FREE_OBJECTID || st.st_dev == pst.st_dev) {
        /* Inode 256 means "subvolume root" only on btrfs, and a subvolume
         * always has a device number of its own. */
        rc = ps_err_set(err, PS_ERR_UNSAFE,
                        "refusing to remove '%s': it is not a btrfs subvolume", artifact);
    } else {
        struct btrfs_ioctl_vol_args args;
        memset(&args, 0, sizeof args);
        snprintf(args.name, sizeof args.name, "%s", name);
        if (ioctl(pfd, BTRFS_IOC_SNAP_DESTROY, &args) != 0 && errno != ENOENT)
            rc = ps_err_set(err, snap_errno_status(errno), "cannot delete btrfs snapshot '%s': %s",
                            artifact, strerror(errno));
    }
    if (pfd >= 0)
        close(pfd);
    /* Drop the folder once empty. Failing is fine: ENOTEMPTY means another
     * session's snapshot is there, and an empty folder left behind costs
     * nothing. */
    if (rc == PS_OK)
        (void)rmdir(parent);
    free(parent);
    return rc;
}

/* mkdir (if needed) and open <root>/.pstsnap-snapshots; -1 with errno. */
static int open_snap_dir(int rootfd)
{
    /* 0700: the snapshot exposes every file of the subvolume as it was,
     * and users must not reach other users' files through it. */
    if (mkdirat(rootfd, SNAP_DIR, 0700) != 0 && errno != EEXIST)
        return -1;
    return openat(rootfd, SNAP_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Record, then create, the read-only snapshot of one subvolume. */
static ps_status snapshot_subvol(subvol_snap *sv, const char *id, snap_record *record,
                                 ps_err *err)
{
    ps_status rc = snap_record_add(record, sv->snap, err);
    if (rc != PS_OK)
        return rc;
    int rootfd = open(sv->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return ps_err_set(err, snap_errno_status(errno), "cannot open btrfs subvolume '%s': %s",
                          sv->root, strerror(errno));
    struct btrfs_ioctl_vol_args_v2 args;
    memset(&args, 0, sizeof args);
    args.fd = rootfd;
    args.flags = BTRFS_SUBVOL_RDONLY;
    snprintf(args.name, sizeof args.name, "%s", id);
    /* Another run snapshotting this subvolume removes the folder when its
     * last snapshot goes. If that falls between our mkdir and our ioctl we
     * see ENOENT: make the folder again (a few times, not forever). */
    for (int attempt = 0;; attempt++) {
        int dirfd = open_snap_dir(rootfd);
        if (dirfd < 0) {
            if (errno == ENOENT && attempt < 3)
                continue;
            rc = ps_err_set(err, errno == ELOOP || errno == ENOTDIR ? PS_ERR_UNSAFE
                                                                      : snap_errno_status(errno),
                            "cannot create or open '%s/" SNAP_DIR "': %s", sv->root,
                            strerror(errno));
            break;
        }
        int ok = ioctl(dirfd, BTRFS_IOC_SNAP_CREATE_V2, &args) == 0;
        int e = errno;
        close(dirfd);
        if (ok) {
            sv->made = 1;
            break;
        }
        if (e == ENOENT && attempt < 3)
            continue;
        rc = ps_err_set(err, snap_errno_status(e), "cannot snapshot btrfs subvolume '%s': %s",
                        sv->root, strerror(e));
        /* Do not leave an empty folder behind for a snapshot never made. */
        (void)unlinkat(rootfd, SNAP_DIR, AT_REMOVEDIR);
        break;
    }
    close(rootfd);
    return rc;
}

static ps_status session_free(snap_session *s, ps_err *err)
{
    ps_status first = PS_OK;
    for (size_t i = 0; i < s->nsubvols; i++) {
        if (s->subvols[i].made) {
            ps_err e;
            ps_status rc = destroy_snapshot(s->subvols[i].snap, &e);
            if (rc != PS_OK && first == PS_OK) {
                first = rc;
                if (err)
                    *err = e;
            }
        }
        free(s->subvols[i].root);
        free(s->subvols[i].snap);
    }
    for (size_t i = 0; i < s->count; i++) {
        free(s->files[i].live);
        free(s->files[i].mapped);
    }
    free(s->subvols);
    free(s->files);
    free(s);
    return first;
}

/* The session's entry for subvolume `root`, added if new. Takes `root`. */
static subvol_snap *subvol_for(snap_session *s, char *root)
{
    for (size_t i = 0; i < s->nsubvols; i++) {
        if (strcmp(s->subvols[i].root, root) == 0) {
            free(root);
            return &s->subvols[i];
        }
    }
    /* s->subvols has room for one per file, allocated in create. */
    subvol_snap *sv = &s->subvols[s->nsubvols];
    char *dir = join(root, SNAP_DIR);
    sv->snap = dir ? join(dir, s->id) : NULL;
    free(dir);
    if (!sv->snap) {
        free(root);
        return NULL;
    }
    sv->root = root;
    s->nsubvols++;
    return sv;
}

/* Work out which subvolume each file lives in and where it will appear. */
static ps_status plan_session(snap_session *s, const char *const *paths, size_t count,
                              ps_err *err)
{
    for (size_t i = 0; i < count; i++) {
        if (!paths[i])
            return ps_err_set(err, PS_ERR_INVALID, "btrfs snapshot: null path");
        char *root = NULL, *rel = NULL;
        ps_status rc = find_subvol(paths[i], &root, &rel, err);
        if (rc != PS_OK)
            return rc;
        subvol_snap *sv = subvol_for(s, root);
        snap_file *f = &s->files[s->count++];
        f->live = strdup(paths[i]);
        f->mapped = sv ? join(sv->snap, rel) : NULL;
        free(rel);
        if (!f->live || !f->mapped)
            return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    return PS_OK;
}

/* Write back the files' dirty pages and wait for writeback in flight (see the
 * top of the file). Best effort: a file that cannot be opened is still
 * snapshotted. */
static void flush_files(const char *const *paths, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        int fd = open(paths[i], O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) {
            (void)fsync(fd);
            close(fd);
        }
    }
}

static ps_status btrfs_create(const char *const *paths, size_t count, snap_record *record,
                              snap_session **out, ps_err *err)
{
    if (!out || !record || (count && !paths))
        return ps_err_set(err, PS_ERR_INVALID, "btrfs snapshot: bad arguments");
    *out = NULL;
    snap_session *s = calloc(1, sizeof *s);
    if (!s || (count && (!(s->files = calloc(count, sizeof *s->files)) ||
                         !(s->subvols = calloc(count, sizeof *s->subvols))))) {
        if (s)
            free(s->files);
        free(s);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    snap_session_id(s->id);

    ps_status rc = plan_session(s, paths, count, err);
    if (rc == PS_OK)
        flush_files(paths, count);
    for (size_t i = 0; rc == PS_OK && i < s->nsubvols; i++)
        rc = snapshot_subvol(&s->subvols[i], s->id, record, err);
    if (rc != PS_OK) {
        /* Take back what was made; the record still names it, so a failure
         * here is left for the next sweep and does not hide the first. */
        session_free(s, NULL);
        return rc;
    }
    *out = s;
    return PS_OK;
}

static ps_status btrfs_map_path(snap_session *session, const char *live_path, char **out,
                                ps_err *err)
{
    if (!session || !live_path || !out)
        return ps_err_set(err, PS_ERR_INVALID, "btrfs map_path: bad arguments");
    *out = NULL;
    for (size_t i = 0; i < session->count; i++) {
        if (strcmp(session->files[i].live, live_path) == 0) {
            *out = strdup(session->files[i].mapped);
            return *out ? PS_OK : ps_err_set(err, PS_ERR_NOMEM, "out of memory");
        }
    }
    return ps_err_set(err, PS_ERR_INVALID, "'%s' is not one of the files of this snapshot",
                      live_path);
}

static ps_status btrfs_release(snap_session *session, ps_err *err)
{
    if (!session)
        return PS_OK;
    return session_free(session, err);
}

const snap_provider snapshot_btrfs_provider = {
    .name = "btrfs",
    .is_live = 0,
    .probe = btrfs_probe,
    .create = btrfs_create,
    .map_path = btrfs_map_path,
    .release = btrfs_release,
    .remove_artifact = destroy_snapshot,
};
