/*
 * pst_maps.c - [MS-PST] 2.2.2.7.2 AMap and 2.2.2.7.3 PMap pages, and the
 * AMap held against what the B-tree walk found.
 *
 * Map pages sit at fixed places (the first AMap at 0x4400 and one every
 * 253,952 bytes; a PMap at 0x4600 and one every 8 AMaps), carry no B-tree
 * reference, and by convention have wSig 0 and their own offset as bid.
 * When ROOT.fAMapValid says the AMap can be trusted, every page and block
 * the walk verified must lie in space it marks allocated: a block in "free"
 * space is a torn copy or a mixed-up file. Space marked allocated that
 * nothing uses is only counted (Outlook leaks space after a crash).
 */
#include <string.h>

#include "pst_internal.h"

#define UNITS_PER_AMAP (PST_AMAP_SPAN / 64u)

/* Bit i maps the i-th 64 bytes; the first bit is the high bit of byte 0
 * (the spec's example: an AMap's first byte 0xFF covers its own 512
 * bytes). */
static int amap_bit(const unsigned char *bits, unsigned unit)
{
    return (bits[unit / 8] >> (7 - unit % 8)) & 1;
}

static void check_pmaps(pst_ctx *c)
{
    unsigned char page[PST_PAGE];
    for (uint64_t ib = PST_PMAP_FIRST; ib + PST_PAGE <= c->limit && !c->failed;
         ib += PST_PMAP_SPAN) {
        if (!pst_read_exact(c, page, PST_PAGE, ib))
            return;
        c->rep->map_pages_checked++;
        pst_extent_add(c, ib, PST_PAGE, (uint16_t)c->lay.page_body, (uint8_t)c->lay.trailer_size,
                       PST_EXTENT_MAPPAGE);
        pst_check_page_trailer(c, page, ib, PST_PTYPE_PMAP, ib, 0, "PMap");
    }
}

/* Mark what extents [*next, n) cover inside this AMap's span; report those
 * the AMap calls free. */
static void cross_check(pst_ctx *c, uint64_t amap_ib, const unsigned char *bits, size_t n,
                        size_t *next)
{
    unsigned char covered[UNITS_PER_AMAP / 8];
    memset(covered, 0, sizeof covered);
    uint64_t end = amap_ib + PST_AMAP_SPAN;
    for (unsigned u = 0; u < PST_PAGE / 64u; u++) /* the AMap page itself */
        covered[u / 8] |= (unsigned char)(0x80u >> (u % 8));
    size_t i = *next;
    while (i < n && c->extents[i].ib + c->extents[i].size <= amap_ib)
        i++;
    *next = i;
    for (; i < n && c->extents[i].ib < end; i++) {
        const pst_extent *e = &c->extents[i];
        uint64_t from = e->ib > amap_ib ? e->ib : amap_ib;
        uint64_t to = e->ib + e->size < end ? e->ib + e->size : end;
        int reported = 0;
        for (uint64_t off = from - amap_ib; off < to - amap_ib; off += 64) {
            unsigned u = (unsigned)(off / 64);
            covered[u / 8] |= (unsigned char)(0x80u >> (u % 8));
            if (!reported && !amap_bit(bits, u)) {
                pst_problem_add(c, e->ib, "%s at 0x%llx lies in space the AMap at 0x%llx "
                                "marks free", e->kind == PST_EXTENT_BLOCK ? "block" : "page",
                                (unsigned long long)e->ib, (unsigned long long)amap_ib);
                reported = 1;
            }
        }
    }
    uint64_t units = (c->limit - amap_ib) / 64;
    if (units > UNITS_PER_AMAP)
        units = UNITS_PER_AMAP;
    for (unsigned u = 0; u < units; u++)
        if (amap_bit(bits, u) && !((covered[u / 8] >> (7 - u % 8)) & 1))
            c->rep->unreferenced_bytes += 64;
}

void pst_check_maps(pst_ctx *c)
{
    check_pmaps(c);
    /* check_pmaps appended PMap pages: cross_check walks extents in order. */
    pst_sort_extents(c);
    size_t n = c->extent_count, next = 0;
    unsigned char page[PST_PAGE];
    uint64_t last = 0;
    int trust = c->root.amap_valid == 1 || c->root.amap_valid == 2;
    for (uint64_t ib = PST_AMAP_FIRST; ib + PST_PAGE <= c->limit && !c->failed;
         ib += PST_AMAP_SPAN) {
        if (!pst_read_exact(c, page, PST_PAGE, ib))
            return;
        last = ib;
        c->rep->map_pages_checked++;
        pst_extent_add(c, ib, PST_PAGE, (uint16_t)c->lay.page_body, (uint8_t)c->lay.trailer_size,
                       PST_EXTENT_MAPPAGE);
        if (pst_check_page_trailer(c, page, ib, PST_PTYPE_AMAP, ib, 0, "AMap") && trust)
            cross_check(c, ib, page + c->lay.amap_bits_off, n, &next);
    }
    if (last && last != c->root.amap_last && c->root.file_eof <= c->size)
        pst_problem_add(c, c->lay.unicode ? 192 : 172,
                        "ROOT.ibAMapLast is 0x%llx but the last AMap page is at 0x%llx",
                        (unsigned long long)c->root.amap_last, (unsigned long long)last);
}
