/* Tests for sdk-shim/src/catl_regex.c: the CAtlRegExp dialect of EM
 * conditions. Examples marked EM come from the Environment Manager
 * "Wildcards and Regular Expressions" page, MS from Microsoft's CAtlRegExp
 * syntax table. */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catl_regex.h"
#include "test_support.h"

static int match_with(const char *pattern, int icase, const char *text)
{
    char err[256] = "";
    catl_regex *re = catl_regex_compile(pattern, icase, err, sizeof err);
    if (!re)
        fail_msg("'%s' did not compile: %s", pattern, err);
    int r = catl_regex_match(re, text);
    catl_regex_free(re);
    return r;
}

#define MATCHES(pattern, text) assert_int_equal(match_with(pattern, 0, text), 1)
#define NO_MATCH(pattern, text) assert_int_equal(match_with(pattern, 0, text), 0)
#define MATCHES_ICASE(pattern, text) assert_int_equal(match_with(pattern, 1, text), 1)
#define NO_MATCH_ICASE(pattern, text) assert_int_equal(match_with(pattern, 1, text), 0)

static void expect_compile_error(const char *pattern, const char *want)
{
    char err[256] = "";
    catl_regex *re = catl_regex_compile(pattern, 0, err, sizeof err);
    if (re) {
        catl_regex_free(re);
        fail_msg("'%s' compiled but should not", pattern);
    }
    assert_string_equal(err, want);
}

/* ---- documented examples ---------------------------------------------- */

static void test_em_class_at_start_is_case_sensitive(void **state)
{
    (void)state;
    MATCHES("^[a-f]+", "alice");
    NO_MATCH("^[a-f]+", "john");
    NO_MATCH("^[a-f]+", "Alice");
    MATCHES("^[a-fA-F]+", "Alice");
}

static void test_em_three_trailing_digits(void **state)
{
    (void)state;
    MATCHES("[a-zA-Z]+\\d\\d\\d$", "UserWithThreeNumbers123");
    NO_MATCH("[a-zA-Z]+\\d\\d\\d$", "UserWithFourNumbers1234");
}

static void test_em_domain_prefix_anchors_the_user_name(void **state)
{
    (void)state;
    MATCHES("ivanti\\\\^[a-h]+", "ivanti\\alice");
    NO_MATCH("ivanti\\\\^[a-h]+", "ivanti\\john");
    NO_MATCH("ivanti\\\\^[a-h]+", "other\\alice");
}

static void test_em_alternation_list_of_processes(void **state)
{
    (void)state;
    MATCHES("(notepad)|(winword)|(calc).exe", "notepad.exe");
    MATCHES("(notepad)|(winword)|(calc).exe", "calc.exe");
    NO_MATCH("(notepad)|(winword)|(calc).exe", "wordpad.exe");
}

static void test_em_negation_excludes_one_process(void **state)
{
    (void)state;
    NO_MATCH("^!(notepad.exe)", "notepad.exe");
    MATCHES("^!(notepad.exe)", "wordpad.exe");
}

static void test_em_negation_of_an_alternation(void **state)
{
    (void)state;
    const char *re = "^!((notepad.exe)|(calc.exe)|(winword.exe))";
    MATCHES(re, "wordpad.exe");
    NO_MATCH(re, "calc.exe");
    NO_MATCH(re, "winword.exe");
}

static void test_ms_optional_and_repeated_classes(void **state)
{
    (void)state;
    MATCHES("^[0-9][0-9]?$", "2");
    MATCHES("^[0-9][0-9]?$", "12");
    NO_MATCH("^[0-9][0-9]?$", "123");
    MATCHES("^[0-9]+$", "456");
    MATCHES("^x[0-9]*$", "x");
}

static void test_ms_lazy_quantifiers_compile_and_match(void **state)
{
    (void)state;
    MATCHES("<.*?>", "<abc><def>");
    MATCHES("^<.*?>$", "<abc><def>");
    MATCHES("^a+?b$", "aaab");
    MATCHES("^a??b$", "b");
}

static void test_ms_grouped_repetition_of_number_list(void **state)
{
    (void)state;
    MATCHES("^(\\d+,)*\\d+$", "1");
    MATCHES("^(\\d+,)*\\d+$", "1,23,456");
    NO_MATCH("^(\\d+,)*\\d+$", "1,,2");
}

static void test_ms_match_groups_for_time(void **state)
{
    (void)state;
    MATCHES("{[0-9]?[0-9]}:{[0-9][0-9]}", "1:57");
    NO_MATCH("{[0-9]?[0-9]}:{[0-9][0-9]}", "01/03");
}

static void test_ms_backreference_repeats_group_text(void **state)
{
    (void)state;
    MATCHES("<{.*?}>.*?</\\0>", "<head>Contents</head>");
    NO_MATCH("<{.*?}>.*?</\\0>", "<head>Contents</body>");
    MATCHES("^{a}{b}\\1\\0$", "abba");
}

static void test_ms_escaped_metacharacter_is_literal(void **state)
{
    (void)state;
    MATCHES("[0-9]\\+", "1+");
    NO_MATCH("[0-9]\\+", "11");
    MATCHES("^notepad\\.exe$", "notepad.exe");
    NO_MATCH("^notepad\\.exe$", "notepadXexe");
    MATCHES("\\(\\)\\{\\}\\[\\]\\|\\!\\^\\$\\*\\?", "(){}[]|!^$*?");
}

static void test_ms_negation_means_not_followed_by(void **state)
{
    (void)state;
    MATCHES("a!b", "ac");
    MATCHES("a!b", "a");
    NO_MATCH("a!b", "ab");
    MATCHES("a!b", "abac");
}

static void test_ms_alternation_has_lowest_precedence(void **state)
{
    (void)state;
    MATCHES("^T|the$", "The end");
    MATCHES("^T|the$", "in the");
    NO_MATCH("^T|the$", "in The end");
}

/* ---- abbreviations ------------------------------------------------------ */

static void test_abbreviations_single_character_sets(void **state)
{
    (void)state;
    MATCHES("^\\a+$", "abcXYZ019");
    NO_MATCH("^\\a+$", "a_b");
    MATCHES("a\\bb", "a b");
    MATCHES("a\\bb", "a\tb");
    NO_MATCH("a\\bb", "ab");
    MATCHES("^\\c+$", "abcXYZ");
    NO_MATCH("^\\c+$", "abc1");
    MATCHES("^\\d$", "7");
    NO_MATCH("^\\d$", "x");
    MATCHES("^\\h+$", "DeadBeef09");
    NO_MATCH("^\\h+$", "xyz");
}

static void test_abbreviations_for_sequences(void **state)
{
    (void)state;
    MATCHES("^a\\nb$", "a\r\nb");
    MATCHES("^a\\nb$", "a\nb");
    MATCHES("^a\\nb$", "a\rb");
    NO_MATCH("^a\\nb$", "ab");
    MATCHES("^\\q$", "\"say hi\"");
    MATCHES("^\\q$", "'x'");
    NO_MATCH("^\\q$", "\"unterminated");
    MATCHES("^\\w$", "Outlook");
    NO_MATCH("^\\w$", "Out1ook");
    MATCHES("^\\z$", "2024");
    NO_MATCH("^\\z$", "20x4");
}

static void test_abbreviation_is_one_unit_for_a_quantifier(void **state)
{
    (void)state;
    MATCHES("^(\\z,)+$", "1,22,333,");
    MATCHES("^x\\q?y$", "xy");
    MATCHES("^x\\q?y$", "x'a'y");
}

static void test_single_character_abbreviations_work_inside_classes(void **state)
{
    (void)state;
    MATCHES("^[\\d_]+$", "12_3");
    NO_MATCH("^[\\d_]+$", "12a");
    MATCHES("^[^\\d]+$", "abc");
}

static void test_other_escaped_letters_are_literal(void **state)
{
    (void)state;
    MATCHES("^\\p\\x$", "px");
    NO_MATCH("^\\p$", "\\p");
}

/* ---- classes, anchors, search ----------------------------------------- */

static void test_class_details(void **state)
{
    (void)state;
    MATCHES("^[^abc]$", "d");
    NO_MATCH("^[^abc]$", "a");
    MATCHES("^[a-]+$", "a-a");
    MATCHES("^[\\]\\-]+$", "]-]");
    MATCHES("x]", "x]");
}

static void test_match_is_searched_anywhere_unless_anchored(void **state)
{
    (void)state;
    MATCHES("LOOK", "OUTLOOK.EXE");
    NO_MATCH("^LOOK", "OUTLOOK.EXE");
    MATCHES("EXE$", "OUTLOOK.EXE");
    NO_MATCH("OUT$", "OUTLOOK.EXE");
    MATCHES("!a", "aaa"); /* matches at the end, where no 'a' follows */
}

static void test_dot_and_classes_work_on_utf8_characters(void **state)
{
    (void)state;
    MATCHES("^.$", "\xc3\xa9");             /* é */
    MATCHES("^.$", "\xe2\x82\xac");         /* € */
    MATCHES("^.$", "\xf0\x9f\x98\x80");     /* U+1F600 */
    MATCHES("^[\xc3\xa0-\xc3\xbf]$", "\xc3\xa9");
    MATCHES("^\xc3\xa9+$", "\xc3\xa9\xc3\xa9");
    MATCHES("^.$", "\xff");                 /* an invalid byte is one character */
    NO_MATCH("^\xc3\xa9$", "\xc3");
}

static void test_case_is_significant_by_default(void **state)
{
    (void)state;
    NO_MATCH("^outlook\\.exe$", "OUTLOOK.EXE");
    MATCHES_ICASE("^outlook\\.exe$", "OUTLOOK.EXE");
}

static void test_case_insensitive_folds_classes_and_latin1(void **state)
{
    (void)state;
    MATCHES_ICASE("^[a-f]+$", "ACE");
    NO_MATCH_ICASE("^[^a]$", "A");
    MATCHES_ICASE("^\xc3\x9c" "ber$", "\xc3\xbc" "BER"); /* Über / übER */
    MATCHES_ICASE("^\xc3\xbf$", "\xc5\xb8");             /* ÿ / Ÿ */
    MATCHES_ICASE("^{a}\\0$", "aA");
    NO_MATCH_ICASE("^\xc3\x97$", "\xc3\xb7"); /* × and ÷ are not a case pair */
}

/* ---- bounded backtracking --------------------------------------------- */

static char *repeat_char(char c, size_t n, const char *tail)
{
    char *s = malloc(n + strlen(tail) + 1);
    assert_non_null(s);
    memset(s, c, n);
    strcpy(s + n, tail);
    return s;
}

static void test_empty_iterations_do_not_loop_forever(void **state)
{
    (void)state;
    MATCHES("^(a*)*$", "aaa");
    MATCHES("^(a*)+b$", "b");
    MATCHES("^(!x)*y$", "y");
    MATCHES("^(a?)*?b$", "aab");
}

static void test_hostile_patterns_give_up_as_no_match_quickly(void **state)
{
    (void)state;
    char *text = repeat_char('a', 40, "c");
    clock_t t0 = clock();
    NO_MATCH("(a*)*b", text);
    NO_MATCH("(a|aa)*b", text);
    NO_MATCH("^(\\w+\\w+)+b", text);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    free(text);
    assert_true(secs < 5.0);
}

static void test_long_input_is_searched_within_the_budget(void **state)
{
    (void)state;
    char *text = repeat_char('x', 100000, "OUTLOOK");
    MATCHES("OUTLOOK", text);
    free(text);
    text = repeat_char('x', 3000000, "OUTLOOK");
    NO_MATCH("OUTLOOK", text); /* beyond the step budget: reported as no match */
    free(text);
}

/* ---- syntax errors ---------------------------------------------------- */

static void test_syntax_errors_name_their_offset(void **state)
{
    (void)state;
    expect_compile_error("ab(cd", "unmatched '(' at offset 2 in 'ab(cd'");
    expect_compile_error("abc)", "unmatched ')' at offset 3 in 'abc)'");
    expect_compile_error("{a", "unmatched '{' at offset 0 in '{a'");
    expect_compile_error("a}", "unmatched '}' at offset 1 in 'a}'");
    expect_compile_error("*a", "nothing to repeat at offset 0 in '*a'");
    expect_compile_error("a**", "nothing to repeat at offset 2 in 'a**'");
    expect_compile_error("a+?+", "nothing to repeat at offset 3 in 'a+?+'");
    expect_compile_error("^*", "nothing to repeat at offset 1 in '^*'");
    expect_compile_error("x[abc", "unterminated character class at offset 1 in 'x[abc'");
    expect_compile_error("[]", "empty character class at offset 0 in '[]'");
    expect_compile_error("[^]", "empty character class at offset 0 in '[^]'");
    expect_compile_error("[xz-a]", "invalid range (end before start) at offset 2 in '[xz-a]'");
    expect_compile_error("abc\\", "trailing backslash at offset 3 in 'abc\\'");
    expect_compile_error("a!", "'!' must be followed by an expression at offset 1 in 'a!'");
    expect_compile_error("(!)", "'!' must be followed by an expression at offset 1 in '(!)'");
    expect_compile_error("{a}\\1",
                         "reference to a match group that does not exist at offset 3 in '{a}\\1'");
}

static void test_empty_and_oversized_patterns_are_rejected(void **state)
{
    (void)state;
    expect_compile_error("", "empty regular expression");
    char *big = repeat_char('a', CATL_REGEX_MAX_PATTERN + 1, "");
    expect_compile_error(big, "regular expression longer than 4096 bytes");
    free(big);
}

static void test_deep_nesting_is_rejected(void **state)
{
    (void)state;
    char pat[2 * (CATL_REGEX_MAX_DEPTH + 1) + 2];
    size_t n = CATL_REGEX_MAX_DEPTH + 1, i;
    for (i = 0; i < n; i++)
        pat[i] = '(';
    pat[i++] = 'a';
    for (size_t j = 0; j < n; j++)
        pat[i++] = ')';
    pat[i] = '\0';
    char err[256];
    assert_null(catl_regex_compile(pat, 0, err, sizeof err));
    assert_non_null(strstr(err, "nested too deeply at offset 64"));
    pat[0] = ' '; /* one level less is fine... */
    pat[i - 1] = '\0';
    assert_int_equal(match_with(pat, 0, " a"), 1);
    char bangs[CATL_REGEX_MAX_DEPTH + 3];
    memset(bangs, '!', CATL_REGEX_MAX_DEPTH + 1);
    strcpy(bangs + CATL_REGEX_MAX_DEPTH + 1, "a");
    assert_null(catl_regex_compile(bangs, 0, err, sizeof err));
}

static void test_null_arguments_are_safe(void **state)
{
    (void)state;
    assert_null(catl_regex_compile(NULL, 0, NULL, 0));
    assert_null(catl_regex_compile("(", 0, NULL, 0));
    assert_int_equal(catl_regex_match(NULL, "x"), 0);
    catl_regex *re = catl_regex_compile("x", 0, NULL, 0);
    assert_non_null(re);
    assert_int_equal(catl_regex_match(re, NULL), 0);
    catl_regex_free(re);
    catl_regex_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_em_class_at_start_is_case_sensitive),
        cmocka_unit_test(test_em_three_trailing_digits),
        cmocka_unit_test(test_em_domain_prefix_anchors_the_user_name),
        cmocka_unit_test(test_em_alternation_list_of_processes),
        cmocka_unit_test(test_em_negation_excludes_one_process),
        cmocka_unit_test(test_em_negation_of_an_alternation),
        cmocka_unit_test(test_ms_optional_and_repeated_classes),
        cmocka_unit_test(test_ms_lazy_quantifiers_compile_and_match),
        cmocka_unit_test(test_ms_grouped_repetition_of_number_list),
        cmocka_unit_test(test_ms_match_groups_for_time),
        cmocka_unit_test(test_ms_backreference_repeats_group_text),
        cmocka_unit_test(test_ms_escaped_metacharacter_is_literal),
        cmocka_unit_test(test_ms_negation_means_not_followed_by),
        cmocka_unit_test(test_ms_alternation_has_lowest_precedence),
        cmocka_unit_test(test_abbreviations_single_character_sets),
        cmocka_unit_test(test_abbreviations_for_sequences),
        cmocka_unit_test(test_abbreviation_is_one_unit_for_a_quantifier),
        cmocka_unit_test(test_single_character_abbreviations_work_inside_classes),
        cmocka_unit_test(test_other_escaped_letters_are_literal),
        cmocka_unit_test(test_class_details),
        cmocka_unit_test(test_match_is_searched_anywhere_unless_anchored),
        cmocka_unit_test(test_dot_and_classes_work_on_utf8_characters),
        cmocka_unit_test(test_case_is_significant_by_default),
        cmocka_unit_test(test_case_insensitive_folds_classes_and_latin1),
        cmocka_unit_test(test_empty_iterations_do_not_loop_forever),
        cmocka_unit_test(test_hostile_patterns_give_up_as_no_match_quickly),
        cmocka_unit_test(test_long_input_is_searched_within_the_budget),
        cmocka_unit_test(test_syntax_errors_name_their_offset),
        cmocka_unit_test(test_empty_and_oversized_patterns_are_rejected),
        cmocka_unit_test(test_deep_nesting_is_rejected),
        cmocka_unit_test(test_null_arguments_are_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
