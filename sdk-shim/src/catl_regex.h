/*
 * catl_regex.h - the regular expression dialect of EM conditions (ATL's
 * CAtlRegExp), for the RegEx operator of process-name conditions.
 *
 * Environment Manager evaluates condition regular expressions with ATL's
 * CAtlRegExp (em-reference T8), whose syntax differs from POSIX and ECMA:
 * '{ }' is a match group, '( )' only groups, '!' negates, and there are no
 * counted repetitions. This is our own implementation of the syntax as
 * Microsoft documents it; no ATL code is involved.
 *
 * Syntax
 *   c          a literal character (any UTF-8 character that is not special)
 *   .          any one character
 *   [abc] [a-z] [^abc]
 *              character class, range, negated class; inside, '\' makes the
 *              next character literal ("[\]\-]"); "[]" is an error
 *   ^          see "Anchors" below        $   end of the input
 *   x? x+ x*   optional, one or more, zero or more (greedy)
 *   x?? x+? x*?  the same, matching as little as possible
 *   ( )        grouping
 *   { }        match group, numbered from 0 in order of its '{'
 *   \N         (N decimal digits) the text matched by match group N; fails
 *              while group N has not matched
 *   x|y        alternation, lowest precedence: "(notepad)|(calc).exe" is
 *              "notepad" or "calc" followed by any character and "exe"
 *   !x         x does not match here (see "Negation")
 *   \x         a literal x, for any x that is neither an abbreviation
 *              letter nor a digit ("\." is a dot, "\\" a backslash, "\p" a
 *              plain 'p': the documented table has no \p)
 * Abbreviations (Microsoft's table):
 *   \a [a-zA-Z0-9]   \b [ \t]   \c [a-zA-Z]   \d [0-9]   \h [0-9a-fA-F]
 *   \n newline: CR, or LF optionally preceded by CR
 *   \q a quoted string: "..." or '...' (no escapes inside)
 *   \w a word: [a-zA-Z]+      \z an integer: [0-9]+
 * [INFERRED] Inside a class, the single-character abbreviations \a \b \c \d
 * \h add their sets ("[\d_]"); the documentation does not say either way.
 *
 * Anchors [INFERRED for the non-leading case]
 *   A '^' that is the first character of the pattern matches only at the
 *   start of the input, as documented. Any other '^' matches at the start of
 *   the input or right after a '\' in the input: that is what makes EM's
 *   documented domain form work, "ivanti\\^[a-h]+" matching "ivanti\alice"
 *   but not "ivanti\john". For image names (no '\') both mean "start".
 *
 * Negation [INFERRED model]
 *   Microsoft documents "!" as "the expression following ! does not match",
 *   e.g. "a!b" matches an 'a' not followed by 'b'. We model "!x" as a
 *   zero-width negative lookahead of the single quantified atom x that
 *   follows it ("!ab" is "(!a)b"; write "!(ab)" for the pair). So
 *   "^!(notepad.exe)" matches "wordpad.exe" and not "notepad.exe" (nor
 *   "notepad.exe.old": the lookahead sees the prefix).
 *
 * Matching (like CAtlRegExp::Match): the pattern may match anywhere in the
 * input unless anchored; catl_regex_match answers only "is there a match".
 * Characters are UTF-8 code points (an invalid byte counts as one character
 * of its own). Matching is case-sensitive unless case_insensitive is set,
 * which folds ASCII letters and the Latin-1 letters U+00C0-U+00DE <->
 * U+00E0-U+00FE (not U+00D7/U+00F7) and U+0178 <-> U+00FF.
 *
 * Limits: patterns longer than CATL_REGEX_MAX_PATTERN bytes and nesting of
 * groups and '!' deeper than CATL_REGEX_MAX_DEPTH are rejected; the empty
 * pattern is rejected (in a condition it is always a mistake). Matching is
 * backtracking with a budget of CATL_REGEX_STEP_BUDGET steps per
 * catl_regex_match call: a hostile pattern such as "(a*)*b" on a long run of
 * 'a' stops there and reports NO MATCH, as does running out of memory or
 * an input of 4 GiB or more. A caller that negates the result (NotEqual)
 * must keep that in mind.
 *
 * Ownership and threads: catl_regex_compile copies what it needs from the
 * pattern; the result is freed with catl_regex_free. A compiled regex is
 * never modified by matching, so one may be used from several threads at
 * once. All strings are UTF-8 and borrowed.
 */
#ifndef EMH_CATL_REGEX_H
#define EMH_CATL_REGEX_H

#include <stddef.h>

#define CATL_REGEX_MAX_PATTERN 4096
#define CATL_REGEX_MAX_DEPTH 64
#define CATL_REGEX_STEP_BUDGET 1000000UL

typedef struct catl_regex catl_regex;

/* Compile `pattern`. Returns NULL on a syntax error with a message in errbuf
 * that names the byte offset ("unmatched '(' at offset 4 in 'abc|(d'"), or
 * "out of memory". errbuf may be NULL. */
catl_regex *catl_regex_compile(const char *pattern, int case_insensitive, char *errbuf,
                               size_t errlen);

/* 1 when `text` contains a match, 0 when not (and when the step budget ran
 * out, memory ran out, or re/text is NULL). */
int catl_regex_match(const catl_regex *re, const char *text);

/* Free a compiled regex; NULL is ignored. */
void catl_regex_free(catl_regex *re);

#endif /* EMH_CATL_REGEX_H */
