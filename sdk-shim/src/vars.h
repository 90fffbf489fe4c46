/*
 * vars.h - Environment Manager variable expansion for action parameters.
 *
 * EM expands two kinds of reference wherever a path or text field is allowed
 * (em-reference V2, V3): %NAME% is an environment variable and $(Name) an EM
 * session variable; "%%" stands for one literal '%' (EM rewrites %UserName%
 * to %%UserName%% on upgrade precisely to keep it literal).
 *
 * Where EM (via ExpandEnvironmentStrings) would leave an unknown %NAME% in the
 * text, we fail instead: a backup that silently writes to a folder literally
 * named "%LOCALAPPDATA%" is worse than one that refuses to start.
 *
 * Rules, in the order they are tried at each '%' or '$':
 *  - "%%" is one literal '%'.
 *  - '%' followed by an ASCII letter or '_' opens a reference; the name runs to
 *    the next '%'. Reaching the end of the text, a control character, '\' or
 *    '/' first is an "unterminated variable reference" error: "%LOCALAPPDATA\x"
 *    is a typo, not a file name.
 *  - Any other '%' is literal: "100% sure", "50%", "%1", "%-", "% ".
 *  - "$(" opens a session variable reference; the name runs to the next ')'.
 *    Reaching the end, a control character or another '(' first is an
 *    "unterminated" error; "$()" is an "empty variable name" error. A '$' not
 *    followed by '(' is literal. EM documents no escape for a literal "$(",
 *    so there is none here.
 *  - Names are passed to the lookup exactly as written (no case change, no
 *    trimming). Windows variable names are case-insensitive; matching them
 *    that way is the lookup's job.
 *  - Expansion is single-pass: a value is copied verbatim and never expanded
 *    again, so a variable whose value contains "%X%" or "$(Y)" cannot inject
 *    further references.
 *
 * All text is UTF-8 and handled byte-wise (every delimiter is ASCII, so
 * multi-byte characters pass through untouched). Offsets in messages are
 * 0-based byte offsets into `in`.
 */
#ifndef EMH_VARS_H
#define EMH_VARS_H

#include <stddef.h>

typedef enum vars_kind { VARS_ENV = 0, VARS_SESSION = 1 } vars_kind;

/* Returns the value of `name` (borrowed: it must stay valid until the lookup
 * is called again or vars_expand returns), or NULL when it is unset. An empty
 * string is a set, empty variable. `name` is NUL-terminated, borrowed for the
 * call only. */
typedef const char *(*vars_lookup_fn)(void *ctx, vars_kind kind, const char *name);

/* Expand `in` (borrowed) with `lookup`, which receives `ctx` unchanged.
 * On success returns 0 and *out is a malloc'd, NUL-terminated string the
 * caller frees. On failure returns -1, sets *out to NULL and writes a message
 * to errbuf (when errbuf is non-NULL and errlen > 0), e.g.
 *   "variable %LOCALAPPDATA% is not set"
 *   "session variable $(DataNowHome) is not set"
 *   "unterminated variable reference at offset 7 in 'C:\Data\%FOO'"
 *   "empty variable name at offset 2 in 'ab$()'"
 *   "out of memory"
 * A NULL `in`, `lookup` or `out` is also an error. */
int vars_expand(const char *in, vars_lookup_fn lookup, void *ctx, char **out, char *errbuf,
                size_t errlen);

#endif /* EMH_VARS_H */
