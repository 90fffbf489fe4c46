/* POSIX implementation of platform.h: paths, namespace, directories, locks,
 * time and I/O priority. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../platform.h"
#include "pf_posix.h"

const char pf_sep = '/';

/* --- paths ----------------------------------------------------------------- */
char *pf_native_path(const char *path)
{
    char *p = strdup(path);
    if (!p)
        return NULL;
    /* Policies are written for Windows ("%LOCALAPPDATA%\Microsoft\Outlook");
     * on POSIX a backslash is a separator too, and runs of separators fold. */
    char *w = p;
    for (const char *r = p; *r; r++) {
        char c = *r == '\\' ? '/' : *r;
        if (c == '/' && w > p && w[-1] == '/')
            continue;
        *w++ = c;
    }
    if (w > p + 1 && w[-1] == '/')
        w--;
    *w = '\0';
    return p;
}

char *pf_path_join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), n = dl + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", name);
    return p;
}

const char *pf_basename(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

char *pf_dirname(const char *path)
{
    const char *s = strrchr(path, '/');
    if (!s)
        return strdup(".");
    if (s == path)
        return strdup("/");
    return strndup(path, (size_t)(s - path));
}

int pf_is_absolute(const char *path) { return path[0] == '/'; }

char *pf_absolute(const char *path)
{
    /* Resolve the parent (it may hold links the admin set up on purpose),
     * keep the last component as written. */
    char *dir = pf_dirname(path), *out = NULL;
    char resolved[PATH_MAX];
    if (dir && realpath(dir, resolved))
        out = pf_path_join(resolved, pf_basename(path));
    free(dir);
    return out;
}

/* --- namespace ---------------------------------------------------------------- */
ps_status pf_sync_dir(const char *path, ps_err *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return pf_errno_err(err, errno, "cannot open folder", path);
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    /* Some filesystems refuse fsync on directories; their renames are
     * ordered anyway, so that is not a failure. */
    if (rc != 0 && e != EINVAL && e != ENOTSUP)
        return pf_errno_err(err, e, "cannot flush folder", path);
    return PS_OK;
}

ps_status pf_rename_replace(const char *from, const char *to, ps_err *err)
{
    int fault = pf_fault_inject("rename", to);
    if (fault > 0)
        return pf_errno_err(err, fault, "cannot rename into place", to);
    if (rename(from, to) != 0)
        return pf_errno_err(err, errno, "cannot rename into place", to);
    char *dir = pf_dirname(to);
    ps_status st = dir ? pf_sync_dir(dir, err) : ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    free(dir);
    return st;
}

ps_status pf_link(const char *existing, const char *new_path, ps_err *err)
{
    if (link(existing, new_path) != 0) {
        int e = errno;
        if (e == EPERM || e == ENOTSUP || e == EOPNOTSUPP || e == EXDEV)
            return ps_err_set(err, PS_ERR_UNSUPPORTED, "cannot link '%s': %s", new_path, strerror(e));
        return pf_errno_err(err, e, "cannot link", new_path);
    }
    return PS_OK;
}

ps_status pf_unlink(const char *path, ps_err *err)
{
    if (unlink(path) != 0 && errno != ENOENT)
        return pf_errno_err(err, errno, "cannot remove", path);
    return PS_OK;
}

ps_status pf_mkdirs(const char *path, ps_err *err)
{
    char *p = strdup(path);
    if (!p)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    ps_status st = PS_OK;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char saved = *s;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            st = pf_errno_err(err, errno, "cannot create folder", p);
            break;
        }
        *s = saved;
        if (!saved)
            break;
    }
    if (st == PS_OK) {
        struct stat s;
        if (lstat(path, &s) != 0)
            st = pf_errno_err(err, errno, "cannot examine", path);
        else if (!S_ISDIR(s.st_mode))
            st = ps_err_set(err, PS_ERR_UNSAFE, "'%s' is not a folder (a link or a file)", path);
    }
    free(p);
    return st;
}

/* A run killed between writing "<path>.<pid>.tmp" and renaming it left
 * that file behind, and nothing else would ever remove it: remove the
 * temporary files of `path` whose writer is gone (a live pid may be a run
 * writing right now). */
static void remove_stale_temps(const char *path)
{
    char *dir = pf_dirname(path);
    const char *base = pf_basename(path);
    size_t base_len = strlen(base);
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        const char *name = e->d_name, *p = name + base_len;
        if (strncmp(name, base, base_len) != 0 || *p != '.' || !(p[1] >= '0' && p[1] <= '9'))
            continue;
        char *end = NULL;
        long pid = strtol(p + 1, &end, 10);
        if (!end || strcmp(end, ".tmp") != 0 || pid <= 0 || pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
            unlinkat(dirfd(d), name, 0);
    }
    if (d)
        closedir(d);
    free(dir);
}

char *pf_atomic_temp_path(const char *path)
{
    remove_stale_temps(path);
    char *tmp = malloc(strlen(path) + 32);
    if (tmp)
        sprintf(tmp, "%s.%ld.tmp", path, (long)getpid());
    return tmp;
}

/* --- directories ------------------------------------------------------------- */
struct pf_dir {
    DIR *d;
    char *path;
};

ps_status pf_dir_open(const char *path, pf_dir **out, ps_err *err)
{
    /* Open without following a link, then list through that descriptor, so
     * a folder swapped for a link after the check is not entered. */
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return pf_errno_err(err, errno, "cannot open folder", path);
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return pf_errno_err(err, e, "cannot list folder", path);
    }
    pf_dir *pd = calloc(1, sizeof *pd);
    if (!pd || !(pd->path = strdup(path))) {
        free(pd);
        closedir(d);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    pd->d = d;
    *out = pd;
    return PS_OK;
}

ps_status pf_dir_next(pf_dir *d, const char **name, pf_kind *kind, ps_err *err)
{
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d->d);
        if (!e) {
            *name = NULL;
            if (errno)
                return pf_errno_err(err, errno, "cannot list folder", d->path);
            return PS_OK;
        }
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        *name = e->d_name;
        if (e->d_type == DT_UNKNOWN) {
            struct stat s;
            if (fstatat(dirfd(d->d), e->d_name, &s, AT_SYMLINK_NOFOLLOW) != 0) {
                *kind = PF_KIND_OTHER;
                return PS_OK;
            }
            pf_stat ps;
            pf_stat_from(&s, &ps);
            *kind = ps.kind;
        } else {
            *kind = e->d_type == DT_REG ? PF_KIND_FILE
                  : e->d_type == DT_DIR ? PF_KIND_DIR
                  : e->d_type == DT_LNK ? PF_KIND_LINK : PF_KIND_OTHER;
        }
        return PS_OK;
    }
}

void pf_dir_close(pf_dir *d)
{
    if (!d)
        return;
    closedir(d->d);
    free(d->path);
    free(d);
}

/* --- locking -------------------------------------------------------------------- */
struct pf_lock {
    int fd;
};

ps_status pf_lock_acquire(const char *path, uint32_t wait_ms, pf_lock **out, ps_err *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return pf_errno_err(err, errno, "cannot open lock file", path);
    /* flock dies with the process, so a killed run never leaves the
     * destination locked. */
    uint64_t deadline = pf_monotonic_ms() + wait_ms;
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            int e = errno;
            close(fd);
            return pf_errno_err(err, e, "cannot lock", path);
        }
        if (pf_monotonic_ms() >= deadline) {
            close(fd);
            return ps_err_set(err, PS_ERR_BUSY, "another backup holds the lock '%s'", path);
        }
        pf_sleep_ms(50);
    }
    pf_lock *l = malloc(sizeof *l);
    if (!l) {
        close(fd);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    l->fd = fd;
    *out = l;
    return PS_OK;
}

void pf_lock_release(pf_lock *l)
{
    if (!l)
        return;
    close(l->fd); /* drops the flock */
    free(l);
}

/* --- time and priority -------------------------------------------------------------- */
uint64_t pf_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t pf_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void pf_sleep_ms(uint32_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

ps_status pf_io_priority_low(ps_err *err)
{
#if defined(__linux__) && defined(SYS_ioprio_set)
    /* ioprio_set(IOPRIO_WHO_PROCESS, 0 = this thread, IOPRIO_CLASS_IDLE):
     * glibc has no wrapper. The idle class is honoured by the BFQ and CFQ
     * schedulers; elsewhere it is harmless. */
    const int who_process = 1, class_idle = 3, class_shift = 13;
    if (syscall(SYS_ioprio_set, who_process, 0, class_idle << class_shift) != 0)
        return ps_err_set(err, PS_ERR_UNSUPPORTED, "cannot lower I/O priority: %s", strerror(errno));
    return PS_OK;
#else
    return ps_err_set(err, PS_ERR_UNSUPPORTED, "low I/O priority is not available on this system");
#endif
}

void pf_format_local_time(int64_t wall_ns, char *buf, size_t len)
{
    time_t t = (time_t)(wall_ns / 1000000000LL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d %H%M%S", &tm);
}

void pf_format_utc_time(int64_t wall_ns, char *buf, size_t len)
{
    time_t t = (time_t)(wall_ns / 1000000000LL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

uint64_t pf_random_u64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v) {
        /* Entropy pool not ready (early boot): the value only has to be
         * unlikely to repeat, and creating the file checks for a clash. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        v = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 16);
    }
    return v;
}

unsigned long pf_process_id(void) { return (unsigned long)getpid(); }
