/*
 * pst_internal.h - what the files of the PST checker share (pst_check.c,
 * pst_header.c, pst_btree.c, pst_maps.c). Not for use outside them.
 */
#ifndef PS_PST_INTERNAL_H
#define PS_PST_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "pst_check.h"

#define PST_PAGE 512u
#define PST_AMAP_FIRST 0x4400u
#define PST_PMAP_FIRST 0x4600u
/* One AMap maps 496 bytes * 8 bits * 64 bytes of the file (2.2.2.7.2). */
#define PST_AMAP_SPAN (496u * 8u * 64u)
/* A PMap follows every 8th AMap (2.2.2.7.3). */
#define PST_PMAP_SPAN (8u * PST_AMAP_SPAN)
/* Deepest B-tree walked. Real stores have 2 to 4 levels; the limit only
 * stops a hostile file from recursing without end. */
#define PST_MAX_DEPTH 16

enum {
    PST_PTYPE_BBT = 0x80,
    PST_PTYPE_NBT = 0x81,
    PST_PTYPE_FMAP = 0x82,
    PST_PTYPE_PMAP = 0x83,
    PST_PTYPE_AMAP = 0x84,
};

/* The sizes that differ between the ANSI and Unicode formats. */
typedef struct pst_layout {
    int unicode;
    unsigned header_size;   /* bytes of the HEADER structure */
    unsigned id_size;       /* BID, IB and B-tree keys: 8 or 4 */
    unsigned page_body;     /* bytes of a page its dwCRC covers: 496 / 500 */
    unsigned entries_size;  /* rgentries of a BTPAGE: 488 / 496 */
    unsigned trailer_size;  /* PAGETRAILER and BLOCKTRAILER: 16 / 12 */
    unsigned bt_entry;      /* BTENTRY: 24 / 12 */
    unsigned bbt_entry;     /* BBTENTRY: 24 / 12 */
    unsigned nbt_entry;     /* NBTENTRY: 32 / 16 */
    unsigned max_block_cb;  /* largest block data: 8192 - trailer */
    unsigned amap_bits_off; /* where an AMap's bits start in its page */
} pst_layout;

typedef struct pst_root {
    uint64_t file_eof, amap_last, amap_free, pmap_free;
    uint64_t nbt_bid, nbt_ib, bbt_bid, bbt_ib;
    uint64_t next_b, next_p; /* HEADER bidNextB, bidNextP: every bid in use is below */
    unsigned amap_valid;
    unsigned crypt;
} pst_root;

/* A node B-tree leaf's block references, checked once the block B-tree is
 * known. */
typedef struct pst_node_ref {
    uint64_t entry_ib; /* where the NBTENTRY is */
    uint64_t nid, bid_data, bid_sub;
} pst_node_ref;

typedef struct pst_ctx {
    pst_read_fn read;
    void *read_ctx;
    uint64_t size;  /* real file size */
    uint64_t limit; /* min(size, ibFileEof): nothing may lie beyond */
    pst_layout lay;
    pst_root root;
    pst_report *rep;
    ps_err *err;
    ps_status failed; /* a read error or out of memory: stop */

    /* Every page visited, as an open-addressing set of ib + 1. */
    uint64_t *seen;
    size_t seen_cap, seen_count;

    pst_extent *extents;
    size_t extent_count, extent_cap;
    uint64_t *bbt_bids; /* every bid the block B-tree lists (bit 0 cleared) */
    size_t bbt_count, bbt_cap;
    pst_node_ref *nodes;
    size_t node_count, node_cap;
} pst_ctx;

void pst_problem_add(pst_ctx *c, uint64_t offset, const char *fmt, ...) PS_PRINTF_LIKE(3, 4);
/* Read exactly len bytes at off; 0 when the file ends first (no problem
 * recorded: callers say what was cut off). c->failed on a read error. */
int pst_read_exact(pst_ctx *c, void *buf, size_t len, uint64_t off);
int pst_extent_add(pst_ctx *c, uint64_t ib, uint32_t size, uint16_t cb, uint8_t trailer,
                   uint8_t kind);
void pst_sort_extents(pst_ctx *c);
/* 1 when ib was not seen before (and is now), 0 when it was. */
int pst_seen_insert(pst_ctx *c, uint64_t ib);

uint16_t pst_le16(const unsigned char *p);
uint32_t pst_le32(const unsigned char *p);
uint64_t pst_le64(const unsigned char *p);
/* A BID, IB or key of the file's width. */
uint64_t pst_id(const pst_ctx *c, const unsigned char *p);

/* pst_header.c: the HEADER and ROOT. 0 when the rest cannot be walked. */
int pst_check_header(pst_ctx *c);
/* pst_btree.c: both B-trees and every block of the block B-tree. */
void pst_check_btrees(pst_ctx *c);
/* pst_maps.c: AMap and PMap pages, and the AMap against what was walked
 * (extents sorted by ib first). */
void pst_check_maps(pst_ctx *c);
/* Check a page's PAGETRAILER and CRC; 1 when all good. expect_bid is what
 * the reference says; sig_expected 0 for map pages. */
int pst_check_page_trailer(pst_ctx *c, const unsigned char *page, uint64_t ib, unsigned ptype,
                           uint64_t expect_bid, int signed_page, const char *what);

#endif
