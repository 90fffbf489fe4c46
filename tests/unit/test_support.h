/*
 * test_support.h - small helpers shared by the cmocka unit tests.
 * Paths returned are malloc'd and freed by the caller. Nothing here may make a
 * test pass on its own: helpers fail the test (cmocka fail_msg) on any error.
 */
#ifndef PS_TEST_SUPPORT_H
#define PS_TEST_SUPPORT_H

#include <stddef.h>

/* Exit code ctest reports as "skipped" (SKIP_RETURN_CODE in tests/CMakeLists). */
#define TS_SKIP_CODE 77

/* Print why and exit with TS_SKIP_CODE: the test is reported as skipped. */
void ts_skip(const char *why);

/* A fresh, empty directory for this test under $PSTSNAP_TEST_TMP (or /tmp),
 * named after `name`; any previous content is removed first. */
char *ts_temp_dir(const char *name);

/* Join two path parts with '/'. */
char *ts_path(const char *dir, const char *name);

/* Write `len` bytes to `path` (created/truncated). */
void ts_write_file(const char *path, const void *data, size_t len);

/* Read a whole file; *len receives its size. NUL-terminated for convenience. */
char *ts_read_file(const char *path, size_t *len);

/* Nonzero when `path` exists (lstat). */
int ts_exists(const char *path);

/* rm -rf path (used to clean temp dirs). */
void ts_remove_tree(const char *path);

/* Environment variable or fallback. */
const char *ts_env(const char *name, const char *fallback);

#endif
