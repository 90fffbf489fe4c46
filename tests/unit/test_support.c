/* The helpers every platform shares; folders and trees are in
 * test_support_posix.c and test_support_win32.c. */
#include "test_support.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ts_skip(const char *why)
{
    printf("SKIPPED: %s\n", why);
    fflush(stdout);
    exit(TS_SKIP_CODE);
}

const char *ts_env(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return (v && *v) ? v : fallback;
}

char *ts_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    /* The native separator, so that paths the tests build compare equal
     * to the ones the engine builds with pf_path_join. */
#ifdef _WIN32
    snprintf(p, n, "%s\\%s", dir, name);
#else
    snprintf(p, n, "%s/%s", dir, name);
#endif
    return p;
}

void ts_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        fail_msg("cannot create '%s': %s", path, strerror(errno));
    if (len && fwrite(data, 1, len, f) != len)
        fail_msg("cannot write '%s'", path);
    fclose(f);
}

char *ts_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open '%s': %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    if (n && fread(buf, 1, (size_t)n, f) != (size_t)n)
        fail_msg("cannot read '%s'", path);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}
