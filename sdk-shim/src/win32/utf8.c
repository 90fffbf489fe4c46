/* UTF-8 <-> UTF-16 conversion for the host's Win32 layer; see utf8.h. */
#include "utf8.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <windows.h>

wchar_t *hos_utf8_to_utf16(const char *s)
{
    /* MB_ERR_INVALID_CHARS: invalid input fails instead of turning into
     * U+FFFD, which could name a different file. */
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
    if (n <= 0)
        return NULL;
    wchar_t *w = malloc((size_t)n * sizeof *w);
    if (!w)
        return NULL;
    if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n) != n) {
        free(w);
        return NULL;
    }
    return w;
}

char *hos_utf16_to_utf8(const wchar_t *w, size_t len)
{
    int wlen;
    if (len == (size_t)-1) {
        wlen = -1; /* the NUL is converted too */
    } else if (len > INT_MAX) {
        return NULL;
    } else if (len == 0) {
        char *empty = malloc(1);
        if (empty)
            *empty = '\0';
        return empty;
    } else {
        wlen = (int)len;
    }
    int n = WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, w, wlen, NULL, 0, NULL, NULL);
    if (n <= 0)
        return NULL;
    /* With an explicit length the NUL is not part of the input. */
    char *s = malloc((size_t)n + (wlen == -1 ? 0 : 1));
    if (!s)
        return NULL;
    if (WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, w, wlen, s, n, NULL, NULL) != n) {
        free(s);
        return NULL;
    }
    if (wlen != -1)
        s[n] = '\0';
    return s;
}

void hos_win_error_text(unsigned long err, char *buf, size_t len)
{
    wchar_t *text = NULL;
    DWORD n = FormatMessageW(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM |
                                 FORMAT_MESSAGE_IGNORE_INSERTS,
                             NULL, err, 0, (LPWSTR)&text, 0, NULL);
    /* Windows ends its messages with ".\r\n"; ours go inside sentences. */
    while (n > 0 && (text[n - 1] == L'\r' || text[n - 1] == L'\n' || text[n - 1] == L' ' ||
                     text[n - 1] == L'.'))
        n--;
    char *utf8 = n > 0 ? hos_utf16_to_utf8(text, n) : NULL;
    if (utf8)
        snprintf(buf, len, "%s (error %lu)", utf8, err);
    else
        snprintf(buf, len, "Windows error %lu", err);
    free(utf8);
    if (text)
        LocalFree(text);
}
