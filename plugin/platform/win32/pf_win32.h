/*
 * pf_win32.h - helpers shared by the Win32 platform files. Internal to
 * platform/win32 and to the one Windows-only provider, snapshot/vss.c:
 * portable code never sees a wchar_t or a HANDLE.
 *
 * Strings: UTF-8 everywhere else, UTF-16 only here, converted at each call
 * with MultiByteToWideChar / WideCharToMultiByte. A string that does not
 * convert exactly (invalid UTF-8, an unpaired surrogate) fails: a path that
 * reached the file system mangled could name a different file.
 *
 * Ownership: every function returning a pointer returns malloc'd memory the
 * caller frees with free(), or NULL (out of memory or not convertible).
 */
#ifndef PS_PF_WIN32_H
#define PS_PF_WIN32_H

#include <windows.h>

#include "../platform.h"

/* The handle behind platform.h's pf_file, here so that the Win32 files
 * needing two handles at once (pf_clone_win32.c) reach them without an
 * accessor per field. Made by pf_open_read/pf_open_write
 * (pf_file_win32.c), which own both members; freed by pf_close. */
struct pf_file {
    HANDLE h;
    char *path; /* UTF-8, as opened; for error messages */
};

/* UTF-8 (NUL-terminated) -> UTF-16. */
wchar_t *pfw_utf16(const char *s);
/* UTF-16 -> UTF-8; len in wchar_t units or (size_t)-1 for NUL-terminated. */
char *pfw_utf8(const wchar_t *w, size_t len);

/* The UTF-16 form of `path` to hand to a W function. An absolute path gets
 * the "\\?\" prefix ("\\?\UNC\" for a share): that lifts MAX_PATH (a PST
 * deep in a redirected Documents folder easily passes 260 characters) and
 * stops Win32 from stripping trailing dots and spaces, so "Mail.pst " and
 * "Mail.pst" stay two files. Because "\\?\" also stops Win32 from
 * resolving "." and "..", those components are resolved here, lexically.
 * Relative paths are converted as they are. */
wchar_t *pfw_path(const char *path);
/* Length of the root of an absolute path (C:\ is 3; also \\server\share\,
 * \\?\C:\ and a shadow copy's device), 0 for a relative one. */
size_t pfw_root_len(const char *path);
/* pfw_path, filling err (naming the path) when it fails. */
ps_status pfw_path_err(const char *path, wchar_t **out, ps_err *err);

/* Map a Win32 error code to a status. */
ps_status pfw_status(DWORD code);
/* Fill err with "<what> '<path>': <system message>" (FormatMessageW) and
 * return the mapped status. Sharing and lock violations read as "locked by
 * another process" and say that a snapshot is needed. */
ps_status pfw_err(ps_err *err, DWORD code, const char *what, const char *path);
/* The system's text for `code`, UTF-8, without the trailing newline. */
void pfw_message(DWORD code, char *buf, size_t len);

/* FILETIME (100 ns since 1601) <-> nanoseconds since 1970. */
int64_t pfw_filetime_ns(FILETIME ft);
FILETIME pfw_ns_filetime(int64_t ns);

/* pf_stat from what GetFileInformationByHandle returned. A reparse point of
 * any kind (symbolic link, junction, mount point) is PF_KIND_LINK. */
void pfw_stat_from(const BY_HANDLE_FILE_INFORMATION *info, pf_stat *st);

/* Ask for low-priority I/O on `h` when the calling thread asked for it with
 * pf_io_priority_low (Windows sets the hint per handle, Linux per thread). */
void pfw_apply_io_priority(HANDLE h);

#endif
