/* Tests for plugin/core/glob.c: include/exclude globs for PST discovery. */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "glob.h"
#include "test_support.h"

#define MATCHES(pat, path) assert_int_equal(glob_match(pat, path), 1)
#define NO_MATCH(pat, path) assert_int_equal(glob_match(pat, path), 0)

static void test_star_matches_within_the_name(void **state)
{
    (void)state;
    MATCHES("*.pst", "Mail.pst");
    NO_MATCH("*.ost", "Mail.pst");
    MATCHES("Mail*", "Mail.pst");
    MATCHES("*", "Mail.pst");
    MATCHES("M*l*.p*t", "Mail.pst");
    NO_MATCH("*.pst", "Mail.pst.bak");
    MATCHES("Mail.pst*", "Mail.pst"); /* '*' may be empty */
}

static void test_pattern_without_separator_matches_last_segment(void **state)
{
    (void)state;
    MATCHES("*.pst", "sub/dir/Mail.PST");
    MATCHES("Mail.pst", "a\\b\\Mail.pst");
    NO_MATCH("sub", "sub/Mail.pst");
    NO_MATCH("*.pst", "");
}

static void test_case_is_folded_for_ascii(void **state)
{
    (void)state;
    MATCHES("mail.pst", "MAIL.PST");
    MATCHES("*.PST", "archive.pst");
}

static void test_case_is_folded_for_latin_greek_and_cyrillic(void **state)
{
    (void)state;
    MATCHES("\xc3\x9cN\xc3\x8f" "C\xc3\x98" "D\xc3\x89.pst", /* ÜNÏCØDÉ */
            "\xc3\xbcn\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9.PST"); /* ünïcødé */
    MATCHES("\xc5\xb8.pst", "\xc3\xbf.pst");                  /* Ÿ / ÿ */
    MATCHES("\xc5\x81\xc3\x93" "D\xc5\xb9.pst",               /* ŁÓDŹ */
            "\xc5\x82\xc3\xb3" "d\xc5\xba.pst");              /* łódź */
    MATCHES("\xc4\xb9\xc5\x87.pst", "\xc4\xba\xc5\x88.pst");  /* ĹŇ / ĺň: odd-first run */
    MATCHES("\xd0\x9f\xd0\x9e\xd0\xa7\xd0\xa2\xd0\x90.pst",   /* ПОЧТА */
            "\xd0\xbf\xd0\xbe\xd1\x87\xd1\x82\xd0\xb0.pst");  /* почта */
    MATCHES("\xd0\x81.pst", "\xd1\x91.pst");                  /* Ё / ё */
    MATCHES("\xce\xa3\xce\x9f\xce\xa3.pst",                   /* ΣΟΣ */
            "\xcf\x83\xce\xbf\xcf\x82.pst");                  /* σος, final sigma */
    NO_MATCH("\xc3\x9f.pst", "ss.pst");                       /* ß is not "ss" */
    NO_MATCH("\xc3\x97.pst", "\xc3\xb7.pst");                 /* × and ÷ are no pair */
    NO_MATCH("\xc4\xb0.pst", "i.pst");                        /* İ is left alone */
}

static void test_question_mark_is_one_code_point(void **state)
{
    (void)state;
    const char *pat = "\xc3\x9cn\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9?.pst"; /* Ünïcødé?.pst */
    MATCHES(pat, "\xc3\x9cn\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9" "1.pst");
    MATCHES(pat, "\xc3\x9cn\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9\xc3\xa9.pst");     /* two bytes */
    MATCHES(pat, "\xc3\x9cn\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9\xf0\x9f\x93\xa7.pst"); /* four */
    NO_MATCH(pat, "\xc3\x9cn\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9.pst");
    NO_MATCH(pat, "\xc3\x9cn\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9" "12.pst");
    MATCHES("?.pst", "\xc3\xa9.pst");
    NO_MATCH("??.pst", "\xc3\xa9.pst");
}

static void test_wildcards_never_cross_a_separator(void **state)
{
    (void)state;
    NO_MATCH("x/a*b", "x/a/b");
    NO_MATCH("x/a?b", "x/a/b");
    NO_MATCH("x/a?b", "x/a\\b");
    MATCHES("x/a*b", "x/ab");
}

static void test_both_separators_work_in_pattern_and_path(void **state)
{
    (void)state;
    MATCHES("Archive\\*.pst", "Archive/old.pst");
    MATCHES("Archive/*.pst", "Archive\\old.pst");
    MATCHES("a\\b/c", "a/b\\c");
}

static void test_pattern_with_separator_matches_the_whole_path(void **state)
{
    (void)state;
    NO_MATCH("Archive/*.pst", "x/Archive/a.pst");
    NO_MATCH("Archive/*.pst", "Archive/sub/a.pst");
    MATCHES("Archive/*/a.pst", "archive/2023/A.pst");
    MATCHES("a//b", "a/b"); /* empty segments are ignored */
}

static void test_globstar_prefix_matches_any_depth(void **state)
{
    (void)state;
    MATCHES("**/x.pst", "x.pst");
    MATCHES("**/x.pst", "a/x.pst");
    MATCHES("**/x.pst", "a/b/c/X.PST");
    NO_MATCH("**/x.pst", "a/y.pst");
    NO_MATCH("**/x.pst", "a/x.pst/y");
}

static void test_globstar_in_the_middle_matches_zero_or_more_segments(void **state)
{
    (void)state;
    const char *pat = "a/**/b/*.pst";
    MATCHES(pat, "a/b/m.pst");
    MATCHES(pat, "a/x/b/m.pst");
    MATCHES(pat, "a/x/y/b/m.pst");
    MATCHES(pat, "a/b/b/m.pst");
    NO_MATCH(pat, "a/m.pst");
    NO_MATCH(pat, "b/m.pst");
    NO_MATCH(pat, "a/b/x/m.pst");
    MATCHES("a/**/**/b", "a/b");
    MATCHES("**/b/**/c.pst", "x/b/y/z/c.pst");
}

static void test_trailing_globstar_needs_at_least_one_segment(void **state)
{
    (void)state;
    MATCHES("a/**", "a/x.pst");
    MATCHES("a/**", "a/x/y.pst");
    NO_MATCH("a/**", "a");
    NO_MATCH("a/**", "b/x.pst");
    MATCHES("**", "any/thing.pst"); /* no separator: '*' on the last segment */
}

static void test_invalid_utf8_bytes_are_single_characters(void **state)
{
    (void)state;
    MATCHES("?.pst", "\xff.pst");
    MATCHES("\xff.pst", "\xff.PST");
    NO_MATCH("\xc3.pst", "\xc3\xa9.pst");
    MATCHES("*.pst", "\xc3\xc3\xc3.pst");
}

static char *repeat(const char *unit, size_t times, const char *tail)
{
    size_t u = strlen(unit), t = strlen(tail);
    char *s = malloc(u * times + t + 1);
    assert_non_null(s);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * u, unit, u);
    memcpy(s + u * times, tail, t + 1);
    return s;
}

static void test_pathological_patterns_finish_fast(void **state)
{
    (void)state;
    char *name = repeat("a", 20000, "");
    char *deep = repeat("a/", 2000, "x.ost");
    clock_t t0 = clock();
    NO_MATCH("*a*a*a*a*a*a*b", name);
    NO_MATCH("*?*?*?*?*?*?*?b", name);
    MATCHES("*a*a*a*a*a*a*a", name);
    NO_MATCH("**/**/**/**/**/**/**/x.pst", deep);
    NO_MATCH("**/a/**/a/**/a/**/a/**/b/x.ost", deep);
    MATCHES("**/a/**/a/**/x.ost", deep);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    free(name);
    free(deep);
    assert_true(secs < 2.0);
}

static void test_null_arguments_do_not_match(void **state)
{
    (void)state;
    NO_MATCH(NULL, "x");
    NO_MATCH("x", NULL);
}

/* ---- glob_check -------------------------------------------------------- */

static void expect_valid(const char *pat)
{
    char err[256] = "";
    if (glob_check(pat, err, sizeof err) != 0)
        fail_msg("'%s' rejected: %s", pat, err);
}

static void expect_invalid(const char *pat, const char *want)
{
    char err[256] = "";
    assert_int_equal(glob_check(pat, err, sizeof err), -1);
    assert_string_equal(err, want);
}

static void test_check_accepts_ordinary_patterns(void **state)
{
    (void)state;
    expect_valid("*.pst");
    expect_valid("Archive/**/*.pst");
    expect_valid("**");
    expect_valid("**/x.pst");
    expect_valid("a\\b\\*.pst");
    expect_valid("...pst");
    expect_valid("a/**");
}

static void test_check_rejects_empty_pattern(void **state)
{
    (void)state;
    expect_invalid("", "pattern is empty");
    expect_invalid(NULL, "pattern is empty");
}

static void test_check_rejects_absolute_patterns(void **state)
{
    (void)state;
    const char *why = "is absolute; patterns are relative to the folder being searched";
    char want[256];
    const char *cases[] = {"/x.pst", "\\x.pst", "\\\\server\\share\\*.pst", "C:\\x\\*.pst",
                           "c:x.pst"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(want, sizeof want, "pattern '%s' %s", cases[i], why);
        expect_invalid(cases[i], want);
    }
}

static void test_check_rejects_dot_and_dotdot_segments(void **state)
{
    (void)state;
    expect_invalid("../x.pst", "pattern '../x.pst' has a '..' segment; patterns may not leave "
                               "the folder being searched");
    expect_invalid("a\\..\\b", "pattern 'a\\..\\b' has a '..' segment; patterns may not leave "
                               "the folder being searched");
    expect_invalid("./x.pst", "pattern './x.pst' has a '.' segment");
}

static void test_check_rejects_globstar_inside_a_segment(void **state)
{
    (void)state;
    const char *why = "uses '**' inside a segment; '**' must be a whole segment such as in "
                      "'Archive/**/*.pst'";
    char want[256];
    const char *cases[] = {"a**", "**.pst", "***", "a/**b/c"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(want, sizeof want, "pattern '%s' %s", cases[i], why);
        expect_invalid(cases[i], want);
    }
}

static void test_check_rejects_empty_segments(void **state)
{
    (void)state;
    expect_invalid("Archive/",
                   "pattern 'Archive/' ends with a separator; add '**' to match everything in "
                   "a folder");
    expect_invalid("a//b", "pattern 'a//b' has an empty segment (two separators in a row)");
}

static void test_check_tolerates_missing_errbuf(void **state)
{
    (void)state;
    assert_int_equal(glob_check("../x", NULL, 0), -1);
    assert_int_equal(glob_check("x", NULL, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_star_matches_within_the_name),
        cmocka_unit_test(test_pattern_without_separator_matches_last_segment),
        cmocka_unit_test(test_case_is_folded_for_ascii),
        cmocka_unit_test(test_case_is_folded_for_latin_greek_and_cyrillic),
        cmocka_unit_test(test_question_mark_is_one_code_point),
        cmocka_unit_test(test_wildcards_never_cross_a_separator),
        cmocka_unit_test(test_both_separators_work_in_pattern_and_path),
        cmocka_unit_test(test_pattern_with_separator_matches_the_whole_path),
        cmocka_unit_test(test_globstar_prefix_matches_any_depth),
        cmocka_unit_test(test_globstar_in_the_middle_matches_zero_or_more_segments),
        cmocka_unit_test(test_trailing_globstar_needs_at_least_one_segment),
        cmocka_unit_test(test_invalid_utf8_bytes_are_single_characters),
        cmocka_unit_test(test_pathological_patterns_finish_fast),
        cmocka_unit_test(test_null_arguments_do_not_match),
        cmocka_unit_test(test_check_accepts_ordinary_patterns),
        cmocka_unit_test(test_check_rejects_empty_pattern),
        cmocka_unit_test(test_check_rejects_absolute_patterns),
        cmocka_unit_test(test_check_rejects_dot_and_dotdot_segments),
        cmocka_unit_test(test_check_rejects_globstar_inside_a_segment),
        cmocka_unit_test(test_check_rejects_empty_segments),
        cmocka_unit_test(test_check_tolerates_missing_errbuf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
