/*
 * test_snapshot_btrfs.c - the btrfs provider (plugin/snapshot/btrfs.c).
 *
 * Needs a btrfs mount in PSTSNAP_BTRFS_MNT with a subvolume "home" (see
 * tests/tools/btrfs-loop.sh) and root; skipped otherwise. Every test works
 * in subvolumes of its own under home, so snapshots a test leaves behind
 * cannot make another test pass or fail.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#ifndef __linux__
#include "test_support.h"
/* btrfs snapshots exist on Linux only: elsewhere the provider is not built. */
int main(void)
{
    ts_skip("btrfs snapshots are Linux only");
    return 0;
}
#else

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "snapshot.h"
#include "test_support.h"

#define OLD_TEXT "old mail, as it was when frozen"
#define NEW_TEXT "NEW MAIL written after the snapshot, and longer than before"

static const char *home; /* <PSTSNAP_BTRFS_MNT>/home */
static const snap_provider *btrfs;

/* Split "/a/b/c" into an open fd of "/a/b" and "c". */
static int open_parent(const char *path, const char **name)
{
    char *parent = strdup(path);
    assert_non_null(parent);
    char *slash = strrchr(parent, '/');
    *slash = '\0';
    *name = path + (slash - parent) + 1;
    int fd = open(parent, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        fail_msg("cannot open '%s': %s", parent, strerror(errno));
    free(parent);
    return fd;
}

static void make_subvol(const char *path)
{
    const char *name;
    int fd = open_parent(path, &name);
    struct btrfs_ioctl_vol_args args;
    memset(&args, 0, sizeof args);
    snprintf(args.name, sizeof args.name, "%s", name);
    if (ioctl(fd, BTRFS_IOC_SUBVOL_CREATE, &args) != 0)
        fail_msg("cannot create subvolume '%s': %s", path, strerror(errno));
    close(fd);
}

static void destroy_subvol(const char *path)
{
    if (!ts_exists(path))
        return;
    const char *name;
    int fd = open_parent(path, &name);
    struct btrfs_ioctl_vol_args args;
    memset(&args, 0, sizeof args);
    snprintf(args.name, sizeof args.name, "%s", name);
    if (ioctl(fd, BTRFS_IOC_SNAP_DESTROY, &args) != 0)
        fail_msg("cannot delete subvolume '%s': %s", path, strerror(errno));
    close(fd);
}

/* A fresh subvolume home/<name>-<pid> for one test. */
static char *test_subvol(const char *name)
{
    char leaf[128];
    snprintf(leaf, sizeof leaf, "%s-%ld", name, (long)getpid());
    char *path = ts_path(home, leaf);
    destroy_subvol(path);
    make_subvol(path);
    return path;
}

static char *make_file(const char *dir, const char *name, const char *text)
{
    char *path = ts_path(dir, name);
    ts_write_file(path, text, strlen(text));
    return path;
}

/* Rewrite the live file in place, as Outlook does (and grow it). */
static void overwrite(const char *path)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, NEW_TEXT, strlen(NEW_TEXT), 0), (ssize_t)strlen(NEW_TEXT));
    assert_int_equal(fsync(fd), 0);
    close(fd);
}

static void assert_file_text(const char *path, const char *expected)
{
    char *text = ts_read_file(path, NULL);
    assert_string_equal(text, expected);
    free(text);
}

/* Path of the only "*.rec" file in `dir`. */
static char *only_record(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    char *path = NULL;
    int n = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        size_t len = strlen(de->d_name);
        if (len > 4 && strcmp(de->d_name + len - 4, ".rec") == 0) {
            free(path);
            path = ts_path(dir, de->d_name);
            n++;
        }
    }
    closedir(d);
    assert_int_equal(n, 1);
    return path;
}

static char *records_dir(const char *test)
{
    char *base = ts_temp_dir(test);
    char *dir = ts_path(base, "records");
    free(base);
    return dir;
}

static void test_probe_accepts_a_file_in_a_subvolume(void **state)
{
    (void)state;
    char *sub = test_subvol("probe_ok");
    char *file = make_file(sub, "Mail.pst", OLD_TEXT);
    ps_err err;
    assert_int_equal(btrfs->probe(file, &err), PS_OK);
    free(file);
    destroy_subvol(sub);
    free(sub);
}

static void test_probe_refuses_a_file_elsewhere(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("btrfs_probe_elsewhere");
    struct statfs fs;
    assert_int_equal(statfs(dir, &fs), 0);
    if (fs.f_type == BTRFS_SUPER_MAGIC) {
        free(dir);
        skip(); /* the test folder itself is on btrfs */
    }
    char *file = make_file(dir, "Mail.pst", OLD_TEXT);
    ps_err err;
    assert_int_equal(btrfs->probe(file, &err), PS_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, file));
    assert_non_null(strstr(err.msg, "not on a btrfs filesystem"));
    free(file);
    free(dir);
}

static void test_snapshot_keeps_old_bytes_after_live_overwrite(void **state)
{
    (void)state;
    char *sub = test_subvol("freeze");
    char *user = ts_path(sub, "user");
    assert_int_equal(mkdir(user, 0755), 0);
    char *file = make_file(user, "Mail.pst", OLD_TEXT);
    char *records = records_dir("btrfs_freeze");
    const char *paths[] = {file};

    ps_err err;
    snap_record *rec = NULL;
    snap_session *session = NULL;
    assert_int_equal(snap_record_open(records, "btrfs", &rec, &err), PS_OK);
    assert_int_equal(btrfs->create(paths, 1, rec, &session, &err), PS_OK);

    char *mapped = NULL;
    assert_int_equal(btrfs->map_path(session, file, &mapped, &err), PS_OK);
    char *snaps = ts_path(sub, ".pstsnap-snapshots");
    assert_true(strncmp(mapped, snaps, strlen(snaps)) == 0);
    assert_non_null(strstr(mapped, "/user/Mail.pst"));
    struct stat st;
    assert_int_equal(stat(snaps, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    overwrite(file);
    assert_file_text(file, NEW_TEXT);
    assert_file_text(mapped, OLD_TEXT);
    /* Read-only: nothing can change the frozen copy either. */
    assert_int_equal(open(mapped, O_WRONLY), -1);
    assert_int_equal(errno, EROFS);

    assert_int_equal(btrfs->release(session, &err), PS_OK);
    assert_false(ts_exists(mapped));
    assert_false(ts_exists(snaps)); /* the empty folder goes too */
    assert_int_equal(snap_record_discard(rec, &err), PS_OK);
    assert_true(ts_exists(file));

    free(snaps);
    free(mapped);
    free(records);
    free(file);
    free(user);
    destroy_subvol(sub);
    free(sub);
}

static void test_files_in_two_subvolumes_get_one_snapshot_each(void **state)
{
    (void)state;
    char *sub_a = test_subvol("two_a");
    char *sub_b = test_subvol("two_b");
    char *nested = ts_path(sub_a, "nested");
    assert_int_equal(mkdir(nested, 0755), 0);
    char *a1 = make_file(sub_a, "a1.pst", OLD_TEXT " a1");
    char *a2 = make_file(nested, "a2.pst", OLD_TEXT " a2");
    char *b1 = make_file(sub_b, "b1.pst", OLD_TEXT " b1");
    char *records = records_dir("btrfs_two");
    const char *paths[] = {a1, b1, a2};

    ps_err err;
    snap_record *rec = NULL;
    snap_session *session = NULL;
    assert_int_equal(snap_record_open(records, "btrfs", &rec, &err), PS_OK);
    assert_int_equal(btrfs->create(paths, 3, rec, &session, &err), PS_OK);

    /* One record line per subvolume, not per file. */
    char *rec_path = only_record(records);
    char *rec_text = ts_read_file(rec_path, NULL);
    size_t lines = 0;
    for (const char *p = rec_text; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    assert_int_equal(lines, 3);
    assert_true(strncmp(rec_text, "btrfs\n", 6) == 0);
    snap_record_close(rec); /* kept: the sweep below must cope with it */

    char *m[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(btrfs->map_path(session, paths[i], &m[i], &err), PS_OK);
        overwrite(paths[i]);
    }
    assert_file_text(m[0], OLD_TEXT " a1");
    assert_file_text(m[1], OLD_TEXT " b1");
    assert_file_text(m[2], OLD_TEXT " a2");
    /* a1 and a2 share a snapshot; b1 has its own. */
    size_t snap_a = (size_t)(strstr(m[0], "/a1.pst") - m[0]);
    assert_true(strncmp(m[2], m[0], snap_a) == 0);
    assert_true(strncmp(m[1], sub_b, strlen(sub_b)) == 0);

    assert_int_equal(btrfs->release(session, &err), PS_OK);
    size_t removed = 0;
    assert_int_equal(snapshot_remove_orphans(records, &removed, &err), PS_OK);
    assert_int_equal(removed, 2); /* both already gone: counted, not failed */
    for (int i = 0; i < 3; i++) {
        assert_false(ts_exists(m[i]));
        free(m[i]);
    }
    assert_false(ts_exists(rec_path));
    free(rec_text);
    free(rec_path);
    free(records);
    free(b1);
    free(a2);
    free(a1);
    free(nested);
    destroy_subvol(sub_b);
    destroy_subvol(sub_a);
    free(sub_b);
    free(sub_a);
}

/* The child freezes the file and dies by SIGKILL without releasing; it
 * sends the frozen path to the parent through a pipe. */
static void test_killed_run_leaves_snapshot_that_sweep_removes(void **state)
{
    (void)state;
    char *sub = test_subvol("killed");
    char *file = make_file(sub, "Mail.pst", OLD_TEXT);
    char *records = records_dir("btrfs_killed");
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        const char *paths[] = {file};
        ps_err err;
        snap_record *rec = NULL;
        snap_session *session = NULL;
        char *mapped = NULL;
        if (snap_record_open(records, "btrfs", &rec, &err) != PS_OK ||
            btrfs->create(paths, 1, rec, &session, &err) != PS_OK ||
            btrfs->map_path(session, file, &mapped, &err) != PS_OK) {
            fprintf(stderr, "child: %s\n", err.msg);
            _exit(1);
        }
        if (write(fds[1], mapped, strlen(mapped)) != (ssize_t)strlen(mapped))
            _exit(1);
        raise(SIGKILL);
        _exit(2);
    }
    close(fds[1]);
    char mapped[4096] = {0};
    ssize_t n = read(fds[0], mapped, sizeof mapped - 1);
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_true(n > 0);

    overwrite(file);
    assert_file_text(mapped, OLD_TEXT); /* leaked, and still frozen */

    size_t removed = 0;
    ps_err err;
    assert_int_equal(snapshot_remove_orphans(records, &removed, &err), PS_OK);
    assert_int_equal(removed, 1);
    assert_false(ts_exists(mapped));
    char *snaps = ts_path(sub, ".pstsnap-snapshots");
    assert_false(ts_exists(snaps));
    free(snaps);
    free(records);
    free(file);
    destroy_subvol(sub);
    free(sub);
}

static void test_remove_artifact_refuses_paths_outside_the_scheme(void **state)
{
    (void)state;
    char *sub = test_subvol("refuse");
    char *snaps = ts_path(sub, ".pstsnap-snapshots");
    char *other = ts_path(sub, "other");
    assert_int_equal(mkdir(snaps, 0700), 0);
    assert_int_equal(mkdir(other, 0700), 0);

    /* A plain folder with a session-id name is not a snapshot. */
    char *plain = ts_path(snaps, "0123456789abcdef");
    assert_int_equal(mkdir(plain, 0700), 0);
    /* A subvolume outside .pstsnap-snapshots, or with another name. */
    char *outside = ts_path(other, "0123456789abcdef");
    make_subvol(outside);
    char *misnamed = ts_path(snaps, "keep-me");
    make_subvol(misnamed);
    /* A .pstsnap-snapshots that is a symlink to a subvolume's folder. */
    char *linkdir = ts_path(other, ".pstsnap-snapshots");
    assert_int_equal(symlink(other, linkdir), 0);
    char *via_link = ts_path(linkdir, "0123456789abcdef");

    ps_err err;
    const char *refused[] = {plain,    outside, misnamed,
                             via_link, sub,     "relative/.pstsnap-snapshots/0123456789abcdef"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        assert_int_equal(btrfs->remove_artifact(refused[i], &err), PS_ERR_UNSAFE);
        assert_non_null(strstr(err.msg, "refusing"));
    }
    assert_true(ts_exists(plain));
    assert_true(ts_exists(outside));
    assert_true(ts_exists(misnamed));
    assert_true(ts_exists(sub));

    /* Missing counts as removed; a genuine one is removed. */
    char *missing = ts_path(snaps, "fedcba9876543210");
    assert_int_equal(btrfs->remove_artifact(missing, &err), PS_OK);
    char *genuine = ts_path(snaps, "00000000deadbeef");
    make_subvol(genuine);
    assert_int_equal(btrfs->remove_artifact(genuine, &err), PS_OK);
    assert_false(ts_exists(genuine));

    destroy_subvol(misnamed);
    destroy_subvol(outside);
    free(genuine);
    free(missing);
    free(via_link);
    free(linkdir);
    free(misnamed);
    free(outside);
    free(plain);
    free(other);
    free(snaps);
    destroy_subvol(sub);
    free(sub);
}

static void test_map_path_refuses_a_file_outside_the_set(void **state)
{
    (void)state;
    char *sub = test_subvol("map_other");
    char *file = make_file(sub, "Mail.pst", OLD_TEXT);
    char *records = records_dir("btrfs_map_other");
    const char *paths[] = {file};
    ps_err err;
    snap_record *rec = NULL;
    snap_session *session = NULL;
    assert_int_equal(snap_record_open(records, "btrfs", &rec, &err), PS_OK);
    assert_int_equal(btrfs->create(paths, 1, rec, &session, &err), PS_OK);
    char *mapped = NULL;
    assert_int_equal(btrfs->map_path(session, "/elsewhere/Other.pst", &mapped, &err),
                     PS_ERR_INVALID);
    assert_null(mapped);
    assert_int_equal(btrfs->release(session, &err), PS_OK);
    assert_int_equal(snap_record_discard(rec, &err), PS_OK);
    free(records);
    free(file);
    destroy_subvol(sub);
    free(sub);
}

/* An unprivileged run is turned away by probe, and if it calls create
 * anyway, the error names the subvolume and the reason. */
static void test_unprivileged_run_gets_clear_errors(void **state)
{
    (void)state;
    char *sub = test_subvol("unprivileged");
    assert_int_equal(chmod(sub, 0777), 0); /* let the ioctl be what refuses */
    char *file = make_file(sub, "Mail.pst", OLD_TEXT);
    char *records = ts_temp_dir("btrfs_unprivileged");
    assert_int_equal(chmod(records, 0777), 0);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Two messages, probe's then create's, NUL-separated. */
        ps_err err;
        snap_record *rec = NULL;
        snap_session *session = NULL;
        const char *paths[] = {file};
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(3);
        if (btrfs->probe(file, &err) != PS_ERR_ACCESS)
            _exit(4);
        if (write(fds[1], err.msg, strlen(err.msg) + 1) < 0)
            _exit(5);
        if (snap_record_open(records, "btrfs", &rec, &err) != PS_OK)
            _exit(6);
        if (btrfs->create(paths, 1, rec, &session, &err) != PS_ERR_ACCESS)
            _exit(7);
        if (write(fds[1], err.msg, strlen(err.msg) + 1) < 0)
            _exit(5);
        _exit(snap_record_discard(rec, &err) == PS_OK ? 0 : 8);
    }
    close(fds[1]);
    char msgs[4096] = {0};
    size_t got = 0;
    for (ssize_t n; (n = read(fds[0], msgs + got, sizeof msgs - 1 - got)) > 0;)
        got += (size_t)n;
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    const char *probe_msg = msgs, *create_msg = msgs + strlen(msgs) + 1;
    assert_non_null(strstr(probe_msg, "CAP_SYS_ADMIN"));
    char expected[4200];
    snprintf(expected, sizeof expected, "cannot snapshot btrfs subvolume '%s': ", sub);
    assert_true(strncmp(create_msg, expected, strlen(expected)) == 0);
    char *snaps = ts_path(sub, ".pstsnap-snapshots");
    assert_false(ts_exists(snaps));
    free(snaps);
    free(records);
    free(file);
    destroy_subvol(sub);
    free(sub);
}

/* One file of the set cannot be frozen: nothing is made for the others. */
static void test_failed_create_leaves_nothing_behind(void **state)
{
    (void)state;
    char *sub = test_subvol("fail");
    char *file = make_file(sub, "Mail.pst", OLD_TEXT);
    char *tmp = ts_temp_dir("btrfs_fail_elsewhere");
    char *elsewhere = make_file(tmp, "Other.pst", OLD_TEXT);
    char *records = records_dir("btrfs_fail");
    const char *paths[] = {file, elsewhere};
    ps_err err;
    snap_record *rec = NULL;
    snap_session *session = NULL;
    assert_int_equal(snap_record_open(records, "btrfs", &rec, &err), PS_OK);
    assert_int_not_equal(btrfs->create(paths, 2, rec, &session, &err), PS_OK);
    assert_null(session);
    assert_non_null(strstr(err.msg, elsewhere));
    char *snaps = ts_path(sub, ".pstsnap-snapshots");
    assert_false(ts_exists(snaps));
    assert_int_equal(btrfs->create(paths, 1, NULL, &session, &err), PS_ERR_INVALID);
    assert_int_equal(snap_record_discard(rec, &err), PS_OK);
    free(snaps);
    free(records);
    free(elsewhere);
    free(tmp);
    free(file);
    destroy_subvol(sub);
    free(sub);
}

int main(void)
{
    const char *mnt = getenv("PSTSNAP_BTRFS_MNT");
    if (!mnt || !*mnt)
        ts_skip("PSTSNAP_BTRFS_MNT is not set (run tests/tools/btrfs-loop.sh up DIR and export "
                "PSTSNAP_BTRFS_MNT=DIR/mnt)");
    struct statfs fs;
    if (statfs(mnt, &fs) != 0 || fs.f_type != BTRFS_SUPER_MAGIC)
        ts_skip("PSTSNAP_BTRFS_MNT is not a btrfs mount");
    if (geteuid() != 0)
        ts_skip("btrfs snapshots need root");
    static char home_path[4096];
    snprintf(home_path, sizeof home_path, "%s/home", mnt);
    struct stat st;
    if (stat(home_path, &st) != 0 || st.st_ino != 256)
        ts_skip("PSTSNAP_BTRFS_MNT has no subvolume 'home' (use tests/tools/btrfs-loop.sh)");
    home = home_path;
    btrfs = snapshot_provider_by_name("btrfs");
    if (!btrfs)
        ts_skip("this build has no btrfs provider");

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe_accepts_a_file_in_a_subvolume),
        cmocka_unit_test(test_probe_refuses_a_file_elsewhere),
        cmocka_unit_test(test_snapshot_keeps_old_bytes_after_live_overwrite),
        cmocka_unit_test(test_files_in_two_subvolumes_get_one_snapshot_each),
        cmocka_unit_test(test_killed_run_leaves_snapshot_that_sweep_removes),
        cmocka_unit_test(test_remove_artifact_refuses_paths_outside_the_scheme),
        cmocka_unit_test(test_map_path_refuses_a_file_outside_the_set),
        cmocka_unit_test(test_unprivileged_run_gets_clear_errors),
        cmocka_unit_test(test_failed_create_leaves_nothing_behind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif /* __linux__ */
