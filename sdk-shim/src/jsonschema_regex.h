/*
 * jsonschema_regex.h - the small ECMA-262 regular expression engine behind the
 * "pattern" and "patternProperties" keywords of the schema validator.
 *
 * Why our own: mingw has no <regex.h>, and POSIX regex differs from the
 * ECMA-262 dialect JSON Schema specifies (\d, lazy quantifiers, non-capturing
 * groups). This is a backtracking engine over Unicode code points.
 *
 * Supported: literals, ".", classes with ranges and negation, \d \w \s \D \W
 * \S, \b \B, anchors ^ $, groups (capturing, (?:...), (?<name>...)),
 * lookahead (?=...) (?!...), alternation, the quantifiers * + ? {n} {n,}
 * {n,m} and their lazy forms, escapes \t \n \r \f \v \0 \cX \xHH \uHHHH
 * \u{H...}. Rejected with a message: backreferences, lookbehind, \p{...}.
 * There are no flags: JSON Schema patterns are case-sensitive, single-line.
 *
 * Ownership: js_regex_compile returns a new object freed with
 * js_regex_free. Patterns and subjects are UTF-8, borrowed for the call.
 */
#ifndef JS_REGEX_H
#define JS_REGEX_H

#include <stddef.h>

typedef struct js_regex js_regex;

/* Compile `pattern` (UTF-8, NUL-terminated). On failure returns NULL and puts
 * a reason ("unterminated group", "backreferences are not supported") in
 * errbuf. */
js_regex *js_regex_compile(const char *pattern, char *errbuf, size_t errlen);

/* Search for the pattern anywhere in `subject` (UTF-8, `len` bytes), as JSON
 * Schema requires: patterns are not implicitly anchored.
 * Returns 1 on a match, 0 on none, -1 when the match was abandoned because it
 * took too many steps (catastrophic backtracking) or memory ran out. */
int js_regex_search(const js_regex *re, const char *subject, size_t len);

void js_regex_free(js_regex *re);

#endif /* JS_REGEX_H */
