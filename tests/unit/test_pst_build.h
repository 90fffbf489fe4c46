/*
 * test_pst_build.h - a minimal but complete PST, built in memory by the
 * rules of [MS-PST], for the tests of core/pst_check.c and core/verify.c.
 *
 * Layout (ANSI or Unicode): HEADER; the first AMap at 0x4400 and PMap at
 * 0x4600; a one-page block B-tree (leaf) at 0x4800 and node B-tree (leaf) at
 * 0x4A00; three data blocks from 0x4C00 (100, 200 and 8176/8180 bytes of
 * data). The AMap marks exactly what is used, fAMapValid is 1, ibFileEof is
 * the length. tpb_seal_* recompute CRCs after a test edited a structure,
 * so that the damage a test makes is the one it means.
 *
 * Header-only (static functions): each tests/unit/test_*.c is its own program.
 */
#ifndef PS_TEST_PST_BUILD_H
#define PS_TEST_PST_BUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pst_check.h"

#define TPB_BLOCKS 3
#define TPB_AMAP 0x4400u
#define TPB_PMAP 0x4600u
#define TPB_BBT 0x4800u
#define TPB_NBT 0x4A00u
#define TPB_DATA 0x4C00u

typedef struct tpb_pst {
    unsigned char *data;
    size_t len;
    int unicode;
    unsigned id, trailer, body, entries; /* sizes of this format */
    uint64_t bbt_bid, nbt_bid;
    uint64_t block_bid[TPB_BLOCKS], block_ib[TPB_BLOCKS];
    unsigned block_cb[TPB_BLOCKS], block_size[TPB_BLOCKS];
} tpb_pst;

static void tpb_put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void tpb_put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void tpb_put_id(const tpb_pst *t, unsigned char *p, uint64_t v)
{
    for (unsigned i = 0; i < t->id; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Recompute the header CRCs (dwCRCPartial; dwCRCFull for Unicode). */
static void tpb_seal_header(tpb_pst *t)
{
    tpb_put32(t->data + 4, pst_crc32(t->data + 8, 471));
    if (t->unicode)
        tpb_put32(t->data + 524, pst_crc32(t->data + 8, 516));
}

/* Write the PAGETRAILER of the page at ib (type, signature, CRC, bid). */
static void tpb_seal_page(tpb_pst *t, uint64_t ib, unsigned ptype, uint64_t bid, int signed_page)
{
    unsigned char *pg = t->data + ib, *tr = pg + t->body;
    tr[0] = tr[1] = (unsigned char)ptype;
    tpb_put16(tr + 2, signed_page ? pst_signature(ib, bid) : 0);
    uint32_t crc = pst_crc32(pg, t->body);
    if (t->unicode) {
        tpb_put32(tr + 4, crc);
        tpb_put_id(t, tr + 8, bid);
    } else {
        tpb_put_id(t, tr + 4, bid);
        tpb_put32(tr + 8, crc);
    }
}

/* Write the BLOCKTRAILER of block i. */
static void tpb_seal_block(tpb_pst *t, int i)
{
    unsigned char *b = t->data + t->block_ib[i];
    unsigned char *tr = b + t->block_size[i] - t->trailer;
    tpb_put16(tr, t->block_cb[i]);
    tpb_put16(tr + 2, pst_signature(t->block_ib[i], t->block_bid[i]));
    uint32_t crc = pst_crc32(b, t->block_cb[i]);
    if (t->unicode) {
        tpb_put32(tr + 4, crc);
        tpb_put_id(t, tr + 8, t->block_bid[i]);
    } else {
        tpb_put_id(t, tr + 4, t->block_bid[i]);
        tpb_put32(tr + 8, crc);
    }
}

static void tpb_seal_amap(tpb_pst *t)
{
    tpb_seal_page(t, TPB_AMAP, 0x84, TPB_AMAP, 0);
}

/* Mark [ib, ib+len) allocated (1) or free (0) in the AMap (not sealed). */
static void tpb_amap_mark(tpb_pst *t, uint64_t ib, uint64_t len, int allocated)
{
    unsigned char *bits = t->data + TPB_AMAP + (t->unicode ? 0 : 4);
    for (uint64_t u = (ib - TPB_AMAP) / 64; u < (ib + len - TPB_AMAP + 63) / 64; u++) {
        unsigned char m = (unsigned char)(0x80u >> (u % 8));
        bits[u / 8] = allocated ? (unsigned char)(bits[u / 8] | m) : (unsigned char)(bits[u / 8] & ~m);
    }
}

static void tpb_build(tpb_pst *t, int unicode)
{
    memset(t, 0, sizeof *t);
    t->unicode = unicode;
    t->id = unicode ? 8 : 4;
    t->trailer = unicode ? 16 : 12;
    t->body = unicode ? 496 : 500;
    t->entries = unicode ? 488 : 496;
    const unsigned cbs[TPB_BLOCKS] = {100, 200, 8192 - t->trailer};
    uint64_t ib = TPB_DATA;
    for (int i = 0; i < TPB_BLOCKS; i++) {
        t->block_bid[i] = 4u * (unsigned)(i + 1); /* data blocks: bit 1 clear */
        t->block_cb[i] = cbs[i];
        t->block_size[i] = (cbs[i] + t->trailer + 63u) & ~63u;
        t->block_ib[i] = ib;
        ib += t->block_size[i];
    }
    t->len = (size_t)ib;
    t->data = calloc(1, t->len);
    if (!t->data)
        abort();
    unsigned char *d = t->data;
    t->bbt_bid = 0x102; /* pages: internal bids */
    t->nbt_bid = 0x106;

    /* blocks: recognisable bytes */
    for (int i = 0; i < TPB_BLOCKS; i++) {
        for (unsigned k = 0; k < t->block_cb[i]; k++)
            d[t->block_ib[i] + k] = (unsigned char)(k * 7 + (unsigned)i * 31 + 1);
        tpb_seal_block(t, i);
    }
    /* block B-tree: one leaf page */
    unsigned char *pg = d + TPB_BBT;
    unsigned bbt_entry = unicode ? 24 : 12;
    for (int i = 0; i < TPB_BLOCKS; i++) {
        unsigned char *e = pg + (size_t)i * bbt_entry;
        tpb_put_id(t, e, t->block_bid[i]);
        tpb_put_id(t, e + t->id, t->block_ib[i]);
        tpb_put16(e + 2 * t->id, t->block_cb[i]);
        tpb_put16(e + 2 * t->id + 2, 2); /* cRef */
    }
    pg[t->entries] = TPB_BLOCKS;
    pg[t->entries + 1] = unicode ? 20 : 41;
    pg[t->entries + 2] = (unsigned char)bbt_entry;
    pg[t->entries + 3] = 0;
    tpb_seal_page(t, TPB_BBT, 0x80, t->bbt_bid, 1);
    /* node B-tree: one leaf page, two nodes */
    pg = d + TPB_NBT;
    unsigned nbt_entry = unicode ? 32 : 16;
    const uint64_t nids[2] = {0x21, 0x122}, data_bid[2] = {4, 8}, sub_bid[2] = {0, 12};
    for (int i = 0; i < 2; i++) {
        unsigned char *e = pg + (size_t)i * nbt_entry;
        tpb_put_id(t, e, nids[i]);
        tpb_put_id(t, e + t->id, data_bid[i]);
        tpb_put_id(t, e + 2 * t->id, sub_bid[i]);
        tpb_put32(e + 3 * t->id, 0x21); /* nidParent */
    }
    pg[t->entries] = 2;
    pg[t->entries + 1] = unicode ? 15 : 31;
    pg[t->entries + 2] = (unsigned char)nbt_entry;
    pg[t->entries + 3] = 0;
    tpb_seal_page(t, TPB_NBT, 0x81, t->nbt_bid, 1);
    /* PMap (deprecated, every bit set) and AMap */
    memset(d + TPB_PMAP, 0xFF, t->body);
    tpb_seal_page(t, TPB_PMAP, 0x83, TPB_PMAP, 0);
    tpb_amap_mark(t, TPB_AMAP, t->len - TPB_AMAP, 1);
    tpb_seal_amap(t);

    /* HEADER and ROOT */
    memcpy(d, "!BDN", 4);
    memcpy(d + 8, "SM", 2);
    tpb_put16(d + 10, unicode ? 23 : 14);
    tpb_put16(d + 12, 19); /* wVerClient */
    d[14] = d[15] = 1;
    unsigned root = unicode ? 180 : 164;
    unsigned char *r = d + root + 4;
    tpb_put_id(t, r, t->len);              /* ibFileEof */
    tpb_put_id(t, r + t->id, TPB_AMAP);    /* ibAMapLast */
    tpb_put_id(t, r + 4 * t->id, t->nbt_bid);
    tpb_put_id(t, r + 5 * t->id, TPB_NBT);
    tpb_put_id(t, r + 6 * t->id, t->bbt_bid);
    tpb_put_id(t, r + 7 * t->id, TPB_BBT);
    r[8 * t->id] = 1; /* fAMapValid */
    tpb_put_id(t, d + (unicode ? 516 : 24), 0x10);  /* bidNextB: above every block's */
    tpb_put_id(t, d + (unicode ? 32 : 28), 0x10A);  /* bidNextP: above every page's */
    d[unicode ? 512 : 460] = 0x80;         /* bSentinel */
    d[unicode ? 513 : 461] = 1;            /* bCryptMethod: permute (CRCs are over stored bytes) */
    tpb_seal_header(t);
}

static void tpb_free(tpb_pst *t)
{
    free(t->data);
    t->data = NULL;
}

#endif
