/*
 * pst_header.c - [MS-PST] 2.2.2.6 HEADER and 2.2.2.5 ROOT: the format, the
 * header CRCs, and the facts the walk starts from. Field offsets differ
 * between the ANSI (wVer 14/15) and Unicode (wVer >= 23) headers.
 */
#include <string.h>

#include "pst_internal.h"

/* Unicode HEADER offsets */
#define U_ROOT 180u
#define U_SENTINEL 512u
#define U_CRYPT 513u
#define U_CRC_FULL 524u
#define U_SIZE 564u
/* ANSI HEADER offsets */
#define A_ROOT 164u
#define A_SENTINEL 460u
#define A_CRYPT 461u
#define A_SIZE 512u
/* Both: dwCRCPartial covers the 471 bytes from wMagicClient; the Unicode
 * dwCRCFull the 516 bytes from there. */
#define CRC_START 8u
#define CRC_PARTIAL_LEN 471u
#define CRC_FULL_LEN 516u

static void set_layout(pst_layout *l, int unicode)
{
    if (unicode)
        *l = (pst_layout){.unicode = 1, .header_size = U_SIZE, .id_size = 8, .page_body = 496,
                          .entries_size = 488, .trailer_size = 16, .bt_entry = 24,
                          .bbt_entry = 24, .nbt_entry = 32, .max_block_cb = 8192 - 16,
                          .amap_bits_off = 0};
    else
        *l = (pst_layout){.unicode = 0, .header_size = A_SIZE, .id_size = 4, .page_body = 500,
                          .entries_size = 496, .trailer_size = 12, .bt_entry = 12,
                          .bbt_entry = 12, .nbt_entry = 16, .max_block_cb = 8192 - 12,
                          .amap_bits_off = 4};
}

static void read_root(pst_ctx *c, const unsigned char *r)
{
    pst_root *o = &c->root;
    if (c->lay.unicode) {
        o->file_eof = pst_le64(r + 4);
        o->amap_last = pst_le64(r + 12);
        o->amap_free = pst_le64(r + 20);
        o->pmap_free = pst_le64(r + 28);
        o->nbt_bid = pst_le64(r + 36);
        o->nbt_ib = pst_le64(r + 44);
        o->bbt_bid = pst_le64(r + 52);
        o->bbt_ib = pst_le64(r + 60);
        o->amap_valid = r[68];
    } else {
        o->file_eof = pst_le32(r + 4);
        o->amap_last = pst_le32(r + 8);
        o->amap_free = pst_le32(r + 12);
        o->pmap_free = pst_le32(r + 16);
        o->nbt_bid = pst_le32(r + 20);
        o->nbt_ib = pst_le32(r + 24);
        o->bbt_bid = pst_le32(r + 28);
        o->bbt_ib = pst_le32(r + 32);
        o->amap_valid = r[36];
    }
}

int pst_check_header(pst_ctx *c)
{
    unsigned char h[U_SIZE];
    memset(h, 0, sizeof h);
    if (c->size < 12 || !pst_read_exact(c, h, 12, 0)) {
        if (!c->failed)
            pst_problem_add(c, 0, "file of %llu bytes is too short for a PST header",
                            (unsigned long long)c->size);
        return 0;
    }
    if (memcmp(h, "!BDN", 4) != 0)
        pst_problem_add(c, 0, "dwMagic is not \"!BDN\": not a PST file");
    if (memcmp(h + 8, "SM", 2) != 0 && memcmp(h + 8, "SO", 2) != 0)
        pst_problem_add(c, 8, "wMagicClient is 0x%04x, not \"SM\" (PST) or \"SO\" (OST)",
                        pst_le16(h + 8));
    unsigned wver = pst_le16(h + 10);
    c->rep->wver = wver;
    if (wver == 14 || wver == 15) {
        c->rep->format = PST_FORMAT_ANSI;
    } else if (wver == 36) {
        pst_problem_add(c, 10, "wVer 36 (Unicode with 4 KiB pages) is not checked by this version");
        return 0;
    } else if (wver >= 23) {
        c->rep->format = PST_FORMAT_UNICODE;
    } else {
        pst_problem_add(c, 10, "wVer %u is neither ANSI (14, 15) nor Unicode (>= 23)", wver);
        return 0;
    }
    set_layout(&c->lay, c->rep->format == PST_FORMAT_UNICODE);
    const pst_layout *l = &c->lay;
    if (!pst_read_exact(c, h, l->header_size, 0)) {
        if (!c->failed)
            pst_problem_add(c, 0, "file of %llu bytes is shorter than the %u-byte header",
                            (unsigned long long)c->size, l->header_size);
        return 0;
    }
    uint32_t partial = pst_crc32(h + CRC_START, CRC_PARTIAL_LEN);
    if (partial != pst_le32(h + 4))
        pst_problem_add(c, 4, "header dwCRCPartial is 0x%08x but bytes 8..478 give 0x%08x",
                        pst_le32(h + 4), partial);
    if (l->unicode) {
        uint32_t full = pst_crc32(h + CRC_START, CRC_FULL_LEN);
        if (full != pst_le32(h + U_CRC_FULL))
            pst_problem_add(c, U_CRC_FULL,
                            "header dwCRCFull is 0x%08x but bytes 8..523 give 0x%08x",
                            pst_le32(h + U_CRC_FULL), full);
    }
    unsigned sentinel_at = l->unicode ? U_SENTINEL : A_SENTINEL;
    if (h[sentinel_at] != 0x80)
        pst_problem_add(c, sentinel_at, "bSentinel is 0x%02x, not 0x80", h[sentinel_at]);
    unsigned crypt_at = l->unicode ? U_CRYPT : A_CRYPT;
    c->root.crypt = h[crypt_at];
    if (h[crypt_at] != 0x00 && h[crypt_at] != 0x01 && h[crypt_at] != 0x02 && h[crypt_at] != 0x10)
        pst_problem_add(c, crypt_at, "bCryptMethod 0x%02x is not a known encoding", h[crypt_at]);
    /* The bytes the header's checks cover (the CRC ranges, magic, CRCs). */
    pst_extent_add(c, 0, l->unicode ? U_CRC_FULL + 4 : CRC_START + CRC_PARTIAL_LEN, 0, 0,
                   PST_EXTENT_HEADER);

    unsigned root_at = l->unicode ? U_ROOT : A_ROOT;
    read_root(c, h + root_at);
    c->root.next_b = l->unicode ? pst_le64(h + 516) : pst_le32(h + 24);
    c->root.next_p = l->unicode ? pst_le64(h + 32) : pst_le32(h + 28);
    const pst_root *r = &c->root;
    uint64_t eof_at = root_at + 4;
    if (r->file_eof != c->size)
        pst_problem_add(c, eof_at, "ROOT.ibFileEof says %llu bytes but the file has %llu%s",
                        (unsigned long long)r->file_eof, (unsigned long long)c->size,
                        r->file_eof > c->size ? " (truncated)" : "");
    c->limit = r->file_eof < c->size ? r->file_eof : c->size;
    unsigned valid_at = root_at + (l->unicode ? 68 : 36);
    if (r->amap_valid > 2)
        pst_problem_add(c, valid_at, "ROOT.fAMapValid is %u, not 0, 1 or 2", r->amap_valid);
    uint64_t amap_at = root_at + (l->unicode ? 12 : 8);
    if (r->amap_last < PST_AMAP_FIRST || (r->amap_last - PST_AMAP_FIRST) % PST_AMAP_SPAN != 0 ||
        r->amap_last + PST_PAGE > r->file_eof)
        pst_problem_add(c, amap_at, "ROOT.ibAMapLast 0x%llx is not the place of an AMap page "
                        "inside the file", (unsigned long long)r->amap_last);
    return 1;
}
