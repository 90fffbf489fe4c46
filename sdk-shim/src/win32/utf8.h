/*
 * utf8.h - UTF-8 <-> UTF-16 at the host's Win32 boundary.
 *
 * Every string inside the host is UTF-8 (the plugin ABI says so, on Windows
 * too); Windows' W functions take UTF-16. host_os_win32.c converts at each
 * call and nothing else in the host sees a wchar_t.
 *
 * Ownership: every function returns malloc'd memory the caller frees with
 * free(), or NULL when out of memory or when the input is not well-formed
 * (invalid UTF-8, or UTF-16 with an unpaired surrogate): a path that cannot
 * be converted exactly must fail, not reach the file system mangled.
 */
#ifndef EMH_WIN32_UTF8_H
#define EMH_WIN32_UTF8_H

#include <stddef.h>
#include <wchar.h>

/* UTF-8, NUL-terminated -> UTF-16, NUL-terminated. */
wchar_t *hos_utf8_to_utf16(const char *s);

/* UTF-16 -> UTF-8, NUL-terminated. len is in wchar_t units, or (size_t)-1
 * when `w` is NUL-terminated. */
char *hos_utf16_to_utf8(const wchar_t *w, size_t len);

/* A UTF-8 path as the UTF-16 path to hand to a W function. Absolute paths
 * (C:\x, \\server\share\x, and \x on the current drive; '/' is accepted as
 * a separator) get the \\?\ prefix, so they may exceed MAX_PATH and keep
 * names Win32 would otherwise alter (trailing dots or spaces); "." and ".."
 * are resolved here because the prefix turns that off. Relative paths, and
 * paths already in the \\?\ or \\.\ namespaces, are only converted. */
wchar_t *hos_path_to_utf16(const char *path);

/* Windows' text for a GetLastError() code, in UTF-8, without the trailing
 * period and line break: "Access is denied (error 5)". Never fails. */
void hos_win_error_text(unsigned long err, char *buf, size_t len);

#endif /* EMH_WIN32_UTF8_H */
