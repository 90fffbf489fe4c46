/*
 * test_vss_reasons.c - every VSS failure an admin can meet reads as a
 * reason and a remedy (vss_hresult_reason in plugin/snapshot/vss.c), with
 * the status that decides what "auto" does next. A pure function: this
 * proves the messages without VSS, which Wine does not have.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <windows.h>
#include <vss.h>
#include <vsserror.h>

#include "vss_reason.h"

/* hr must map to `status` and its text must contain every fragment. */
static void expect(HRESULT hr, ps_status status, const char *const *fragments)
{
    ps_status got = PS_OK;
    const char *why = vss_hresult_reason(hr, &got);
    if (!why)
        fail_msg("HRESULT 0x%08lx has no reason", (unsigned long)hr);
    assert_int_equal(got, status);
    for (size_t i = 0; fragments[i]; i++)
        if (!strstr(why, fragments[i]))
            fail_msg("HRESULT 0x%08lx: '%s' does not mention '%s'", (unsigned long)hr, why,
                     fragments[i]);
}

static void test_not_elevated_says_run_as_system(void **state)
{
    (void)state;
    const char *const f[] = {"administrator or backup rights", "Run As to System", NULL};
    expect(E_ACCESSDENIED, PS_ERR_ACCESS, f);
    expect(HRESULT_FROM_WIN32(ERROR_PRIVILEGE_NOT_HELD), PS_ERR_ACCESS, f);
    const char *const bad_state[] = {"not elevated", "Run As to System", NULL};
    expect(VSS_E_BAD_STATE, PS_ERR_ACCESS, bad_state);
}

static void test_service_disabled_says_which_start_type(void **state)
{
    (void)state;
    const char *const f[] = {"Volume Shadow Copy service", "disabled", "Manual", NULL};
    expect(HRESULT_FROM_WIN32(ERROR_SERVICE_DISABLED), PS_ERR_UNSUPPORTED, f);
    const char *const infra[] = {"COM+ Event System", NULL};
    expect(VSS_E_WRITER_INFRASTRUCTURE, PS_ERR_UNSUPPORTED, infra);
}

static void test_vss_absent_lets_auto_move_on(void **state)
{
    (void)state;
    const char *const f[] = {"not available", "Wine", NULL};
    expect(E_NOTIMPL, PS_ERR_UNSUPPORTED, f);
    expect(REGDB_E_CLASSNOTREG, PS_ERR_UNSUPPORTED, f);
}

static void test_snapshot_limit_names_64_and_the_remedy(void **state)
{
    (void)state;
    const char *const f[] = {"64 shadow copies", "vssadmin delete shadows", NULL};
    expect(VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED, PS_ERR_IO, f);
}

static void test_unsupported_volume_names_fat_and_shares(void **state)
{
    (void)state;
    const char *const f[] = {"cannot be shadow-copied", "FAT", "network share", NULL};
    expect(VSS_E_VOLUME_NOT_SUPPORTED, PS_ERR_UNSUPPORTED, f);
    expect(VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER, PS_ERR_UNSUPPORTED, f);
}

static void test_diff_area_full_is_not_called_disk_full(void **state)
{
    (void)state;
    const char *const f[] = {"shadow storage", "not free disk space", "vssadmin resize", NULL};
    expect(VSS_E_INSUFFICIENT_STORAGE, PS_ERR_IO, f);
}

static void test_busy_timeout_and_cancel_are_told_apart(void **state)
{
    (void)state;
    const char *const busy[] = {"another program", "retries", NULL};
    expect(VSS_E_SNAPSHOT_SET_IN_PROGRESS, PS_ERR_BUSY, busy);
    const char *const timeout[] = {"5 minutes", NULL};
    expect(HRESULT_FROM_WIN32(ERROR_TIMEOUT), PS_ERR_IO, timeout);
    const char *const cancelled[] = {"logoff", NULL};
    expect(HRESULT_FROM_WIN32(ERROR_CANCELLED), PS_ERR_CANCELLED, cancelled);
    const char *const freeze[] = {"too busy to freeze", NULL};
    expect(VSS_E_FLUSH_WRITES_TIMEOUT, PS_ERR_IO, freeze);
}

static void test_unknown_hresult_has_no_reason_and_keeps_the_status(void **state)
{
    (void)state;
    ps_status st = PS_ERR_NOMEM;
    assert_null(vss_hresult_reason(E_FAIL, &st));
    assert_int_equal(st, PS_ERR_NOMEM);
    assert_null(vss_hresult_reason(S_OK, &st));
    /* status may be NULL */
    assert_non_null(vss_hresult_reason(E_ACCESSDENIED, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_elevated_says_run_as_system),
        cmocka_unit_test(test_service_disabled_says_which_start_type),
        cmocka_unit_test(test_vss_absent_lets_auto_move_on),
        cmocka_unit_test(test_snapshot_limit_names_64_and_the_remedy),
        cmocka_unit_test(test_unsupported_volume_names_fat_and_shares),
        cmocka_unit_test(test_diff_area_full_is_not_called_disk_full),
        cmocka_unit_test(test_busy_timeout_and_cancel_are_told_apart),
        cmocka_unit_test(test_unknown_hresult_has_no_reason_and_keeps_the_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
