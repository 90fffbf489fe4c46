/*
 * jsonschema_regex_parse.c - turns an ECMA-262 pattern (as code points) into
 * the syntax tree of jsonschema_regex_int.h.
 *
 * Where ECMA-262 Annex B (web compatibility) gives a lenient reading, such as
 * a '{' that does not start a quantifier being a literal, this parser
 * follows it, because that is what schema authors test their patterns with.
 */
#include "jsonschema_regex_int.h"

#include <stdlib.h>
#include <string.h>

int js_rx_fail(rx_parser *P, const char *why)
{
    if (!P->err)
        P->err = why;
    return -1;
}

static int new_node(rx_parser *P, int kind)
{
    if (P->err)
        return -1;
    if (P->node_count == P->node_cap) {
        size_t cap = P->node_cap ? P->node_cap * 2 : 32;
        rx_node *nodes = realloc(P->nodes, cap * sizeof *nodes);
        if (!nodes)
            return js_rx_fail(P, "out of memory");
        P->nodes = nodes;
        P->node_cap = cap;
    }
    rx_node *nd = &P->nodes[P->node_count];
    memset(nd, 0, sizeof *nd);
    nd->kind = kind;
    nd->child = -1;
    nd->next = -1;
    return (int)P->node_count++;
}

static int at(const rx_parser *P, uint32_t c)
{
    return P->i < P->n && P->p[P->i] == c;
}

static int is_digit(uint32_t c) { return c >= '0' && c <= '9'; }

static int hex_value(uint32_t c)
{
    if (c >= '0' && c <= '9') return (int)(c - '0');
    if (c >= 'a' && c <= 'f') return (int)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return (int)(c - 'A' + 10);
    return -1;
}

/* Read exactly `digits` hex digits at P->i; -1 (nothing consumed) if absent. */
static long read_hex(rx_parser *P, int digits)
{
    long v = 0;
    if (P->i + (size_t)digits > P->n)
        return -1;
    for (int k = 0; k < digits; k++) {
        int h = hex_value(P->p[P->i + (size_t)k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    P->i += (size_t)digits;
    return v;
}

/* \u{H...}: the brace form, as with the u flag; P->i is at '{'. */
static long read_hex_braced(rx_parser *P)
{
    size_t save = P->i;
    long v = 0;
    P->i++;
    while (P->i < P->n && hex_value(P->p[P->i]) >= 0 && v <= 0x10FFFF)
        v = v * 16 + hex_value(P->p[P->i++]);
    if (!at(P, '}') || P->i == save + 1 || v > 0x10FFFF) {
        P->i = save;
        return -1;
    }
    P->i++;
    return v;
}

/* \uHHHH, joining a UTF-16 surrogate pair written as two escapes. */
static uint32_t read_unicode_escape(rx_parser *P)
{
    long v = at(P, '{') ? read_hex_braced(P) : read_hex(P, 4);
    if (v < 0)
        return 'u'; /* not an escape after all: a literal u (Annex B) */
    if (v >= 0xD800 && v <= 0xDBFF && P->i + 1 < P->n && P->p[P->i] == '\\' &&
        P->p[P->i + 1] == 'u') {
        size_t save = P->i;
        P->i += 2;
        long lo = read_hex(P, 4);
        if (lo >= 0xDC00 && lo <= 0xDFFF)
            return (uint32_t)(0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00));
        P->i = save;
    }
    return (uint32_t)v;
}

/* A character escape; P->i is just past the backslash and the escape letter
 * `e` has been consumed. */
static uint32_t char_escape(rx_parser *P, uint32_t e)
{
    switch (e) {
    case 't': return '\t';
    case 'n': return '\n';
    case 'v': return '\v';
    case 'f': return '\f';
    case 'r': return '\r';
    case '0': return 0;
    case 'c':
        if (P->i < P->n && ((P->p[P->i] | 0x20) >= 'a' && (P->p[P->i] | 0x20) <= 'z'))
            return P->p[P->i++] % 32;
        P->i--; /* Annex B: "\c" not before a letter is a backslash then 'c' */
        return '\\';
    case 'x': {
        long v = read_hex(P, 2);
        return v < 0 ? 'x' : (uint32_t)v;
    }
    case 'u': return read_unicode_escape(P);
    default: return e; /* identity escape: \. \* \/ ... */
    }
}

/* Shorthand classes \d \w \s and their negations; 0 when `e` is not one. */
static int shorthand_kind(uint32_t e, int *neg)
{
    *neg = (e == 'D' || e == 'W' || e == 'S');
    switch (e) {
    case 'd': case 'D': return RE_ITEM_DIGIT;
    case 'w': case 'W': return RE_ITEM_WORD;
    case 's': case 'S': return RE_ITEM_SPACE;
    default: return 0;
    }
}

static int new_class(rx_parser *P, int neg)
{
    js_regex *re = P->re;
    js_re_class *classes = realloc(re->classes, (re->class_count + 1) * sizeof *classes);
    if (!classes)
        return js_rx_fail(P, "out of memory");
    re->classes = classes;
    classes[re->class_count].neg = neg;
    classes[re->class_count].count = 0;
    classes[re->class_count].items = NULL;
    return (int)re->class_count++;
}

static void class_add(rx_parser *P, int cls, int kind, int neg, uint32_t lo, uint32_t hi)
{
    js_re_class *c = &P->re->classes[cls];
    js_re_item *items = realloc(c->items, (c->count + 1) * sizeof *items);
    if (!items) {
        js_rx_fail(P, "out of memory");
        return;
    }
    c->items = items;
    items[c->count].kind = kind;
    items[c->count].neg = neg;
    items[c->count].lo = lo;
    items[c->count].hi = hi;
    c->count++;
}

/* One class member: sets *kind to a shorthand kind, or to RE_ITEM_RANGE with
 * *cp holding the code point. */
static void class_atom(rx_parser *P, int *kind, int *neg, uint32_t *cp)
{
    uint32_t c = P->p[P->i++];
    *kind = RE_ITEM_RANGE;
    *neg = 0;
    *cp = c;
    if (c != '\\')
        return;
    if (P->i >= P->n) {
        js_rx_fail(P, "\\ at end of pattern");
        return;
    }
    uint32_t e = P->p[P->i++];
    int sk = shorthand_kind(e, neg);
    if (sk) {
        *kind = sk;
        return;
    }
    *cp = (e == 'b') ? 0x08 : char_escape(P, e); /* [\b] is backspace */
}

static int parse_class(rx_parser *P)
{
    P->i++; /* '[' */
    int neg = at(P, '^');
    if (neg)
        P->i++;
    int cls = new_class(P, neg);
    while (!P->err && P->i < P->n && P->p[P->i] != ']') {
        int k1, n1, k2, n2;
        uint32_t a, b;
        class_atom(P, &k1, &n1, &a);
        if (P->err || !(at(P, '-') && P->i + 1 < P->n && P->p[P->i + 1] != ']')) {
            class_add(P, cls, k1, n1, a, a);
            continue;
        }
        P->i++; /* '-' */
        class_atom(P, &k2, &n2, &b);
        if (k1 != RE_ITEM_RANGE || k2 != RE_ITEM_RANGE) {
            /* Annex B: [\d-z] is \d, '-' and 'z', not a range */
            class_add(P, cls, k1, n1, a, a);
            class_add(P, cls, RE_ITEM_RANGE, 0, '-', '-');
            class_add(P, cls, k2, n2, b, b);
        } else if (a > b) {
            return js_rx_fail(P, "range out of order in character class");
        } else {
            class_add(P, cls, RE_ITEM_RANGE, 0, a, b);
        }
    }
    if (!P->err && !at(P, ']'))
        return js_rx_fail(P, "missing ']'");
    P->i++;
    int nd = new_node(P, RX_CLASS);
    if (nd >= 0)
        P->nodes[nd].cls = cls;
    return nd;
}

static int parse_alt(rx_parser *P);

static int parse_group(rx_parser *P)
{
    int kind = -1; /* -1: plain group */
    P->i++;        /* '(' */
    if (at(P, '?')) {
        P->i++;
        uint32_t c = P->i < P->n ? P->p[P->i] : 0;
        if (c == ':') { P->i++; }
        else if (c == '=') { P->i++; kind = RX_LOOK; }
        else if (c == '!') { P->i++; kind = RX_NLOOK; }
        else if (c == '<' && P->i + 1 < P->n && (P->p[P->i + 1] == '=' || P->p[P->i + 1] == '!'))
            return js_rx_fail(P, "lookbehind (?<= (?<! is not supported");
        else if (c == '<') { /* named group: the name only matters to backrefs */
            while (P->i < P->n && P->p[P->i] != '>')
                P->i++;
            if (!at(P, '>'))
                return js_rx_fail(P, "unterminated group name");
            P->i++;
        } else
            return js_rx_fail(P, "invalid group: '(?' must be followed by ':', '=', '!' or '<'");
    }
    if (++P->depth > RE_MAX_NESTING)
        return js_rx_fail(P, "groups nested too deeply");
    int inner = parse_alt(P);
    P->depth--;
    if (P->err)
        return -1;
    if (!at(P, ')'))
        return js_rx_fail(P, "missing ')'");
    P->i++;
    if (kind < 0)
        return inner;
    int nd = new_node(P, kind);
    if (nd >= 0)
        P->nodes[nd].child = inner;
    return nd;
}

/* Parse {n}, {n,}, {n,m} at P->i. Returns 0 (and leaves P->i alone) when the
 * text is not a quantifier, which makes '{' a literal (Annex B). */
static int parse_braces(rx_parser *P, int *min, int *max)
{
    size_t j = P->i + 1;
    long lo = 0, hi;
    if (j >= P->n || !is_digit(P->p[j]))
        return 0;
    while (j < P->n && is_digit(P->p[j]))
        lo = lo > RE_MAX_COUNT ? lo : lo * 10 + (long)(P->p[j++] - '0');
    hi = lo;
    if (j < P->n && P->p[j] == ',') {
        j++;
        hi = RE_INF;
        if (j < P->n && is_digit(P->p[j])) {
            hi = 0;
            while (j < P->n && is_digit(P->p[j]))
                hi = hi > RE_MAX_COUNT ? hi : hi * 10 + (long)(P->p[j++] - '0');
        }
    }
    if (j >= P->n || P->p[j] != '}')
        return 0;
    P->i = j + 1;
    /* From here on it is a quantifier: report problems, but return 1. */
    if (lo > RE_MAX_COUNT || hi > RE_MAX_COUNT)
        js_rx_fail(P, "repetition count too large");
    else if (hi != RE_INF && lo > hi)
        js_rx_fail(P, "numbers out of order in {} quantifier");
    *min = (int)lo;
    *max = (int)hi;
    return 1;
}

/* Consume a quantifier if one is next; returns 1 if one was found. */
static int parse_quantifier(rx_parser *P, int *min, int *max, int *greedy)
{
    if (P->i >= P->n)
        return 0;
    switch (P->p[P->i]) {
    case '*': *min = 0; *max = RE_INF; P->i++; break;
    case '+': *min = 1; *max = RE_INF; P->i++; break;
    case '?': *min = 0; *max = 1; P->i++; break;
    case '{':
        if (!parse_braces(P, min, max))
            return 0;
        break;
    default: return 0;
    }
    *greedy = !at(P, '?');
    if (!*greedy)
        P->i++;
    return 1;
}

static int parse_escape_atom(rx_parser *P)
{
    P->i++; /* backslash */
    if (P->i >= P->n)
        return js_rx_fail(P, "\\ at end of pattern");
    uint32_t e = P->p[P->i++];
    int neg, sk = shorthand_kind(e, &neg);
    if (sk) {
        int cls = new_class(P, 0);
        int nd = new_node(P, RX_CLASS);
        if (nd < 0)
            return -1;
        class_add(P, cls, sk, neg, 0, 0);
        P->nodes[nd].cls = cls;
        return nd;
    }
    if (e == 'b' || e == 'B')
        return new_node(P, e == 'b' ? RX_WORDB : RX_NWORDB);
    if (e >= '1' && e <= '9')
        return js_rx_fail(P, "backreferences (\\1 ...) are not supported");
    if (e == 'k' && at(P, '<'))
        return js_rx_fail(P, "named backreferences (\\k<name>) are not supported");
    if ((e == 'p' || e == 'P') && at(P, '{'))
        return js_rx_fail(P, "Unicode property escapes (\\p{...}) are not supported");
    uint32_t cp = char_escape(P, e);
    int nd = new_node(P, RX_CHAR);
    if (nd >= 0)
        P->nodes[nd].c = cp;
    return nd;
}

static int parse_atom(rx_parser *P)
{
    int min, max;
    switch (P->p[P->i]) {
    case '^': P->i++; return new_node(P, RX_BOL);
    case '$': P->i++; return new_node(P, RX_EOL);
    case '.': P->i++; return new_node(P, RX_ANY);
    case '(': return parse_group(P);
    case '[': return parse_class(P);
    case '\\': return parse_escape_atom(P);
    case '*': case '+': case '?': return js_rx_fail(P, "nothing to repeat before a quantifier");
    case '{':
        if (parse_braces(P, &min, &max))
            return js_rx_fail(P, "nothing to repeat before a quantifier");
        break;
    default: break;
    }
    int nd = new_node(P, RX_CHAR);
    if (nd >= 0)
        P->nodes[nd].c = P->p[P->i++];
    return nd;
}

static int is_assertion(int kind)
{
    return kind == RX_BOL || kind == RX_EOL || kind == RX_WORDB || kind == RX_NWORDB;
}

static int parse_term(rx_parser *P)
{
    int min, max, greedy;
    int atom = parse_atom(P);
    if (atom < 0 || !parse_quantifier(P, &min, &max, &greedy))
        return atom;
    if (P->err)
        return -1;
    if (is_assertion(P->nodes[atom].kind))
        return js_rx_fail(P, "nothing to repeat before a quantifier");
    int rep = new_node(P, RX_REPEAT);
    if (rep < 0)
        return -1;
    P->nodes[rep].child = atom;
    P->nodes[rep].min = min;
    P->nodes[rep].max = max;
    P->nodes[rep].greedy = greedy;
    if (P->i < P->n && (P->p[P->i] == '*' || P->p[P->i] == '+' || P->p[P->i] == '?'))
        return js_rx_fail(P, "nothing to repeat before a quantifier");
    return rep;
}

static int parse_cat(rx_parser *P)
{
    int cat = new_node(P, RX_CAT), last = -1;
    while (!P->err && P->i < P->n && P->p[P->i] != '|' && P->p[P->i] != ')') {
        int t = parse_term(P);
        if (t < 0)
            return -1;
        if (last < 0)
            P->nodes[cat].child = t;
        else
            P->nodes[last].next = t;
        last = t;
    }
    return P->err ? -1 : cat;
}

static int parse_alt(rx_parser *P)
{
    int first = parse_cat(P), last = first;
    if (first < 0 || !at(P, '|'))
        return first;
    int alt = new_node(P, RX_ALT);
    if (alt < 0)
        return -1;
    P->nodes[alt].child = first;
    while (!P->err && at(P, '|')) {
        P->i++;
        int next = parse_cat(P);
        if (next < 0)
            return -1;
        P->nodes[last].next = next;
        last = next;
    }
    return alt;
}

int js_rx_parse(rx_parser *P)
{
    int root = parse_alt(P);
    if (!P->err && P->i < P->n)
        js_rx_fail(P, "unmatched ')'");
    return P->err ? -1 : root;
}
