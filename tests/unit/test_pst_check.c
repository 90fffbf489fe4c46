/*
 * test_pst_check.c - plugin/core/pst_check.c: the MS-PST structure check.
 *
 * Synthetic stores (test_pst_build.h) prove each check on its own: every
 * kind of damage is made deliberately, with the CRCs around it resealed so
 * that only the intended check can catch it. The real samples in
 * $PSTSNAP_SAMPLES_DIR (../shared/pst-samples; see its MANIFEST.tsv for
 * their sources) must all pass, and damaged variants of them made here must
 * all be caught: random overwrites, truncation, a flipped header byte, and
 * torn copies mixing pages of two versions (versions/). A variant counts as
 * "must be detected" when it differs from its base inside the bytes the
 * base's structures use (header, B-tree and map pages, block data and
 * trailers, from the base's own walk); the walk is checked against the AMap
 * so that it cannot quietly miss a structure. Without the samples those
 * tests report skipped.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pst_check.h"
#include "test_pst_build.h"
#include "test_support.h"

/* --- helpers ---------------------------------------------------------------- */
/* cmocka's print_message is checked as msvcrt's printf under mingw (no %zu);
 * this one is the C99 printf the project builds with everywhere. */
static void say(const char *fmt, ...) PS_PRINTF_LIKE(1, 2);
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static uint64_t rnd_below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

static void check_mem(const void *data, size_t len, pst_report *rep, int extents)
{
    pst_check_options opts = {.want_extents = extents};
    ps_err err;
    ps_status s = pst_check_memory(data, len, &opts, rep, &err);
    if (s != PS_OK)
        fail_msg("pst_check_memory: %s", err.msg);
}

static void print_problems(const char *label, const pst_report *rep)
{
    for (size_t i = 0; i < rep->problem_count; i++)
        say("%s: 0x%llx: %s\n", label, (unsigned long long)rep->problems[i].offset,
                      rep->problems[i].what);
}

/* Exactly one problem expected at `offset`, whose text contains `needle`. */
static void expect_problem(const tpb_pst *t, uint64_t offset, const char *needle)
{
    pst_report rep;
    check_mem(t->data, t->len, &rep, 0);
    int found = 0;
    for (size_t i = 0; i < rep.problem_count; i++)
        if (rep.problems[i].offset == offset && strstr(rep.problems[i].what, needle))
            found = 1;
    if (!found) {
        print_problems("got", &rep);
        fail_msg("expected a problem at 0x%llx containing \"%s\"", (unsigned long long)offset,
                 needle);
    }
    pst_report_free(&rep);
}

/* --- CRC and signature -------------------------------------------------------- */
static void crc_matches_the_spec_variant_of_crc32(void **state)
{
    (void)state;
    /* Values from zlib's CRC-32 with its pre- and post-inversion undone
     * (python: zlib.crc32(d, 0xffffffff) ^ 0xffffffff): the spec's CRC
     * starts at 0 and is not inverted. */
    assert_int_equal(pst_crc32("123456789", 9), 0x2dfd2d88u);
    unsigned char buf[512];
    for (int i = 0; i < 512; i++)
        buf[i] = (unsigned char)i;
    assert_int_equal(pst_crc32(buf, sizeof buf), 0xaecb400eu);
    assert_int_equal(pst_crc32_update(pst_crc32(buf, 100), buf + 100, 412), 0xaecb400eu);
    assert_int_equal(pst_crc32(buf, 0), 0);
}

static void signature_folds_ib_xor_bid(void **state)
{
    (void)state;
    /* 5.5: x = ib ^ bid; (WORD)(x >> 16) ^ (WORD)x */
    assert_int_equal(pst_signature(0x4800, 0x102), (uint16_t)(0x4800 ^ 0x102));
    assert_int_equal(pst_signature(0x12345678, 0), 0x1234 ^ 0x5678);
    assert_int_equal(pst_signature(0x1122334455667788ull, 0), 0x5566 ^ 0x7788);
}

/* --- synthetic stores ----------------------------------------------------------- */
static void synthetic_stores_are_clean(void **state)
{
    (void)state;
    for (int unicode = 0; unicode < 2; unicode++) {
        tpb_pst t;
        tpb_build(&t, unicode);
        pst_report rep;
        check_mem(t.data, t.len, &rep, 1);
        print_problems(unicode ? "unicode" : "ansi", &rep);
        assert_int_equal(rep.problem_count, 0);
        assert_int_equal(rep.format, unicode ? PST_FORMAT_UNICODE : PST_FORMAT_ANSI);
        assert_int_equal(rep.blocks_checked, TPB_BLOCKS);
        assert_int_equal(rep.pages_checked, 2);
        assert_int_equal(rep.map_pages_checked, 2);
        assert_int_equal(rep.unreferenced_bytes, 0);
        /* header, AMap, PMap, two B-tree pages, three blocks, in order */
        assert_int_equal(rep.extent_count, 8);
        for (size_t i = 1; i < rep.extent_count; i++)
            assert_true(rep.extents[i - 1].ib < rep.extents[i].ib);
        pst_report_free(&rep);
        tpb_free(&t);
    }
}

static void damaged_block_data_is_reported_at_its_trailer(void **state)
{
    (void)state;
    for (int unicode = 0; unicode < 2; unicode++) {
        tpb_pst t;
        tpb_build(&t, unicode);
        t.data[t.block_ib[1] + 150] ^= 0x01;
        expect_problem(&t, t.block_ib[1] + t.block_size[1] - t.trailer, "dwCRC");
        tpb_free(&t);
    }
}

static void block_trailer_bid_cb_and_signature_are_checked(void **state)
{
    (void)state;
    for (int unicode = 0; unicode < 2; unicode++) {
        tpb_pst t;
        tpb_build(&t, unicode);
        uint64_t tr = t.block_ib[0] + t.block_size[0] - t.trailer;
        /* a block of another id at this place (sealed: its CRC is right) */
        t.block_bid[0] = 0x40;
        tpb_seal_block(&t, 0);
        expect_problem(&t, tr, "trailer bid 0x40");
        tpb_free(&t);

        tpb_build(&t, unicode);
        t.data[tr] ^= 0x01; /* cb */
        expect_problem(&t, tr, "trailer cb");
        tpb_free(&t);

        tpb_build(&t, unicode);
        t.data[tr + 2] ^= 0x80; /* wSig */
        expect_problem(&t, tr, "wSig");
        tpb_free(&t);
    }
}

static void btree_page_trailer_and_crc_are_checked(void **state)
{
    (void)state;
    for (int unicode = 0; unicode < 2; unicode++) {
        tpb_pst t;
        tpb_build(&t, unicode);
        t.data[TPB_NBT + 5] ^= 0x10; /* an entry byte: CRC */
        expect_problem(&t, TPB_NBT + t.body, "dwCRC");
        tpb_free(&t);

        tpb_build(&t, unicode);
        tpb_seal_page(&t, TPB_BBT, 0x81, t.bbt_bid, 1); /* an NBT page where the BBT is */
        expect_problem(&t, TPB_BBT + t.body, "ptype 0x81");
        tpb_free(&t);

        tpb_build(&t, unicode);
        tpb_seal_page(&t, TPB_BBT, 0x80, t.bbt_bid + 4, 1); /* another version of the page */
        expect_problem(&t, TPB_BBT + t.body, "bid");
        tpb_free(&t);

        tpb_build(&t, unicode);
        tpb_seal_page(&t, TPB_NBT, 0x81, t.nbt_bid, 0); /* wSig 0 on a B-tree page */
        expect_problem(&t, TPB_NBT + t.body, "wSig");
        tpb_free(&t);
    }
}

static void map_pages_are_checked(void **state)
{
    (void)state;
    for (int unicode = 0; unicode < 2; unicode++) {
        tpb_pst t;
        tpb_build(&t, unicode);
        t.data[TPB_AMAP + 100] ^= 0x01;
        expect_problem(&t, TPB_AMAP + t.body, "AMap page at 0x4400: dwCRC");
        tpb_free(&t);

        tpb_build(&t, unicode);
        t.data[TPB_PMAP + 7] ^= 0x01;
        expect_problem(&t, TPB_PMAP + t.body, "PMap page at 0x4600: dwCRC");
        tpb_free(&t);

        /* a block in space the AMap calls free (AMap resealed: only the
         * cross-check can see it) */
        tpb_build(&t, unicode);
        tpb_amap_mark(&t, t.block_ib[2], 64, 0);
        tpb_seal_amap(&t);
        expect_problem(&t, t.block_ib[2], "marks free");
        tpb_free(&t);
    }
}

static void header_checks(void **state)
{
    (void)state;
    for (int unicode = 0; unicode < 2; unicode++) {
        tpb_pst t;
        tpb_build(&t, unicode);
        t.data[100] ^= 0x04; /* inside rgnid: both CRCs */
        expect_problem(&t, 4, "dwCRCPartial");
        if (unicode)
            expect_problem(&t, 524, "dwCRCFull");
        tpb_free(&t);

        tpb_build(&t, unicode);
        t.data[0] = 'X';
        expect_problem(&t, 0, "dwMagic");
        tpb_free(&t);

        tpb_build(&t, unicode);
        t.data[10] = 16; /* neither ANSI nor Unicode */
        tpb_seal_header(&t);
        expect_problem(&t, 10, "wVer 16");
        tpb_free(&t);

        if (unicode) {
            /* only dwCRCFull covers rgbFP */
            tpb_build(&t, unicode);
            t.data[400] ^= 0x01;
            expect_problem(&t, 524, "dwCRCFull");
            tpb_free(&t);
        }
    }
}

static void truncation_and_eof_mismatch_are_reported(void **state)
{
    (void)state;
    for (int unicode = 0; unicode < 2; unicode++) {
        tpb_pst t;
        tpb_build(&t, unicode);
        uint64_t eof_at = unicode ? 184 : 168;
        size_t full = t.len;
        t.len = full - 4096; /* the last block is cut off */
        expect_problem(&t, eof_at, "truncated");
        expect_problem(&t, TPB_BBT + 2 * (unicode ? 24 : 12), "outside the file");
        t.len = 300; /* not even a header */
        expect_problem(&t, 0, "shorter than");
        t.len = 0;
        expect_problem(&t, 0, "too short");
        tpb_free(&t);
    }
}

static void cycles_and_bad_references_terminate(void **state)
{
    (void)state;
    for (int unicode = 0; unicode < 2; unicode++) {
        tpb_pst t;
        tpb_build(&t, unicode);
        /* the block B-tree root becomes an intermediate page whose only
         * child is itself */
        unsigned char *pg = t.data + TPB_BBT;
        memset(pg, 0, t.entries);
        tpb_put_id(&t, pg, 0);
        tpb_put_id(&t, pg + t.id, t.bbt_bid);
        tpb_put_id(&t, pg + 2 * t.id, TPB_BBT);
        pg[t.entries] = 1;
        pg[t.entries + 2] = (unsigned char)(unicode ? 24 : 12);
        pg[t.entries + 3] = 1;
        tpb_seal_page(&t, TPB_BBT, 0x80, t.bbt_bid, 1);
        expect_problem(&t, TPB_BBT + t.id, "reached a second time");
        /* ... or whose child is a page of the wrong level (the NBT leaf) */
        tpb_put_id(&t, pg + t.id, t.nbt_bid);
        tpb_put_id(&t, pg + 2 * t.id, TPB_NBT);
        pg[t.entries + 3] = 2;
        tpb_seal_page(&t, TPB_BBT, 0x80, t.bbt_bid, 1);
        expect_problem(&t, TPB_NBT + t.body, "ptype 0x81");
        tpb_free(&t);

        /* a tree newer than its header (a torn copy): bids at or above
         * the header's bidNextB / bidNextP */
        tpb_build(&t, unicode);
        tpb_put_id(&t, t.data + (unicode ? 516 : 24), 12);
        tpb_seal_header(&t);
        expect_problem(&t, TPB_BBT + 2 * (unicode ? 24 : 12), "bidNextB");
        tpb_put_id(&t, t.data + (unicode ? 32 : 28), 0x104);
        tpb_seal_header(&t);
        expect_problem(&t, unicode ? 180 + 36 : 164 + 20, "bidNextP");
        tpb_free(&t);

        /* a node naming a block the block B-tree lacks */
        tpb_build(&t, unicode);
        tpb_put_id(&t, t.data + TPB_NBT + t.id, 0x400);
        tpb_seal_page(&t, TPB_NBT, 0x81, t.nbt_bid, 1);
        expect_problem(&t, TPB_NBT, "lacks");
        tpb_free(&t);

        /* two blocks claiming the same bytes */
        tpb_build(&t, unicode);
        unsigned bbt_entry = unicode ? 24 : 12;
        tpb_put_id(&t, t.data + TPB_BBT + bbt_entry + t.id, t.block_ib[0]);
        tpb_put16(t.data + TPB_BBT + bbt_entry + 2 * t.id, t.block_cb[0]);
        tpb_seal_page(&t, TPB_BBT, 0x80, t.bbt_bid, 1);
        expect_problem(&t, t.block_ib[0], "overlaps");
        tpb_free(&t);
    }
}

/* Hostile input: random damage to every part of a small store never
 * crashes, hangs or reads out of bounds (run under ASan in CI), and any
 * change inside the checked bytes is reported. */
static void random_damage_never_escapes(void **state)
{
    (void)state;
    g_rng = 0x1234567ull;
    for (int unicode = 0; unicode < 2; unicode++) {
        tpb_pst t;
        tpb_build(&t, unicode);
        unsigned char *copy = malloc(t.len);
        assert_non_null(copy);
        for (int round = 0; round < 3000; round++) {
            memcpy(copy, t.data, t.len);
            int n = 1 + (int)rnd_below(8);
            for (int k = 0; k < n; k++)
                copy[rnd_below(t.len)] ^= (unsigned char)(1 + rnd_below(255));
            pst_report rep;
            size_t len = round % 10 == 9 ? (size_t)rnd_below(t.len) : t.len;
            check_mem(copy, len, &rep, 0);
            pst_report_free(&rep);
        }
        free(copy);
        tpb_free(&t);
    }
}

/* --- real samples ----------------------------------------------------------------- */
typedef struct sample {
    char *name;
    unsigned char *data;
    size_t len;
    pst_extent *ext; /* the pristine walk */
    size_t ext_count;
    unsigned char *checked; /* per byte: 1 when a check covers it */
} sample;

static const char *samples_dir(void)
{
    const char *dir = ts_env("PSTSNAP_SAMPLES_DIR", "");
    if (!*dir)
        return NULL;
    char *manifest = ts_path(dir, "MANIFEST.tsv");
    int ok = ts_exists(manifest);
    free(manifest);
    return ok ? dir : NULL;
}

/* The samples the MANIFEST lists (versions/ too), PSTs and the OST. */
static size_t load_samples(sample **out)
{
    const char *dir = samples_dir();
    if (!dir)
        ts_skip("PST samples not found (PSTSNAP_SAMPLES_DIR)");
    char *manifest = ts_path(dir, "MANIFEST.tsv");
    size_t mlen;
    char *text = ts_read_file(manifest, &mlen);
    free(manifest);
    sample *list = NULL;
    size_t count = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *tab = strchr(line, '\t');
        if (!tab || strncmp(line, "file\t", 5) == 0)
            continue;
        *tab = '\0';
        list = realloc(list, (count + 1) * sizeof *list);
        assert_non_null(list);
        sample *s = &list[count++];
        memset(s, 0, sizeof *s);
        s->name = strdup(line);
        char *path = ts_path(dir, line);
        s->data = (unsigned char *)ts_read_file(path, &s->len);
        free(path);
        pst_report rep;
        check_mem(s->data, s->len, &rep, 1);
        if (rep.problem_count)
            print_problems(s->name, &rep);
        s->ext = rep.extents;
        s->ext_count = rep.extent_count;
        rep.extents = NULL;
        s->checked = calloc(1, s->len);
        assert_non_null(s->checked);
        for (size_t i = 0; i < s->ext_count; i++) {
            const pst_extent *e = &s->ext[i];
            if (e->kind == PST_EXTENT_BLOCK) {
                memset(s->checked + e->ib, 1, e->cb);
                memset(s->checked + e->ib + e->size - e->trailer, 1, e->trailer);
            } else {
                memset(s->checked + e->ib, 1, e->size);
            }
        }
        /* Only a clean sample is a base for variants. */
        if (rep.problem_count) {
            free(s->checked);
            s->checked = NULL;
        }
        pst_report_free(&rep);
    }
    free(text);
    *out = list;
    return count;
}

static void free_samples(sample *list, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(list[i].name);
        free(list[i].data);
        free(list[i].ext);
        free(list[i].checked);
    }
    free(list);
}

static void every_pristine_sample_is_clean(void **state)
{
    (void)state;
    sample *list;
    size_t n = load_samples(&list), clean = 0;
    for (size_t i = 0; i < n; i++) {
        pst_report rep;
        check_mem(list[i].data, list[i].len, &rep, 0);
        say("  %-55s %s wVer %u: %llu pages, %llu map pages, %llu blocks, "
                      "%llu bytes allocated but unused: %s\n",
                      list[i].name, rep.format == PST_FORMAT_ANSI ? "ANSI" : "Unicode", rep.wver,
                      (unsigned long long)rep.pages_checked,
                      (unsigned long long)rep.map_pages_checked,
                      (unsigned long long)rep.blocks_checked,
                      (unsigned long long)rep.unreferenced_bytes,
                      rep.problem_count ? "PROBLEMS" : "clean");
        clean += rep.problem_count == 0;
        pst_report_free(&rep);
    }
    say("samples: %zu clean of %zu\n", clean, n);
    assert_true(n >= 20);
    assert_int_equal(clean, n);
    free_samples(list, n);
}

typedef struct tally {
    size_t variants, detected, outside, outside_detected;
    size_t same_identity; /* torn, and only in structures both versions hold under one id */
} tally;

/* Is the torn variant `v` (of `base`, with bytes of `other`) a store whose
 * every structure the walk reaches is, byte for byte, that structure of one
 * of the two versions? A writer that rewrites pages and blocks in place
 * without giving them new bids (Aspose's, in versions/aspose-PersonalStorage:
 * same bids, same bidNextB/bidNextP in both versions) makes such a mix as
 * consistent as either version: no structure check can tell, only the block
 * hashes verify_backups compares. */
static int consistent_mix(const sample *base, const sample *other, const unsigned char *v,
                          size_t len)
{
    pst_report rep;
    check_mem(v, len, &rep, 1);
    int whole = rep.problem_count == 0 && rep.extent_count > 0;
    for (size_t i = 0; whole && i < rep.extent_count; i++) {
        const pst_extent *e = &rep.extents[i];
        whole = memcmp(v + e->ib, base->data + e->ib, e->size) == 0 ||
                memcmp(v + e->ib, other->data + e->ib, e->size) == 0;
    }
    pst_report_free(&rep);
    return whole;
}

/* Judge one variant of `base`: it must be reported when it differs from
 * the base inside the checked bytes (or is shorter: ibFileEof). `other`:
 * the version a torn variant took bytes from, else NULL. */
static void judge(tally *t, const sample *base, const sample *other, const unsigned char *v,
                  size_t len, const char *kind)
{
    int must = len != base->len;
    for (size_t i = 0; !must && i < len; i++)
        must = v[i] != base->data[i] && base->checked[i];
    pst_report rep;
    check_mem(v, len, &rep, 0);
    int reported = rep.problem_count > 0;
    if (must && !reported && other && consistent_mix(base, other, v, len)) {
        t->same_identity++;
    } else if (must) {
        t->variants++;
        t->detected += reported;
        if (!reported) {
            say("MISSED: %s variant of %s (%zu bytes)\n", kind, base->name, len);
            for (size_t i = 0; i < base->ext_count; i++) {
                const pst_extent *e = &base->ext[i];
                for (size_t j = (size_t)e->ib; j < e->ib + e->size && j < len; j++)
                    if (v[j] != base->data[j] && base->checked[j]) {
                        say("  differs in extent kind %d at 0x%llx size %u cb %u "
                                      "(byte 0x%zx)\n", e->kind, (unsigned long long)e->ib,
                                      (unsigned)e->size, (unsigned)e->cb, j);
                        break;
                    }
            }
        }
    } else {
        t->outside++;
        t->outside_detected += reported;
    }
    pst_report_free(&rep);
}

/* The walk must account for everything the AMap says is in use, except the
 * padding inside blocks and what the sample leaks: otherwise "inside the
 * checked bytes" would be a convenient fiction. Each sample's uncovered
 * allocated space is bounded (the largest real leak among the samples is
 * 19 KiB of a 3 MiB store). */
static void check_walk_covers_amap(const sample *s)
{
    pst_report rep;
    check_mem(s->data, s->len, &rep, 0);
    if (rep.unreferenced_bytes > 32768)
        fail_msg("%s: %llu bytes allocated in the AMap but not walked", s->name,
                 (unsigned long long)rep.unreferenced_bytes);
    pst_report_free(&rep);
}

static void damaged_variants_are_all_detected(void **state)
{
    (void)state;
    sample *list;
    size_t n = load_samples(&list);
    const char *seed = ts_env("PSTSNAP_TEST_SEED", "");
    g_rng = *seed ? strtoull(seed, NULL, 0) : 0xC0FFEEull;
    say("seed 0x%llx (PSTSNAP_TEST_SEED)\n", (unsigned long long)g_rng);
    tally t = {0};
    size_t bases = 0;
    for (size_t i = 0; i < n; i++) {
        const sample *s = &list[i];
        if (!s->checked)
            continue;
        bases++;
        check_walk_covers_amap(s);
        unsigned char *v = malloc(s->len);
        assert_non_null(v);
        /* random runs overwritten, starting inside the structures */
        for (int k = 0; k < 25; k++) {
            memcpy(v, s->data, s->len);
            size_t at;
            do
                at = (size_t)rnd_below(s->len);
            while (!s->checked[at]);
            size_t run = 1 + (size_t)rnd_below(k % 2 ? 512 : 16);
            for (size_t j = at; j < at + run && j < s->len; j++)
                v[j] = (unsigned char)rnd();
            judge(&t, s, NULL, v, s->len, "overwrite");
        }
        /* whole 4 KiB blocks of random bytes anywhere (a bad sector) */
        for (int k = 0; k < 5; k++) {
            memcpy(v, s->data, s->len);
            size_t at = (size_t)rnd_below(s->len / 4096) * 4096;
            for (size_t j = at; j < at + 4096 && j < s->len; j++)
                v[j] = (unsigned char)rnd();
            judge(&t, s, NULL, v, s->len, "sector");
        }
        /* truncation */
        for (int k = 0; k < 3; k++)
            judge(&t, s, NULL, s->data, (size_t)rnd_below(s->len), "truncated");
        judge(&t, s, NULL, s->data, s->len - 512, "truncated");
        /* one header byte flipped, inside what the header's checks cover */
        size_t header_end = s->ext[0].size;
        for (int k = 0; k < 8; k++) {
            memcpy(v, s->data, s->len);
            v[rnd_below(header_end)] ^= (unsigned char)(1u << rnd_below(8));
            judge(&t, s, NULL, v, s->len, "header");
        }
        free(v);
    }
    /* torn copies: two versions of one store, same size, mixed by blocks
     * of a copy's granularity; the base is whichever gave the header */
    size_t torn = 0;
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++) {
            const sample *x = &list[a], *y = &list[b];
            if (a == b || !x->checked || x->len != y->len || strncmp(x->name, "versions/", 9) != 0 ||
                strncmp(y->name, "versions/", 9) != 0 ||
                strncmp(x->name, y->name, strcspn(x->name, ".")) != 0)
                continue;
            unsigned char *v = malloc(x->len);
            assert_non_null(v);
            static const size_t grains[] = {512, 4096, 65536};
            for (int g = 0; g < 3; g++)
                for (int k = 0; k < 4; k++) {
                    size_t grain = grains[g];
                    memcpy(v, x->data, x->len);
                    for (size_t off = grain; off < x->len; off += grain)
                        if (rnd() & 1)
                            memcpy(v + off, y->data + off,
                                   x->len - off < grain ? x->len - off : grain);
                    judge(&t, x, y, v, x->len, "torn");
                    torn++;
                }
            free(v);
        }
    say("samples: %zu clean; variants: %zu, detected: %zu\n", bases, t.variants,
                  t.detected);
    say("(torn copies made: %zu; torn copies that are consistent mixes of whole "
                  "structures both versions hold under the same bids, which no structure check "
                  "can tell apart and the block hashes of verify catch: %zu; variants differing only "
                  "outside the checked bytes: %zu, of which reported anyway: %zu)\n",
                  torn, t.same_identity, t.outside, t.outside_detected);
    assert_true(bases >= 20);
    assert_true(torn > 0);
    assert_true(t.same_identity < torn / 4);
    assert_true(t.variants > 500);
    assert_int_equal(t.detected, t.variants);
    free_samples(list, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc_matches_the_spec_variant_of_crc32),
        cmocka_unit_test(signature_folds_ib_xor_bid),
        cmocka_unit_test(synthetic_stores_are_clean),
        cmocka_unit_test(damaged_block_data_is_reported_at_its_trailer),
        cmocka_unit_test(block_trailer_bid_cb_and_signature_are_checked),
        cmocka_unit_test(btree_page_trailer_and_crc_are_checked),
        cmocka_unit_test(map_pages_are_checked),
        cmocka_unit_test(header_checks),
        cmocka_unit_test(truncation_and_eof_mismatch_are_reported),
        cmocka_unit_test(cycles_and_bad_references_terminate),
        cmocka_unit_test(random_damage_never_escapes),
    };
    int failed = cmocka_run_group_tests_name("pst_check", tests, NULL, NULL);
    /* The sample tests skip (exit 77) when the samples are absent: run
     * them last, as their own group, so the synthetic results stand. */
    const struct CMUnitTest sample_tests[] = {
        cmocka_unit_test(every_pristine_sample_is_clean),
        cmocka_unit_test(damaged_variants_are_all_detected),
    };
    if (failed)
        return failed;
    if (!samples_dir())
        ts_skip("PST samples not found (PSTSNAP_SAMPLES_DIR): synthetic tests passed, sample "
                "tests skipped");
    return cmocka_run_group_tests_name("pst_check_samples", sample_tests, NULL, NULL);
}
