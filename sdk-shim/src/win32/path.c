/* UTF-8 paths to Win32 UTF-16 paths with the \\?\ prefix; see utf8.h. */
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#include "utf8.h"

static int is_sep(wchar_t c) { return c == L'\\' || c == L'/'; }

static int is_drive_letter(wchar_t c)
{
    return (c >= L'A' && c <= L'Z') || (c >= L'a' && c <= L'z');
}

/* The drive of the current directory ("C:"), for a path rooted on it. */
static int current_drive(wchar_t drive[3])
{
    wchar_t cwd[MAX_PATH + 1];
    DWORD n = GetCurrentDirectoryW(MAX_PATH + 1, cwd);
    if (n < 2 || n > MAX_PATH || !is_drive_letter(cwd[0]) || cwd[1] != L':')
        return -1;
    drive[0] = cwd[0];
    drive[1] = L':';
    drive[2] = L'\0';
    return 0;
}

/* Appends the components of `rest` to `out` (which holds the prefix and the
 * root), resolving "." and ".." by hand: with \\?\ Windows takes every
 * component literally. The first `floor` components (a UNC server and
 * share) cannot be removed by "..". */
static void append_components(wchar_t *out, const wchar_t *rest, size_t floor)
{
    size_t root_len = wcslen(out), depth = 0;
    /* Where each kept component starts (its separator), to undo it on "..". */
    size_t *starts = malloc((wcslen(rest) / 2 + 2) * sizeof *starts);
    wchar_t *end = out + root_len;
    const wchar_t *p = rest;
    while (*p) {
        while (is_sep(*p))
            p++;
        const wchar_t *comp = p;
        while (*p && !is_sep(*p))
            p++;
        size_t n = (size_t)(p - comp);
        if (n == 0 || (n == 1 && comp[0] == L'.'))
            continue;
        if (n == 2 && comp[0] == L'.' && comp[1] == L'.') {
            if (depth > floor && starts) {
                end = out + starts[--depth];
                *end = L'\0';
            }
            continue;
        }
        if (starts)
            starts[depth] = (size_t)(end - out);
        depth++;
        *end++ = L'\\';
        memcpy(end, comp, n * sizeof *comp);
        end += n;
        *end = L'\0';
    }
    free(starts);
    /* A bare drive after \\?\ names the volume, not its root folder. */
    if ((size_t)(end - out) == root_len) {
        *end++ = L'\\';
        *end = L'\0';
    }
}

wchar_t *hos_path_to_utf16(const char *path)
{
    wchar_t *w = hos_utf8_to_utf16(path);
    if (!w)
        return NULL;
    const wchar_t *prefix, *rest;
    wchar_t drive[3] = L"";
    size_t floor = 0;
    if (is_sep(w[0]) && is_sep(w[1]) && (w[2] == L'?' || w[2] == L'.') && is_sep(w[3])) {
        return w; /* already a device or \\?\ path: the caller meant it exactly */
    } else if (is_sep(w[0]) && is_sep(w[1])) {
        prefix = L"\\\\?\\UNC";
        rest = w + 2;
        floor = 2;
    } else if (is_drive_letter(w[0]) && w[1] == L':' && is_sep(w[2])) {
        prefix = L"\\\\?\\";
        drive[0] = w[0];
        drive[1] = L':';
        rest = w + 2;
    } else if (is_sep(w[0])) {
        if (current_drive(drive) != 0)
            return w; /* current directory on a share: let Windows resolve it */
        prefix = L"\\\\?\\";
        rest = w;
    } else {
        return w; /* relative, or "C:x" relative to a drive's own directory */
    }
    size_t n = wcslen(prefix) + wcslen(drive) + wcslen(rest) + 2;
    wchar_t *out = malloc(n * sizeof *out);
    if (!out) {
        free(w);
        return NULL;
    }
    wcscpy(out, prefix);
    wcscat(out, drive);
    append_components(out, rest, floor);
    free(w);
    return out;
}
