/* Win32 implementation of platform.h: files, reading and writing. */
#include <stdlib.h>
#include <string.h>

#include "pf_win32.h"

/* Every handle lets others read, write, rename and delete: Outlook must be
 * able to go on writing a PST we read, and a record or staging file we hold
 * open must stay renamable and removable by path. */
#define SHARE_ALL (FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)

static ps_status info_of(HANDLE h, const char *path, BY_HANDLE_FILE_INFORMATION *info, ps_err *err)
{
    if (!GetFileInformationByHandle(h, info))
        return pfw_err(err, GetLastError(), "cannot examine", path);
    return PS_OK;
}

ps_status pf_lstat(const char *path, pf_stat *st, ps_err *err)
{
    wchar_t *w;
    ps_status s = pfw_path_err(path, &w, err);
    if (s != PS_OK)
        return s;
    /* Attribute-only access is not subject to share modes, so this works on
     * a PST Outlook holds exclusively. OPEN_REPARSE_POINT: the link itself,
     * never its target; BACKUP_SEMANTICS: folders open too. */
    HANDLE h = CreateFileW(w, FILE_READ_ATTRIBUTES, SHARE_ALL, NULL, OPEN_EXISTING,
                           FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, NULL);
    if (h != INVALID_HANDLE_VALUE) {
        BY_HANDLE_FILE_INFORMATION info;
        s = info_of(h, path, &info, err);
        CloseHandle(h);
        free(w);
        if (s == PS_OK)
            pfw_stat_from(&info, st);
        return s;
    }
    DWORD e = GetLastError();
    /* Some file systems (and some filters) still refuse the open: fall back
     * to the directory entry, which has everything but the file identity. */
    WIN32_FILE_ATTRIBUTE_DATA a;
    if ((e == ERROR_SHARING_VIOLATION || e == ERROR_ACCESS_DENIED) &&
        GetFileAttributesExW(w, GetFileExInfoStandard, &a)) {
        free(w);
        BY_HANDLE_FILE_INFORMATION info;
        memset(&info, 0, sizeof info);
        info.dwFileAttributes = a.dwFileAttributes;
        info.ftLastWriteTime = a.ftLastWriteTime;
        info.nFileSizeHigh = a.nFileSizeHigh;
        info.nFileSizeLow = a.nFileSizeLow;
        info.nNumberOfLinks = 1;
        pfw_stat_from(&info, st);
        return PS_OK;
    }
    free(w);
    return pfw_err(err, e, "cannot examine", path);
}

static ps_status wrap(HANDLE h, const char *path, pf_file **out, ps_err *err)
{
    pf_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = _strdup(path))) {
        free(f);
        CloseHandle(h);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory opening '%s'", path);
    }
    f->h = h;
    *out = f;
    return PS_OK;
}

/* What was opened must be a plain file: not a folder, device or pipe, and
 * not a reparse point (opened as itself because of OPEN_REPARSE_POINT). */
static ps_status check_regular(HANDLE h, const char *what, const char *path, ps_err *err)
{
    BY_HANDLE_FILE_INFORMATION info;
    if (GetFileType(h) != FILE_TYPE_DISK)
        return ps_err_set(err, PS_ERR_UNSAFE, "%s '%s': not a regular file", what, path);
    ps_status s = info_of(h, path, &info, err);
    if (s != PS_OK)
        return s;
    if (info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT)
        return ps_err_set(err, PS_ERR_UNSAFE,
                          "%s '%s': it is a symbolic link, junction or other reparse point, which "
                          "is never followed",
                          what, path);
    if (info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
        return ps_err_set(err, PS_ERR_UNSAFE, "%s '%s': not a regular file", what, path);
    return PS_OK;
}

ps_status pf_open_read(const char *path, pf_file **out, ps_err *err)
{
    wchar_t *w;
    ps_status s = pfw_path_err(path, &w, err);
    if (s != PS_OK)
        return s;
    HANDLE h = CreateFileW(w, GENERIC_READ, SHARE_ALL, NULL, OPEN_EXISTING,
                           FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_SEQUENTIAL_SCAN, NULL);
    DWORD e = GetLastError();
    free(w);
    if (h == INVALID_HANDLE_VALUE)
        return pfw_err(err, e, "cannot open", path);
    s = check_regular(h, "cannot open", path, err);
    if (s != PS_OK) {
        CloseHandle(h);
        return s;
    }
    pfw_apply_io_priority(h);
    return wrap(h, path, out, err);
}

ps_status pf_pread(pf_file *f, void *buf, size_t len, uint64_t off, size_t *got, ps_err *err)
{
    size_t done = 0;
    while (done < len) {
        uint64_t at = off + done;
        OVERLAPPED ov;
        memset(&ov, 0, sizeof ov);
        ov.Offset = (DWORD)at;
        ov.OffsetHigh = (DWORD)(at >> 32);
        size_t want = len - done;
        DWORD chunk = want > 0x40000000u ? 0x40000000u : (DWORD)want, n = 0;
        if (!ReadFile(f->h, (char *)buf + done, chunk, &n, &ov)) {
            DWORD e = GetLastError();
            if (e == ERROR_HANDLE_EOF)
                break;
            *got = done;
            return pfw_err(err, e, "cannot read", f->path);
        }
        if (n == 0)
            break;
        done += n;
    }
    *got = done;
    return PS_OK;
}

ps_status pf_fstat(pf_file *f, pf_stat *st, ps_err *err)
{
    BY_HANDLE_FILE_INFORMATION info;
    ps_status s = info_of(f->h, f->path, &info, err);
    if (s == PS_OK)
        pfw_stat_from(&info, st);
    return s;
}

void pf_advise_sequential(pf_file *f)
{
    (void)f; /* FILE_FLAG_SEQUENTIAL_SCAN was given at open */
}

ps_status pf_open_write(const char *path, pf_file **out, int *created, ps_err *err)
{
    wchar_t *w;
    ps_status s = pfw_path_err(path, &w, err);
    if (s != PS_OK)
        return s;
    /* New files inherit the folder's ACL: the state folder is the user's
     * own, and backups must stay readable by the user they belong to. */
    HANDLE h = CreateFileW(w, GENERIC_READ | GENERIC_WRITE, SHARE_ALL, NULL, OPEN_ALWAYS,
                           FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
    DWORD e = GetLastError();
    free(w);
    if (h == INVALID_HANDLE_VALUE)
        return pfw_err(err, e, "cannot open for writing", path);
    s = check_regular(h, "cannot write", path, err);
    if (s != PS_OK) {
        CloseHandle(h);
        return s;
    }
    if (created)
        *created = e != ERROR_ALREADY_EXISTS;
    pfw_apply_io_priority(h);
    return wrap(h, path, out, err);
}

ps_status pf_pwrite(pf_file *f, const void *buf, size_t len, uint64_t off, ps_err *err)
{
    size_t done = 0;
    while (done < len) {
        uint64_t at = off + done;
        OVERLAPPED ov;
        memset(&ov, 0, sizeof ov);
        ov.Offset = (DWORD)at;
        ov.OffsetHigh = (DWORD)(at >> 32);
        size_t want = len - done;
        DWORD chunk = want > 0x40000000u ? 0x40000000u : (DWORD)want, n = 0;
        if (!WriteFile(f->h, (const char *)buf + done, chunk, &n, &ov))
            return pfw_err(err, GetLastError(), "cannot write", f->path);
        if (n == 0)
            return ps_err_set(err, PS_ERR_IO, "cannot write '%s': no progress", f->path);
        done += n; /* a short write is retried for the rest */
    }
    return PS_OK;
}

ps_status pf_truncate(pf_file *f, uint64_t size, ps_err *err)
{
    FILE_END_OF_FILE_INFO eof;
    eof.EndOfFile.QuadPart = (LONGLONG)size;
    if (!SetFileInformationByHandle(f->h, FileEndOfFileInfo, &eof, sizeof eof))
        return pfw_err(err, GetLastError(), "cannot set the size of", f->path);
    return PS_OK;
}

ps_status pf_sync(pf_file *f, ps_err *err)
{
    if (!FlushFileBuffers(f->h))
        return pfw_err(err, GetLastError(), "cannot flush", f->path);
    return PS_OK;
}

ps_status pf_close(pf_file *f, ps_err *err)
{
    if (!f)
        return PS_OK;
    ps_status st = PS_OK;
    if (!CloseHandle(f->h))
        st = pfw_err(err, GetLastError(), "cannot close", f->path);
    free(f->path);
    free(f);
    return st;
}

/* The lock is one byte far beyond any real end of file. Windows byte-range
 * locks are mandatory: locking the data itself would make every read of it
 * through another handle fail with ERROR_LOCK_VIOLATION, and a record must
 * stay readable. A lock past the end is allowed and conflicts only with
 * another lock of the same byte. */
#define LOCK_OFFSET_HIGH 0x40000000u

ps_status pf_file_trylock(pf_file *f, ps_err *err)
{
    OVERLAPPED ov;
    memset(&ov, 0, sizeof ov);
    ov.OffsetHigh = LOCK_OFFSET_HIGH;
    if (LockFileEx(f->h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ov))
        return PS_OK;
    DWORD e = GetLastError();
    if (e == ERROR_LOCK_VIOLATION || e == ERROR_IO_PENDING)
        return ps_err_set(err, PS_ERR_BUSY, "'%s' is locked by another run", f->path);
    return pfw_err(err, e, "cannot lock", f->path);
}
