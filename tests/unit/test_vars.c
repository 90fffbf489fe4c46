/* Tests for sdk-shim/src/vars.c: EM %NAME% / $(Name) expansion. */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "test_support.h"
#include "vars.h"

typedef struct fake_var {
    vars_kind kind;
    const char *name;
    const char *value;
} fake_var;

static const fake_var fake_vars[] = {
    {VARS_ENV, "LOCALAPPDATA", "C:\\Users\\ann\\AppData\\Local"},
    {VARS_ENV, "HOMEDRIVE", "H:"},
    {VARS_ENV, "HOMEPATH", "\\ann"},
    {VARS_ENV, "ProgramFiles(x86)", "C:\\Program Files (x86)"},
    {VARS_ENV, "EMPTY", ""},
    {VARS_ENV, "TRICKY", "%LOCALAPPDATA%$(DataNowHome)"},
    {VARS_ENV, "USERNAME", "J\xc3\xbcrgen"},
    {VARS_SESSION, "DataNowHome", "D:\\DataNow"},
};

/* Case-sensitive fake: proves names reach the lookup exactly as written.
 * Records the last name and kind it was asked for and how often. */
typedef struct fake_ctx {
    char last_name[64];
    vars_kind last_kind;
    int calls;
} fake_ctx;

static const char *fake_lookup(void *ctx, vars_kind kind, const char *name)
{
    fake_ctx *f = ctx;
    f->calls++;
    f->last_kind = kind;
    strncpy(f->last_name, name, sizeof f->last_name - 1);
    f->last_name[sizeof f->last_name - 1] = '\0';
    for (size_t i = 0; i < sizeof fake_vars / sizeof fake_vars[0]; i++)
        if (fake_vars[i].kind == kind && strcmp(fake_vars[i].name, name) == 0)
            return fake_vars[i].value;
    return NULL;
}

static void expect_expansion(const char *in, const char *want)
{
    fake_ctx f = {{0}, VARS_ENV, 0};
    char err[256] = "";
    char *out = NULL;
    int rc = vars_expand(in, fake_lookup, &f, &out, err, sizeof err);
    if (rc != 0)
        fail_msg("expanding '%s' failed: %s", in, err);
    assert_non_null(out);
    assert_string_equal(out, want);
    free(out);
}

static void expect_error(const char *in, const char *want_msg)
{
    fake_ctx f = {{0}, VARS_ENV, 0};
    char err[256] = "";
    char *out = (char *)"not touched";
    assert_int_equal(vars_expand(in, fake_lookup, &f, &out, err, sizeof err), -1);
    assert_null(out);
    assert_string_equal(err, want_msg);
}

static void test_env_variable_is_replaced_by_its_value(void **state)
{
    (void)state;
    expect_expansion("%LOCALAPPDATA%\\Microsoft\\Outlook",
                     "C:\\Users\\ann\\AppData\\Local\\Microsoft\\Outlook");
}

static void test_session_variable_is_replaced_by_its_value(void **state)
{
    (void)state;
    expect_expansion("$(DataNowHome)\\PST", "D:\\DataNow\\PST");
}

static void test_adjacent_references_both_expand(void **state)
{
    (void)state;
    expect_expansion("%HOMEDRIVE%%HOMEPATH%", "H:\\ann");
    expect_expansion("$(DataNowHome)%HOMEPATH%", "D:\\DataNow\\ann");
}

static void test_double_percent_is_one_literal_percent(void **state)
{
    (void)state;
    expect_expansion("%%USERNAME%%", "%USERNAME%");
    expect_expansion("a%%b", "a%b");
}

static void test_percent_not_followed_by_a_name_is_literal(void **state)
{
    (void)state;
    expect_expansion("100% sure", "100% sure");
    expect_expansion("50%", "50%");
    expect_expansion("%1 and %-x", "%1 and %-x");
}

static void test_dollar_without_parenthesis_is_literal(void **state)
{
    (void)state;
    expect_expansion("cost $5 $$", "cost $5 $$");
    expect_expansion("trailing $", "trailing $");
}

static void test_name_with_parentheses_is_looked_up_whole(void **state)
{
    (void)state;
    expect_expansion("%ProgramFiles(x86)%\\App", "C:\\Program Files (x86)\\App");
}

static void test_names_reach_the_lookup_exactly_as_written(void **state)
{
    (void)state;
    fake_ctx f = {{0}, VARS_ENV, 0};
    char err[256] = "";
    char *out = NULL;
    assert_int_equal(vars_expand("%localAppData%", fake_lookup, &f, &out, err, sizeof err), -1);
    assert_string_equal(f.last_name, "localAppData");
    assert_int_equal(f.last_kind, VARS_ENV);
    assert_string_equal(err, "variable %localAppData% is not set");

    assert_int_equal(vars_expand("$( Spaced Name )", fake_lookup, &f, &out, err, sizeof err),
                     -1);
    assert_string_equal(f.last_name, " Spaced Name ");
    assert_int_equal(f.last_kind, VARS_SESSION);
}

static void test_values_are_not_expanded_again(void **state)
{
    (void)state;
    fake_ctx f = {{0}, VARS_ENV, 0};
    char err[256] = "";
    char *out = NULL;
    assert_int_equal(vars_expand("x%TRICKY%y", fake_lookup, &f, &out, err, sizeof err), 0);
    assert_string_equal(out, "x%LOCALAPPDATA%$(DataNowHome)y");
    assert_int_equal(f.calls, 1);
    free(out);
}

static void test_empty_value_expands_to_nothing(void **state)
{
    (void)state;
    expect_expansion("[%EMPTY%]", "[]");
}

static void test_empty_input_gives_empty_allocated_string(void **state)
{
    (void)state;
    expect_expansion("", "");
}

static void test_utf8_text_and_values_pass_through_unchanged(void **state)
{
    (void)state;
    expect_expansion("\xc3\x9c\\%USERNAME%\\\xe2\x82\xac", "\xc3\x9c\\J\xc3\xbcrgen\\\xe2\x82\xac");
}

static void test_unset_env_variable_is_an_error_naming_it(void **state)
{
    (void)state;
    expect_error("%APPDATA%\\x", "variable %APPDATA% is not set");
}

static void test_unset_session_variable_is_an_error_naming_it(void **state)
{
    (void)state;
    expect_error("$(Missing)\\x", "session variable $(Missing) is not set");
}

static void test_unterminated_env_reference_reports_its_offset(void **state)
{
    (void)state;
    expect_error("C:\\Data\\%FOO", "unterminated variable reference at offset 8 in 'C:\\Data\\%FOO'");
    expect_error("%FOO", "unterminated variable reference at offset 0 in '%FOO'");
}

static void test_path_separator_inside_env_name_means_unterminated(void **state)
{
    (void)state;
    expect_error("%LOCALAPPDATA\\Outlook%",
                 "unterminated variable reference at offset 0 in '%LOCALAPPDATA\\Outlook%'");
    expect_error("x/%A/B%", "unterminated variable reference at offset 2 in 'x/%A/B%'");
}

static void test_unterminated_session_reference_reports_its_offset(void **state)
{
    (void)state;
    expect_error("ab$(DataNowHome", "unterminated variable reference at offset 2 in 'ab$(DataNowHome'");
    expect_error("$(a$(b)", "unterminated variable reference at offset 0 in '$(a$(b)'");
}

static void test_empty_session_name_is_an_error(void **state)
{
    (void)state;
    expect_error("ab$()", "empty variable name at offset 2 in 'ab$()'");
}

static void test_null_arguments_are_rejected(void **state)
{
    (void)state;
    char err[64] = "";
    char *out = NULL;
    assert_int_equal(vars_expand(NULL, fake_lookup, NULL, &out, err, sizeof err), -1);
    assert_null(out);
    assert_int_equal(vars_expand("x", NULL, NULL, &out, err, sizeof err), -1);
    assert_int_equal(vars_expand("x", fake_lookup, NULL, NULL, err, sizeof err), -1);
    assert_true(strlen(err) > 0);
}

static void test_missing_errbuf_is_tolerated(void **state)
{
    (void)state;
    fake_ctx f = {{0}, VARS_ENV, 0};
    char *out = NULL;
    assert_int_equal(vars_expand("%NOPE%", fake_lookup, &f, &out, NULL, 0), -1);
    assert_null(out);
}

static void test_small_errbuf_is_truncated_not_overrun(void **state)
{
    (void)state;
    fake_ctx f = {{0}, VARS_ENV, 0};
    char err[9];
    memset(err, 'x', sizeof err);
    char *out = NULL;
    assert_int_equal(vars_expand("%NOPE%", fake_lookup, &f, &out, err, 8), -1);
    assert_string_equal(err, "variabl");
    assert_int_equal(err[8], 'x');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_variable_is_replaced_by_its_value),
        cmocka_unit_test(test_session_variable_is_replaced_by_its_value),
        cmocka_unit_test(test_adjacent_references_both_expand),
        cmocka_unit_test(test_double_percent_is_one_literal_percent),
        cmocka_unit_test(test_percent_not_followed_by_a_name_is_literal),
        cmocka_unit_test(test_dollar_without_parenthesis_is_literal),
        cmocka_unit_test(test_name_with_parentheses_is_looked_up_whole),
        cmocka_unit_test(test_names_reach_the_lookup_exactly_as_written),
        cmocka_unit_test(test_values_are_not_expanded_again),
        cmocka_unit_test(test_empty_value_expands_to_nothing),
        cmocka_unit_test(test_empty_input_gives_empty_allocated_string),
        cmocka_unit_test(test_utf8_text_and_values_pass_through_unchanged),
        cmocka_unit_test(test_unset_env_variable_is_an_error_naming_it),
        cmocka_unit_test(test_unset_session_variable_is_an_error_naming_it),
        cmocka_unit_test(test_unterminated_env_reference_reports_its_offset),
        cmocka_unit_test(test_path_separator_inside_env_name_means_unterminated),
        cmocka_unit_test(test_unterminated_session_reference_reports_its_offset),
        cmocka_unit_test(test_empty_session_name_is_an_error),
        cmocka_unit_test(test_null_arguments_are_rejected),
        cmocka_unit_test(test_missing_errbuf_is_tolerated),
        cmocka_unit_test(test_small_errbuf_is_truncated_not_overrun),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
