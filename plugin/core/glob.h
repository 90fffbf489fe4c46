/*
 * glob.h - include/exclude rules for PST discovery: gitignore-like globs
 * matched against paths relative to a searched folder.
 *
 * Pattern language
 *   '/' and '\' both separate segments, in patterns and in paths, so a policy
 *   written on Windows ("Archive\*.pst") works unchanged everywhere. There is
 *   no escape character: '\' is always a separator.
 *   *    any run of characters within one segment (possibly empty)
 *   ?    exactly one character (one UTF-8 code point), never a separator
 *   **   as a whole segment: zero or more segments ("**\x.pst",
 *        "a\**\b\*.pst"). A trailing one ("a\**") matches everything below
 *        a but not a itself (as in .gitignore). Inside a segment ("a**b") it
 *        is just two '*'; glob_check rejects that form.
 *   Every other character matches itself; '[' and ']' have no meaning.
 *   A pattern without a separator is matched against the last path segment
 *   only, so "*.pst" matches "sub/dir/Mail.PST" (as in .gitignore). A pattern
 *   with a separator is matched against the whole path.
 *   Empty segments are ignored on both sides ("a//b" is "a/b", a leading or
 *   trailing separator changes nothing).
 *
 * Case: matching is case-insensitive, because Windows file names are. These
 * code points fold (simple one-to-one pairs, as the NTFS upcase table does;
 * no "ss" for U+00DF):
 *   ASCII A-Z; Latin-1 U+00C0-U+00DE (except U+00D7) with U+00E0-U+00FE,
 *   U+0178 with U+00FF; Latin Extended-A U+0100-U+017F pairs (U+0100/U+0101
 *   ... U+017D/U+017E, skipping U+0130, U+0131, U+0138, U+0149); Greek
 *   U+0391-U+03A9 with U+03B1-U+03C9 (and U+03C2 final sigma with sigma);
 *   Cyrillic U+0400-U+042F with U+0430-U+045F.
 *   Text that is not valid UTF-8 is compared byte by byte, each invalid byte
 *   being one character that matches only itself, '?' or '*'.
 *
 * Cost: '*' uses the classic iterative algorithm with a single backtrack
 * point, and '**' the same algorithm over segments, so a match costs at most
 * O(pattern length x path length) character steps, whatever the pattern:
 * no recursion, no exponential blow-up.
 *
 * Strings are UTF-8, borrowed, NUL-terminated; nothing is allocated.
 */
#ifndef PS_GLOB_H
#define PS_GLOB_H

#include <stddef.h>

/* 1 when the relative `path` matches `pattern`, else 0 (also for NULL). */
int glob_match(const char *pattern, const char *path);

/* Check a pattern from policy: it must be non-empty, relative (no leading
 * '/' or '\', no drive "C:"), have no empty, "." or ".." segment, and use
 * "**" only as a whole segment. Returns 0 when valid; otherwise -1 and a
 * message in errbuf (when non-NULL) such as
 *   "pattern 'C:\x\*.pst' is absolute; patterns are relative to the folder
 *    being searched"
 * The const char * interface cannot see an embedded NUL: callers that get
 * patterns from JSON must reject strings whose length differs from strlen. */
int glob_check(const char *pattern, char *errbuf, size_t errlen);

#endif /* PS_GLOB_H */
