/*
 * jsonschema_regex_exec.c - runs a compiled pattern (see jsonschema_regex_int.h)
 * against a subject string.
 *
 * The matcher keeps its backtracking points on a heap stack rather than the C
 * stack, so a long subject cannot overflow the stack, and it counts steps so
 * a pathological pattern such as (a*)*b on a long run of a's gives up instead
 * of hanging the host.
 */
#include "jsonschema_regex_int.h"

#include <stdlib.h>

/* Generous for policy-sized strings, small enough to bound a bad pattern to a
 * fraction of a second. */
#define RE_STEP_BUDGET 20000000UL

uint32_t js_utf8_next(const char *str, size_t len, size_t *i)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t at = *i;
    unsigned char b = s[at];
    int extra;
    uint32_t cp, min;

    if (b < 0x80) {
        *i = at + 1;
        return b;
    }
    if ((b & 0xE0) == 0xC0) { extra = 1; cp = b & 0x1F; min = 0x80; }
    else if ((b & 0xF0) == 0xE0) { extra = 2; cp = b & 0x0F; min = 0x800; }
    else if ((b & 0xF8) == 0xF0) { extra = 3; cp = b & 0x07; min = 0x10000; }
    else { *i = at + 1; return 0xFFFD; }

    if (at + (size_t)extra >= len) { /* truncated sequence */
        *i = at + 1;
        return 0xFFFD;
    }
    for (int k = 1; k <= extra; k++) {
        if ((s[at + (size_t)k] & 0xC0) != 0x80) {
            *i = at + 1;
            return 0xFFFD;
        }
        cp = (cp << 6) | (s[at + (size_t)k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        *i = at + 1;
        return 0xFFFD;
    }
    *i = at + (size_t)extra + 1;
    return cp;
}

static int is_line_terminator(uint32_t c)
{
    return c == 0x0A || c == 0x0D || c == 0x2028 || c == 0x2029;
}

/* ECMA-262 WhiteSpace and LineTerminator, which is what \s means there. */
static int is_space(uint32_t c)
{
    if (c == 0x20 || (c >= 0x09 && c <= 0x0D))
        return 1;
    if (c < 0xA0)
        return 0;
    return c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

/* \w is ASCII-only in ECMA-262 without the u and i flags. */
static int is_word(uint32_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
}

static int item_match(const js_re_item *it, uint32_t c)
{
    int r = 0;
    switch (it->kind) {
    case RE_ITEM_RANGE: r = c >= it->lo && c <= it->hi; break;
    case RE_ITEM_DIGIT: r = c >= '0' && c <= '9'; break;
    case RE_ITEM_WORD: r = is_word(c); break;
    case RE_ITEM_SPACE: r = is_space(c); break;
    }
    return it->neg ? !r : r;
}

int js_re_class_match(const js_re_class *cls, uint32_t c)
{
    int hit = 0;
    for (size_t k = 0; k < cls->count && !hit; k++)
        hit = item_match(&cls->items[k], c);
    return cls->neg ? !hit : hit;
}

/* A backtracking point: resume at pc with pos, or, when pc < 0, restore
 * register -pc-1 to the saved value pos on the way back. */
typedef struct bt_entry {
    int pc;
    size_t pos;
} bt_entry;

typedef struct bt_stack {
    bt_entry *items;
    size_t len, cap;
} bt_stack;

static int bt_push(bt_stack *st, int pc, size_t pos)
{
    if (st->len == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 64;
        bt_entry *items = realloc(st->items, cap * sizeof *items);
        if (!items)
            return -1;
        st->items = items;
        st->cap = cap;
    }
    st->items[st->len].pc = pc;
    st->items[st->len].pos = pos;
    st->len++;
    return 0;
}

/* Pop to the next resumable point, undoing register changes on the way.
 * Returns 0 when nothing is left to try. */
static int bt_pop(bt_stack *st, size_t *regs, int *pc, size_t *pos)
{
    while (st->len) {
        bt_entry e = st->items[--st->len];
        if (e.pc >= 0) {
            *pc = e.pc;
            *pos = e.pos;
            return 1;
        }
        regs[-e.pc - 1] = e.pos;
    }
    return 0;
}

typedef struct re_subject {
    const uint32_t *s;
    size_t n;
    size_t *regs;
    unsigned long budget;
} re_subject;

static int word_at(const re_subject *sub, size_t pos)
{
    return pos < sub->n && is_word(sub->s[pos]);
}

static int run(const js_regex *re, re_subject *sub, int pc, size_t pos);

/* Test one instruction that consumes nothing or one code point.
 * Returns 1 when it holds (pos advanced as needed), 0 when it fails, -1 on
 * budget exhaustion or out of memory (lookahead only). */
static int step(const js_regex *re, re_subject *sub, const js_re_inst *in, size_t *pos)
{
    size_t p = *pos;
    int r;
    switch (in->op) {
    case RE_CHAR: r = p < sub->n && sub->s[p] == in->c; break;
    case RE_ANY: r = p < sub->n && !is_line_terminator(sub->s[p]); break;
    case RE_CLASS: r = p < sub->n && js_re_class_match(&re->classes[in->x], sub->s[p]); break;
    case RE_BOL: return p == 0;
    case RE_EOL: return p == sub->n;
    case RE_WORDB: return (p > 0 && word_at(sub, p - 1)) != word_at(sub, p);
    case RE_NWORDB: return (p > 0 && word_at(sub, p - 1)) == word_at(sub, p);
    default: return 0;
    }
    if (r)
        *pos = p + 1;
    return r;
}

static int run(const js_regex *re, re_subject *sub, int pc, size_t pos)
{
    bt_stack st = {0};
    int result = 0;

    for (;;) {
        const js_re_inst *in = &re->prog[pc];
        int ok = 1;
        if (sub->budget == 0 || --sub->budget == 0) {
            result = -1;
            break;
        }
        switch (in->op) {
        case RE_MATCH:
            free(st.items);
            return 1;
        case RE_SPLIT:
            if (bt_push(&st, in->y, pos) < 0) { result = -1; goto out; }
            pc = in->x;
            continue;
        case RE_JMP:
            pc = in->x;
            continue;
        case RE_MARK:
            if (bt_push(&st, -in->x - 1, sub->regs[in->x]) < 0) { result = -1; goto out; }
            sub->regs[in->x] = pos;
            break;
        case RE_CHECK:
            /* ECMA-262: an iteration of * or + that matched nothing ends the
             * loop; without this (a*)* would spin forever. */
            ok = sub->regs[in->x] != pos;
            break;
        case RE_LOOK:
        case RE_NLOOK: {
            int r = run(re, sub, pc + 1, pos);
            if (r < 0) { result = -1; goto out; }
            if ((r == 1) == (in->op == RE_LOOK)) {
                pc = in->x;
                continue;
            }
            ok = 0;
            break;
        }
        default:
            ok = step(re, sub, in, &pos);
            break;
        }
        if (ok) {
            pc++;
            continue;
        }
        if (!bt_pop(&st, sub->regs, &pc, &pos))
            break;
    }
out:
    free(st.items);
    return result;
}

int js_regex_search(const js_regex *re, const char *subject, size_t len)
{
    uint32_t *cps = malloc((len + 1) * sizeof *cps);
    size_t *regs = malloc(((size_t)re->reg_count + 1) * sizeof *regs);
    size_t n = 0, i = 0;
    int result = 0;

    if (!cps || !regs) {
        free(cps);
        free(regs);
        return -1;
    }
    while (i < len)
        cps[n++] = js_utf8_next(subject, len, &i);

    re_subject sub = {cps, n, regs, RE_STEP_BUDGET};
    size_t last_start = re->anchored_start ? 0 : n;
    for (size_t start = 0; start <= last_start && result == 0; start++) {
        for (int k = 0; k < re->reg_count; k++)
            regs[k] = (size_t)-1;
        result = run(re, &sub, 0, start);
    }
    free(cps);
    free(regs);
    return result;
}
