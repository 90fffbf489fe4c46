/* Win32 implementation of platform.h: listing folders. */
#include <stdlib.h>
#include <string.h>

#include "pf_win32.h"

struct pf_dir {
    HANDLE dir;  /* the folder itself, held open while listing */
    HANDLE find; /* FindFirstFileExW's search */
    WIN32_FIND_DATAW data;
    int have;    /* data holds an entry not yet returned */
    char *name;  /* UTF-8 of the entry last returned */
    char *path;
};

ps_status pf_dir_open(const char *path, pf_dir **out, ps_err *err)
{
    wchar_t *w;
    ps_status s = pfw_path_err(path, &w, err);
    if (s != PS_OK)
        return s;
    /* Open the folder itself first, without following a reparse point, and
     * check it is a real folder. The handle is kept for the listing and
     * does not share delete access, so the folder cannot be renamed away
     * and replaced by a junction between this check and the listing. */
    HANDLE dir = CreateFileW(w, FILE_LIST_DIRECTORY | FILE_READ_ATTRIBUTES,
                             FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING,
                             FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
    if (dir == INVALID_HANDLE_VALUE) {
        DWORD e = GetLastError();
        free(w);
        return pfw_err(err, e, "cannot open folder", path);
    }
    BY_HANDLE_FILE_INFORMATION info;
    if (!GetFileInformationByHandle(dir, &info)) {
        DWORD e = GetLastError();
        CloseHandle(dir);
        free(w);
        return pfw_err(err, e, "cannot open folder", path);
    }
    if (info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT ||
        !(info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)) {
        CloseHandle(dir);
        free(w);
        return ps_err_set(err, PS_ERR_UNSAFE,
                          "cannot list '%s': not a folder (a junction, link or file), never "
                          "followed", path);
    }
    size_t n = wcslen(w);
    wchar_t *pattern = malloc((n + 3) * sizeof *pattern);
    pf_dir *d = calloc(1, sizeof *d);
    if (!pattern || !d || !(d->path = _strdup(path))) {
        free(pattern);
        if (d)
            free(d->path);
        free(d);
        free(w);
        CloseHandle(dir);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    memcpy(pattern, w, n * sizeof *w);
    if (n && pattern[n - 1] != L'\\')
        pattern[n++] = L'\\';
    pattern[n++] = L'*';
    pattern[n] = 0;
    free(w);
    /* Basic info: no 8.3 names wanted; large fetch: fewer round trips on
     * a folder redirected to a share. */
    d->find = FindFirstFileExW(pattern, FindExInfoBasic, &d->data, FindExSearchNameMatch, NULL,
                               FIND_FIRST_EX_LARGE_FETCH);
    free(pattern);
    if (d->find == INVALID_HANDLE_VALUE) {
        DWORD e = GetLastError();
        if (e != ERROR_FILE_NOT_FOUND && e != ERROR_NO_MORE_FILES) {
            CloseHandle(dir);
            free(d->path);
            free(d);
            return pfw_err(err, e, "cannot list folder", path);
        }
    } else {
        d->have = 1;
    }
    d->dir = dir;
    *out = d;
    return PS_OK;
}

ps_status pf_dir_next(pf_dir *d, const char **name, pf_kind *kind, ps_err *err)
{
    for (;;) {
        if (!d->have) {
            if (d->find == INVALID_HANDLE_VALUE || !FindNextFileW(d->find, &d->data)) {
                DWORD e = d->find == INVALID_HANDLE_VALUE ? ERROR_NO_MORE_FILES : GetLastError();
                *name = NULL;
                if (e != ERROR_NO_MORE_FILES)
                    return pfw_err(err, e, "cannot list folder", d->path);
                return PS_OK;
            }
        }
        d->have = 0;
        const wchar_t *wn = d->data.cFileName;
        if (!wcscmp(wn, L".") || !wcscmp(wn, L".."))
            continue;
        free(d->name);
        d->name = pfw_utf8(wn, (size_t)-1);
        DWORD a = d->data.dwFileAttributes;
        if (!d->name) {
            /* An unpaired surrogate: no UTF-8 name can reach this file
             * again, so report it (lossily named) as something to leave. */
            int n = WideCharToMultiByte(CP_UTF8, 0, wn, -1, NULL, 0, NULL, NULL);
            d->name = n > 0 ? malloc((size_t)n) : NULL;
            if (!d->name)
                return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
            WideCharToMultiByte(CP_UTF8, 0, wn, -1, d->name, n, NULL, NULL);
            *kind = PF_KIND_OTHER;
        } else {
            /* Any reparse point - symbolic link, junction, mount point - is
             * reported as a link and never entered or read through. */
            *kind = (a & FILE_ATTRIBUTE_REPARSE_POINT) ? PF_KIND_LINK
                  : (a & FILE_ATTRIBUTE_DIRECTORY)     ? PF_KIND_DIR
                  : (a & FILE_ATTRIBUTE_DEVICE)        ? PF_KIND_OTHER
                                                       : PF_KIND_FILE;
        }
        *name = d->name;
        return PS_OK;
    }
}

void pf_dir_close(pf_dir *d)
{
    if (!d)
        return;
    if (d->find != INVALID_HANDLE_VALUE)
        FindClose(d->find);
    CloseHandle(d->dir);
    free(d->name);
    free(d->path);
    free(d);
}
