/*
 * pst_check.h - does a PST (or OST) hold together by the MS-PST spec?
 *
 * Byte equality with the snapshot proves a backup was copied right; this
 * proves the copy is a store Outlook can open, and finds damage that the
 * Debian readers (libpff, libpst) miss because they do not enforce block
 * CRCs. It checks, by [MS-PST]:
 *  - HEADER (2.2.2.6): dwMagic "!BDN", wMagicClient, wVer (ANSI 14/15 or
 *    Unicode >= 23), bSentinel, bCryptMethod, dwCRCPartial and, for Unicode,
 *    dwCRCFull (CRC of 5.3);
 *  - ROOT (2.2.2.5): ibFileEof against the real size, ibAMapLast, fAMapValid,
 *    the B-tree roots inside the file;
 *  - every B-tree page (BTPAGE 2.2.2.7.7) of the node and block B-trees,
 *    walked from ROOT.BREFNBT / BREFBBT: PAGETRAILER (2.2.2.7.1) ptype,
 *    ptypeRepeat, wSig (5.5), dwCRC, bid against the BREF that led there;
 *    cEnt/cEntMax/cbEnt/cLevel, keys in order;
 *  - every AMap page (2.2.2.7.2) and PMap page (2.2.2.7.3): trailer and CRC;
 *  - every data block of the block B-tree (BBTENTRY 2.2.2.7.7.3): its
 *    BLOCKTRAILER (2.2.2.8.1) cb, wSig, dwCRC and bid;
 *  - that every bid in use is below the header's bidNextB / bidNextP (a
 *    tree from a later state than the header is a torn copy);
 *  - that node B-tree entries name blocks the block B-tree has, that no two
 *    pages or blocks overlap, and (when fAMapValid) that the AMap marks them
 *    allocated.
 * bCryptMethod does not matter: CRCs are over the stored (encoded) bytes.
 *
 * The file is untrusted input: every offset is checked against the file
 * size before it is read, every page is visited at most once (a cycle is a
 * problem, not a hang), B-tree depth is limited, and sizes are bounded; the
 * work is linear in the file size.
 *
 * Ownership: a pst_report owns its arrays (pst_report_free). Strings are
 * UTF-8. Nothing here prints or emits events.
 */
#ifndef PS_PST_CHECK_H
#define PS_PST_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* More problems than this are counted but not listed. */
#define PST_MAX_PROBLEMS 200

typedef enum pst_format { PST_FORMAT_UNKNOWN = 0, PST_FORMAT_ANSI, PST_FORMAT_UNICODE } pst_format;

typedef struct pst_problem {
    uint64_t offset; /* file offset of the byte or structure concerned */
    char what[192];  /* "block 0x1234 (bid 0x58): dwCRC 0x... but data gives 0x..." */
} pst_problem;

typedef enum pst_extent_kind {
    PST_EXTENT_HEADER = 0,
    PST_EXTENT_BTPAGE,  /* NBT or BBT page, 512 bytes */
    PST_EXTENT_MAPPAGE, /* AMap or PMap page, 512 bytes */
    PST_EXTENT_BLOCK    /* data block: cb bytes of data, padding, trailer */
} pst_extent_kind;

/* A structure the check read and verified. For a block, the bytes the
 * checks cover are [ib, ib+cb) and the trailer [ib+size-trailer, ib+size);
 * the padding between them is unused by the format (2.2.2.8.1). */
typedef struct pst_extent {
    uint64_t ib;
    uint32_t size;    /* bytes the structure occupies (64-byte multiple) */
    uint16_t cb;      /* data bytes of a block; size of the rest */
    uint8_t trailer;  /* trailer bytes at the end (0 for the header) */
    uint8_t kind;     /* pst_extent_kind */
} pst_extent;

typedef struct pst_report {
    pst_format format;
    unsigned wver;
    uint64_t file_size;
    uint64_t pages_checked, blocks_checked, map_pages_checked;
    /* Space the AMap marks allocated that no page or block walked uses
     * (leaked by Outlook, or structures this check does not walk): not a
     * problem, but the measure of what the check did not cover. */
    uint64_t unreferenced_bytes;
    pst_problem *problems; /* malloc'd, problem_count of them */
    size_t problem_count;
    size_t problems_dropped; /* beyond PST_MAX_PROBLEMS */
    /* Filled only when pst_check_options.want_extents: what was verified,
     * sorted by ib (malloc'd). */
    pst_extent *extents;
    size_t extent_count;
} pst_report;

typedef struct pst_check_options {
    int want_extents;
} pst_check_options;

/* Reads up to len bytes at off; *got < len only at end of input. */
typedef ps_status (*pst_read_fn)(void *ctx, void *buf, size_t len, uint64_t off, size_t *got,
                                 ps_err *err);

/* Check the PST read through `read`. PS_OK when the check ran to the end
 * (the file's problems, if any, are in *rep: rep->problem_count == 0 means
 * clean); an error only when reading failed or memory ran out. opts may be
 * NULL. *rep is zeroed first; free it with pst_report_free in every case. */
ps_status pst_check(pst_read_fn read, void *ctx, uint64_t file_size,
                    const pst_check_options *opts, pst_report *rep, ps_err *err);
/* The same on a file (opened through platform.h) or a buffer. */
ps_status pst_check_file(const char *path, const pst_check_options *opts, pst_report *rep,
                         ps_err *err);
ps_status pst_check_memory(const void *data, size_t len, const pst_check_options *opts,
                           pst_report *rep, ps_err *err);
void pst_report_free(pst_report *rep);

/* [MS-PST] 5.3: CRC-32 (reflected polynomial 0xEDB88320), initial value 0,
 * no final inversion. pst_crc32_update continues a running value. */
uint32_t pst_crc32(const void *data, size_t len);
uint32_t pst_crc32_update(uint32_t crc, const void *data, size_t len);
/* [MS-PST] 5.5: the signature of a page or block at `ib` with id `bid`. */
uint16_t pst_signature(uint64_t ib, uint64_t bid);

#endif
