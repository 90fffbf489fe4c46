/*
 * test_journal.c - plugin/core/journal.c: the per-file resume journal. What
 * matters is what a later run may trust after a crash: exactly the records
 * that were committed and are intact, in order, under the same header.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "hashfile.h"
#include "journal.h"
#include "platform.h"
#include "test_fs.h"
#include "test_support.h"

#define HEADER_SIZE 64
#define RECORD_SIZE 24

static const ps_journal_header HDR = {.block_size = 65536,
                                      .source_size = 10u * 65536u + 123u,
                                      .source_mtime_ns = 1700000000123456789LL,
                                      .created_ns = 1700000000999999999LL,
                                      .patch_base = 0x1234567890abcdefULL};

/* A recognisable hash for block i. */
static uint64_t block_hash(uint64_t i) { return 0x9e3779b97f4a7c15ULL * (i + 1); }

/* Create a journal at `path` holding `n` committed records. */
static void write_journal(const char *path, const ps_journal_header *hdr, uint64_t n)
{
    ps_journal *j = NULL;
    ps_err err;
    if (journal_create(path, hdr, &j, &err) != PS_OK)
        fail_msg("journal_create: %s", err.msg);
    for (uint64_t i = 0; i < n; i++)
        assert_int_equal(journal_append(j, i, block_hash(i), &err), PS_OK);
    assert_int_equal(journal_commit(j, &err), PS_OK);
    assert_int_equal(journal_close(j, &err), PS_OK);
}

/* Load and expect PS_OK; returns the trusted count, checks every hash. */
static uint64_t load_trusted(const char *path, ps_journal_header *hdr)
{
    ps_hashfile hashes;
    ps_err err;
    ps_status st = journal_open_hashes(path, hdr, &hashes, &err);
    if (st != PS_OK)
        fail_msg("journal_open_hashes: %d %s", st, err.msg);
    uint64_t count = hashes.count, h = 0;
    for (uint64_t i = 0; i < count; i++) {
        assert_int_equal(hashfile_get(&hashes, i, &h, &err), PS_OK);
        assert_true(h == block_hash(i));
    }
    hashfile_close(&hashes);
    uint64_t counted = 99;
    assert_int_equal(journal_count(path, hdr, &counted, &err), PS_OK);
    assert_int_equal(counted, count);
    return count;
}

/* Load and expect PS_ERR_CORRUPT with a message containing `why`. */
static void expect_corrupt(const char *path, const char *why)
{
    ps_journal_header hdr;
    ps_hashfile hashes;
    uint64_t count = 99;
    ps_err err;
    ps_err_clear(&err);
    assert_int_equal(journal_open_hashes(path, &hdr, &hashes, &err), PS_ERR_CORRUPT);
    assert_int_equal(err.code, PS_ERR_CORRUPT);
    assert_false(hashfile_is_open(&hashes));
    assert_int_equal(journal_count(path, &hdr, &count, &err), PS_ERR_CORRUPT);
    assert_int_equal(count, 0);
    if (!strstr(err.msg, why) || !strstr(err.msg, path))
        fail_msg("message '%s' should name '%s' and say '%s'", err.msg, path, why);
}

/* Rewrite the header fields of the journal at `path` and give it a valid
 * checksum, so only the field under test is wrong. */
static void forge_header(const char *path, uint32_t version, uint32_t block_size)
{
    size_t len = 0;
    unsigned char *data = (unsigned char *)ts_read_file(path, &len);
    assert_true(len >= HEADER_SIZE);
    ps_put_u32le(data + 8, version);
    ps_put_u32le(data + 12, block_size);
    ps_put_u64le(data + 56, ps_hash64(data, 56));
    ts_write_file(path, data, len);
    free(data);
}

static void flip_byte(const char *path, size_t offset)
{
    size_t len = 0;
    char *data = ts_read_file(path, &len);
    assert_true(offset < len);
    data[offset] ^= 0x40;
    ts_write_file(path, data, len);
    free(data);
}

static void test_committed_records_load_back_with_the_header(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("journal_round_trip");
    char *path = ts_path(dir, "j");
    write_journal(path, &HDR, 11);
    ps_journal_header hdr = {0};
    assert_int_equal(load_trusted(path, &hdr), 11);
    assert_int_equal(hdr.block_size, HDR.block_size);
    assert_int_equal(hdr.source_size, HDR.source_size);
    assert_true(hdr.source_mtime_ns == HDR.source_mtime_ns);
    assert_true(hdr.created_ns == HDR.created_ns);
    assert_true(hdr.patch_base == HDR.patch_base); /* an in-place update's base */
    free(path);
    free(dir);
}

static void test_negative_mtime_survives_the_round_trip(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("journal_negative_mtime");
    char *path = ts_path(dir, "j");
    ps_journal_header before1970 = {.block_size = 4096, .source_size = 5000,
                                    .source_mtime_ns = -1234567890123LL, .created_ns = -5};
    write_journal(path, &before1970, 2);
    ps_journal_header hdr = {0};
    assert_int_equal(load_trusted(path, &hdr), 2);
    assert_true(hdr.source_mtime_ns == -1234567890123LL);
    assert_true(hdr.created_ns == -5);
    free(path);
    free(dir);
}

static void test_header_only_journal_has_no_records(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("journal_empty");
    char *path = ts_path(dir, "j");
    write_journal(path, &HDR, 0);
    ps_journal_header hdr;
    assert_int_equal(load_trusted(path, &hdr), 0);
    free(path);
    free(dir);
}

static void test_missing_journal_is_not_found(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("journal_missing");
    char *path = ts_path(dir, "none");
    ps_journal_header hdr;
    ps_hashfile hashes;
    uint64_t count = 7;
    ps_err err;
    assert_int_equal(journal_open_hashes(path, &hdr, &hashes, &err), PS_ERR_NOTFOUND);
    assert_false(hashfile_is_open(&hashes));
    assert_int_equal(journal_count(path, &hdr, &count, &err), PS_ERR_NOTFOUND);
    assert_int_equal(count, 0);
    free(path);
    free(dir);
}

static void test_queued_records_are_not_durable_until_commit(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("journal_uncommitted");
    char *path = ts_path(dir, "j");
    ps_journal *j = NULL;
    ps_err err;
    assert_int_equal(journal_create(path, &HDR, &j, &err), PS_OK);
    for (uint64_t i = 0; i < 3; i++)
        assert_int_equal(journal_append(j, i, block_hash(i), &err), PS_OK);
    assert_int_equal(journal_commit(j, &err), PS_OK);
    assert_int_equal(journal_append(j, 3, block_hash(3), &err), PS_OK);
    ps_journal_header hdr;
    assert_int_equal(load_trusted(path, &hdr), 3); /* record 3 only queued */
    assert_int_equal(journal_commit(j, &err), PS_OK);
    assert_int_equal(load_trusted(path, &hdr), 4);
    assert_int_equal(journal_close(j, &err), PS_OK);
    free(path);
    free(dir);
}

static void test_torn_tail_keeps_only_the_whole_records_before_it(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("journal_torn");
    char *path = ts_path(dir, "j");
    write_journal(path, &HDR, 8);
    /* A crash in the middle of writing record 5 (index 5 = the 6th). */
    assert_int_equal(ts_truncate(path, HEADER_SIZE + 5 * RECORD_SIZE + 13), 0);
    ps_journal_header hdr;
    assert_int_equal(load_trusted(path, &hdr), 5);
    /* Cut inside the header: nothing can be trusted. */
    assert_int_equal(ts_truncate(path, HEADER_SIZE - 1), 0);
    expect_corrupt(path, "truncated");
    assert_int_equal(ts_truncate(path, 0), 0);
    expect_corrupt(path, "truncated");
    free(path);
    free(dir);
}

static void test_damaged_record_ends_trust_at_that_record(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("journal_flipped");
    char *path = ts_path(dir, "j");
    ps_journal_header hdr;
    /* A flipped bit in the index, the hash, or the record's own checksum:
     * each ends trust at record 3, whatever follows is intact. */
    size_t parts[] = {0, 9, 23};
    for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
        write_journal(path, &HDR, 10);
        flip_byte(path, HEADER_SIZE + 3 * RECORD_SIZE + parts[k]);
        assert_int_equal(load_trusted(path, &hdr), 3);
    }
    /* The very first record damaged: nothing staged is reused. */
    write_journal(path, &HDR, 10);
    flip_byte(path, HEADER_SIZE + 4);
    assert_int_equal(load_trusted(path, &hdr), 0);
    free(path);
    free(dir);
}

static void test_records_out_of_order_or_past_the_source_end_are_not_trusted(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("journal_order");
    char *path = ts_path(dir, "j");
    ps_journal *j = NULL;
    ps_err err;
    ps_journal_header hdr;
    /* 0, 1, 3: block 2 was never vouched for, so neither is 3. */
    assert_int_equal(journal_create(path, &HDR, &j, &err), PS_OK);
    assert_int_equal(journal_append(j, 0, block_hash(0), &err), PS_OK);
    assert_int_equal(journal_append(j, 1, block_hash(1), &err), PS_OK);
    assert_int_equal(journal_append(j, 3, block_hash(3), &err), PS_OK);
    assert_int_equal(journal_commit(j, &err), PS_OK);
    assert_int_equal(journal_close(j, &err), PS_OK);
    assert_int_equal(load_trusted(path, &hdr), 2);
    /* A source of 3 blocks (the last one partial or full) has no block 3. */
    uint64_t sizes[] = {3 * 4096 - 1, 3 * 4096, 2 * 4096 + 1};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        ps_journal_header small = {.block_size = 4096, .source_size = sizes[k]};
        assert_int_equal(journal_create(path, &small, &j, &err), PS_OK);
        for (uint64_t i = 0; i < 6; i++)
            assert_int_equal(journal_append(j, i, block_hash(i), &err), PS_OK);
        assert_int_equal(journal_commit(j, &err), PS_OK);
        assert_int_equal(journal_close(j, &err), PS_OK);
        assert_int_equal(load_trusted(path, &hdr), 3);
    }
    /* An empty source has no blocks at all. */
    ps_journal_header empty = {.block_size = 4096, .source_size = 0};
    assert_int_equal(journal_create(path, &empty, &j, &err), PS_OK);
    assert_int_equal(journal_append(j, 0, block_hash(0), &err), PS_OK);
    assert_int_equal(journal_commit(j, &err), PS_OK);
    assert_int_equal(journal_close(j, &err), PS_OK);
    assert_int_equal(load_trusted(path, &hdr), 0);
    free(path);
    free(dir);
}

static void test_damaged_header_makes_the_whole_journal_untrusted(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("journal_bad_header");
    char *path = ts_path(dir, "j");
    write_journal(path, &HDR, 4);
    flip_byte(path, 17); /* inside source size */
    expect_corrupt(path, "header checksum mismatch");
    write_journal(path, &HDR, 4);
    flip_byte(path, 60); /* inside the checksum itself */
    expect_corrupt(path, "header checksum mismatch");
    free(path);
    free(dir);
}

static void test_wrong_magic_is_not_a_journal(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("journal_magic");
    char *path = ts_path(dir, "j");
    write_journal(path, &HDR, 1);
    flip_byte(path, 0);
    expect_corrupt(path, "is not a pstsnap resume journal");
    char text[200];
    memset(text, 'x', sizeof text);
    ts_write_file(path, text, sizeof text);
    expect_corrupt(path, "is not a pstsnap resume journal");
    free(path);
    free(dir);
}

static void test_other_version_is_refused_naming_both_versions(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("journal_version");
    char *path = ts_path(dir, "j");
    write_journal(path, &HDR, 1);
    forge_header(path, 2, HDR.block_size);
    expect_corrupt(path, "has version 2; this build reads 1");
    forge_header(path, 0, HDR.block_size);
    expect_corrupt(path, "has version 0; this build reads 1");
    free(path);
    free(dir);
}

static void test_impossible_block_size_is_refused(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("journal_block_size");
    char *path = ts_path(dir, "j");
    uint32_t bad[] = {0, 1000, 2048, 65535, 3 * 4096, 128u << 20};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_journal(path, &HDR, 1);
        forge_header(path, PS_JOURNAL_VERSION, bad[i]);
        char why[64];
        snprintf(why, sizeof why, "block size %u is not valid", bad[i]);
        expect_corrupt(path, why);
    }
    /* The bounds themselves are fine. */
    uint32_t good[] = {4096, 64u << 20};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        write_journal(path, &HDR, 1);
        forge_header(path, PS_JOURNAL_VERSION, good[i]);
        ps_journal_header hdr;
        load_trusted(path, &hdr);
        assert_int_equal(hdr.block_size, good[i]);
    }
    free(path);
    free(dir);
}

static void test_a_folder_or_a_huge_file_is_not_a_journal(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("journal_not_file");
    expect_corrupt(dir, "is not a file");
    char *path = ts_path(dir, "huge");
    ts_write_file(path, "", 0);
    /* Sparse: more records than any PST could need. */
    assert_int_equal(ts_truncate(path, HEADER_SIZE + (uint64_t)RECORD_SIZE * (1 << 24) + RECORD_SIZE), 0);
    expect_corrupt(path, "impossible size");
    free(path);
    free(dir);
}

static void test_records_written_under_another_header_are_not_trusted(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("journal_seed");
    char *old_path = ts_path(dir, "old");
    char *new_path = ts_path(dir, "new");
    ps_journal_header changed = HDR;
    changed.source_mtime_ns += 1; /* the PST was written since */
    write_journal(old_path, &HDR, 6);
    write_journal(new_path, &changed, 0);
    /* Graft the new header onto the old records: a crash of journal_create
     * that got the header out but not the truncation would look so. */
    size_t old_len = 0, new_len = 0;
    char *old_data = ts_read_file(old_path, &old_len);
    char *new_data = ts_read_file(new_path, &new_len);
    assert_int_equal(new_len, HEADER_SIZE);
    memcpy(old_data, new_data, HEADER_SIZE);
    ts_write_file(old_path, old_data, old_len);
    ps_journal_header hdr;
    assert_int_equal(load_trusted(old_path, &hdr), 0);
    assert_true(hdr.source_mtime_ns == changed.source_mtime_ns);
    free(old_data);
    free(new_data);

    /* journal_create over an old journal: none of its records survive, and
     * what is committed next is trusted. */
    write_journal(old_path, &HDR, 6);
    ps_journal *j = NULL;
    ps_err err;
    assert_int_equal(journal_create(old_path, &changed, &j, &err), PS_OK);
    assert_int_equal(load_trusted(old_path, &hdr), 0);
    assert_int_equal(journal_append(j, 0, block_hash(0), &err), PS_OK);
    assert_int_equal(journal_commit(j, &err), PS_OK);
    assert_int_equal(journal_close(j, &err), PS_OK);
    assert_int_equal(load_trusted(old_path, &hdr), 1);
    assert_true(hdr.source_mtime_ns == changed.source_mtime_ns);
    free(old_path);
    free(new_path);
    free(dir);
}

static void test_reopen_keeps_exactly_the_first_records_and_continues(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("journal_reopen");
    char *path = ts_path(dir, "j");
    write_journal(path, &HDR, 9);
    ps_journal *j = NULL;
    ps_err err;
    ps_journal_header hdr;
    assert_int_equal(journal_reopen(path, &HDR, 4, &j, &err), PS_OK);
    assert_int_equal(load_trusted(path, &hdr), 4); /* cut at once, not at commit */
    for (uint64_t i = 4; i < 7; i++)
        assert_int_equal(journal_append(j, i, block_hash(i), &err), PS_OK);
    assert_int_equal(journal_commit(j, &err), PS_OK);
    assert_int_equal(journal_close(j, &err), PS_OK);
    assert_int_equal(load_trusted(path, &hdr), 7);

    /* keep 0 leaves the header only; keep = all changes nothing. */
    assert_int_equal(journal_reopen(path, &HDR, 0, &j, &err), PS_OK);
    assert_int_equal(journal_close(j, &err), PS_OK);
    assert_int_equal(load_trusted(path, &hdr), 0);
    write_journal(path, &HDR, 5);
    assert_int_equal(journal_reopen(path, &HDR, 5, &j, &err), PS_OK);
    assert_int_equal(journal_close(j, &err), PS_OK);
    assert_int_equal(load_trusted(path, &hdr), 5);
    free(path);
    free(dir);
}

static void test_reopen_after_a_torn_tail_overwrites_the_torn_bytes(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("journal_reopen_torn");
    char *path = ts_path(dir, "j");
    write_journal(path, &HDR, 6);
    assert_int_equal(ts_truncate(path, HEADER_SIZE + 3 * RECORD_SIZE + 7), 0);
    ps_journal_header hdr;
    assert_int_equal(load_trusted(path, &hdr), 3);
    ps_journal *j = NULL;
    ps_err err;
    assert_int_equal(journal_reopen(path, &HDR, 3, &j, &err), PS_OK);
    for (uint64_t i = 3; i < 6; i++)
        assert_int_equal(journal_append(j, i, block_hash(i), &err), PS_OK);
    assert_int_equal(journal_commit(j, &err), PS_OK);
    assert_int_equal(journal_close(j, &err), PS_OK);
    assert_int_equal(load_trusted(path, &hdr), 6);
    size_t len = 0;
    free(ts_read_file(path, &len));
    assert_int_equal(len, HEADER_SIZE + 6 * RECORD_SIZE);
    free(path);
    free(dir);
}

static void test_append_beyond_the_buffer_without_commit_is_an_error(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("journal_room");
    char *path = ts_path(dir, "j");
    ps_journal_header big = {.block_size = 4096, .source_size = 1u << 30};
    ps_journal *j = NULL;
    ps_err err;
    assert_int_equal(journal_create(path, &big, &j, &err), PS_OK);
    size_t room = journal_room(j);
    assert_true(room > 0);
    for (size_t i = 0; i < room; i++) {
        assert_int_equal(journal_append(j, i, block_hash(i), &err), PS_OK);
        assert_int_equal(journal_room(j), room - i - 1);
    }
    ps_err_clear(&err);
    assert_int_equal(journal_append(j, room, block_hash(room), &err), PS_ERR_INVALID);
    assert_int_equal(err.code, PS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "buffer full"));
    /* Committing frees the room, and the refused record was not queued. */
    assert_int_equal(journal_commit(j, &err), PS_OK);
    assert_int_equal(journal_room(j), room);
    assert_int_equal(journal_append(j, room, block_hash(room), &err), PS_OK);
    assert_int_equal(journal_commit(j, &err), PS_OK);
    assert_int_equal(journal_close(j, &err), PS_OK);
    ps_journal_header hdr;
    assert_int_equal(load_trusted(path, &hdr), room + 1);
    free(path);
    free(dir);
}

static void test_create_refuses_to_write_through_a_link(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("journal_link");
    char *target = ts_path(dir, "target");
    char *path = ts_path(dir, "j");
    ts_write_file(target, "precious", 8);
    if (ts_symlink(target, path, 0) != 0)
        skip(); /* no symbolic links here (Windows without the right) */
    ps_journal *j = NULL;
    ps_err err;
    assert_int_not_equal(journal_create(path, &HDR, &j, &err), PS_OK);
    assert_null(j);
    size_t len = 0;
    char *data = ts_read_file(target, &len);
    assert_int_equal(len, 8);
    assert_memory_equal(data, "precious", 8);
    free(data);
    free(target);
    free(path);
    free(dir);
}

/* Journals far larger than the reading window (hashfile.h) are read
 * window by window, in order and out of order, never all at once. */
static void test_hashes_are_read_through_a_window_in_any_order(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("journal_window");
    char *path = ts_path(dir, "big");
    const uint64_t n = 3 * HASHFILE_WINDOW + 17;
    ps_journal_header hdr = HDR;
    hdr.block_size = 4096;
    hdr.source_size = n * 4096;
    ps_journal *j = NULL;
    ps_err err;
    assert_int_equal(journal_create(path, &hdr, &j, &err), PS_OK);
    for (uint64_t i = 0; i < n; i++) {
        if (journal_room(j) == 0)
            assert_int_equal(journal_commit(j, &err), PS_OK);
        assert_int_equal(journal_append(j, i, block_hash(i), &err), PS_OK);
    }
    assert_int_equal(journal_commit(j, &err), PS_OK);
    assert_int_equal(journal_close(j, &err), PS_OK);
    ps_journal_header got;
    assert_int_equal(load_trusted(path, &got), n);
    ps_hashfile hf;
    assert_int_equal(journal_open_hashes(path, &got, &hf, &err), PS_OK);
    const uint64_t order[] = {n - 1, 0, HASHFILE_WINDOW, HASHFILE_WINDOW - 1, 2 * HASHFILE_WINDOW + 5, 1};
    uint64_t h = 0;
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        assert_int_equal(hashfile_get(&hf, order[k], &h, &err), PS_OK);
        assert_true(h == block_hash(order[k]));
    }
    /* Past the end is a caller's error, named as such. */
    assert_int_equal(hashfile_get(&hf, n, &h, &err), PS_ERR_INVALID);
    hashfile_close(&hf);
    free(path);
    free(dir);
}

/* A record damaged after the journal was opened (by anything but this
 * run) is refused when it is read, not taken. */
static void test_a_record_changed_after_opening_is_refused_when_read(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("journal_changed_later");
    char *path = ts_path(dir, "j");
    write_journal(path, &HDR, 5);
    ps_journal_header hdr;
    ps_hashfile hf;
    ps_err err;
    assert_int_equal(journal_open_hashes(path, &hdr, &hf, &err), PS_OK);
    assert_int_equal(hf.count, 5);
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, HEADER_SIZE + 3 * RECORD_SIZE + 9, SEEK_SET), 0);
    fputc(0x5a, fp);
    fclose(fp);
    uint64_t h = 0;
    assert_int_equal(hashfile_get(&hf, 2, &h, &err), PS_OK);
    ps_err_clear(&err);
    assert_int_equal(hashfile_get(&hf, 3, &h, &err), PS_ERR_CORRUPT);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "block 3"));
    hashfile_close(&hf);
    free(path);
    free(dir);
}

/* A copy whose source changed sets the old journal aside to re-check what
 * it staged, while a new journal takes the name: both readable at once,
 * and the aside one gone after journal_remove_aside. */
static void test_a_journal_set_aside_stays_readable_beside_a_new_one(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("journal_aside");
    char *path = ts_path(dir, "j");
    write_journal(path, &HDR, 7);
    ps_journal_header old;
    ps_hashfile hf;
    ps_err err;
    assert_int_equal(journal_open_aside(path, &old, &hf, &err), PS_OK);
    assert_int_equal(hf.count, 7);
    char *aside = journal_aside_path(path);
    assert_true(ts_exists(aside));
    assert_false(ts_exists(path));
    ps_journal_header fresh = HDR;
    fresh.source_mtime_ns += 1;
    write_journal(path, &fresh, 2);
    uint64_t h = 0;
    for (uint64_t i = 0; i < 7; i++) {
        assert_int_equal(hashfile_get(&hf, i, &h, &err), PS_OK);
        assert_true(h == block_hash(i));
    }
    hashfile_close(&hf);
    ps_journal_header now;
    assert_int_equal(load_trusted(path, &now), 2);
    assert_true(now.source_mtime_ns == fresh.source_mtime_ns);
    journal_remove_aside(path);
    assert_false(ts_exists(aside));
    assert_true(ts_exists(path));
    /* Nothing to set aside: not found, nothing created. */
    assert_int_equal(pf_unlink(path, NULL), PS_OK);
    assert_int_equal(journal_open_aside(path, &old, &hf, &err), PS_ERR_NOTFOUND);
    assert_false(ts_exists(aside));
    free(aside);
    free(path);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_committed_records_load_back_with_the_header),
        cmocka_unit_test(test_negative_mtime_survives_the_round_trip),
        cmocka_unit_test(test_header_only_journal_has_no_records),
        cmocka_unit_test(test_missing_journal_is_not_found),
        cmocka_unit_test(test_queued_records_are_not_durable_until_commit),
        cmocka_unit_test(test_torn_tail_keeps_only_the_whole_records_before_it),
        cmocka_unit_test(test_damaged_record_ends_trust_at_that_record),
        cmocka_unit_test(test_records_out_of_order_or_past_the_source_end_are_not_trusted),
        cmocka_unit_test(test_damaged_header_makes_the_whole_journal_untrusted),
        cmocka_unit_test(test_wrong_magic_is_not_a_journal),
        cmocka_unit_test(test_other_version_is_refused_naming_both_versions),
        cmocka_unit_test(test_impossible_block_size_is_refused),
        cmocka_unit_test(test_a_folder_or_a_huge_file_is_not_a_journal),
        cmocka_unit_test(test_records_written_under_another_header_are_not_trusted),
        cmocka_unit_test(test_reopen_keeps_exactly_the_first_records_and_continues),
        cmocka_unit_test(test_reopen_after_a_torn_tail_overwrites_the_torn_bytes),
        cmocka_unit_test(test_append_beyond_the_buffer_without_commit_is_an_error),
        cmocka_unit_test(test_create_refuses_to_write_through_a_link),
        cmocka_unit_test(test_hashes_are_read_through_a_window_in_any_order),
        cmocka_unit_test(test_a_record_changed_after_opening_is_refused_when_read),
        cmocka_unit_test(test_a_journal_set_aside_stays_readable_beside_a_new_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
