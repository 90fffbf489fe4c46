/* Win32 implementation of platform.h: the per-destination lock. */
#include <stdlib.h>

#include "pf_win32.h"

struct pf_lock {
    HANDLE h;
};

ps_status pf_lock_acquire(const char *path, uint32_t wait_ms, pf_lock **out, ps_err *err)
{
    wchar_t *w;
    ps_status s = pfw_path_err(path, &w, err);
    if (s != PS_OK)
        return s;
    /* The lock is the open handle itself: share mode 0 makes every other
     * open fail with a sharing violation while we hold it, and Windows
     * closes the handle when the process dies, however it dies, so a
     * killed run never leaves the destination locked. */
    uint64_t deadline = pf_monotonic_ms() + wait_ms;
    HANDLE h;
    for (;;) {
        h = CreateFileW(w, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_ALWAYS,
                        FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
        if (h != INVALID_HANDLE_VALUE)
            break;
        DWORD e = GetLastError();
        if (e != ERROR_SHARING_VIOLATION && e != ERROR_LOCK_VIOLATION) {
            free(w);
            return pfw_err(err, e, "cannot open lock file", path);
        }
        if (pf_monotonic_ms() >= deadline) {
            free(w);
            return ps_err_set(err, PS_ERR_BUSY, "another backup holds the lock '%s'", path);
        }
        Sleep(50);
    }
    free(w);
    BY_HANDLE_FILE_INFORMATION info;
    if (!GetFileInformationByHandle(h, &info) ||
        (info.dwFileAttributes & (FILE_ATTRIBUTE_REPARSE_POINT | FILE_ATTRIBUTE_DIRECTORY))) {
        CloseHandle(h);
        return ps_err_set(err, PS_ERR_UNSAFE, "lock file '%s' is not a regular file", path);
    }
    pf_lock *l = malloc(sizeof *l);
    if (!l) {
        CloseHandle(h);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    l->h = h;
    *out = l;
    return PS_OK;
}

void pf_lock_release(pf_lock *l)
{
    if (!l)
        return;
    CloseHandle(l->h);
    free(l);
}
