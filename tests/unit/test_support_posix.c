/* Test folders and trees on POSIX; see test_support.h. */
#include "test_support.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

void ts_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) == 0)
        nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS);
}

char *ts_temp_dir(const char *name)
{
    const char *base = ts_env("PSTSNAP_TEST_TMP", "/tmp/pstsnap-tests");
    mkdir(base, 0755);
    char *dir = ts_path(base, name);
    ts_remove_tree(dir);
    if (mkdir(dir, 0755) != 0)
        fail_msg("cannot create test dir '%s': %s", dir, strerror(errno));
    return dir;
}

int ts_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}
