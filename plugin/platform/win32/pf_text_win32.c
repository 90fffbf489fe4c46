/* Win32 platform: UTF-8 <-> UTF-16 and error messages (see pf_win32.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf_win32.h"

/* Newer than mingw-w64's winerror.h. */
#ifndef ERROR_DISK_QUOTA_EXCEEDED
#define ERROR_DISK_QUOTA_EXCEEDED 1295L
#endif
#ifndef ERROR_STOPPED_ON_SYMLINK
#define ERROR_STOPPED_ON_SYMLINK 681L
#endif

wchar_t *pfw_utf16(const char *s)
{
    /* MB_ERR_INVALID_CHARS: invalid input fails instead of becoming U+FFFD. */
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
    if (n <= 0)
        return NULL;
    wchar_t *w = malloc((size_t)n * sizeof *w);
    if (w && MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n) != n) {
        free(w);
        w = NULL;
    }
    return w;
}

char *pfw_utf8(const wchar_t *w, size_t len)
{
    if (len == (size_t)-1)
        len = wcslen(w);
    if (len > INT_MAX / 4)
        return NULL;
    if (len == 0)
        return calloc(1, 1);
    int n = WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, w, (int)len, NULL, 0, NULL, NULL);
    if (n <= 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s && WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, w, (int)len, s, n, NULL, NULL) != n) {
        free(s);
        return NULL;
    }
    if (s)
        s[n] = '\0';
    return s;
}

ps_status pfw_status(DWORD code)
{
    switch (code) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_BAD_NETPATH:
    case ERROR_BAD_NET_NAME:
    case ERROR_INVALID_DRIVE:
    case ERROR_DIRECTORY: return PS_ERR_NOTFOUND;
    case ERROR_ACCESS_DENIED:
    case ERROR_WRITE_PROTECT:
    case ERROR_PRIVILEGE_NOT_HELD:
    case ERROR_NETWORK_ACCESS_DENIED: return PS_ERR_ACCESS;
    /* Outlook opens its PSTs with no sharing, and locks byte ranges: both
     * mean "read it from a snapshot", not "the disk is failing". */
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION: return PS_ERR_LOCKED;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
    case ERROR_DISK_QUOTA_EXCEEDED: return PS_ERR_NOSPACE;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY: return PS_ERR_NOMEM;
    case ERROR_CANT_ACCESS_FILE:
    case ERROR_CANT_RESOLVE_FILENAME:
    case ERROR_STOPPED_ON_SYMLINK:
    case ERROR_REPARSE_TAG_INVALID: return PS_ERR_UNSAFE;
    case ERROR_NOT_SUPPORTED:
    case ERROR_INVALID_FUNCTION: return PS_ERR_UNSUPPORTED;
    default: return PS_ERR_IO;
    }
}

void pfw_message(DWORD code, char *buf, size_t len)
{
    wchar_t *text = NULL;
    DWORD n = FormatMessageW(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM |
                                 FORMAT_MESSAGE_IGNORE_INSERTS,
                             NULL, code, 0, (LPWSTR)&text, 0, NULL);
    char *utf8 = n ? pfw_utf8(text, n) : NULL;
    if (text)
        LocalFree(text);
    if (!utf8) {
        snprintf(buf, len, "Windows error %lu", (unsigned long)code);
        return;
    }
    /* System messages end in ".\r\n"; ours go on after them. */
    size_t end = strlen(utf8);
    while (end && (utf8[end - 1] == '\n' || utf8[end - 1] == '\r' || utf8[end - 1] == ' ' ||
                   utf8[end - 1] == '.'))
        end--;
    snprintf(buf, len, "%.*s (error %lu)", (int)end, utf8, (unsigned long)code);
    free(utf8);
}

ps_status pfw_err(ps_err *err, DWORD code, const char *what, const char *path)
{
    ps_status st = pfw_status(code);
    if (st == PS_ERR_LOCKED)
        return ps_err_set(err, st,
                          "%s '%s': locked by another process (Outlook keeps its PSTs open); it "
                          "can only be read from a snapshot: use snapshot 'auto' or 'vss' with "
                          "Run As System",
                          what, path);
    char why[512];
    pfw_message(code, why, sizeof why);
    return ps_err_set(err, st, "%s '%s': %s", what, path, why);
}

/* 1601-01-01 to 1970-01-01 in 100 ns units. */
#define EPOCH_DIFF_100NS 116444736000000000LL

int64_t pfw_filetime_ns(FILETIME ft)
{
    int64_t t = (int64_t)(((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime);
    return (t - EPOCH_DIFF_100NS) * 100;
}

FILETIME pfw_ns_filetime(int64_t ns)
{
    uint64_t t = (uint64_t)(ns / 100 + EPOCH_DIFF_100NS);
    FILETIME ft = {.dwLowDateTime = (DWORD)t, .dwHighDateTime = (DWORD)(t >> 32)};
    return ft;
}

void pfw_stat_from(const BY_HANDLE_FILE_INFORMATION *info, pf_stat *st)
{
    DWORD a = info->dwFileAttributes;
    st->kind = (a & FILE_ATTRIBUTE_REPARSE_POINT) ? PF_KIND_LINK
             : (a & FILE_ATTRIBUTE_DIRECTORY)     ? PF_KIND_DIR
             : (a & FILE_ATTRIBUTE_DEVICE)        ? PF_KIND_OTHER
                                                  : PF_KIND_FILE;
    st->size = ((uint64_t)info->nFileSizeHigh << 32) | info->nFileSizeLow;
    st->mtime_ns = pfw_filetime_ns(info->ftLastWriteTime);
    st->ctime_ns = 0; /* not in BY_HANDLE_FILE_INFORMATION */
    st->dev = info->dwVolumeSerialNumber;
    st->ino = ((uint64_t)info->nFileIndexHigh << 32) | info->nFileIndexLow;
    st->nlink = info->nNumberOfLinks;
    st->owner_uid = -1;
    /* A volume mount point or junction is a reparse point (kind LINK
     * above), and Windows mounts no single files: nothing else to flag. */
    st->mount_root = 0;
}
