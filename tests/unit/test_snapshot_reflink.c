/*
 * test_snapshot_reflink.c - the reflink provider (plugin/snapshot/reflink.c).
 *
 * Needs a btrfs mount in PSTSNAP_BTRFS_MNT with a subvolume "home" (see
 * tests/tools/btrfs-loop.sh); skipped otherwise. Each test works in a fresh
 * folder of its own under home.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#ifndef __linux__
#include "test_support.h"
/* reflink clones (FICLONE) exist on Linux only: elsewhere the provider is not built. */
int main(void)
{
    ts_skip("reflink clones (FICLONE) are Linux only");
    return 0;
}
#else

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "snapshot.h"
#include "test_support.h"

/* Big enough to span many extents, so the clone really shares blocks. */
#define FILE_SIZE (1024 * 1024)

static const char *home; /* <PSTSNAP_BTRFS_MNT>/home */
static const snap_provider *reflink;

static char *work_dir(const char *name)
{
    char leaf[128];
    snprintf(leaf, sizeof leaf, "reflink-%s-%ld", name, (long)getpid());
    char *dir = ts_path(home, leaf);
    ts_remove_tree(dir);
    if (mkdir(dir, 0755) != 0)
        fail_msg("cannot create '%s': %s", dir, strerror(errno));
    return dir;
}

static char *records_dir(const char *test)
{
    char *base = ts_temp_dir(test);
    char *dir = ts_path(base, "records");
    free(base);
    return dir;
}

/* A file of FILE_SIZE bytes, each byte derived from `seed` and its offset. */
static char *make_pattern_file(const char *dir, const char *name, unsigned seed)
{
    char *data = malloc(FILE_SIZE);
    assert_non_null(data);
    for (size_t i = 0; i < FILE_SIZE; i++)
        data[i] = (char)((i * 31 + seed) & 0xFF);
    char *path = ts_path(dir, name);
    ts_write_file(path, data, FILE_SIZE);
    free(data);
    return path;
}

static void assert_pattern(const char *path, unsigned seed)
{
    size_t len = 0;
    char *data = ts_read_file(path, &len);
    assert_int_equal(len, FILE_SIZE);
    for (size_t i = 0; i < FILE_SIZE; i++) {
        if (data[i] != (char)((i * 31 + seed) & 0xFF))
            fail_msg("'%s' differs from its frozen state at byte %zu", path, i);
    }
    free(data);
}

/* Outlook-style change: pages rewritten in place, then the file grows. */
static void scribble(const char *path)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    static const char junk[4096] = {'X'};
    assert_int_equal(pwrite(fd, junk, sizeof junk, 0), (ssize_t)sizeof junk);
    assert_int_equal(pwrite(fd, junk, sizeof junk, FILE_SIZE / 2), (ssize_t)sizeof junk);
    assert_int_equal(pwrite(fd, junk, sizeof junk, FILE_SIZE), (ssize_t)sizeof junk);
    close(fd);
}

static int count_clones(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        n += strncmp(de->d_name, ".pstsnap-clone-", 15) == 0;
    closedir(d);
    return n;
}

static void test_probe_accepts_a_file_on_btrfs(void **state)
{
    (void)state;
    char *dir = work_dir("probe");
    char *file = make_pattern_file(dir, "Mail.pst", 1);
    ps_err err;
    assert_int_equal(reflink->probe(file, &err), PS_OK);
    free(file);
    ts_remove_tree(dir);
    free(dir);
}

/* A folder on a filesystem without FICLONE (ext4, tmpfs), or NULL. */
static char *no_reflink_dir(const char *name)
{
    char *dir = ts_temp_dir(name);
    struct statfs fs;
    assert_int_equal(statfs(dir, &fs), 0);
    if (fs.f_type == BTRFS_SUPER_MAGIC || fs.f_type == XFS_SUPER_MAGIC) {
        free(dir);
        return NULL;
    }
    return dir;
}

static void test_probe_refuses_a_filesystem_without_reflink(void **state)
{
    (void)state;
    char *dir = no_reflink_dir("reflink_probe_elsewhere");
    if (!dir)
        skip();
    char *file = make_pattern_file(dir, "Mail.pst", 1);
    ps_err err;
    assert_int_equal(reflink->probe(file, &err), PS_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, file));
    assert_non_null(strstr(err.msg, "reflink"));
    free(file);
    free(dir);
}

static void test_clone_keeps_old_bytes_after_live_overwrite(void **state)
{
    (void)state;
    char *dir = work_dir("freeze");
    char *a = make_pattern_file(dir, "a.pst", 1);
    char *b = make_pattern_file(dir, "b.pst", 2);
    char *records = records_dir("reflink_freeze");
    const char *paths[] = {a, b};
    struct stat live_before;
    assert_int_equal(stat(a, &live_before), 0);

    ps_err err;
    snap_record *rec = NULL;
    snap_session *session = NULL;
    assert_int_equal(snap_record_open(records, "reflink", &rec, &err), PS_OK);
    assert_int_equal(reflink->create(paths, 2, rec, &session, &err), PS_OK);
    assert_int_equal(count_clones(dir), 2);

    char *ma = NULL, *mb = NULL;
    assert_int_equal(reflink->map_path(session, a, &ma, &err), PS_OK);
    assert_int_equal(reflink->map_path(session, b, &mb, &err), PS_OK);
    /* Hidden, next to its source, private. */
    assert_true(strncmp(ma, dir, strlen(dir)) == 0);
    assert_true(strncmp(ma + strlen(dir), "/.pstsnap-clone-", 16) == 0);
    assert_string_not_equal(ma, mb);
    struct stat st;
    assert_int_equal(lstat(ma, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_mtim.tv_sec, live_before.st_mtim.tv_sec);
    assert_int_equal(st.st_mtim.tv_nsec, live_before.st_mtim.tv_nsec);

    scribble(a);
    scribble(b);
    assert_pattern(ma, 1);
    assert_pattern(mb, 2);

    assert_int_equal(reflink->release(session, &err), PS_OK);
    assert_false(ts_exists(ma));
    assert_false(ts_exists(mb));
    assert_int_equal(count_clones(dir), 0);
    assert_int_equal(snap_record_discard(rec, &err), PS_OK);
    free(mb);
    free(ma);
    free(records);
    free(b);
    free(a);
    ts_remove_tree(dir);
    free(dir);
}

static void test_create_without_reflink_fails_unsupported_and_leaves_nothing(void **state)
{
    (void)state;
    char *dir = no_reflink_dir("reflink_create_elsewhere");
    if (!dir)
        skip();
    char *file = make_pattern_file(dir, "Mail.pst", 1);
    char *records = records_dir("reflink_create_elsewhere_rec");
    const char *paths[] = {file};
    ps_err err;
    snap_record *rec = NULL;
    snap_session *session = NULL;
    assert_int_equal(snap_record_open(records, "reflink", &rec, &err), PS_OK);
    assert_int_equal(reflink->create(paths, 1, rec, &session, &err), PS_ERR_UNSUPPORTED);
    assert_null(session);
    assert_non_null(strstr(err.msg, file));
    assert_int_equal(count_clones(dir), 0);
    assert_int_equal(snap_record_discard(rec, &err), PS_OK);
    free(records);
    free(file);
    free(dir);
}

static void test_create_refuses_a_symlinked_source(void **state)
{
    (void)state;
    char *dir = work_dir("symlink");
    char *target = make_pattern_file(dir, "real.pst", 1);
    char *link = ts_path(dir, "Mail.pst");
    assert_int_equal(symlink(target, link), 0);
    char *records = records_dir("reflink_symlink");
    const char *paths[] = {link};
    ps_err err;
    snap_record *rec = NULL;
    snap_session *session = NULL;
    assert_int_equal(reflink->probe(link, &err), PS_ERR_UNSAFE);
    assert_int_equal(snap_record_open(records, "reflink", &rec, &err), PS_OK);
    assert_int_equal(reflink->create(paths, 1, rec, &session, &err), PS_ERR_UNSAFE);
    assert_non_null(strstr(err.msg, link));
    assert_int_equal(count_clones(dir), 0);
    assert_int_equal(reflink->create(paths, 1, NULL, &session, &err), PS_ERR_INVALID);
    assert_int_equal(snap_record_discard(rec, &err), PS_OK);
    free(records);
    free(link);
    free(target);
    ts_remove_tree(dir);
    free(dir);
}

/* The child clones the file and dies by SIGKILL without releasing; it
 * sends the clone's path to the parent through a pipe. */
static void test_killed_run_leaves_clone_that_sweep_removes(void **state)
{
    (void)state;
    char *dir = work_dir("killed");
    char *file = make_pattern_file(dir, "Mail.pst", 7);
    char *records = records_dir("reflink_killed");
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
        if (snap_record_open(records, "reflink", &rec, &err) != PS_OK ||
            reflink->create(paths, 1, rec, &session, &err) != PS_OK ||
            reflink->map_path(session, file, &mapped, &err) != PS_OK) {
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

    scribble(file);
    assert_pattern(mapped, 7); /* leaked, and still frozen */

    size_t removed = 0;
    ps_err err;
    assert_int_equal(snapshot_remove_orphans(records, &removed, &err), PS_OK);
    assert_int_equal(removed, 1);
    assert_false(ts_exists(mapped));
    assert_int_equal(count_clones(dir), 0);
    assert_true(ts_exists(file));
    free(records);
    free(file);
    ts_remove_tree(dir);
    free(dir);
}

static void test_remove_artifact_refuses_paths_outside_the_scheme(void **state)
{
    (void)state;
    char *dir = work_dir("refuse");
    char *victim = make_pattern_file(dir, "Mail.pst", 1);
    char *no_index = ts_path(dir, ".pstsnap-clone-abc");
    char *upper = ts_path(dir, ".pstsnap-clone-ABC-1");
    char *suffix = ts_path(dir, ".pstsnap-clone-abc-1.pst");
    char *folder = ts_path(dir, ".pstsnap-clone-abc-2");
    char *link = ts_path(dir, ".pstsnap-clone-abc-3");
    ts_write_file(no_index, "x", 1);
    ts_write_file(upper, "x", 1);
    ts_write_file(suffix, "x", 1);
    assert_int_equal(mkdir(folder, 0700), 0);
    assert_int_equal(symlink(victim, link), 0);

    ps_err err;
    const char *refused[] = {victim, no_index, upper, suffix, folder, link,
                             ".pstsnap-clone-abc-4", dir};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        assert_int_equal(reflink->remove_artifact(refused[i], &err), PS_ERR_UNSAFE);
        assert_non_null(strstr(err.msg, "refusing"));
    }
    for (size_t i = 0; i < 6; i++)
        assert_true(ts_exists(refused[i]));
    assert_pattern(victim, 1);

    /* Missing counts as removed; a genuine one is removed. */
    char *missing = ts_path(dir, ".pstsnap-clone-abc-5");
    assert_int_equal(reflink->remove_artifact(missing, &err), PS_OK);
    char *genuine = ts_path(dir, ".pstsnap-clone-abc-6");
    ts_write_file(genuine, "x", 1);
    assert_int_equal(reflink->remove_artifact(genuine, &err), PS_OK);
    assert_false(ts_exists(genuine));

    free(genuine);
    free(missing);
    free(link);
    free(folder);
    free(suffix);
    free(upper);
    free(no_index);
    free(victim);
    ts_remove_tree(dir);
    free(dir);
}

static void test_map_path_refuses_a_file_outside_the_set(void **state)
{
    (void)state;
    char *dir = work_dir("map_other");
    char *file = make_pattern_file(dir, "Mail.pst", 1);
    char *records = records_dir("reflink_map_other");
    const char *paths[] = {file};
    ps_err err;
    snap_record *rec = NULL;
    snap_session *session = NULL;
    assert_int_equal(snap_record_open(records, "reflink", &rec, &err), PS_OK);
    assert_int_equal(reflink->create(paths, 1, rec, &session, &err), PS_OK);
    char *mapped = NULL;
    assert_int_equal(reflink->map_path(session, "/elsewhere/Other.pst", &mapped, &err),
                     PS_ERR_INVALID);
    assert_null(mapped);
    assert_int_equal(reflink->release(session, &err), PS_OK);
    assert_int_equal(snap_record_discard(rec, &err), PS_OK);
    free(records);
    free(file);
    ts_remove_tree(dir);
    free(dir);
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
    static char home_path[4096];
    snprintf(home_path, sizeof home_path, "%s/home", mnt);
    if (access(home_path, W_OK) != 0)
        ts_skip("PSTSNAP_BTRFS_MNT has no writable folder 'home' (use tests/tools/btrfs-loop.sh)");
    home = home_path;
    reflink = snapshot_provider_by_name("reflink");
    if (!reflink)
        ts_skip("this build has no reflink provider");

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe_accepts_a_file_on_btrfs),
        cmocka_unit_test(test_probe_refuses_a_filesystem_without_reflink),
        cmocka_unit_test(test_clone_keeps_old_bytes_after_live_overwrite),
        cmocka_unit_test(test_create_without_reflink_fails_unsupported_and_leaves_nothing),
        cmocka_unit_test(test_create_refuses_a_symlinked_source),
        cmocka_unit_test(test_killed_run_leaves_clone_that_sweep_removes),
        cmocka_unit_test(test_remove_artifact_refuses_paths_outside_the_scheme),
        cmocka_unit_test(test_map_path_refuses_a_file_outside_the_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif /* __linux__ */
