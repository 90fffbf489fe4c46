/*
 * snapshot_record.c - durable records of snapshot artifacts, and the sweep
 * that removes the artifacts a killed run left behind.
 *
 * Format: one text file per session, "<provider>-<pid>-<time>-<random>.rec",
 * UTF-8, '\n'-terminated lines:
 *     line 1      the provider name ("btrfs")
 *     line 2...   one artifact per line, in the provider's own notation
 *
 * Crash safety rests on three rules:
 *   - a record becomes visible under its ".rec" name only once its provider
 *     line is on disk (it is written as "<name>.rec.tmp" and renamed);
 *   - snap_record_add returns only after the line is fsync'd, and providers
 *     create an artifact only after snap_record_add returned, so a line cut
 *     short by a crash names an artifact that was never made;
 *   - the owning session holds an exclusive flock on its record for as long
 *     as the handle is open. The kernel drops it when the process dies, so
 *     the sweep can tell a live run's record (locked: leave it alone) from a
 *     dead one's (unlocked: clean up), even with several runs sharing the
 *     folder.
 */
#include "snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RECORD_SUFFIX ".rec"
#define PENDING_SUFFIX ".rec.tmp"
/* A record names a handful of artifacts; anything this big is not ours. */
#define RECORD_MAX_BYTES (1024 * 1024)
/* Longest line accepted: a Linux path (PATH_MAX) fits, binary junk does not. */
#define LINE_MAX_BYTES 4096

struct snap_record {
    int dir_fd;   /* the records folder: fsync'd after names change */
    int fd;       /* O_APPEND; holds the session's flock */
    off_t size;   /* bytes known to be complete, to undo a failed append */
    int broken;   /* an append failed and could not be undone */
    char *path;   /* "<records_dir>/<name>", for messages */
    const char *name; /* the file name part of path */
};

static ps_status errno_status(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR: return PS_ERR_NOTFOUND;
    case EACCES:
    case EPERM:
    case EROFS: return PS_ERR_ACCESS;
    case ENOSPC:
    case EDQUOT: return PS_ERR_NOSPACE;
    case ENOMEM: return PS_ERR_NOMEM;
    case ELOOP: return PS_ERR_UNSAFE;
    default: return PS_ERR_IO;
    }
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && memcmp(s + n - m, suffix, m) == 0;
}

static int utf8_valid(const unsigned char *s, size_t n)
{
    static const unsigned long min[] = {0, 0x80, 0x800, 0x10000};
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t extra = c < 0x80                ? 0
                       : (c & 0xE0) == 0xC0 ? 1
                       : (c & 0xF0) == 0xE0 ? 2
                       : (c & 0xF8) == 0xF0 ? 3
                                            : 4;
        if (extra == 4 || n - i <= extra)
            return 0;
        unsigned long cp = extra ? c & (0x3Fu >> extra) : c;
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        /* Overlong forms and surrogates are how junk passes for text. */
        if (cp < min[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += extra + 1;
    }
    return 1;
}

/* Why `line` cannot be a record line, or NULL if it can. The writer and the
 * sweep share this test, so nothing snap_record_add accepts is ever judged
 * damaged later. */
static const char *line_problem(const char *line, size_t len)
{
    if (len == 0)
        return "empty line";
    if (len > LINE_MAX_BYTES)
        return "line too long";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x20 || c == 0x7F)
            return "control character";
    }
    if (!utf8_valid((const unsigned char *)line, len))
        return "not valid UTF-8";
    return NULL;
}

/* Provider names end up in file names: keep them to [a-z0-9_]. */
static int provider_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > 32)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

static unsigned long long random_u64(void)
{
    unsigned long long v = 0;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v) {
        /* Entropy pool not ready (early boot): the value only has to be
         * unlikely to repeat, and O_EXCL catches the rare clash anyway. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        v = ((unsigned long long)ts.tv_sec << 32) ^ (unsigned long long)ts.tv_nsec ^
            ((unsigned long long)getpid() << 16);
    }
    return v;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* fsync the folder holding `path` (which must contain a '/'), so that a
 * folder just made there survives a power cut. */
static int fsync_parent(char *path)
{
    char *slash = strrchr(path, '/');
    char saved = slash[1];
    slash[1] = '\0';
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    slash[1] = saved;
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* mkdir -p with 0700: records name snapshot paths, which are nobody else's
 * business. A folder just made has its name flushed too, or a power cut
 * could take the records inside it along. */
static ps_status make_dirs(const char *dir, ps_err *err)
{
    char *p = strdup(dir);
    if (!p)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    ps_status st = PS_OK;
    for (char *s = p + 1; st == PS_OK; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char saved = *s;
        *s = '\0';
        if (mkdir(p, 0700) == 0 ? strchr(p, '/') && fsync_parent(p) != 0 : errno != EEXIST)
            st = ps_err_set(err, errno_status(errno),
                            "cannot create snapshot record folder '%s': %s", p, strerror(errno));
        *s = saved;
        if (saved == '\0')
            break;
    }
    free(p);
    return st;
}

static void record_free(snap_record *rec)
{
    if (rec->fd >= 0)
        close(rec->fd);
    if (rec->dir_fd >= 0)
        close(rec->dir_fd);
    free(rec->path);
    free(rec);
}

/* Create "<name>.rec.tmp", lock it and write the provider line. */
static ps_status create_pending(snap_record *rec, const char *dir, const char *provider,
                                char *pending, size_t pending_size, ps_err *err)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        snprintf(pending, pending_size, "%s-%ld-%lld-%016llx" PENDING_SUFFIX, provider,
                 (long)getpid(), (long long)time(NULL), random_u64());
        rec->fd = openat(rec->dir_fd, pending,
                         O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (rec->fd >= 0 || errno != EEXIST)
            break;
    }
    if (rec->fd < 0)
        return ps_err_set(err, errno_status(errno), "cannot create snapshot record in '%s': %s",
                          dir, strerror(errno));

    size_t len = strlen(provider);
    char line[40];
    memcpy(line, provider, len);
    line[len] = '\n';
    /* The lock is taken before the record gets the name the sweep looks
     * for, so the sweep never sees this session's record unlocked. */
    if (flock(rec->fd, LOCK_EX | LOCK_NB) != 0 || write_all(rec->fd, line, len + 1) != 0 ||
        fsync(rec->fd) != 0) {
        int e = errno;
        unlinkat(rec->dir_fd, pending, 0);
        return ps_err_set(err, errno_status(e), "cannot write snapshot record '%s/%s': %s", dir,
                          pending, strerror(e));
    }
    rec->size = (off_t)(len + 1);
    return PS_OK;
}

ps_status snap_record_open(const char *records_dir, const char *provider, snap_record **out,
                           ps_err *err)
{
    if (!out)
        return ps_err_set(err, PS_ERR_INVALID, "snap_record_open: no output pointer");
    *out = NULL;
    if (!records_dir || !*records_dir || !provider ||
        !provider_name_valid(provider, strlen(provider)))
        return ps_err_set(err, PS_ERR_INVALID, "cannot open a snapshot record for provider '%s'",
                          provider ? provider : "(null)");
    ps_status st = make_dirs(records_dir, err);
    if (st != PS_OK)
        return st;

    snap_record *rec = calloc(1, sizeof *rec);
    if (!rec)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    rec->fd = -1;
    rec->dir_fd = open(records_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rec->dir_fd < 0) {
        int e = errno;
        record_free(rec);
        return ps_err_set(err, errno_status(e), "cannot open snapshot record folder '%s': %s",
                          records_dir, strerror(e));
    }

    char pending[128];
    st = create_pending(rec, records_dir, provider, pending, sizeof pending, err);
    if (st != PS_OK) {
        record_free(rec);
        return st;
    }

    size_t base = strlen(pending) - strlen(PENDING_SUFFIX);
    char final_name[128];
    snprintf(final_name, sizeof final_name, "%.*s" RECORD_SUFFIX, (int)base, pending);
    if (renameat(rec->dir_fd, pending, rec->dir_fd, final_name) != 0 || fsync(rec->dir_fd) != 0) {
        int e = errno;
        unlinkat(rec->dir_fd, pending, 0);
        unlinkat(rec->dir_fd, final_name, 0);
        record_free(rec);
        return ps_err_set(err, errno_status(e), "cannot publish snapshot record '%s/%s': %s",
                          records_dir, final_name, strerror(e));
    }

    size_t n = strlen(records_dir) + 1 + strlen(final_name) + 1;
    rec->path = malloc(n);
    if (!rec->path) {
        unlinkat(rec->dir_fd, final_name, 0);
        record_free(rec);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    snprintf(rec->path, n, "%s/%s", records_dir, final_name);
    rec->name = rec->path + n - 1 - strlen(final_name);
    *out = rec;
    return PS_OK;
}

ps_status snap_record_add(snap_record *record, const char *artifact, ps_err *err)
{
    if (!record || !artifact)
        return ps_err_set(err, PS_ERR_INVALID, "snap_record_add: no record or artifact");
    if (record->broken)
        return ps_err_set(err, PS_ERR_IO,
                          "snapshot record '%s' is unusable after an earlier write error",
                          record->path);
    size_t len = strlen(artifact);
    const char *why = line_problem(artifact, len);
    if (why)
        return ps_err_set(err, PS_ERR_INVALID,
                          "cannot record snapshot artifact '%.200s' in '%s': %s", artifact,
                          record->path, why);

    char *line = malloc(len + 1);
    if (!line)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    memcpy(line, artifact, len);
    line[len] = '\n';
    /* One write, so a kill leaves either nothing or a prefix of the line;
     * the sweep ignores an unterminated last line. */
    int rc = write_all(record->fd, line, len + 1);
    int e = errno;
    free(line);
    if (rc != 0) {
        /* Cut the half-written line off so later lines still parse. */
        if (ftruncate(record->fd, record->size) != 0)
            record->broken = 1;
        return ps_err_set(err, errno_status(e), "cannot write snapshot record '%s': %s",
                          record->path, strerror(e));
    }
    if (fsync(record->fd) != 0) {
        e = errno;
        /* After a failed fsync the page cache no longer says what is on
         * disk; refuse further appends rather than build on it. */
        record->broken = 1;
        return ps_err_set(err, errno_status(e), "cannot flush snapshot record '%s': %s",
                          record->path, strerror(e));
    }
    record->size += (off_t)(len + 1);
    return PS_OK;
}

ps_status snap_record_discard(snap_record *record, ps_err *err)
{
    if (!record)
        return PS_OK;
    ps_status st = PS_OK;
    /* Unlink while still holding the lock, so a concurrent sweep never finds
     * this record unlocked and still listed. */
    if (unlinkat(record->dir_fd, record->name, 0) != 0 && errno != ENOENT) {
        st = ps_err_set(err, errno_status(errno), "cannot delete snapshot record '%s': %s",
                        record->path, strerror(errno));
    } else {
        /* A failed flush is harmless here: if the name comes back after a
         * power cut, the next sweep finds its artifacts already gone. */
        (void)fsync(record->dir_fd);
    }
    record_free(record);
    return st;
}

void snap_record_close(snap_record *record)
{
    if (record)
        record_free(record);
}

/* --- the orphan sweep ---------------------------------------------------- */

typedef struct sweep {
    const char *dir;
    int dir_fd;
    size_t removed;
    size_t problems;
    ps_err first; /* the first problem, reported to the caller */
} sweep;

/* Note a problem; only the first one's text reaches the caller. */
static void sweep_problem(sweep *sw, ps_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void sweep_problem(sweep *sw, ps_status code, const char *fmt, ...)
{
    if (sw->problems++ > 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sw->first.msg, sizeof sw->first.msg, fmt, ap);
    va_end(ap);
    sw->first.code = code;
}

/* Open and lock one entry: the fd, or -1 when there is nothing to do (a
 * live session holds it, it went away meanwhile, or it is not a file). */
static int open_locked(sweep *sw, const char *name)
{
    int fd = openat(sw->dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        if (errno != ENOENT)
            sweep_problem(sw, errno == ELOOP ? PS_ERR_UNSAFE : errno_status(errno),
                          "cannot open snapshot record '%s/%s': %s", sw->dir, name,
                          errno == ELOOP ? "it is a symbolic link; left alone" : strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        sweep_problem(sw, PS_ERR_UNSAFE, "'%s/%s' is not a regular file, so not a snapshot "
                      "record; left alone", sw->dir, name);
    } else if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK)
            sweep_problem(sw, PS_ERR_IO, "cannot lock snapshot record '%s/%s': %s", sw->dir,
                          name, strerror(errno));
    } else if (fstat(fd, &st) == 0 && st.st_nlink > 0) {
        /* (nlink 0: the owner discarded the record between our open and our
         * lock; it is finished with, not orphaned.) */
        return fd;
    }
    close(fd);
    return -1;
}

static void delete_entry(sweep *sw, const char *name)
{
    if (unlinkat(sw->dir_fd, name, 0) != 0 && errno != ENOENT)
        sweep_problem(sw, errno_status(errno), "cannot delete snapshot record '%s/%s': %s",
                      sw->dir, name, strerror(errno));
    else
        (void)fsync(sw->dir_fd); /* as in snap_record_discard */
}

/* Read the whole record into a NUL-terminated buffer. */
static char *read_record(sweep *sw, const char *name, int fd, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        sweep_problem(sw, PS_ERR_IO, "cannot read snapshot record '%s/%s': %s", sw->dir, name,
                      strerror(errno));
        return NULL;
    }
    if (st.st_size > RECORD_MAX_BYTES) {
        sweep_problem(sw, PS_ERR_CORRUPT,
                      "snapshot record '%s/%s' is too large (%lld bytes) to be a record; kept it",
                      sw->dir, name, (long long)st.st_size);
        return NULL;
    }
    size_t size = (size_t)st.st_size, got = 0;
    char *buf = malloc(size + 1);
    if (!buf) {
        sweep_problem(sw, PS_ERR_NOMEM, "out of memory reading '%s/%s'", sw->dir, name);
        return NULL;
    }
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            sweep_problem(sw, PS_ERR_IO, "cannot read snapshot record '%s/%s': %s", sw->dir,
                          name, n < 0 ? strerror(errno) : "it shrank while being read");
            free(buf);
            return NULL;
        }
        got += (size_t)n;
    }
    buf[got] = '\0';
    *len = got;
    return buf;
}

/* Check the complete lines in buf[0..len) and cut them at their '\n'.
 * Returns the number of lines, or 0 after reporting damage. */
static size_t split_lines(sweep *sw, const char *name, char *buf, size_t len)
{
    size_t line_no = 0;
    for (char *p = buf; p < buf + len;) {
        char *nl = memchr(p, '\n', (size_t)(buf + len - p));
        const char *why = line_problem(p, (size_t)(nl - p));
        line_no++;
        if (!why && line_no == 1 && !provider_name_valid(p, (size_t)(nl - p)))
            why = "not a provider name";
        if (why) {
            sweep_problem(sw, PS_ERR_CORRUPT,
                          "snapshot record '%s/%s' is damaged (line %zu: %s); kept it: delete "
                          "it by hand once the snapshots it names are gone",
                          sw->dir, name, line_no, why);
            return 0;
        }
        *nl = '\0';
        p = nl + 1;
    }
    return line_no;
}

/* Hand the artifacts to their provider, newest first (undo order); delete
 * the record only if every one of them is gone. */
static void remove_artifacts(sweep *sw, const char *name, const snap_provider *provider,
                             char *first, const char *end, size_t count)
{
    char **artifacts = calloc(count ? count : 1, sizeof *artifacts);
    if (!artifacts) {
        sweep_problem(sw, PS_ERR_NOMEM, "out of memory sweeping '%s/%s'", sw->dir, name);
        return;
    }
    size_t n = 0, failed = 0;
    for (char *p = first; p < end && n < count; p += strlen(p) + 1)
        artifacts[n++] = p;
    while (n-- > 0) {
        ps_err e;
        ps_err_clear(&e);
        if (provider->remove_artifact(artifacts[n], &e) == PS_OK) {
            sw->removed++;
        } else {
            failed++;
            sweep_problem(sw, e.code, "snapshot record '%s/%s' kept: %s", sw->dir, name, e.msg);
        }
    }
    free(artifacts);
    if (failed == 0)
        delete_entry(sw, name);
}

static void sweep_record(sweep *sw, const char *name, int fd)
{
    size_t len = 0;
    char *buf = read_record(sw, name, fd, &len);
    if (!buf)
        return;
    /* Bytes after the last '\n' are an append cut short by a crash: its
     * snap_record_add never returned, so that artifact was never made. */
    char *last_nl = len ? memrchr(buf, '\n', len) : NULL;
    size_t complete = last_nl ? (size_t)(last_nl - buf) + 1 : 0;
    size_t lines = complete ? split_lines(sw, name, buf, complete) : 0;
    if (complete == 0) {
        /* Empty, or even the provider line is unfinished: nothing recorded. */
        delete_entry(sw, name);
    } else if (lines > 0) {
        const snap_provider *provider = snapshot_provider_by_name(buf);
        if (provider)
            remove_artifacts(sw, name, provider, buf + strlen(buf) + 1, buf + complete,
                             lines - 1);
        else
            sweep_problem(sw, PS_ERR_UNSUPPORTED,
                          "snapshot record '%s/%s' belongs to provider '%s', which this build "
                          "does not have; kept it",
                          sw->dir, name, buf);
    }
    free(buf);
}

static void sweep_entry(sweep *sw, const char *name)
{
    int pending = ends_with(name, PENDING_SUFFIX);
    if (!pending && !ends_with(name, RECORD_SUFFIX))
        return; /* not ours */
    int fd = open_locked(sw, name);
    if (fd < 0)
        return;
    if (pending)
        delete_entry(sw, name); /* killed inside snap_record_open: no artifacts yet */
    else
        sweep_record(sw, name, fd);
    close(fd); /* drops the lock after the unlink, as snap_record_discard does */
}

ps_status snapshot_remove_orphans(const char *records_dir, size_t *removed, ps_err *err)
{
    if (removed)
        *removed = 0;
    if (!records_dir || !*records_dir)
        return ps_err_set(err, PS_ERR_INVALID, "no snapshot record folder given");
    DIR *d = opendir(records_dir);
    if (!d) {
        if (errno == ENOENT)
            return PS_OK; /* never made a snapshot here */
        return ps_err_set(err, errno_status(errno), "cannot list snapshot records in '%s': %s",
                          records_dir, strerror(errno));
    }
    sweep sw = {.dir = records_dir, .dir_fd = dirfd(d)};
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        sweep_entry(&sw, de->d_name);
    closedir(d);

    if (removed)
        *removed = sw.removed;
    if (sw.problems == 0)
        return PS_OK;
    if (sw.problems == 1)
        return ps_err_set(err, sw.first.code, "%s", sw.first.msg);
    return ps_err_set(err, sw.first.code, "%s (and %zu more snapshot record problems in '%s')",
                      sw.first.msg, sw.problems - 1, records_dir);
}
