/*
 * jsonschema_regex_int.h - what the regex compiler (jsonschema_regex.c) hands
 * to the matcher (jsonschema_regex_exec.c). Not for use outside those files,
 * except js_utf8_next, which the validator also uses.
 *
 * A compiled pattern is a program for a backtracking virtual machine, in the
 * manner of Thompson/Pike: SPLIT forks into a preferred and an alternative
 * path, and the matcher retries the alternative when the preferred one fails.
 * Counted repetition is expanded into copies of the repeated code.
 */
#ifndef JS_REGEX_INT_H
#define JS_REGEX_INT_H

#include "jsonschema_regex.h"

#include <stddef.h>
#include <stdint.h>

enum js_re_op {
    RE_CHAR,   /* c: match this code point */
    RE_ANY,    /* any code point but a line terminator */
    RE_CLASS,  /* x: index into classes */
    RE_BOL,    /* at the start of the subject */
    RE_EOL,    /* at the end of the subject */
    RE_WORDB,  /* \b */
    RE_NWORDB, /* \B */
    RE_SPLIT,  /* try x, on failure y */
    RE_JMP,    /* go to x */
    RE_MARK,   /* remember the position in register x */
    RE_CHECK,  /* fail unless the position moved since RE_MARK x */
    RE_LOOK,   /* lookahead: body at pc+1 ends in RE_MATCH; continue at x */
    RE_NLOOK,  /* negative lookahead, same layout */
    RE_MATCH
};

typedef struct js_re_inst {
    int op;
    int x, y;
    uint32_t c;
} js_re_inst;

/* One member of a character class: a code point range, or one of the
 * shorthand classes \d \w \s (neg set for \D \W \S). */
enum js_re_item_kind { RE_ITEM_RANGE, RE_ITEM_DIGIT, RE_ITEM_WORD, RE_ITEM_SPACE };

typedef struct js_re_item {
    int kind;
    int neg;
    uint32_t lo, hi;
} js_re_item;

typedef struct js_re_class {
    int neg; /* [^...] */
    size_t count;
    js_re_item *items;
} js_re_class;

struct js_regex {
    js_re_inst *prog;
    size_t prog_len;
    js_re_class *classes;
    size_t class_count;
    int reg_count;      /* registers used by RE_MARK/RE_CHECK */
    int anchored_start; /* program begins with ^: only position 0 can match */
};

/* Decode the code point at s[*i] and advance *i. Invalid UTF-8 yields
 * U+FFFD and advances one byte, so a bad byte never stalls a caller. */
uint32_t js_utf8_next(const char *s, size_t len, size_t *i);

int js_re_class_match(const js_re_class *cls, uint32_t c);

#define RE_INF -1 /* max of an unbounded repetition */
/* Bounds that keep a hostile or mistaken pattern from exhausting memory;
 * no sensible schema comes near them. */
#define RE_MAX_COUNT 10000
#define RE_MAX_NESTING 200

/* Syntax tree built by the parser and consumed by the emitter. */
enum rx_kind { RX_CHAR, RX_ANY, RX_CLASS, RX_CAT, RX_ALT, RX_REPEAT, RX_BOL,
               RX_EOL, RX_WORDB, RX_NWORDB, RX_LOOK, RX_NLOOK };

typedef struct rx_node {
    int kind;
    int child; /* first child (CAT, ALT: a sibling list; REPEAT, LOOK: one) */
    int next;  /* next sibling, -1 at the end */
    uint32_t c;
    int cls;
    int min, max, greedy;
} rx_node;

typedef struct rx_parser {
    const uint32_t *p;
    size_t n, i;
    int depth;
    rx_node *nodes;
    size_t node_count, node_cap;
    js_regex *re;
    const char *err; /* static text; first error wins */
} rx_parser;

/* Record the first error (a static string) and return -1. */
int js_rx_fail(rx_parser *P, const char *why);

/* Parse P->p[0..n) into P->nodes, adding character classes to P->re.
 * Returns the root node, or -1 with P->err set. */
int js_rx_parse(rx_parser *P);

#endif /* JS_REGEX_INT_H */
