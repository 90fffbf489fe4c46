/*
 * test_pf_path_win32.c - the Windows path functions of the platform layer:
 * a file's folder, also when the folder is a drive's or a share's root.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "platform.h"

static void expect_dirname(const char *path, const char *want)
{
    char *got = pf_dirname(path);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_the_folder_of_a_file_in_a_folder(void **state)
{
    (void)state;
    expect_dirname("C:\\Users\\ann\\Mail.pst", "C:\\Users\\ann");
    expect_dirname("\\\\server\\share\\ann\\Mail.pst", "\\\\server\\share\\ann");
    expect_dirname("\\\\?\\C:\\Users\\Mail.pst", "\\\\?\\C:\\Users");
    expect_dirname("Mail.pst", ".");
}

static void test_the_folder_of_a_file_at_a_root_is_that_root(void **state)
{
    (void)state;
    expect_dirname("C:\\Mail.pst", "C:\\");
    expect_dirname("\\\\?\\D:\\Mail.pst", "\\\\?\\D:\\");
    expect_dirname("\\\\server\\share\\Mail.pst", "\\\\server\\share\\");
    expect_dirname("C:\\", "C:\\");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_folder_of_a_file_in_a_folder),
        cmocka_unit_test(test_the_folder_of_a_file_at_a_root_is_that_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
