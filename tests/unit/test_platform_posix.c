/*
 * test_platform_posix.c - plugin/platform/posix: what pf_lstat, pf_fstat and
 * pf_open_read tell of mounts. A bind mount of a folder or a file of the
 * same filesystem keeps its parent's st_dev; only mount_root (statx's
 * STATX_ATTR_MOUNT_ROOT) shows it, and discovery and the open of a PST rely
 * on it. The mounting tests need root and a kernel that tells (5.8+); they
 * skip without either, or where mount(2) is refused (a container).
 * Linux only: elsewhere mount_root is always 0 (see platform.h).
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#ifndef __linux__
#include "test_support.h"
int main(void)
{
    ts_skip("mount roots (statx) are tested on Linux only");
    return 0;
}
#else

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform.h"
#include "test_fs.h"
#include "test_support.h"

/* One test's folder: `src` is bind-mounted on `target` (a folder, or a file
 * on a file), both inside `dir`, so both are on one filesystem. */
typedef struct fixture {
    char *dir, *src, *target;
    int mounted;
} fixture;

static int teardown(void **state)
{
    fixture *f = *state;
    if (!f)
        return 0;
    /* Unmounted before the tree is removed: removing through a mount would
     * delete what it shows. */
    if (f->mounted && umount2(f->target, MNT_DETACH) != 0)
        fail_msg("cannot unmount '%s': %s", f->target, strerror(errno));
    ts_remove_tree(f->dir);
    free(f->dir);
    free(f->src);
    free(f->target);
    free(f);
    return 0;
}

static int setup(void **state)
{
    /* A mount a killed earlier run left would make the folder unremovable. */
    char *stale = ts_path(ts_env("PSTSNAP_TEST_TMP", "/tmp/pstsnap-tests"),
                          "platform_posix/Outlook");
    umount2(stale, MNT_DETACH);
    free(stale);
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dir = ts_temp_dir("platform_posix");
    f->src = ts_path(f->dir, "elsewhere");
    f->target = ts_path(f->dir, "Outlook");
    *state = f;
    return 0;
}

/* Whether this kernel reports STATX_ATTR_MOUNT_ROOT at all (5.8+), asked
 * directly so that a pf_lstat that never sets the field cannot pass as an
 * old kernel. */
static int kernel_tells_mount_roots(void)
{
#ifdef STATX_ATTR_MOUNT_ROOT
    struct statx x;
    return statx(AT_FDCWD, "/", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &x) == 0 &&
           (x.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT);
#else
    return 0;
#endif
}

/* Bind-mount f->src on f->target, or skip the test where that cannot be. */
static void bind_or_skip(fixture *f)
{
    if (!kernel_tells_mount_roots()) {
        print_message("skipped: this kernel does not report STATX_ATTR_MOUNT_ROOT\n");
        skip();
    }
    if (geteuid() != 0) {
        print_message("skipped: mounting needs root\n");
        skip();
    }
    /* A bind mount ignores the type; "none" rather than NULL, which
     * valgrind reports as an unaddressable argument. */
    if (mount(f->src, f->target, "none", MS_BIND, NULL) != 0) {
        print_message("skipped: mount --bind refused: %s\n", strerror(errno));
        skip();
    }
    f->mounted = 1;
}

static void test_an_ordinary_file_and_folder_are_not_mount_roots(void **state)
{
    fixture *f = *state;
    char *file = ts_path(f->dir, "Mail.pst");
    ts_write_file(file, "!BDN", 4);
    assert_int_equal(ts_stat(f->dir).mount_root, 0);
    assert_int_equal(ts_stat(file).mount_root, 0);
    pf_file *h = NULL;
    ps_err err;
    assert_int_equal(pf_open_read(file, &h, &err), PS_OK);
    pf_stat st;
    assert_int_equal(pf_fstat(h, &st, &err), PS_OK);
    assert_int_equal(st.mount_root, 0);
    /* The descriptor's identity is the name's (statx and stat agree). */
    assert_true(st.dev == ts_stat(file).dev && st.ino == ts_stat(file).ino);
    pf_close(h, NULL);
    free(file);
}

static void test_the_root_folder_is_a_mount_root_where_the_kernel_tells(void **state)
{
    (void)state;
    if (!kernel_tells_mount_roots())
        skip();
    assert_int_equal(ts_stat("/").mount_root, 1);
}

static void test_a_folder_bind_mounted_from_the_same_filesystem_is_a_mount_root(void **state)
{
    fixture *f = *state;
    assert_int_equal(ts_mkdir(f->src), 0);
    assert_int_equal(ts_mkdir(f->target), 0);
    char *inside = ts_path(f->src, "Private.pst");
    ts_write_file(inside, "!BDN", 4);
    bind_or_skip(f);
    pf_stat mounted = ts_stat(f->target);
    assert_int_equal(mounted.kind, PF_KIND_DIR);
    assert_int_equal(mounted.mount_root, 1);
    /* The point: the device alone cannot tell this mount. */
    assert_true(mounted.dev == ts_stat(f->dir).dev);
    assert_int_equal(ts_stat(f->src).mount_root, 0);
    char *through = ts_path(f->target, "Private.pst");
    assert_int_equal(ts_stat(through).mount_root, 0);
    free(through);
    free(inside);
}

static void test_a_file_bind_mount_is_a_mount_root_and_is_never_opened(void **state)
{
    fixture *f = *state;
    ts_write_file(f->src, "secret", 6);
    ts_write_file(f->target, "", 0);
    bind_or_skip(f);
    pf_stat mounted = ts_stat(f->target), real = ts_stat(f->src);
    assert_int_equal(mounted.kind, PF_KIND_FILE);
    assert_int_equal(mounted.mount_root, 1);
    assert_true(mounted.dev == real.dev && mounted.ino == real.ino);
    assert_int_equal(real.mount_root, 0);
    /* Refused on the opened descriptor, so a swap after any check by name
     * is caught too. */
    pf_file *h = NULL;
    ps_err err;
    assert_int_equal(pf_open_read(f->target, &h, &err), PS_ERR_UNSAFE);
    assert_null(h);
    assert_non_null(strstr(err.msg, "mount point"));
    assert_non_null(strstr(err.msg, f->target));
    /* The same file by its own name opens. */
    assert_int_equal(pf_open_read(f->src, &h, &err), PS_OK);
    pf_close(h, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_an_ordinary_file_and_folder_are_not_mount_roots,
                                        setup, teardown),
        cmocka_unit_test(test_the_root_folder_is_a_mount_root_where_the_kernel_tells),
        cmocka_unit_test_setup_teardown(
            test_a_folder_bind_mounted_from_the_same_filesystem_is_a_mount_root, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_a_file_bind_mount_is_a_mount_root_and_is_never_opened,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
