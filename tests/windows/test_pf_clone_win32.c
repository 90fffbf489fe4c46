/*
 * test_pf_clone_win32.c - ReFS block cloning (plugin/platform/win32/
 * pf_clone_win32.c) as far as it can be proven without ReFS: Wine has
 * none, so a clone is refused at once with the destination left exactly as
 * it was (the caller then writes every block), and the arithmetic that cuts
 * a clone into cluster-aligned calls under 4 GiB is checked on its own.
 * A clone on a real ReFS volume is not run here.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pf_clone_win32.h"
#include "platform.h"
#include "test_support.h"

#define KIB UINT64_C(1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)

/* --- the arithmetic -------------------------------------------------------- */

/* Walk the plan as pf_clone_file does; every call must be cluster-aligned
 * at both ends, at most plan.call and under 4 GiB, and the calls must
 * cover [start, end) exactly. Returns the number of calls. */
static uint64_t walk(const pfw_clone_plan *plan, uint32_t cluster)
{
    uint64_t off = plan->start, calls = 0, n;
    while ((n = pfw_clone_plan_step(plan, off)) != 0) {
        assert_int_equal(off % cluster, 0);
        assert_int_equal(n % cluster, 0);
        assert_true(n <= plan->call);
        assert_true(n < 4 * GIB);
        off += n;
        calls++;
        assert_true(off <= plan->end);
    }
    assert_int_equal(off, plan->end);
    return calls;
}

static void test_partial_last_cluster_is_cloned_whole(void **state)
{
    (void)state;
    pfw_clone_plan p;
    /* 10 000 bytes on 4 KiB clusters: from 4096, two whole clusters, the
     * second holding the last 1808 bytes of the source. */
    assert_int_equal(pfw_clone_plan_make(4096, 10000, 4096, PFW_CLONE_CALL_MAX, &p), 0);
    assert_int_equal(p.start, 4096);
    assert_int_equal(p.end, 12288);
    assert_int_equal(pfw_clone_plan_step(&p, 4096), 8192);
    assert_int_equal(pfw_clone_plan_step(&p, 12288), 0);
    assert_int_equal(walk(&p, 4096), 1);
    /* A size on the boundary is not rounded further. */
    assert_int_equal(pfw_clone_plan_make(0, 3 * 65536, 65536, PFW_CLONE_CALL_MAX, &p), 0);
    assert_int_equal(p.end, 3 * 65536);
    assert_int_equal(walk(&p, 65536), 1);
    /* One byte past a boundary takes the next cluster. */
    assert_int_equal(pfw_clone_plan_make(0, 65537, 65536, PFW_CLONE_CALL_MAX, &p), 0);
    assert_int_equal(p.end, 131072);
}

static void test_large_files_go_in_calls_of_one_gib(void **state)
{
    (void)state;
    pfw_clone_plan p;
    uint64_t size = 5 * GIB / 2 + 100; /* 2.5 GiB and a partial cluster */
    assert_int_equal(pfw_clone_plan_make(0, size, 4096, PFW_CLONE_CALL_MAX, &p), 0);
    assert_int_equal(p.call, GIB);
    assert_int_equal(pfw_clone_plan_step(&p, 0), GIB);
    assert_int_equal(pfw_clone_plan_step(&p, GIB), GIB);
    assert_int_equal(pfw_clone_plan_step(&p, 2 * GIB), GIB / 2 + 4096);
    assert_int_equal(walk(&p, 4096), 3);
    /* 50 GB, Outlook's default PST limit, from a resume point. */
    assert_int_equal(pfw_clone_plan_make(7 * MIB, 50000000000ull, 65536, PFW_CLONE_CALL_MAX, &p),
                     0);
    assert_int_equal(walk(&p, 65536), 47);
}

static void test_a_call_never_reaches_4_gib_whatever_is_asked(void **state)
{
    (void)state;
    pfw_clone_plan p;
    /* Asking for 4 GiB or more per call gets the largest multiple of the
     * cluster below 4 GiB ("less than 4GB in length"). */
    assert_int_equal(pfw_clone_plan_make(0, 20 * GIB, 65536, 8 * GIB, &p), 0);
    assert_int_equal(p.call, 4 * GIB - 65536);
    walk(&p, 65536);
    assert_int_equal(pfw_clone_plan_make(0, 20 * GIB, 4096, 4 * GIB, &p), 0);
    assert_int_equal(p.call, 4 * GIB - 4096);
    walk(&p, 4096);
    /* A call size off the cluster is rounded down to it. */
    assert_int_equal(pfw_clone_plan_make(0, 1 * MIB, 4096, 10000, &p), 0);
    assert_int_equal(p.call, 8192);
    assert_int_equal(walk(&p, 4096), 128);
}

static void test_nothing_to_clone_at_or_past_the_source_end(void **state)
{
    (void)state;
    pfw_clone_plan p;
    assert_int_equal(pfw_clone_plan_make(65536, 65536, 4096, PFW_CLONE_CALL_MAX, &p), 0);
    assert_int_equal(p.start, p.end);
    assert_int_equal(pfw_clone_plan_step(&p, p.start), 0);
    assert_int_equal(pfw_clone_plan_make(131072, 100, 4096, PFW_CLONE_CALL_MAX, &p), 0);
    assert_int_equal(p.start, p.end);
    assert_int_equal(pfw_clone_plan_make(0, 0, 4096, PFW_CLONE_CALL_MAX, &p), 0);
    assert_int_equal(walk(&p, 4096), 0);
}

static void test_ranges_that_cannot_be_cut_into_clusters_are_refused(void **state)
{
    (void)state;
    pfw_clone_plan p;
    /* `from` off the cluster: a 64 KiB ReFS volume and a 4 KiB block. */
    assert_int_equal(pfw_clone_plan_make(4096, 1 * MIB, 65536, PFW_CLONE_CALL_MAX, &p), -1);
    assert_int_equal(pfw_clone_plan_make(1, 1 * MIB, 4096, PFW_CLONE_CALL_MAX, &p), -1);
    /* No cluster size, or one that is not a power of two. */
    assert_int_equal(pfw_clone_plan_make(0, 1 * MIB, 0, PFW_CLONE_CALL_MAX, &p), -1);
    assert_int_equal(pfw_clone_plan_make(0, 1 * MIB, 3000, PFW_CLONE_CALL_MAX, &p), -1);
    /* Less than a cluster per call would never advance. */
    assert_int_equal(pfw_clone_plan_make(0, 1 * MIB, 65536, 4096, &p), -1);
    /* The rounded end must stay a valid (signed) file offset. */
    assert_int_equal(pfw_clone_plan_make(0, UINT64_MAX, 4096, PFW_CLONE_CALL_MAX, &p), -1);
    assert_int_equal(pfw_clone_plan_make(0, (uint64_t)INT64_MAX, 4096, PFW_CLONE_CALL_MAX, &p),
                     -1);
    assert_int_equal(
        pfw_clone_plan_make(0, (uint64_t)INT64_MAX - 4095, 4096, PFW_CLONE_CALL_MAX, &p), 0);
    assert_int_equal(p.end, (uint64_t)INT64_MAX - 4095);
}

/* --- under Wine: no ReFS ---------------------------------------------------- */

static void fill(unsigned char *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (unsigned char)(seed + i * 7 + (i >> 9));
}

static void write_file(const char *path, const unsigned char *data, size_t len)
{
    pf_file *f = NULL;
    ps_err err;
    if (pf_open_write(path, &f, NULL, &err) != PS_OK || pf_truncate(f, 0, &err) != PS_OK ||
        pf_pwrite(f, data, len, 0, &err) != PS_OK || pf_close(f, &err) != PS_OK)
        fail_msg("%s", err.msg);
}

static void assert_file(const char *path, const unsigned char *data, size_t len)
{
    char *got = NULL;
    size_t n = 0;
    ps_err err;
    if (pf_read_file(path, 16u << 20, &got, &n, &err) != PS_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(n, len);
    assert_memory_equal(got, data, len);
    free(got);
}

/* dst as the copy engine leaves it before a clone: cut to `from`, or
 * holding more (a resumed staging file). Either way it must come back
 * byte for byte, and at once: the caller's full write follows. */
static void refused_with_dst_unchanged(size_t dst_len, uint64_t from)
{
    char *dir = ts_temp_dir("pf_clone_win32");
    char *src_path = ts_path(dir, "Mail.pst"), *dst_path = ts_path(dir, "Mail.pst.partial");
    size_t src_len = 300 * 1024 + 123;
    unsigned char *src_data = malloc(src_len), *dst_data = malloc(dst_len ? dst_len : 1);
    assert_non_null(src_data);
    assert_non_null(dst_data);
    fill(src_data, src_len, 1);
    fill(dst_data, dst_len, 99);
    write_file(src_path, src_data, src_len);
    write_file(dst_path, dst_data, dst_len);

    pf_file *src = NULL, *dst = NULL;
    ps_err err;
    assert_int_equal(pf_open_read(src_path, &src, &err), PS_OK);
    assert_int_equal(pf_open_write(dst_path, &dst, NULL, &err), PS_OK);
    uint64_t t0 = pf_monotonic_ms();
    ps_status s = pf_clone_file(src, dst, from, &err);
    uint64_t took = pf_monotonic_ms() - t0;
    pf_stat st;
    assert_int_equal(pf_fstat(dst, &st, &err), PS_OK);
    assert_int_equal(pf_close(src, &err), PS_OK);
    assert_int_equal(pf_close(dst, &err), PS_OK);

    assert_int_equal(s, PS_ERR_UNSUPPORTED);
    /* Refused by the volume's flags, before anything else is asked. */
    if (!strstr(err.msg, "no block cloning"))
        fail_msg("refused for another reason than the volume: %s", err.msg);
    assert_non_null(strstr(err.msg, "Mail.pst'"));
    assert_non_null(strstr(err.msg, "Mail.pst.partial'"));
    if (took > 2000)
        fail_msg("the refusal took %llu ms", (unsigned long long)took);
    assert_int_equal(st.size, dst_len);
    assert_file(dst_path, dst_data, dst_len);
    assert_file(src_path, src_data, src_len);

    free(src_data);
    free(dst_data);
    free(src_path);
    free(dst_path);
    ts_remove_tree(dir);
    free(dir);
}

static void test_wine_refuses_at_once_and_leaves_dst_cut_to_from_as_it_was(void **state)
{
    (void)state;
    refused_with_dst_unchanged(64 * 1024, 64 * 1024);
    refused_with_dst_unchanged(0, 0);
}

static void test_wine_refuses_and_leaves_a_longer_dst_byte_for_byte(void **state)
{
    (void)state;
    refused_with_dst_unchanged(500 * 1024 + 7, 64 * 1024);
    /* An offset off any cluster is refused the same way, dst untouched. */
    refused_with_dst_unchanged(4096 + 1, 4096 + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partial_last_cluster_is_cloned_whole),
        cmocka_unit_test(test_large_files_go_in_calls_of_one_gib),
        cmocka_unit_test(test_a_call_never_reaches_4_gib_whatever_is_asked),
        cmocka_unit_test(test_nothing_to_clone_at_or_past_the_source_end),
        cmocka_unit_test(test_ranges_that_cannot_be_cut_into_clusters_are_refused),
        cmocka_unit_test(test_wine_refuses_at_once_and_leaves_dst_cut_to_from_as_it_was),
        cmocka_unit_test(test_wine_refuses_and_leaves_a_longer_dst_byte_for_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
