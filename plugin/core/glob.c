#include "glob.h"

#include <stdint.h>
#include <stdio.h>

/* A path or pattern segment: n bytes at p, no separator inside. */
typedef struct glob_seg {
    const unsigned char *p;
    size_t n;
} glob_seg;

static int is_sep(unsigned char c)
{
    return c == '/' || c == '\\';
}

/* Decode one UTF-8 code point from s (s < end). An invalid byte comes back
 * as U+DC00+byte, which valid UTF-8 never produces, so it equals only
 * itself. */
static size_t next_cp(const unsigned char *s, const unsigned char *end, uint32_t *cp)
{
    unsigned char b = s[0];
    size_t n = 0, avail = (size_t)(end - s);
    uint32_t c = 0, min = 0;
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    if (b >= 0xC2 && b <= 0xDF)
        n = 2, c = b & 0x1Fu, min = 0x80;
    else if (b >= 0xE0 && b <= 0xEF)
        n = 3, c = b & 0x0Fu, min = 0x800;
    else if (b >= 0xF0 && b <= 0xF4)
        n = 4, c = b & 0x07u, min = 0x10000;
    if (n == 0 || n > avail)
        goto invalid;
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

/* Simple case folding to lower case for the scripts listed in glob.h. */
static uint32_t fold(uint32_t c)
{
    if (c < 0x80)
        return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7)
        return c + 32;
    if (c == 0x178)
        return 0xFF;
    if (c >= 0x100 && c <= 0x17E) {
        /* Latin Extended-A alternates upper/lower; the runs U+0139-U+0148 and
         * U+0179-U+017E start on an odd code point, the others on an even
         * one. These four have no simple partner inside the block. */
        if (c == 0x130 || c == 0x131 || c == 0x138 || c == 0x149)
            return c;
        int upper_is_odd = (c >= 0x139 && c <= 0x148) || c >= 0x179;
        int is_odd = (int)(c & 1u);
        return is_odd == upper_is_odd ? c + 1 : c;
    }
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2)
        return c + 32;
    if (c == 0x3C2) /* final sigma */
        return 0x3C3;
    if (c >= 0x410 && c <= 0x42F)
        return c + 32;
    if (c >= 0x400 && c <= 0x40F)
        return c + 80;
    return c;
}

/* Advance *s to the next non-empty segment and return it in *out; 0 when
 * there is none. */
static int next_seg(const unsigned char **s, glob_seg *out)
{
    const unsigned char *p = *s;
    while (is_sep(*p))
        p++;
    const unsigned char *e = p;
    while (*e && !is_sep(*e))
        e++;
    *s = e;
    out->p = p;
    out->n = (size_t)(e - p);
    return e != p;
}

static int is_globstar(glob_seg g)
{
    return g.n == 2 && g.p[0] == '*' && g.p[1] == '*';
}

/* One segment against a name, '*' and '?' only. The classic algorithm:
 * remember the last '*' and where the name stood; on a mismatch let that
 * '*' swallow one more character and retry. Earlier stars never need to be
 * revisited, so the cost is at most pattern length x name length. */
static int seg_match(glob_seg pat, glob_seg name)
{
    const unsigned char *p = pat.p, *pe = pat.p + pat.n;
    const unsigned char *s = name.p, *se = name.p + name.n;
    const unsigned char *star_p = NULL, *star_s = NULL;
    uint32_t pc, sc;
    while (s < se) {
        if (p < pe && *p == '*') {
            while (p < pe && *p == '*')
                p++;
            star_p = p;
            star_s = s;
            continue;
        }
        if (p < pe) {
            size_t pn = next_cp(p, pe, &pc), sn = next_cp(s, se, &sc);
            if (pc == '?' || fold(pc) == fold(sc)) {
                p += pn;
                s += sn;
                continue;
            }
        }
        if (!star_p)
            return 0;
        star_s += next_cp(star_s, se, &sc);
        s = star_s;
        p = star_p;
    }
    while (p < pe && *p == '*')
        p++;
    return p == pe;
}

/* Whole-path match. "**" segments work like '*' in seg_match, one level up:
 * a plain pattern segment always consumes exactly one path segment, so the
 * same single-backtrack-point algorithm is exact here too. */
static int path_match(const unsigned char *pattern, const unsigned char *path)
{
    const unsigned char *p = pattern, *s = path, *star_p = NULL, *star_s = NULL;
    glob_seg pseg, sseg, rest;
    for (;;) {
        const unsigned char *s_next = s, *p_next = p;
        if (!next_seg(&s_next, &sseg))
            break;
        int have_p = next_seg(&p_next, &pseg);
        if (have_p && is_globstar(pseg)) {
            const unsigned char *after = p_next;
            if (!next_seg(&after, &rest))
                return 1; /* trailing "**": takes the (non-empty) rest */
            star_p = p = p_next;
            star_s = s;
            continue;
        }
        if (have_p && seg_match(pseg, sseg)) {
            p = p_next;
            s = s_next;
            continue;
        }
        if (!star_p)
            return 0;
        next_seg(&star_s, &sseg); /* the last "**" takes one more segment */
        s = star_s;
        p = star_p;
    }
    /* The path is used up: so must the pattern be. A trailing "**" left over
     * here would match zero segments, which .gitignore does not allow. */
    return !next_seg(&p, &rest);
}

int glob_match(const char *pattern, const char *path)
{
    if (!pattern || !path)
        return 0;
    const unsigned char *pat = (const unsigned char *)pattern;
    const unsigned char *s = (const unsigned char *)path;
    for (const unsigned char *q = pat; *q; q++)
        if (is_sep(*q))
            return path_match(pat, s);
    /* No separator in the pattern: compare with the last path segment. */
    glob_seg pseg, sseg, last = {NULL, 0};
    while (next_seg(&s, &sseg))
        last = sseg;
    if (!last.p || !next_seg(&pat, &pseg))
        return 0;
    return seg_match(pseg, last);
}

static int check_fail(char *errbuf, size_t errlen, const char *pattern, const char *why)
{
    if (errbuf && errlen > 0)
        snprintf(errbuf, errlen, "pattern '%s' %s", pattern, why);
    return -1;
}

int glob_check(const char *pattern, char *errbuf, size_t errlen)
{
    if (!pattern || !*pattern) {
        if (errbuf && errlen > 0)
            snprintf(errbuf, errlen, "pattern is empty");
        return -1;
    }
    unsigned char c0 = (unsigned char)pattern[0];
    int drive = ((c0 | 0x20) >= 'a' && (c0 | 0x20) <= 'z') && pattern[1] == ':';
    if (is_sep(c0) || drive)
        return check_fail(errbuf, errlen, pattern,
                          "is absolute; patterns are relative to the folder being searched");
    const char *seg = pattern;
    for (;;) {
        const char *e = seg;
        while (*e && !is_sep((unsigned char)*e))
            e++;
        size_t n = (size_t)(e - seg);
        if (n == 0 && !*e)
            return check_fail(errbuf, errlen, pattern,
                              "ends with a separator; add '**' to match everything in a folder");
        if (n == 0)
            return check_fail(errbuf, errlen, pattern, "has an empty segment (two separators in a row)");
        if (n == 1 && seg[0] == '.')
            return check_fail(errbuf, errlen, pattern, "has a '.' segment");
        if (n == 2 && seg[0] == '.' && seg[1] == '.')
            return check_fail(errbuf, errlen, pattern,
                              "has a '..' segment; patterns may not leave the folder being "
                              "searched");
        for (size_t i = 0; n != 2 && i + 1 < n; i++)
            if (seg[i] == '*' && seg[i + 1] == '*')
                return check_fail(errbuf, errlen, pattern,
                                  "uses '**' inside a segment; '**' must be a whole segment "
                                  "such as in 'Archive/**/*.pst'");
        if (!*e)
            return 0;
        seg = e + 1;
    }
}
