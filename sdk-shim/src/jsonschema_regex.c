/*
 * jsonschema_regex.c - compiles an ECMA-262 pattern: the parser
 * (jsonschema_regex_parse.c) builds a syntax tree, and this file emits the
 * backtracking program described in jsonschema_regex_int.h.
 *
 * The tree exists only because counted repetition ({2,5}) needs the repeated
 * part emitted several times. Sequences and alternatives are sibling lists,
 * so a long literal pattern does not turn into deep recursion.
 */
#include "jsonschema_regex_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bound on the expanded program so a{9999}{9999} cannot exhaust memory. */
#define RE_MAX_PROG 100000

static int emit(rx_parser *P, int op, int x, int y, uint32_t c)
{
    js_regex *re = P->re;
    if (P->err)
        return -1;
    if (re->prog_len >= RE_MAX_PROG)
        return js_rx_fail(P, "pattern too large once repetitions are expanded");
    if ((re->prog_len & 255) == 0) {
        js_re_inst *prog = realloc(re->prog, (re->prog_len + 256) * sizeof *prog);
        if (!prog)
            return js_rx_fail(P, "out of memory");
        re->prog = prog;
    }
    js_re_inst *in = &re->prog[re->prog_len];
    in->op = op;
    in->x = x;
    in->y = y;
    in->c = c;
    return (int)re->prog_len++;
}

static int here(const rx_parser *P) { return (int)P->re->prog_len; }

/* Can the node match the empty string? Loops over such bodies need the
 * RE_MARK/RE_CHECK progress test. */
static int nullable(const rx_parser *P, int idx)
{
    const rx_node *nd = &P->nodes[idx];
    switch (nd->kind) {
    case RX_CHAR: case RX_ANY: case RX_CLASS: return 0;
    case RX_REPEAT: return nd->min == 0 || nullable(P, nd->child);
    case RX_CAT:
        for (int k = nd->child; k >= 0; k = P->nodes[k].next)
            if (!nullable(P, k))
                return 0;
        return 1;
    case RX_ALT:
        for (int k = nd->child; k >= 0; k = P->nodes[k].next)
            if (nullable(P, k))
                return 1;
        return 0;
    default: return 1;
    }
}

static void emit_node(rx_parser *P, int idx);

static void emit_star(rx_parser *P, const rx_node *nd)
{
    int guard = nullable(P, nd->child);
    int reg = guard ? P->re->reg_count++ : 0;
    int loop = emit(P, RE_SPLIT, 0, 0, 0);
    if (guard)
        emit(P, RE_MARK, reg, 0, 0);
    emit_node(P, nd->child);
    if (guard)
        emit(P, RE_CHECK, reg, 0, 0);
    emit(P, RE_JMP, loop, 0, 0);
    if (P->err)
        return;
    js_re_inst *s = &P->re->prog[loop];
    s->x = nd->greedy ? loop + 1 : here(P);
    s->y = nd->greedy ? here(P) : loop + 1;
}

static void emit_repeat(rx_parser *P, int idx)
{
    rx_node nd = P->nodes[idx];
    for (int k = 0; k < nd.min && !P->err; k++)
        emit_node(P, nd.child);
    if (nd.max == RE_INF) {
        emit_star(P, &nd);
        return;
    }
    /* x{2,4} is x x (x (x)?)?: each optional copy may skip to the end. The
     * not-yet-patched splits are chained through y, like emit_alt's jumps. */
    int chain = -1;
    for (int k = 0; k < nd.max - nd.min && !P->err; k++) {
        chain = emit(P, RE_SPLIT, 0, chain, 0);
        emit_node(P, nd.child);
    }
    int end = here(P);
    while (chain >= 0 && !P->err) {
        js_re_inst *s = &P->re->prog[chain];
        int prev = s->y;
        s->x = nd.greedy ? chain + 1 : end;
        s->y = nd.greedy ? end : chain + 1;
        chain = prev;
    }
}

static void emit_alt(rx_parser *P, int first)
{
    int jumps_from = -1;
    for (int k = first; k >= 0 && !P->err; k = P->nodes[k].next) {
        int split = -1;
        if (P->nodes[k].next >= 0)
            split = emit(P, RE_SPLIT, here(P) + 1, 0, 0);
        emit_node(P, k);
        /* chain the end-jumps through x so they can be patched at the end */
        int j = emit(P, RE_JMP, jumps_from, 0, 0);
        jumps_from = j;
        if (split >= 0 && !P->err)
            P->re->prog[split].y = here(P);
    }
    int end = here(P);
    while (jumps_from >= 0 && !P->err) {
        int prev = P->re->prog[jumps_from].x;
        P->re->prog[jumps_from].x = end;
        jumps_from = prev;
    }
}

static void emit_node(rx_parser *P, int idx)
{
    static const int simple_ops[] = {
        [RX_ANY] = RE_ANY, [RX_BOL] = RE_BOL, [RX_EOL] = RE_EOL,
        [RX_WORDB] = RE_WORDB, [RX_NWORDB] = RE_NWORDB,
    };
    const rx_node *nd = &P->nodes[idx];
    switch (nd->kind) {
    case RX_CHAR: emit(P, RE_CHAR, 0, 0, nd->c); break;
    case RX_CLASS: emit(P, RE_CLASS, nd->cls, 0, 0); break;
    case RX_ANY: case RX_BOL: case RX_EOL: case RX_WORDB: case RX_NWORDB:
        emit(P, simple_ops[nd->kind], 0, 0, 0);
        break;
    case RX_CAT:
        for (int k = nd->child; k >= 0 && !P->err; k = P->nodes[k].next)
            emit_node(P, k);
        break;
    case RX_ALT: emit_alt(P, nd->child); break;
    case RX_REPEAT: emit_repeat(P, idx); break;
    case RX_LOOK: case RX_NLOOK: {
        int look = emit(P, nd->kind == RX_LOOK ? RE_LOOK : RE_NLOOK, 0, 0, 0);
        emit_node(P, nd->child);
        emit(P, RE_MATCH, 0, 0, 0);
        if (!P->err)
            P->re->prog[look].x = here(P);
        break;
    }
    }
}

void js_regex_free(js_regex *re)
{
    if (!re)
        return;
    for (size_t k = 0; k < re->class_count; k++)
        free(re->classes[k].items);
    free(re->classes);
    free(re->prog);
    free(re);
}

js_regex *js_regex_compile(const char *pattern, char *errbuf, size_t errlen)
{
    size_t len = strlen(pattern), n = 0, i = 0;
    uint32_t *cps = malloc((len + 1) * sizeof *cps);
    js_regex *re = calloc(1, sizeof *re);
    rx_parser P = {0};

    if (!cps || !re) {
        P.err = "out of memory";
    } else {
        while (i < len)
            cps[n++] = js_utf8_next(pattern, len, &i);
        P.p = cps;
        P.n = n;
        P.re = re;
        int root = js_rx_parse(&P);
        if (root >= 0) {
            emit_node(&P, root);
            emit(&P, RE_MATCH, 0, 0, 0);
        }
    }
    free(cps);
    free(P.nodes);
    if (P.err) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "%s", P.err);
        js_regex_free(re);
        return NULL;
    }
    re->anchored_start = re->prog[0].op == RE_BOL;
    return re;
}
