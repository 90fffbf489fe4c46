/*
 * catl_regex_match.c - the backtracking matcher for compiled CAtlRegExp
 * patterns (catl_regex_prog.h).
 *
 * Backtrack points live on a heap stack, not the C stack, so a long input
 * cannot overflow the stack; only '!' recurses, and its nesting is bounded by
 * CATL_REGEX_MAX_DEPTH. Every instruction executed counts against
 * CATL_REGEX_STEP_BUDGET, which bounds the stack as well (at most one entry
 * is pushed per step).
 *
 * Memo of visited states (the "bit-state" idea): for a boolean answer, what
 * happens after reaching instruction pc at text position sp depends on
 * (pc, sp) alone, so a second arrival can be failed at once. If the first
 * arrival's search finished, it failed (we would have stopped otherwise); if
 * it is still on the current path, we went round a loop without consuming
 * anything. That makes nested quantifiers such as "(.*.*)*x" cost at most
 * program size x text length steps instead of exponential time. Two things
 * break the premise: backreferences (the future depends on what a group
 * captured), so programs with one are not memoised; and '!' bodies, which
 * succeed or fail independently of the outer search, so each lookahead run
 * stamps its states with its own epoch. The memo is skipped when it would
 * exceed RX_MEMO_MAX entries; the step budget then is the only bound.
 */
#include "catl_regex.h"
#include "catl_regex_prog.h"

#include <stdlib.h>
#include <string.h>

#define RX_MEMO_MAX ((size_t)1 << 20) /* entries of 4 bytes */

/* A backtrack entry: tag >= 0 resumes at pc `tag`, position `val`;
 * tag < 0 restores register -tag-1 to `val`. */
typedef struct rx_bt {
    int32_t tag;
    uint32_t val;
} rx_bt;

typedef struct rx_vm {
    const catl_regex *re;
    const unsigned char *text;
    uint32_t len;
    uint32_t *regs; /* 2 per match group, then 1 per loop */
    rx_bt *stack;
    size_t n, cap;
    unsigned long steps;
    int gave_up;
    uint32_t *seen; /* [pc * (len + 1) + sp] = epoch that visited it; or NULL */
    uint32_t epochs;
} rx_vm;

static int push(rx_vm *m, int32_t tag, uint32_t val)
{
    if (m->n == m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 256;
        rx_bt *s = realloc(m->stack, ncap * sizeof *s);
        if (!s) {
            m->gave_up = 1;
            return -1;
        }
        m->stack = s;
        m->cap = ncap;
    }
    m->stack[m->n].tag = tag;
    m->stack[m->n].val = val;
    m->n++;
    return 0;
}

static int set_reg(rx_vm *m, uint32_t r, uint32_t val)
{
    if (m->regs[r] != val && push(m, -(int32_t)r - 1, m->regs[r]))
        return -1;
    m->regs[r] = val;
    return 0;
}

static int class_has(const uint32_t *set, uint32_t c)
{
    for (uint32_t i = 0; i < set[0] >> 1; i++)
        if (c >= set[1 + 2 * i] && c <= set[2 + 2 * i])
            return 1;
    return 0;
}

static int class_match(const catl_regex *re, uint32_t head, uint32_t c)
{
    const uint32_t *set = re->sets + head;
    int in = class_has(set, c) ||
             (re->icase && (class_has(set, rx_fold_lower(c)) || class_has(set, rx_fold_upper(c))));
    return in != (int)(set[0] & 1);
}

/* Compare the text of match group g with the input at *sp. */
static int backref_match(rx_vm *m, uint32_t g, uint32_t *sp)
{
    uint32_t from = m->regs[2 * g], to = m->regs[2 * g + 1], at = *sp;
    if (from == RX_UNSET || to == RX_UNSET || to < from)
        return 0;
    while (from < to) {
        uint32_t a, b;
        if (at >= m->len)
            return 0;
        from += (uint32_t)rx_u8_next(m->text + from, &a);
        at += (uint32_t)rx_u8_next(m->text + at, &b);
        if (a != b && !(m->re->icase && rx_fold_lower(a) == rx_fold_lower(b)))
            return 0;
    }
    *sp = at;
    return 1;
}

/* Stands in for an instruction already tried at this position. */
static const rx_ins fail_ins = {RX_FAIL, 0, 0, 0};

/* Drop backtrack entries above `base`, undoing their register changes. */
static void unwind(rx_vm *m, size_t base)
{
    while (m->n > base) {
        rx_bt e = m->stack[--m->n];
        if (e.tag < 0)
            m->regs[-(e.tag + 1)] = e.val;
    }
}

/* Run from pc at sp until RX_MATCH / RX_SUBOK (1) or every path failed (0),
 * marking visited states with `epoch`. Registers are back to their entry
 * values when this returns. */
static int run(rx_vm *m, size_t pc, uint32_t sp, uint32_t epoch)
{
    const catl_regex *re = m->re;
    size_t base = m->n;
    for (;;) {
        if (++m->steps > CATL_REGEX_STEP_BUDGET)
            m->gave_up = 1;
        if (m->gave_up) {
            unwind(m, base);
            return 0;
        }
        const rx_ins *in = &re->prog[pc];
        size_t next = pc + 1;
        uint32_t c = 0, loops = 2 * re->ngroups;
        int ok = 1;
        uint32_t *seen = m->seen ? &m->seen[pc * ((size_t)m->len + 1) + sp] : NULL;
        if (seen && *seen == epoch)
            in = &fail_ins;
        else if (seen)
            *seen = epoch;
        switch ((enum rx_op)in->op) {
        case RX_CHAR:
        case RX_ANY:
        case RX_CLASS:
            if (sp >= m->len) {
                ok = 0;
                break;
            }
            sp += (uint32_t)rx_u8_next(m->text + sp, &c);
            if (in->op == RX_CHAR)
                ok = (re->icase ? rx_fold_lower(c) : c) == in->v;
            else if (in->op == RX_CLASS)
                ok = class_match(re, in->v, c);
            break;
        case RX_SPLIT:
            ok = push(m, (int32_t)(pc + (size_t)(ptrdiff_t)in->y), sp) == 0;
            next = pc + (size_t)(ptrdiff_t)in->x;
            break;
        case RX_JMP: next = pc + (size_t)(ptrdiff_t)in->x; break;
        case RX_SAVE: ok = set_reg(m, in->v, sp) == 0; break;
        case RX_MARK: ok = set_reg(m, loops + in->v, sp) == 0; break;
        case RX_CHECK: ok = m->regs[loops + in->v] != sp; break;
        case RX_BOL: ok = sp == 0; break;
        case RX_SEGSTART: ok = sp == 0 || m->text[sp - 1] == '\\'; break;
        case RX_EOL: ok = sp == m->len; break;
        case RX_NOT:
            ok = !run(m, pc + 1, sp, ++m->epochs) && !m->gave_up;
            next = pc + (size_t)(ptrdiff_t)in->x;
            break;
        case RX_BACKREF: ok = backref_match(m, in->v, &sp); break;
        case RX_FAIL: ok = 0; break;
        case RX_SUBOK:
        case RX_MATCH: unwind(m, base); return 1;
        }
        pc = next;
        if (ok)
            continue;
        /* Backtrack to the most recent branch of this run. */
        for (;;) {
            if (m->n == base)
                return 0;
            rx_bt e = m->stack[--m->n];
            if (e.tag < 0) {
                m->regs[-(e.tag + 1)] = e.val;
                continue;
            }
            pc = (size_t)e.tag;
            sp = e.val;
            break;
        }
    }
}

int catl_regex_match(const catl_regex *re, const char *text)
{
    if (!re || !text)
        return 0;
    size_t len = strlen(text);
    if (len >= RX_UNSET)
        return 0;
    size_t nregs = 2 * (size_t)re->ngroups + re->nloops;
    rx_vm m = {re, (const unsigned char *)text, (uint32_t)len, NULL, NULL, 0, 0, 0, 0, NULL, 1};
    m.regs = malloc((nregs + 1) * sizeof *m.regs);
    if (!m.regs)
        return 0;
    if (!re->has_backref && re->nprog <= RX_MEMO_MAX / (len + 1))
        m.seen = calloc(re->nprog * (len + 1), sizeof *m.seen); /* NULL: no memo */
    for (size_t i = 0; i < nregs; i++)
        m.regs[i] = RX_UNSET;
    /* Like CAtlRegExp::Match, try each start position unless anchored. */
    int anchored = re->prog[0].op == RX_BOL, found = 0;
    uint32_t sp = 0, c;
    for (;;) {
        /* Epoch 1 for every start: a state that failed from an earlier start
         * fails from this one too. */
        found = run(&m, 0, sp, 1);
        if (found || m.gave_up || anchored || sp >= m.len)
            break;
        sp += (uint32_t)rx_u8_next(m.text + sp, &c);
    }
    free(m.seen);
    free(m.stack);
    free(m.regs);
    return found;
}
