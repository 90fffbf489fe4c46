/* POSIX implementation of platform.h: files, reading and writing. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/fs.h> /* FICLONERANGE */
#include <sys/ioctl.h>
#include <sys/sysmacros.h> /* makedev */
#endif

#include "../../core/fault.h"
#include "../platform.h"
#include "pf_posix.h"

struct pf_file {
    int fd;
    char *path; /* for error messages */
};

ps_status pf_errno_status(int e)
{
    switch (e) {
    case ENOSPC:
    case EDQUOT: return PS_ERR_NOSPACE;
    case EACCES:
    case EPERM:
    case EROFS: return PS_ERR_ACCESS;
    case ENOENT:
    case ENOTDIR: return PS_ERR_NOTFOUND;
    case ELOOP: return PS_ERR_UNSAFE;
    case ENOMEM: return PS_ERR_NOMEM;
    case EBUSY:
    case ETXTBSY: return PS_ERR_LOCKED;
    default: return PS_ERR_IO;
    }
}

ps_status pf_errno_err(ps_err *err, int e, const char *what, const char *path)
{
    if (e == ELOOP)
        return ps_err_set(err, PS_ERR_UNSAFE, "%s '%s': it is a symbolic link, which is never followed",
                          what, path);
    return ps_err_set(err, pf_errno_status(e), "%s '%s': %s", what, path, strerror(e));
}

void pf_stat_from(const struct stat *s, pf_stat *st)
{
    st->kind = S_ISREG(s->st_mode) ? PF_KIND_FILE
             : S_ISDIR(s->st_mode) ? PF_KIND_DIR
             : S_ISLNK(s->st_mode) ? PF_KIND_LINK : PF_KIND_OTHER;
    st->size = (uint64_t)s->st_size;
    st->mtime_ns = (int64_t)s->st_mtim.tv_sec * 1000000000LL + s->st_mtim.tv_nsec;
    st->ctime_ns = (int64_t)s->st_ctim.tv_sec * 1000000000LL + s->st_ctim.tv_nsec;
    st->dev = (uint64_t)s->st_dev;
    st->ino = (uint64_t)s->st_ino;
    st->nlink = (uint32_t)s->st_nlink;
    st->owner_uid = (int64_t)s->st_uid;
    st->mount_root = 0; /* struct stat cannot tell */
}

#ifdef STATX_ATTR_MOUNT_ROOT
/* Set once statx is found missing (ENOSYS: a kernel before 4.11), so that
 * every later call goes straight to lstat or fstat. */
static atomic_int g_no_statx;

static void stat_from_statx(const struct statx *x, pf_stat *st)
{
    struct stat s;
    memset(&s, 0, sizeof s);
    s.st_mode = x->stx_mode;
    s.st_size = (off_t)x->stx_size;
    s.st_mtim.tv_sec = x->stx_mtime.tv_sec;
    s.st_mtim.tv_nsec = x->stx_mtime.tv_nsec;
    s.st_ctim.tv_sec = x->stx_ctime.tv_sec;
    s.st_ctim.tv_nsec = x->stx_ctime.tv_nsec;
    /* makedev gives the st_dev stat gives, so identities compare across
     * both (pf_dir_next and other callers still use fstatat). */
    s.st_dev = makedev(x->stx_dev_major, x->stx_dev_minor);
    s.st_ino = (ino_t)x->stx_ino;
    s.st_nlink = (nlink_t)x->stx_nlink;
    s.st_uid = x->stx_uid;
    pf_stat_from(&s, st);
    /* The mask says the kernel knows the attribute (5.8+); before that
     * the attribute bit is never set and 0 means "unknown". */
    st->mount_root = (x->stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
                     (x->stx_attributes & STATX_ATTR_MOUNT_ROOT);
}
#endif

/* statx is the only call that says an entry is the root of a mount, which
 * a bind mount from the same filesystem shows no other way. 1: *st is
 * filled; 0: no statx here, ask lstat or fstat; -1: failed, errno set. */
static int try_statx(int dirfd, const char *path, int flags, pf_stat *st)
{
#ifdef STATX_ATTR_MOUNT_ROOT
    if (atomic_load_explicit(&g_no_statx, memory_order_relaxed))
        return 0;
    struct statx x;
    if (statx(dirfd, path, flags | AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS, &x) == 0) {
        stat_from_statx(&x, st);
        return 1;
    }
    /* EPERM: the seccomp filter of some container runtimes refuses statx
     * (lstat and fstat never fail with EPERM, so the fallback still gives
     * the real answer). Not remembered, unlike ENOSYS: one odd file system
     * must not turn the check off for the rest of the process. */
    if (errno == ENOSYS)
        atomic_store_explicit(&g_no_statx, 1, memory_order_relaxed);
    else if (errno != EPERM)
        return -1;
#else
    (void)dirfd;
    (void)path;
    (void)flags;
    (void)st;
#endif
    return 0;
}

/* lstat with mount_root. Returns 0, or -1 with errno. */
static int stat_path(const char *path, pf_stat *st)
{
    int r = try_statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, st);
    if (r != 0)
        return r > 0 ? 0 : -1;
    struct stat s;
    if (lstat(path, &s) != 0)
        return -1;
    pf_stat_from(&s, st);
    return 0;
}

/* fstat with mount_root: of what the descriptor refers to, whatever its
 * name now is. Returns 0, or -1 with errno. */
static int stat_fd(int fd, pf_stat *st)
{
#ifdef AT_EMPTY_PATH
    int r = try_statx(fd, "", AT_EMPTY_PATH, st);
    if (r != 0)
        return r > 0 ? 0 : -1;
#endif
    struct stat s;
    if (fstat(fd, &s) != 0)
        return -1;
    pf_stat_from(&s, st);
    return 0;
}

ps_status pf_lstat(const char *path, pf_stat *st, ps_err *err)
{
    if (stat_path(path, st) != 0)
        return pf_errno_err(err, errno, "cannot examine", path);
    return PS_OK;
}

static ps_status wrap(int fd, const char *path, pf_file **out, ps_err *err)
{
    pf_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        close(fd);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory opening '%s'", path);
    }
    f->fd = fd;
    *out = f;
    return PS_OK;
}

/* pread/pwrite, with the faults a test asked for (pf_fault_inject). */
static ssize_t read_at(pf_file *f, char *buf, size_t len, off_t off)
{
    int fault = pf_fault_inject("read", f->path);
    if (fault > 0) {
        errno = fault;
        return -1;
    }
    if (fault == PF_FAULT_SHORT && len > 1)
        len /= 2;
    return pread(f->fd, buf, len, off);
}

static ssize_t write_at(pf_file *f, const char *buf, size_t len, off_t off, int first)
{
    int fault = pf_fault_inject("write", f->path);
    if (fault > 0) {
        errno = fault;
        return -1;
    }
    if (fault == PF_FAULT_SHORT && len > 1)
        len /= 2;
    if (first && pf_fault_points_on() && len > 1) {
        /* The crash tests die here with half the bytes on disk: a torn
         * write, as a power cut leaves one (once per call: the rest is
         * then written whole). */
        ssize_t n = pwrite(f->fd, buf, len / 2, off);
        FAULT_POINT("write.torn");
        return n;
    }
    return pwrite(f->fd, buf, len, off);
}

static int open_fault(const char *path)
{
    int fault = pf_fault_inject("open", path);
    if (fault > 0)
        errno = fault;
    return fault > 0;
}

ps_status pf_open_read(const char *path, pf_file **out, ps_err *err)
{
    /* O_NOFOLLOW refuses a link in the last component; O_NONBLOCK keeps a
     * FIFO planted in a profile from hanging the open. */
    int fd = open_fault(path) ? -1
                              : open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return pf_errno_err(err, errno, "cannot open", path);
    pf_stat st;
    if (stat_fd(fd, &st) != 0 || st.kind != PF_KIND_FILE) {
        close(fd);
        return ps_err_set(err, PS_ERR_UNSAFE, "cannot open '%s': not a regular file", path);
    }
    /* Checked on what was opened, not on the name: a file bind-mounted over
     * a PST between discovery and this open (another user's file, a root
     * one) is refused as discovery refuses it. */
    if (st.mount_root) {
        close(fd);
        return ps_err_set(err, PS_ERR_UNSAFE,
                          "cannot open '%s': it is a mount point (a file mounted over this "
                          "name), which is never read",
                          path);
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    return wrap(fd, path, out, err);
}

ps_status pf_pread(pf_file *f, void *buf, size_t len, uint64_t off, size_t *got, ps_err *err)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = read_at(f, (char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *got = done;
            return pf_errno_err(err, errno, "cannot read", f->path);
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    *got = done;
    return PS_OK;
}

ps_status pf_fstat(pf_file *f, pf_stat *st, ps_err *err)
{
    if (stat_fd(f->fd, st) != 0)
        return pf_errno_err(err, errno, "cannot examine", f->path);
    return PS_OK;
}

void pf_advise_sequential(pf_file *f)
{
    posix_fadvise(f->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
}

void pf_prefetch(pf_file *f, uint64_t off, uint64_t len)
{
    /* Queues the reads and returns: the device fills the cache while the
     * caller hashes and writes what it read before. */
    posix_fadvise(f->fd, (off_t)off, (off_t)len, POSIX_FADV_WILLNEED);
}

void pf_start_writeback(pf_file *f, uint64_t off, uint64_t len)
{
#ifdef SYNC_FILE_RANGE_WRITE
    /* WRITE alone: start write-back, wait for nothing. Never WAIT_AFTER: it
     * would consume a write-back error (the file's errseq) that the next
     * fdatasync of the checkpoint must report before the journal vouches
     * for these bytes. */
    sync_file_range(f->fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE);
#else
    (void)f;
    (void)off;
    (void)len;
#endif
}

ps_status pf_open_write(const char *path, pf_file **out, int *created, ps_err *err)
{
    int fd = open_fault(path) ? -1 : open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int is_new = fd >= 0;
    if (fd < 0 && errno == EEXIST)
        fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return pf_errno_err(err, errno, "cannot open for writing", path);
    struct stat s;
    if (fstat(fd, &s) != 0 || !S_ISREG(s.st_mode)) {
        close(fd);
        return ps_err_set(err, PS_ERR_UNSAFE, "cannot write '%s': not a regular file", path);
    }
    if (created)
        *created = is_new;
    return wrap(fd, path, out, err);
}

ps_status pf_pwrite(pf_file *f, const void *buf, size_t len, uint64_t off, ps_err *err)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = write_at(f, (const char *)buf + done, len - done, (off_t)(off + done), done == 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return pf_errno_err(err, errno, "cannot write", f->path);
        if (n == 0)
            return ps_err_set(err, PS_ERR_IO, "cannot write '%s': no progress", f->path);
        done += (size_t)n; /* a short write is retried for the rest */
    }
    return PS_OK;
}

ps_status pf_truncate(pf_file *f, uint64_t size, ps_err *err)
{
    if (ftruncate(f->fd, (off_t)size) != 0)
        return pf_errno_err(err, errno, "cannot set the size of", f->path);
    return PS_OK;
}

ps_status pf_sync(pf_file *f, ps_err *err)
{
    int fault = pf_fault_inject("sync", f->path);
    if (fault > 0)
        return pf_errno_err(err, fault, "cannot flush", f->path);
    if (fdatasync(f->fd) != 0)
        return pf_errno_err(err, errno, "cannot flush", f->path);
    return PS_OK;
}

ps_status pf_close(pf_file *f, ps_err *err)
{
    if (!f)
        return PS_OK;
    ps_status st = PS_OK;
    if (close(f->fd) != 0)
        st = pf_errno_err(err, errno, "cannot close", f->path);
    free(f->path);
    free(f);
    return st;
}

ps_status pf_file_trylock(pf_file *f, ps_err *err)
{
    /* flock belongs to the open file description: it dies with the process
     * and, being advisory, never stops anyone reading the file. */
    while (flock(f->fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR)
            continue;
        if (errno == EWOULDBLOCK)
            return ps_err_set(err, PS_ERR_BUSY, "'%s' is locked by another run", f->path);
        return pf_errno_err(err, errno, "cannot lock", f->path);
    }
    return PS_OK;
}

/* Here rather than in a file of its own because it needs both descriptors. */
ps_status pf_clone_file(pf_file *src, pf_file *dst, uint64_t from, ps_err *err)
{
#ifdef FICLONERANGE
    /* Length 0 clones to src's end, whatever its alignment. */
    struct file_clone_range range = {.src_fd = src->fd, .src_offset = from, .src_length = 0,
                                     .dest_offset = from};
    if (ioctl(dst->fd, FICLONERANGE, &range) == 0)
        return PS_OK;
    int e = errno;
    /* The filesystem or this pair of files cannot share extents (ext4,
     * tmpfs, two volumes, an unaligned offset): the caller writes. */
    if (e == EOPNOTSUPP || e == ENOTTY || e == EXDEV || e == EINVAL || e == ENOSYS)
        return ps_err_set(err, PS_ERR_UNSUPPORTED, "cannot clone '%s' into '%s': %s", src->path,
                          dst->path, strerror(e));
    return pf_errno_err(err, e, "cannot clone into", dst->path);
#else
    (void)src;
    (void)from;
    return ps_err_set(err, PS_ERR_UNSUPPORTED, "cannot clone into '%s': not on this system",
                      dst->path);
#endif
}
