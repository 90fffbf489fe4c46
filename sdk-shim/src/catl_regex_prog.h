/*
 * catl_regex_prog.h - private to catl_regex*.c: the compiled form of a
 * CAtlRegExp pattern, the contract between the compiler (catl_regex.c) and
 * the backtracking matcher (catl_regex_match.c).
 *
 * A pattern compiles to a program of rx_ins for a backtracking machine
 * (Thompson/Pike style instructions). Jumps (x, y) are relative to the
 * instruction that holds them, so a finished piece of program can be moved as
 * a block: the compiler handles a quantifier by inserting its SPLIT in front
 * of the atom it follows, without building a syntax tree first. The last
 * instruction is always RX_MATCH.
 *
 * Registers at match time: 2 per match group (start, end), then 1 per loop.
 * The helpers below decide what "a character" and "the same letter" mean for
 * both halves, so pattern and text are read the same way.
 */
#ifndef EMH_CATL_REGEX_PROG_H
#define EMH_CATL_REGEX_PROG_H

#include <stddef.h>
#include <stdint.h>

enum rx_op {
    RX_CHAR,     /* v: code point (lower-cased when case-insensitive) */
    RX_ANY,      /* any one character */
    RX_CLASS,    /* v: offset of the class in sets */
    RX_SPLIT,    /* continue at +x, on failure retry at +y */
    RX_JMP,      /* continue at +x (v: pending-jump chain while compiling) */
    RX_SAVE,     /* v: capture slot := position */
    RX_MARK,     /* v: loop register := position (start of an iteration) */
    RX_CHECK,    /* v: fail if the iteration consumed nothing */
    RX_BOL,      /* start of input */
    RX_SEGSTART, /* start of input or just after '\' */
    RX_EOL,      /* end of input */
    RX_NOT,      /* negative lookahead: body follows, ends with RX_SUBOK, skip +x */
    RX_SUBOK,    /* the lookahead body matched */
    RX_BACKREF,  /* v: match group number */
    RX_MATCH,
    RX_FAIL      /* never compiled; the matcher's "already tried here" */
};

typedef struct rx_ins {
    uint8_t op;
    int32_t x, y;
    uint32_t v;
} rx_ins;

struct catl_regex {
    rx_ins *prog;
    size_t nprog, capprog;
    /* Character classes, each stored as a header (range count << 1 |
     * negated) followed by its inclusive ranges as lo, hi pairs. */
    uint32_t *sets;
    size_t nsets, capsets;
    uint32_t ngroups, nloops;
    int icase;
    int has_backref; /* disables the matcher's memo of visited states */
};

#define RX_UNSET UINT32_MAX

/* Decode one UTF-8 character at s (s[0] != 0). An invalid byte is returned
 * as U+DC00+byte, a value valid UTF-8 never yields, so it only matches
 * itself or '.'. */
static inline size_t rx_u8_next(const unsigned char *s, uint32_t *cp)
{
    unsigned char b = s[0];
    size_t n;
    uint32_t c, min;
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    if (b >= 0xC2 && b <= 0xDF) {
        n = 2, c = b & 0x1Fu, min = 0x80;
    } else if (b >= 0xE0 && b <= 0xEF) {
        n = 3, c = b & 0x0Fu, min = 0x800;
    } else if (b >= 0xF0 && b <= 0xF4) {
        n = 4, c = b & 0x07u, min = 0x10000;
    } else {
        goto invalid;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            goto invalid;
        c = (c << 6) | (s[i] & 0x3Fu);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        goto invalid;
    *cp = c;
    return n;
invalid:
    *cp = 0xDC00u + b;
    return 1;
}

static inline uint32_t rx_fold_lower(uint32_t c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7))
        return c + 32;
    return c == 0x178 ? 0xFF : c;
}

static inline uint32_t rx_fold_upper(uint32_t c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 0xE0 && c <= 0xFE && c != 0xF7))
        return c - 32;
    return c == 0xFF ? 0x178 : c;
}

#endif /* EMH_CATL_REGEX_PROG_H */
