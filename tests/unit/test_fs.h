/*
 * test_fs.h - file-system helpers the engine's unit tests need on POSIX and
 * on Windows (under Wine): times, sizes, links, folders. Header-only, so
 * each test includes what it uses and nothing is added to the build.
 *
 * Paths are UTF-8. Every helper fails the test (cmocka) on an unexpected
 * error, except ts_symlink, which returns -1 where links cannot be made
 * (Windows without the privilege or developer mode): the caller skips.
 */
#ifndef PS_TEST_FS_H
#define PS_TEST_FS_H

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "platform.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

/* pf_lstat, failing the test on error. */
static inline pf_stat ts_stat(const char *path)
{
    pf_stat st;
    ps_err err;
    if (pf_lstat(path, &st, &err) != PS_OK)
        fail_msg("%s", err.msg);
    return st;
}

static inline int64_t ts_mtime_ns(const char *path) { return ts_stat(path).mtime_ns; }

#ifdef _WIN32
static inline wchar_t *ts_wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
    wchar_t *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
    if (!w || MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n) != n)
        fail_msg("path '%s' is not valid UTF-8", s);
    return w;
}
#endif

/* Set the file's mtime (and atime) to `ns` nanoseconds since 1970. */
static inline void ts_set_mtime_ns(const char *path, int64_t ns)
{
#ifdef _WIN32
    uint64_t t = (uint64_t)(ns / 100 + 116444736000000000LL);
    FILETIME ft = {.dwLowDateTime = (DWORD)t, .dwHighDateTime = (DWORD)(t >> 32)};
    wchar_t *w = ts_wide(path);
    HANDLE h = CreateFileW(w, FILE_WRITE_ATTRIBUTES,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                           OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
    free(w);
    if (h == INVALID_HANDLE_VALUE || !SetFileTime(h, NULL, &ft, &ft))
        fail_msg("cannot set the time of '%s': error %lu", path, GetLastError());
    CloseHandle(h);
#else
    struct timespec ts[2];
    ts[0].tv_sec = (time_t)(ns / 1000000000LL);
    ts[0].tv_nsec = (long)(ns % 1000000000LL);
    ts[1] = ts[0];
    if (utimensat(AT_FDCWD, path, ts, 0) != 0)
        fail_msg("cannot set the time of '%s'", path);
#endif
}

/* Set the mtime to `sec` seconds before now (negative: the future). */
static inline void ts_set_mtime_ago(const char *path, int sec)
{
    ts_set_mtime_ns(path, pf_wall_ns() - (int64_t)sec * 1000000000LL);
}

/* A symbolic link at `link` to the file `target`: 0, or -1 when this
 * system will not make one (the caller then skips what needs it). */
static inline int ts_symlink(const char *target, const char *link, int is_dir)
{
#ifdef _WIN32
    wchar_t *wt = ts_wide(target), *wl = ts_wide(link);
    BOOLEAN ok = CreateSymbolicLinkW(wl, wt,
                                     (is_dir ? SYMBOLIC_LINK_FLAG_DIRECTORY : 0) |
                                         SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE);
    free(wt);
    free(wl);
    /* Wine 8 answers TRUE and makes nothing (it has no reparse points):
     * only a link that is really there counts. */
    DWORD attrs = INVALID_FILE_ATTRIBUTES;
    if (ok) {
        wchar_t *w = ts_wide(link);
        attrs = GetFileAttributesW(w);
        free(w);
    }
    return ok && attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_REPARSE_POINT) ? 0 : -1;
#else
    (void)is_dir;
    return symlink(target, link);
#endif
}

/* truncate(2): set the size of an existing file. 0 or -1. */
static inline int ts_truncate(const char *path, uint64_t size)
{
    pf_file *f = NULL;
    int created = 0;
    if (pf_open_write(path, &f, &created, NULL) != PS_OK)
        return -1;
    int rc = pf_truncate(f, size, NULL) == PS_OK ? 0 : -1;
    pf_close(f, NULL);
    return rc;
}

/* Number of entries in `dir` (without "." and ".."). */
static inline size_t ts_count_entries(const char *dir)
{
    pf_dir *d = NULL;
    ps_err err;
    if (pf_dir_open(dir, &d, &err) != PS_OK)
        fail_msg("%s", err.msg);
    size_t n = 0;
    const char *name;
    pf_kind kind;
    while (pf_dir_next(d, &name, &kind, &err) == PS_OK && name)
        n++;
    pf_dir_close(d);
    return n;
}

/* mkdir, 0755 on POSIX. 0 or -1. */
static inline int ts_mkdir(const char *path)
{
#ifdef _WIN32
    wchar_t *w = ts_wide(path);
    BOOL ok = CreateDirectoryW(w, NULL);
    free(w);
    return ok ? 0 : -1;
#else
    return mkdir(path, 0755);
#endif
}

#endif /* PS_TEST_FS_H */
