/*
 * pst_check.c - the PST checker's driver: reading, the problem list, the
 * sets that keep the walk bounded, and the order of the checks (header,
 * B-trees and blocks, maps, cross-checks). See pst_check.h.
 */
#include "pst_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"
#include "pst_internal.h"

uint16_t pst_le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

uint32_t pst_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

uint64_t pst_le64(const unsigned char *p)
{
    return (uint64_t)pst_le32(p) | ((uint64_t)pst_le32(p + 4) << 32);
}

uint64_t pst_id(const pst_ctx *c, const unsigned char *p)
{
    return c->lay.unicode ? pst_le64(p) : pst_le32(p);
}

void pst_problem_add(pst_ctx *c, uint64_t offset, const char *fmt, ...)
{
    pst_report *r = c->rep;
    if (r->problem_count >= PST_MAX_PROBLEMS) {
        r->problems_dropped++;
        return;
    }
    if (!r->problems) {
        r->problems = calloc(PST_MAX_PROBLEMS, sizeof *r->problems);
        if (!r->problems) {
            c->failed = ps_err_set(c->err, PS_ERR_NOMEM, "out of memory");
            return;
        }
    }
    pst_problem *p = &r->problems[r->problem_count++];
    p->offset = offset;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->what, sizeof p->what, fmt, ap);
    va_end(ap);
}

int pst_read_exact(pst_ctx *c, void *buf, size_t len, uint64_t off)
{
    if (c->failed || off > c->size || len > c->size - off)
        return 0;
    size_t got = 0;
    ps_status s = c->read(c->read_ctx, buf, len, off, &got, c->err);
    if (s != PS_OK) {
        c->failed = s;
        return 0;
    }
    return got == len;
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap * 2 : 256;
    while (n < need)
        n *= 2;
    void *q = realloc(p, n * elem);
    if (q)
        *cap = n;
    return q;
}

int pst_extent_add(pst_ctx *c, uint64_t ib, uint32_t size, uint16_t cb, uint8_t trailer,
                   uint8_t kind)
{
    pst_extent *e = grow(c->extents, &c->extent_cap, c->extent_count + 1, sizeof *e);
    if (!e) {
        c->failed = ps_err_set(c->err, PS_ERR_NOMEM, "out of memory");
        return 0;
    }
    c->extents = e;
    c->extents[c->extent_count++] = (pst_extent){ib, size, cb, trailer, kind};
    return 1;
}

static size_t seen_slot(const uint64_t *set, size_t cap, uint64_t key)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h >> 17) & (cap - 1);
    while (set[i] && set[i] != key)
        i = (i + 1) & (cap - 1);
    return i;
}

int pst_seen_insert(pst_ctx *c, uint64_t ib)
{
    uint64_t key = ib + 1; /* 0 marks an empty slot */
    if ((c->seen_count + 1) * 2 > c->seen_cap) {
        size_t cap = c->seen_cap ? c->seen_cap * 2 : 1024;
        uint64_t *set = calloc(cap, sizeof *set);
        if (!set) {
            c->failed = ps_err_set(c->err, PS_ERR_NOMEM, "out of memory");
            return 0;
        }
        for (size_t i = 0; i < c->seen_cap; i++)
            if (c->seen[i])
                set[seen_slot(set, cap, c->seen[i])] = c->seen[i];
        free(c->seen);
        c->seen = set;
        c->seen_cap = cap;
    }
    size_t i = seen_slot(c->seen, c->seen_cap, key);
    if (c->seen[i])
        return 0;
    c->seen[i] = key;
    c->seen_count++;
    return 1;
}

static int cmp_extent(const void *a, const void *b)
{
    const pst_extent *x = a, *y = b;
    return x->ib < y->ib ? -1 : x->ib > y->ib;
}

void pst_sort_extents(pst_ctx *c)
{
    if (c->extent_count > 1)
        qsort(c->extents, c->extent_count, sizeof *c->extents, cmp_extent);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static const char *extent_name(const pst_extent *e)
{
    switch (e->kind) {
    case PST_EXTENT_HEADER: return "the header";
    case PST_EXTENT_BTPAGE: return "a B-tree page";
    case PST_EXTENT_MAPPAGE: return "a map page";
    default: return "a block";
    }
}

/* Two structures in the same bytes: one of them is not what it claims (a
 * torn copy mixing two versions, or a hostile file). */
static void check_overlaps(pst_ctx *c)
{
    for (size_t i = 1; i < c->extent_count; i++) {
        const pst_extent *a = &c->extents[i - 1], *b = &c->extents[i];
        if (b->ib < a->ib + a->size)
            pst_problem_add(c, b->ib, "%s at 0x%llx overlaps %s at 0x%llx (%u bytes)",
                            extent_name(b), (unsigned long long)b->ib, extent_name(a),
                            (unsigned long long)a->ib, (unsigned)a->size);
    }
}

/* Every block a node names must be in the block B-tree (2.2.2.7.7.4). */
static void check_node_refs(pst_ctx *c)
{
    if (c->bbt_count > 1)
        qsort(c->bbt_bids, c->bbt_count, sizeof *c->bbt_bids, cmp_u64);
    for (size_t i = 0; i < c->node_count; i++) {
        const pst_node_ref *n = &c->nodes[i];
        uint64_t bids[2] = {n->bid_data, n->bid_sub};
        for (int k = 0; k < 2; k++) {
            uint64_t key = bids[k] & ~1ull;
            if (!key)
                continue;
            if (!c->bbt_count || !bsearch(&key, c->bbt_bids, c->bbt_count, sizeof key, cmp_u64))
                pst_problem_add(c, n->entry_ib,
                                "node 0x%llx names %s 0x%llx, which the block B-tree lacks",
                                (unsigned long long)n->nid, k ? "bidSub" : "bidData",
                                (unsigned long long)bids[k]);
        }
    }
}

ps_status pst_check(pst_read_fn read, void *ctx, uint64_t file_size,
                    const pst_check_options *opts, pst_report *rep, ps_err *err)
{
    memset(rep, 0, sizeof *rep);
    rep->file_size = file_size;
    pst_ctx c = {.read = read, .read_ctx = ctx, .size = file_size, .rep = rep, .err = err};
    if (pst_check_header(&c) && !c.failed) {
        pst_check_btrees(&c);
        if (!c.failed) {
            pst_sort_extents(&c);
            pst_check_maps(&c);
        }
        if (!c.failed) {
            pst_sort_extents(&c);
            check_overlaps(&c);
            check_node_refs(&c);
        }
    }
    free(c.seen);
    free(c.bbt_bids);
    free(c.nodes);
    if (!c.failed && opts && opts->want_extents) {
        rep->extents = c.extents;
        rep->extent_count = c.extent_count;
    } else {
        free(c.extents);
    }
    return c.failed;
}

static ps_status read_file(void *ctx, void *buf, size_t len, uint64_t off, size_t *got,
                           ps_err *err)
{
    return pf_pread(ctx, buf, len, off, got, err);
}

ps_status pst_check_file(const char *path, const pst_check_options *opts, pst_report *rep,
                         ps_err *err)
{
    memset(rep, 0, sizeof *rep);
    pf_file *f = NULL;
    pf_stat st;
    ps_status s = pf_open_read(path, &f, err);
    if (s == PS_OK)
        s = pf_fstat(f, &st, err);
    if (s == PS_OK)
        s = pst_check(read_file, f, st.size, opts, rep, err);
    if (s != PS_OK)
        ps_err_prefix(err, "checking '%s': ", path);
    pf_close(f, NULL);
    return s;
}

typedef struct mem_input {
    const unsigned char *data;
    size_t len;
} mem_input;

static ps_status read_memory(void *ctx, void *buf, size_t len, uint64_t off, size_t *got,
                             ps_err *err)
{
    const mem_input *m = ctx;
    size_t n = off >= m->len ? 0 : (m->len - off < len ? m->len - off : len);
    if (n)
        memcpy(buf, m->data + off, n);
    *got = n;
    return PS_OK;
}

ps_status pst_check_memory(const void *data, size_t len, const pst_check_options *opts,
                           pst_report *rep, ps_err *err)
{
    mem_input m = {data, len};
    return pst_check(read_memory, &m, len, opts, rep, err);
}

void pst_report_free(pst_report *rep)
{
    free(rep->problems);
    free(rep->extents);
    memset(rep, 0, sizeof *rep);
}
