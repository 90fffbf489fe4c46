/*
 * pst_btree.c - [MS-PST] 2.2.2.7.7 BTPAGE walks of the node and block
 * B-trees, and 2.2.2.8 the data blocks the block B-tree lists.
 *
 * A page is trusted (its entries followed) only when its trailer and CRC
 * check out: the entries of a damaged page would send the walk into
 * arbitrary bytes and bury the one real problem under hundreds of
 * consequences.
 */
#include <stdlib.h>
#include <string.h>

#include "pst_internal.h"

#define NO_BOUND UINT64_MAX

int pst_check_page_trailer(pst_ctx *c, const unsigned char *page, uint64_t ib, unsigned ptype,
                           uint64_t expect_bid, int signed_page, const char *what)
{
    const pst_layout *l = &c->lay;
    const unsigned char *t = page + l->page_body;
    uint16_t sig = pst_le16(t + 2);
    uint32_t crc = l->unicode ? pst_le32(t + 4) : pst_le32(t + 8);
    uint64_t bid = l->unicode ? pst_le64(t + 8) : pst_le32(t + 4);
    uint64_t at = ib + l->page_body;
    int ok = 1;
    if (t[0] != ptype || t[1] != ptype) {
        pst_problem_add(c, at, "%s page at 0x%llx: ptype 0x%02x/ptypeRepeat 0x%02x, expected 0x%02x",
                        what, (unsigned long long)ib, t[0], t[1], ptype);
        ok = 0;
    }
    uint32_t computed = pst_crc32(page, l->page_body);
    if (crc != computed) {
        pst_problem_add(c, at, "%s page at 0x%llx: dwCRC 0x%08x but the page gives 0x%08x", what,
                        (unsigned long long)ib, crc, computed);
        ok = 0;
    }
    if ((bid ^ expect_bid) & ~1ull) {
        pst_problem_add(c, at, "%s page at 0x%llx: bid 0x%llx, expected 0x%llx", what,
                        (unsigned long long)ib, (unsigned long long)bid,
                        (unsigned long long)expect_bid);
        ok = 0;
    }
    uint16_t want_sig = signed_page ? pst_signature(ib, expect_bid) : 0;
    if (sig != want_sig) {
        pst_problem_add(c, at, "%s page at 0x%llx: wSig 0x%04x, expected 0x%04x", what,
                        (unsigned long long)ib, sig, want_sig);
        ok = 0;
    }
    return ok;
}

/* Is [ib, ib+len) a place a page or block may be? The header and the
 * space before the first AMap hold no B-tree data. */
static int placed_in_file(const pst_ctx *c, uint64_t ib, uint64_t len)
{
    return ib >= c->lay.header_size && ib % 64 == 0 && ib <= c->limit && len <= c->limit - ib;
}

static void check_block(pst_ctx *c, uint64_t bid, uint64_t ib, unsigned cb, uint64_t entry_at)
{
    const pst_layout *l = &c->lay;
    if (cb > l->max_block_cb) {
        pst_problem_add(c, entry_at, "block 0x%llx at 0x%llx: cb %u exceeds the largest block (%u)",
                        (unsigned long long)bid, (unsigned long long)ib, cb, l->max_block_cb);
        return;
    }
    unsigned size = (cb + l->trailer_size + 63u) & ~63u;
    if (!placed_in_file(c, ib, size)) {
        pst_problem_add(c, entry_at, "block 0x%llx: %u bytes at 0x%llx lie outside the file "
                        "(%llu bytes) or off a 64-byte boundary", (unsigned long long)bid, size,
                        (unsigned long long)ib, (unsigned long long)c->limit);
        return;
    }
    unsigned char buf[8192];
    if (!pst_read_exact(c, buf, size, ib))
        return;
    c->rep->blocks_checked++;
    pst_extent_add(c, ib, size, (uint16_t)cb, (uint8_t)l->trailer_size, PST_EXTENT_BLOCK);
    const unsigned char *t = buf + size - l->trailer_size;
    uint64_t at = ib + size - l->trailer_size;
    unsigned tcb = pst_le16(t);
    uint16_t sig = pst_le16(t + 2);
    uint32_t crc = l->unicode ? pst_le32(t + 4) : pst_le32(t + 8);
    uint64_t tbid = l->unicode ? pst_le64(t + 8) : pst_le32(t + 4);
    if (tcb != cb)
        pst_problem_add(c, at, "block 0x%llx at 0x%llx: trailer cb %u, the block B-tree says %u",
                        (unsigned long long)bid, (unsigned long long)ib, tcb, cb);
    if ((tbid ^ bid) & ~1ull)
        pst_problem_add(c, at, "block at 0x%llx: trailer bid 0x%llx, the block B-tree says 0x%llx",
                        (unsigned long long)ib, (unsigned long long)tbid, (unsigned long long)bid);
    uint16_t want_sig = pst_signature(ib, bid);
    if (sig != want_sig)
        pst_problem_add(c, at, "block 0x%llx at 0x%llx: wSig 0x%04x, expected 0x%04x",
                        (unsigned long long)bid, (unsigned long long)ib, sig, want_sig);
    /* 2.2.2.6: bidNextB is the next bid to hand out. A block at or above
     * it comes from a later state of the file than the header (a torn
     * copy). */
    if ((bid & ~1ull) >= c->root.next_b)
        pst_problem_add(c, entry_at, "block 0x%llx at 0x%llx: bid not below the header's bidNextB "
                        "0x%llx", (unsigned long long)bid, (unsigned long long)ib,
                        (unsigned long long)c->root.next_b);
    uint32_t computed = pst_crc32(buf, cb);
    if (crc != computed)
        pst_problem_add(c, at, "block 0x%llx at 0x%llx: dwCRC 0x%08x but its %u bytes give 0x%08x",
                        (unsigned long long)bid, (unsigned long long)ib, crc, cb, computed);
}

static void note_bbt_bid(pst_ctx *c, uint64_t bid)
{
    if (c->bbt_count == c->bbt_cap) {
        size_t cap = c->bbt_cap ? c->bbt_cap * 2 : 1024;
        uint64_t *p = realloc(c->bbt_bids, cap * sizeof *p);
        if (!p) {
            c->failed = ps_err_set(c->err, PS_ERR_NOMEM, "out of memory");
            return;
        }
        c->bbt_bids = p;
        c->bbt_cap = cap;
    }
    c->bbt_bids[c->bbt_count++] = bid & ~1ull;
}

static void note_node(pst_ctx *c, const pst_node_ref *n)
{
    if (c->node_count == c->node_cap) {
        size_t cap = c->node_cap ? c->node_cap * 2 : 1024;
        pst_node_ref *p = realloc(c->nodes, cap * sizeof *p);
        if (!p) {
            c->failed = ps_err_set(c->err, PS_ERR_NOMEM, "out of memory");
            return;
        }
        c->nodes = p;
        c->node_cap = cap;
    }
    c->nodes[c->node_count++] = *n;
}

typedef struct walk_ref {
    uint64_t bid, ib;
    uint64_t ref_at;      /* where the BREF was read */
    int level;            /* cLevel the page must have; -1 for a root */
    uint64_t lo, hi;      /* keys the page may hold: [lo, hi) */
} walk_ref;

static void walk(pst_ctx *c, int bbt, const walk_ref *ref, int depth)
{
    const pst_layout *l = &c->lay;
    const char *name = bbt ? "block B-tree" : "node B-tree";
    if (c->failed)
        return;
    if (depth > PST_MAX_DEPTH) {
        pst_problem_add(c, ref->ref_at, "%s deeper than %d levels", name, PST_MAX_DEPTH);
        return;
    }
    if (!placed_in_file(c, ref->ib, PST_PAGE)) {
        pst_problem_add(c, ref->ref_at, "%s page 0x%llx at 0x%llx lies outside the file "
                        "(%llu bytes) or off a 64-byte boundary", name,
                        (unsigned long long)ref->bid, (unsigned long long)ref->ib,
                        (unsigned long long)c->limit);
        return;
    }
    if (!pst_seen_insert(c, ref->ib)) {
        if (!c->failed)
            pst_problem_add(c, ref->ref_at, "%s page at 0x%llx is reached a second time "
                            "(a cycle or a shared page)", name, (unsigned long long)ref->ib);
        return;
    }
    unsigned char page[PST_PAGE];
    if (!pst_read_exact(c, page, PST_PAGE, ref->ib))
        return;
    c->rep->pages_checked++;
    pst_extent_add(c, ref->ib, PST_PAGE, (uint16_t)l->page_body, (uint8_t)l->trailer_size,
                   PST_EXTENT_BTPAGE);
    if (!pst_check_page_trailer(c, page, ref->ib, bbt ? PST_PTYPE_BBT : PST_PTYPE_NBT, ref->bid,
                                1, name))
        return;
    if ((ref->bid & ~1ull) >= c->root.next_p)
        pst_problem_add(c, ref->ref_at, "%s page 0x%llx at 0x%llx: bid not below the header's "
                        "bidNextP 0x%llx", name, (unsigned long long)ref->bid,
                        (unsigned long long)ref->ib, (unsigned long long)c->root.next_p);
    const unsigned char *meta = page + l->entries_size;
    unsigned count = meta[0], max = meta[1], size = meta[2], level = meta[3];
    uint64_t meta_at = ref->ib + l->entries_size;
    if (ref->level >= 0 && (int)level != ref->level) {
        pst_problem_add(c, meta_at, "%s page at 0x%llx: cLevel %u, its parent says %d", name,
                        (unsigned long long)ref->ib, level, ref->level);
        return;
    }
    if (level > PST_MAX_DEPTH) {
        pst_problem_add(c, meta_at, "%s page at 0x%llx: cLevel %u is implausible", name,
                        (unsigned long long)ref->ib, level);
        return;
    }
    unsigned want = level ? l->bt_entry : bbt ? l->bbt_entry : l->nbt_entry;
    if (size != want || count > max || (size_t)max * size > l->entries_size) {
        pst_problem_add(c, meta_at, "%s page at 0x%llx: cEnt %u, cEntMax %u, cbEnt %u (expected "
                        "cbEnt %u, at most %u bytes of entries)", name,
                        (unsigned long long)ref->ib, count, max, size, want, l->entries_size);
        return;
    }
    const unsigned id = l->id_size;
    int order_reported = 0;
    for (unsigned i = 0; i < count && !c->failed; i++) {
        const unsigned char *e = page + (size_t)i * size;
        uint64_t at = ref->ib + (uint64_t)i * size;
        uint64_t key = pst_id(c, e);
        uint64_t prev = i ? pst_id(c, e - size) : 0;
        if (!order_reported && (key < ref->lo || key >= ref->hi || (i && key <= prev))) {
            pst_problem_add(c, at, "%s page at 0x%llx: key 0x%llx out of order", name,
                            (unsigned long long)ref->ib, (unsigned long long)key);
            order_reported = 1;
        }
        if (level) {
            walk_ref child = {.bid = pst_id(c, e + id), .ib = pst_id(c, e + 2 * id),
                              .ref_at = at + id, .level = (int)level - 1, .lo = key,
                              .hi = i + 1 < count ? pst_id(c, e + size) : ref->hi};
            walk(c, bbt, &child, depth + 1);
        } else if (bbt) {
            uint64_t ib = pst_id(c, e + id);
            unsigned cb = pst_le16(e + 2 * id);
            note_bbt_bid(c, key);
            check_block(c, key, ib, cb, at);
        } else {
            pst_node_ref n = {.entry_ib = at, .nid = key, .bid_data = pst_id(c, e + id),
                              .bid_sub = pst_id(c, e + 2 * id)};
            note_node(c, &n);
        }
    }
}

void pst_check_btrees(pst_ctx *c)
{
    const pst_root *r = &c->root;
    unsigned root_at = c->lay.unicode ? 180u : 164u;
    unsigned id = c->lay.id_size;
    /* BREFNBT is at ROOT + 4 + 4 ids, BREFBBT one BREF later. */
    walk_ref bbt = {.bid = r->bbt_bid, .ib = r->bbt_ib, .ref_at = root_at + 4 + 6 * id,
                    .level = -1, .lo = 0, .hi = NO_BOUND};
    walk_ref nbt = {.bid = r->nbt_bid, .ib = r->nbt_ib, .ref_at = root_at + 4 + 4 * id,
                    .level = -1, .lo = 0, .hi = NO_BOUND};
    walk(c, 1, &bbt, 0);
    walk(c, 0, &nbt, 0);
}
