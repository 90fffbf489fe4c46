/*
 * catl_regex.c - compiler for CAtlRegExp-dialect patterns (see catl_regex.h
 * for the syntax, catl_regex_prog.h for what it produces). Recursive descent
 * straight to the program; depth is bounded by CATL_REGEX_MAX_DEPTH.
 */
#include "catl_regex.h"
#include "catl_regex_prog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RX_STR2(x) #x
#define RX_STR(x) RX_STR2(x)

typedef struct rx_parser {
    catl_regex *re;
    const char *pattern; /* the user's pattern, for messages */
    const char *s;       /* text being parsed: the pattern or an abbreviation */
    size_t pos;          /* offset into s */
    int depth;
    int failed;
    uint32_t max_backref;
    size_t backref_off;
    char *errbuf;
    size_t errlen;
} rx_parser;

static void parse_alt(rx_parser *p);

/* Record the first error; off == SIZE_MAX for errors without a position. */
static void fail_at(rx_parser *p, const char *what, size_t off)
{
    if (!p->failed && p->errbuf && p->errlen > 0) {
        if (off == SIZE_MAX)
            snprintf(p->errbuf, p->errlen, "%s", what);
        else
            snprintf(p->errbuf, p->errlen, "%s at offset %lu in '%s'", what,
                     (unsigned long)off, p->pattern);
    }
    p->failed = 1;
}

/* Make room for `need` elements of `elem` bytes in arr. Returns the array,
 * possibly moved, or NULL (parser failed; arr is still valid and owned by
 * the caller). */
static void *reserve(rx_parser *p, void *arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return arr;
    size_t ncap = *cap ? *cap : 32;
    while (ncap < need)
        ncap *= 2;
    void *n = realloc(arr, ncap * elem);
    if (!n) {
        fail_at(p, "out of memory", SIZE_MAX);
        return NULL;
    }
    *cap = ncap;
    return n;
}

/* Insert `count` zeroed instructions at `at`; returns 0 or -1 (failed). */
static int insert(rx_parser *p, size_t at, size_t count)
{
    catl_regex *re = p->re;
    rx_ins *prog = p->failed ? NULL
                             : reserve(p, re->prog, &re->capprog, re->nprog + count, sizeof *prog);
    if (!prog)
        return -1;
    re->prog = prog;
    memmove(re->prog + at + count, re->prog + at, (re->nprog - at) * sizeof(rx_ins));
    memset(re->prog + at, 0, count * sizeof(rx_ins));
    re->nprog += count;
    return 0;
}

static void set_ins(rx_parser *p, size_t at, int op, int32_t x, int32_t y, uint32_t v)
{
    rx_ins *in = &p->re->prog[at];
    in->op = (uint8_t)op;
    in->x = x;
    in->y = y;
    in->v = v;
}

/* Append one instruction; returns its index, or SIZE_MAX once failed. */
static size_t emit(rx_parser *p, int op, int32_t x, int32_t y, uint32_t v)
{
    size_t at = p->re->nprog;
    if (insert(p, at, 1))
        return SIZE_MAX;
    set_ins(p, at, op, x, y, v);
    return at;
}

static int32_t rel(size_t to, size_t from)
{
    return (int32_t)((ptrdiff_t)to - (ptrdiff_t)from);
}

static void add_set_word(rx_parser *p, uint32_t w)
{
    catl_regex *re = p->re;
    uint32_t *sets = p->failed ? NULL : reserve(p, re->sets, &re->capsets, re->nsets + 1, 4);
    if (sets) {
        re->sets = sets;
        re->sets[re->nsets++] = w;
    }
}

static void add_range(rx_parser *p, uint32_t lo, uint32_t hi)
{
    add_set_word(p, lo);
    add_set_word(p, hi);
}

/* The single-character abbreviations, usable alone and inside a class, as
 * inclusive lo, hi pairs; NULL when `c` is not one of them. */
static const char *class_abbrev(char c)
{
    switch (c) {
    case 'a': return "azAZ09";
    case 'b': return "  \t\t";
    case 'c': return "azAZ";
    case 'd': return "09";
    case 'h': return "09afAF";
    default: return NULL;
    }
}

static void add_pairs(rx_parser *p, const char *pairs)
{
    for (; pairs[0] && pairs[1]; pairs += 2)
        add_range(p, (unsigned char)pairs[0], (unsigned char)pairs[1]);
}

/* The abbreviations that stand for more than one character, written in this
 * dialect and compiled like user text. */
static const char *sequence_abbrev(char c)
{
    switch (c) {
    case 'n': return "\r|\r?\n";
    case 'q': return "\"[^\"]*\"|'[^']*'";
    case 'w': return "\\c+";
    case 'z': return "\\d+";
    default: return NULL;
    }
}

/* A class is opened with a placeholder header, filled with add_range, and
 * closed by writing the header and emitting the CLASS instruction. */
static size_t begin_class(rx_parser *p)
{
    add_set_word(p, 0);
    return p->re->nsets - 1;
}

static void end_class(rx_parser *p, size_t head, int negated)
{
    if (p->failed)
        return;
    uint32_t nranges = (uint32_t)((p->re->nsets - head - 1) / 2);
    p->re->sets[head] = (nranges << 1) | (negated != 0);
    emit(p, RX_CLASS, 0, 0, (uint32_t)head);
}

static uint32_t next_char(rx_parser *p)
{
    uint32_t c;
    p->pos += rx_u8_next((const unsigned char *)p->s + p->pos, &c);
    return c;
}

/* [...] : members are characters, ranges "a-z" and the single-character
 * abbreviations; '\' makes the next character literal. */
static void parse_class(rx_parser *p)
{
    size_t open = p->pos++, head = begin_class(p);
    int negated = 0;
    if (p->s[p->pos] == '^') {
        negated = 1;
        p->pos++;
    }
    if (p->s[p->pos] == ']') {
        fail_at(p, "empty character class", open);
        return;
    }
    while (!p->failed && p->s[p->pos] != ']') {
        size_t at = p->pos;
        if (p->s[p->pos] == '\\') {
            const char *pairs = class_abbrev(p->s[++p->pos]);
            if (pairs) {
                add_pairs(p, pairs);
                p->pos++;
                continue;
            }
        }
        if (!p->s[p->pos])
            break;
        uint32_t lo = next_char(p), hi = lo;
        if (p->s[p->pos] == '-' && p->s[p->pos + 1] && p->s[p->pos + 1] != ']') {
            p->pos++;
            if (p->s[p->pos] == '\\' && p->s[p->pos + 1])
                p->pos++;
            hi = next_char(p);
            if (hi < lo) {
                fail_at(p, "invalid range (end before start)", at);
                return;
            }
        }
        add_range(p, lo, hi);
    }
    if (p->failed)
        return;
    if (p->s[p->pos] != ']') {
        fail_at(p, "unterminated character class", open);
        return;
    }
    p->pos++;
    end_class(p, head, negated);
}

/* Compile an abbreviation's expansion in place of "\x". */
static void parse_abbrev(rx_parser *p, const char *expansion)
{
    const char *saved_s = p->s;
    size_t saved_pos = p->pos;
    p->s = expansion;
    p->pos = 0;
    parse_alt(p);
    p->s = saved_s;
    p->pos = saved_pos;
}

static void parse_escape(rx_parser *p)
{
    size_t at = p->pos++;
    char c = p->s[p->pos];
    if (!c) {
        fail_at(p, "trailing backslash", at);
        return;
    }
    if (c >= '0' && c <= '9') {
        uint32_t n = 0;
        while (p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
            n = n * 10 + (uint32_t)(p->s[p->pos++] - '0');
            if (n > 9999) {
                fail_at(p, "match group number too large", at);
                return;
            }
        }
        if (p->max_backref == RX_UNSET || n > p->max_backref) {
            p->max_backref = n;
            p->backref_off = at;
        }
        p->re->has_backref = 1;
        emit(p, RX_BACKREF, 0, 0, n);
        return;
    }
    const char *pairs = class_abbrev(c);
    if (pairs) {
        size_t head = begin_class(p);
        add_pairs(p, pairs);
        end_class(p, head, 0);
        p->pos++;
        return;
    }
    const char *seq = sequence_abbrev(c);
    if (seq) {
        p->pos++;
        parse_abbrev(p, seq);
        return;
    }
    uint32_t lit = next_char(p);
    emit(p, RX_CHAR, 0, 0, p->re->icase ? rx_fold_lower(lit) : lit);
}

/* Compile one atom. Returns 1 when a quantifier may follow it, 0 for the
 * zero-width anchors. */
static int parse_atom(rx_parser *p)
{
    size_t at = p->pos;
    char c = p->s[at];
    char close = c == '(' ? ')' : '}';
    switch (c) {
    case '(':
    case '{': {
        if (++p->depth > CATL_REGEX_MAX_DEPTH) {
            fail_at(p, "groups nested too deeply", at);
            return 1;
        }
        uint32_t group = p->re->ngroups;
        if (c == '{') {
            p->re->ngroups++;
            emit(p, RX_SAVE, 0, 0, 2 * group);
        }
        p->pos++;
        parse_alt(p);
        if (p->failed)
            return 1;
        if (p->s[p->pos] != close) {
            fail_at(p, c == '(' ? "unmatched '('" : "unmatched '{'", at);
            return 1;
        }
        p->pos++;
        p->depth--;
        if (c == '{')
            emit(p, RX_SAVE, 0, 0, 2 * group + 1);
        return 1;
    }
    case '[': parse_class(p); return 1;
    case '.': p->pos++; emit(p, RX_ANY, 0, 0, 0); return 1;
    case '\\': parse_escape(p); return 1;
    case '$': p->pos++; emit(p, RX_EOL, 0, 0, 0); return 0;
    case '^':
        p->pos++;
        emit(p, (at == 0 && p->s == p->pattern) ? RX_BOL : RX_SEGSTART, 0, 0, 0);
        return 0;
    case '*':
    case '+':
    case '?': fail_at(p, "nothing to repeat", at); return 0;
    default: {
        uint32_t lit = next_char(p);
        emit(p, RX_CHAR, 0, 0, p->re->icase ? rx_fold_lower(lit) : lit);
        return 1;
    }
    }
}

/* Wrap the atom compiled at [a, end) in the loop for quantifier q. Layouts
 * (r = a fresh loop register; CHECK stops an iteration that consumed
 * nothing from looping forever, as in "(a*)*"):
 *   x?  SPLIT(body, exit) body
 *   x*  SPLIT(body, exit) MARK r body CHECK r JMP(SPLIT)
 *   x+  MARK r body SPLIT(again, exit) again: CHECK r JMP(MARK)
 * A lazy quantifier swaps the SPLIT's preference. */
static void quantify(rx_parser *p, size_t a, char q, int lazy)
{
    size_t end = p->re->nprog;
    uint32_t r = p->re->nloops;
    if (q == '?') {
        if (insert(p, a, 1))
            return;
        int32_t exit = rel(end + 1, a);
        set_ins(p, a, RX_SPLIT, lazy ? exit : 1, lazy ? 1 : exit, 0);
        return;
    }
    p->re->nloops++;
    if (q == '*') {
        if (insert(p, a, 2))
            return;
        int32_t exit = rel(end + 4, a);
        set_ins(p, a, RX_SPLIT, lazy ? exit : 1, lazy ? 1 : exit, 0);
        set_ins(p, a + 1, RX_MARK, 0, 0, r);
        emit(p, RX_CHECK, 0, 0, r);
        emit(p, RX_JMP, rel(a, end + 3), 0, 0);
        return;
    }
    if (insert(p, a, 1))
        return;
    set_ins(p, a, RX_MARK, 0, 0, r);
    emit(p, RX_SPLIT, lazy ? 3 : 1, lazy ? 1 : 3, 0);
    emit(p, RX_CHECK, 0, 0, r);
    emit(p, RX_JMP, rel(a, end + 3), 0, 0);
}

/* term := '!' term | atom [quantifier ['?']] */
static void parse_term(rx_parser *p)
{
    size_t at = p->pos;
    if (p->s[at] == '!') {
        p->pos++;
        char next = p->s[p->pos];
        if (!next || next == '|' || next == ')' || next == '}') {
            fail_at(p, "'!' must be followed by an expression", at);
            return;
        }
        if (++p->depth > CATL_REGEX_MAX_DEPTH) {
            fail_at(p, "'!' nested too deeply", at);
            return;
        }
        size_t not_at = emit(p, RX_NOT, 0, 0, 0);
        parse_term(p);
        emit(p, RX_SUBOK, 0, 0, 0);
        if (!p->failed)
            p->re->prog[not_at].x = rel(p->re->nprog, not_at);
        p->depth--;
        return;
    }
    size_t start = p->re->nprog;
    int repeatable = parse_atom(p);
    char q = p->s[p->pos];
    if (p->failed || (q != '*' && q != '+' && q != '?'))
        return;
    if (!repeatable) {
        fail_at(p, "nothing to repeat", p->pos);
        return;
    }
    p->pos++;
    int lazy = p->s[p->pos] == '?';
    if (lazy)
        p->pos++;
    quantify(p, start, q, lazy);
    q = p->s[p->pos];
    if (q == '*' || q == '+' || q == '?')
        fail_at(p, "nothing to repeat", p->pos);
}

/* alt := seq ('|' seq)*, seq := term*. Each alternative but the last is
 * preceded by SPLIT(this, next alternative) and followed by a JMP to the end;
 * the JMPs are chained through their v field until the end is known. */
static void parse_alt(rx_parser *p)
{
    uint32_t chain = RX_UNSET;
    for (;;) {
        size_t seq = p->re->nprog;
        char c;
        while (!p->failed && (c = p->s[p->pos]) != '\0' && c != '|' && c != ')' && c != '}')
            parse_term(p);
        if (p->failed || p->s[p->pos] != '|')
            break;
        p->pos++;
        if (insert(p, seq, 1))
            return;
        size_t jmp = emit(p, RX_JMP, 0, 0, chain);
        if (jmp == SIZE_MAX)
            return;
        set_ins(p, seq, RX_SPLIT, 1, rel(jmp + 1, seq), 0);
        chain = (uint32_t)jmp;
    }
    if (p->failed)
        return;
    size_t end = p->re->nprog;
    while (chain != RX_UNSET) {
        rx_ins *j = &p->re->prog[chain];
        uint32_t next = j->v;
        j->x = rel(end, chain);
        j->v = 0;
        chain = next;
    }
}

catl_regex *catl_regex_compile(const char *pattern, int case_insensitive, char *errbuf,
                               size_t errlen)
{
    rx_parser p = {NULL, pattern, pattern, 0, 0, 0, RX_UNSET, 0, errbuf, errlen};
    if (!pattern || !*pattern)
        fail_at(&p, "empty regular expression", SIZE_MAX);
    else if (strlen(pattern) > CATL_REGEX_MAX_PATTERN)
        fail_at(&p, "regular expression longer than " RX_STR(CATL_REGEX_MAX_PATTERN) " bytes",
                SIZE_MAX);
    else if (!(p.re = calloc(1, sizeof *p.re)))
        fail_at(&p, "out of memory", SIZE_MAX);
    if (p.failed)
        return NULL;
    p.re->icase = case_insensitive != 0;
    parse_alt(&p);
    if (!p.failed && p.s[p.pos] == ')')
        fail_at(&p, "unmatched ')'", p.pos);
    if (!p.failed && p.s[p.pos] == '}')
        fail_at(&p, "unmatched '}'", p.pos);
    if (!p.failed && p.max_backref != RX_UNSET && p.max_backref >= p.re->ngroups)
        fail_at(&p, "reference to a match group that does not exist", p.backref_off);
    emit(&p, RX_MATCH, 0, 0, 0);
    if (p.failed) {
        catl_regex_free(p.re);
        return NULL;
    }
    return p.re;
}

void catl_regex_free(catl_regex *re)
{
    if (!re)
        return;
    free(re->prog);
    free(re->sets);
    free(re);
}
