/* Win32 platform: path syntax (drive letters, shares, "\\?\" long paths). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf_win32.h"

const char pf_sep = '\\';

static int is_sep(char c) { return c == '\\' || c == '/'; }

static int is_drive_letter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

/* "C:\" */
static int has_drive_root(const char *p) { return is_drive_letter(p[0]) && p[1] == ':' && is_sep(p[2]); }

/* "\\?\..." or "\\.\...": already in the form the W functions take. */
static int has_device_prefix(const char *p)
{
    return is_sep(p[0]) && is_sep(p[1]) && (p[2] == '?' || p[2] == '.') && is_sep(p[3]);
}

/* Length of the root of an absolute path, including its last separator
 * when present: "C:\" 3, "\\server\share\" up to after "share\",
 * "\\?\C:\" 7, "\\?\UNC\server\share\", "\\?\GLOBALROOT\Device\X\" (a
 * shadow copy: its root is the device). 0 for a relative path. */
size_t pfw_root_len(const char *p)
{
    size_t skip = 0; /* components after the prefix that belong to the root */
    size_t i;
    if (has_drive_root(p))
        return 3;
    if (has_device_prefix(p)) {
        i = 4;
        if (has_drive_root(p + 4))
            return 7;
        if (_strnicmp(p + 4, "UNC\\", 4) == 0) {
            i = 8;
            skip = 2;
        } else if (_strnicmp(p + 4, "GLOBALROOT\\", 11) == 0) {
            i = 15;
            skip = 2; /* Device\HarddiskVolumeShadowCopyN */
        } else {
            skip = 1; /* Volume{guid} */
        }
    } else if (is_sep(p[0]) && is_sep(p[1])) {
        i = 2;
        skip = 2; /* server\share */
    } else {
        return 0;
    }
    for (; skip > 0 && p[i]; skip--) {
        while (p[i] && !is_sep(p[i]))
            i++;
        if (p[i])
            i++;
    }
    return i;
}

char *pf_native_path(const char *path)
{
    char *p = strdup(path);
    if (!p)
        return NULL;
    if (has_device_prefix(p))
        return p; /* "\\?\" paths are taken literally by Windows too */
    /* Policies may use either separator; runs fold, except the two that
     * open a share name. */
    char *w = p;
    for (const char *r = p; *r; r++) {
        char c = *r == '/' ? '\\' : *r;
        if (c == '\\' && w > p + 1 && w[-1] == '\\')
            continue;
        *w++ = c;
    }
    *w = '\0';
    size_t root = pfw_root_len(p);
    while (w > p + root && w > p + 1 && w[-1] == '\\')
        *--w = '\0';
    return p;
}

char *pf_path_join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), n = dl + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s%s", dir, dl && is_sep(dir[dl - 1]) ? "" : "\\", name);
    return p;
}

const char *pf_basename(const char *path)
{
    const char *base = path + pfw_root_len(path);
    for (const char *s = base; *s; s++)
        if (is_sep(*s))
            base = s + 1;
    return base;
}

char *pf_dirname(const char *path)
{
    size_t root = pfw_root_len(path);
    const char *last = NULL;
    for (const char *s = path + root; *s; s++)
        if (is_sep(*s))
            last = s;
    if (!last) {
        /* Only the root before the name ("C:\\Mail.pst", a share's top):
         * the root is the folder. */
        char *d = root ? malloc(root + 1) : _strdup(".");
        if (d && root) {
            memcpy(d, path, root);
            d[root] = '\0';
        }
        return d;
    }
    size_t n = (size_t)(last - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

int pf_is_absolute(const char *path) { return pfw_root_len(path) > 0; }

/* Append the components of `rest` to out (which holds the root), dropping
 * "." and resolving ".." lexically without climbing above the root. */
static void append_components(char *out, size_t root, const char *rest)
{
    size_t len = strlen(out);
    const char *s = rest;
    while (*s) {
        while (is_sep(*s))
            s++;
        const char *e = s;
        while (*e && !is_sep(*e))
            e++;
        size_t n = (size_t)(e - s);
        if (n == 0)
            break;
        if (n == 1 && s[0] == '.') {
            /* nothing */
        } else if (n == 2 && s[0] == '.' && s[1] == '.') {
            while (len > root && out[len - 1] != '\\')
                len--;
            if (len > root)
                len--; /* the separator before the dropped component */
            out[len] = '\0';
        } else {
            if (len > 0 && out[len - 1] != '\\')
                out[len++] = '\\';
            memcpy(out + len, s, n);
            len += n;
            out[len] = '\0';
        }
        s = e;
    }
}

wchar_t *pfw_path(const char *path)
{
    if (has_device_prefix(path) || !pf_is_absolute(path))
        return pfw_utf16(path);
    size_t n = strlen(path) + 16;
    char *buf = malloc(n);
    if (!buf)
        return NULL;
    size_t root;
    const char *rest;
    if (has_drive_root(path)) {
        snprintf(buf, n, "\\\\?\\%c:\\", path[0]);
        root = strlen(buf);
        rest = path + 3;
    } else {
        /* "\\server\share\rest" -> "\\?\UNC\server\share\rest" */
        size_t r = pfw_root_len(path);
        snprintf(buf, n, "\\\\?\\UNC\\%.*s", (int)(r - 2), path + 2);
        for (char *c = buf; *c; c++)
            if (*c == '/')
                *c = '\\';
        root = strlen(buf);
        rest = path + r;
    }
    append_components(buf, root, rest);
    wchar_t *w = pfw_utf16(buf);
    free(buf);
    return w;
}

ps_status pfw_path_err(const char *path, wchar_t **out, ps_err *err)
{
    *out = pfw_path(path);
    if (*out)
        return PS_OK;
    return ps_err_set(err, PS_ERR_INVALID, "cannot use the path '%s': not valid UTF-8 (or out of memory)",
                      path);
}

/* "\\?\C:\x" -> "C:\x", "\\?\UNC\s\x" -> "\\s\x": the form admins and
 * policies write, so paths compare equal to what they typed. */
static char *strip_long_prefix(char *p)
{
    if (strncmp(p, "\\\\?\\UNC\\", 8) == 0) {
        memmove(p + 2, p + 8, strlen(p + 8) + 1);
    } else if (strncmp(p, "\\\\?\\", 4) == 0 && has_drive_root(p + 4)) {
        memmove(p, p + 4, strlen(p + 4) + 1);
    }
    return p;
}

char *pf_absolute(const char *path)
{
    /* Resolve the parent through any junction the admin set up on purpose
     * (GetFinalPathNameByHandleW on an open handle), keep the last
     * component as written. */
    char *dir = pf_dirname(path);
    wchar_t *wdir = NULL;
    if (dir && !pf_is_absolute(dir)) {
        wchar_t *rel = pfw_utf16(dir);
        DWORD n = rel ? GetFullPathNameW(rel, 0, NULL, NULL) : 0;
        wdir = n ? malloc(n * sizeof *wdir) : NULL;
        if (wdir && GetFullPathNameW(rel, n, wdir, NULL) >= n) {
            free(wdir);
            wdir = NULL;
        }
        free(rel);
    } else if (dir) {
        wdir = pfw_path(dir);
    }
    free(dir);
    char *out = NULL;
    HANDLE h = wdir ? CreateFileW(wdir, FILE_READ_ATTRIBUTES,
                                  FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                                  OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL)
                    : INVALID_HANDLE_VALUE;
    free(wdir);
    if (h == INVALID_HANDLE_VALUE)
        return NULL;
    DWORD n = GetFinalPathNameByHandleW(h, NULL, 0, FILE_NAME_NORMALIZED | VOLUME_NAME_DOS);
    wchar_t *final = n ? malloc((n + 1) * sizeof *final) : NULL;
    if (final && GetFinalPathNameByHandleW(h, final, n + 1, FILE_NAME_NORMALIZED | VOLUME_NAME_DOS) <= n) {
        char *resolved = pfw_utf8(final, (size_t)-1);
        if (resolved)
            out = pf_path_join(strip_long_prefix(resolved), pf_basename(path));
        free(resolved);
    }
    free(final);
    CloseHandle(h);
    return out;
}
