/* Test folders and trees on Windows; see test_support.h. Paths are UTF-8
 * like everywhere else in the tests, converted here at the W calls. */
#include "test_support.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <windows.h>

static wchar_t *wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
    wchar_t *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
    if (!w || MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n) != n)
        fail_msg("path '%s' is not valid UTF-8", s);
    return w;
}

/* Depth first; a link or junction is removed itself, never what it points
 * to (a test may have planted one towards files it must not lose). */
static void remove_tree_w(const wchar_t *path)
{
    DWORD attrs = GetFileAttributesW(path);
    if (attrs == INVALID_FILE_ATTRIBUTES)
        return;
    if (attrs & FILE_ATTRIBUTE_READONLY)
        SetFileAttributesW(path, attrs & ~(DWORD)FILE_ATTRIBUTE_READONLY);
    if (!(attrs & FILE_ATTRIBUTE_DIRECTORY)) {
        DeleteFileW(path);
        return;
    }
    if (!(attrs & FILE_ATTRIBUTE_REPARSE_POINT)) {
        size_t n = wcslen(path);
        wchar_t *pattern = malloc((n + 3) * sizeof *pattern);
        assert_non_null(pattern);
        wcscpy(pattern, path);
        wcscat(pattern, L"\\*");
        WIN32_FIND_DATAW fd;
        HANDLE find = FindFirstFileW(pattern, &fd);
        free(pattern);
        if (find != INVALID_HANDLE_VALUE) {
            do {
                if (!wcscmp(fd.cFileName, L".") || !wcscmp(fd.cFileName, L".."))
                    continue;
                wchar_t *child = malloc((n + wcslen(fd.cFileName) + 2) * sizeof *child);
                assert_non_null(child);
                wcscpy(child, path);
                wcscat(child, L"\\");
                wcscat(child, fd.cFileName);
                remove_tree_w(child);
                free(child);
            } while (FindNextFileW(find, &fd));
            FindClose(find);
        }
    }
    RemoveDirectoryW(path);
}

void ts_remove_tree(const char *path)
{
    wchar_t *w = wide(path);
    remove_tree_w(w);
    free(w);
}

static int make_dir(const char *path)
{
    wchar_t *w = wide(path);
    BOOL ok = CreateDirectoryW(w, NULL);
    free(w);
    return ok ? 0 : -1;
}

char *ts_temp_dir(const char *name)
{
    const char *base = ts_env("PSTSNAP_TEST_TMP", NULL);
    char fallback[MAX_PATH + 32];
    if (!base) {
        char temp[MAX_PATH + 1];
        DWORD n = GetTempPathA(sizeof temp, temp);
        snprintf(fallback, sizeof fallback, "%.*spstsnap-tests", (int)n, temp);
        base = fallback;
    }
    make_dir(base);
    char *dir = ts_path(base, name);
    ts_remove_tree(dir);
    if (make_dir(dir) != 0)
        fail_msg("cannot create test dir '%s': Windows error %lu", dir, GetLastError());
    return dir;
}

int ts_exists(const char *path)
{
    /* GetFileAttributesW describes a link itself, as lstat does. */
    wchar_t *w = wide(path);
    int exists = GetFileAttributesW(w) != INVALID_FILE_ATTRIBUTES;
    free(w);
    return exists;
}
