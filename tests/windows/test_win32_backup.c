/*
 * test_win32_backup.c - what only Windows (here: Wine) can show: a PST held
 * with share mode 0 by another process, the VSS fallback, long and unusual
 * names, reparse points, atomic replace against a held backup, and the
 * Outlook profiles in the registry.
 *
 * The "other process" is this program started again with --hold PATH: it
 * opens PATH with no sharing, as Outlook does, and waits to be killed.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <windows.h>
#include <winioctl.h>
#include <sddl.h>
#include <aclapi.h>

#include "events.h"
#include "params.h"
#include "pipeline.h"
#include "platform.h"
#include "test_host.h"
#include "test_support.h"

static th_host g_host;

/* --- helpers ------------------------------------------------------------ */
static wchar_t *wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    wchar_t *w = malloc((size_t)n * sizeof *w);
    assert_non_null(w);
    MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
    return w;
}

/* rm -rf through "\\?\" (the tree may be deeper than MAX_PATH and hold
 * names ending in dots or spaces, which plain paths cannot reach). */
static void remove_long_tree(const wchar_t *path)
{
    DWORD attrs = GetFileAttributesW(path);
    if (attrs == INVALID_FILE_ATTRIBUTES)
        return;
    if (!(attrs & FILE_ATTRIBUTE_DIRECTORY) || (attrs & FILE_ATTRIBUTE_REPARSE_POINT)) {
        if (!DeleteFileW(path))
            RemoveDirectoryW(path);
        return;
    }
    size_t n = wcslen(path);
    wchar_t *pattern = malloc((n + 3) * sizeof *pattern);
    _snwprintf(pattern, n + 3, L"%ls\\*", path);
    pattern[n + 2] = 0;
    WIN32_FIND_DATAW fd;
    HANDLE find = FindFirstFileW(pattern, &fd);
    free(pattern);
    if (find != INVALID_HANDLE_VALUE) {
        do {
            if (!wcscmp(fd.cFileName, L".") || !wcscmp(fd.cFileName, L".."))
                continue;
            size_t m = n + wcslen(fd.cFileName) + 2;
            wchar_t *child = malloc(m * sizeof *child);
            _snwprintf(child, m, L"%ls\\%ls", path, fd.cFileName);
            child[m - 1] = 0;
            remove_long_tree(child);
            free(child);
        } while (FindNextFileW(find, &fd));
        FindClose(find);
    }
    RemoveDirectoryW(path);
}

/* A fresh folder with an absolute Windows path ("Z:\..." for the Unix
 * folder the tests run in), so that "\\?\" long paths are used. */
static char *win_dir(const char *name)
{
    const char *base = ts_env("PSTSNAP_TEST_TMP", NULL);
    if (base && base[0] == '/') {
        char old[4096];
        snprintf(old, sizeof old, "\\\\?\\Z:%s\\%s", base, name);
        for (char *c = old; *c; c++)
            if (*c == '/')
                *c = '\\';
        wchar_t *w = wide(old);
        remove_long_tree(w);
        free(w);
    }
    char *dir = ts_temp_dir(name);
    if (dir[0] != '/')
        return dir;
    size_t n = strlen(dir) + 3;
    char *w = malloc(n);
    assert_non_null(w);
    snprintf(w, n, "Z:%s", dir);
    for (char *c = w; *c; c++)
        if (*c == '/')
            *c = '\\';
    free(dir);
    return w;
}

static char *join(const char *dir, const char *name)
{
    char *p = pf_path_join(dir, name);
    assert_non_null(p);
    return p;
}

static void write_pf(const char *path, const void *data, size_t len)
{
    pf_file *f = NULL;
    ps_err err;
    if (pf_open_write(path, &f, NULL, &err) != PS_OK || pf_truncate(f, 0, &err) != PS_OK ||
        pf_pwrite(f, data, len, 0, &err) != PS_OK || pf_close(f, &err) != PS_OK)
        fail_msg("%s", err.msg);
}

static void assert_content(const char *path, const void *data, size_t len)
{
    char *got = NULL;
    size_t n = 0;
    ps_err err;
    if (pf_read_file(path, 64u << 20, &got, &n, &err) != PS_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(n, len);
    assert_memory_equal(got, data, len);
    free(got);
}

static void mkdirs(const char *path)
{
    ps_err err;
    if (pf_mkdirs(path, &err) != PS_OK)
        fail_msg("%s", err.msg);
}

/* Start this program again holding `path` with share mode 0. */
static PROCESS_INFORMATION hold_exclusively(const char *path)
{
    wchar_t exe[MAX_PATH + 1];
    GetModuleFileNameW(NULL, exe, MAX_PATH + 1);
    wchar_t *wpath = wide(path);
    size_t n = wcslen(exe) + wcslen(wpath) + 32;
    wchar_t *cmd = malloc(n * sizeof *cmd);
    assert_non_null(cmd);
    _snwprintf(cmd, n, L"\"%ls\" --hold \"%ls\"", exe, wpath);
    cmd[n - 1] = 0;
    STARTUPINFOW si = {.cb = sizeof si};
    PROCESS_INFORMATION pi;
    if (!CreateProcessW(exe, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi))
        fail_msg("cannot start the holder: error %lu", GetLastError());
    free(cmd);
    /* Ready once "<path>.held" exists. */
    size_t m = wcslen(wpath) + 8;
    wchar_t *marker = malloc(m * sizeof *marker);
    _snwprintf(marker, m, L"%ls.held", wpath);
    marker[m - 1] = 0;
    for (int i = 0; i < 200 && GetFileAttributesW(marker) == INVALID_FILE_ATTRIBUTES; i++)
        Sleep(50);
    if (GetFileAttributesW(marker) == INVALID_FILE_ATTRIBUTES)
        fail_msg("the holder did not open '%s'", path);
    DeleteFileW(marker);
    free(marker);
    free(wpath);
    return pi;
}

static void release_holder(PROCESS_INFORMATION *pi)
{
    TerminateProcess(pi->hProcess, 0);
    WaitForSingleObject(pi->hProcess, 10000);
    CloseHandle(pi->hProcess);
    CloseHandle(pi->hThread);
}

static int hold_main(const char *path)
{
    wchar_t *w = wide(path);
    /* Share mode 0: as Outlook opens a PST. */
    HANDLE h = CreateFileW(w, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    if (h == INVALID_HANDLE_VALUE)
        return 3;
    size_t m = wcslen(w) + 8;
    wchar_t *marker = malloc(m * sizeof *marker);
    _snwprintf(marker, m, L"%ls.held", w);
    marker[m - 1] = 0;
    HANDLE mk = CreateFileW(marker, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0, NULL);
    CloseHandle(mk);
    Sleep(60000); /* killed by the test long before */
    CloseHandle(h);
    return 0;
}

static ps_summary g_sum; /* of the last run_pipeline */

/* Run the whole pipeline with these parameters (JSON) and paths, elevated
 * for the user `user_sid` (NULL: for the user running the test). */
static ps_status run_pipeline_for(const char *params_json, const char *dest, char **sources,
                                  size_t nsources, const char *state, const char *user_sid,
                                  ps_err *err)
{
    ps_params params;
    if (ps_params_parse(params_json, &params, err) != PS_OK)
        fail_msg("%s", err->msg);
    th_init(&g_host);
    ps_job job = {.params = &params, .destination = dest, .sources = sources,
                  .source_count = nsources, .state_dir = state, .owner_uid = -1,
                  .owner_gid = -1, .user_sid = user_sid, .host = &g_host.host};
    ps_status s = pipeline_run(&job, &g_sum, err);
    ps_params_free(&params);
    return s;
}

static ps_status run_pipeline(const char *params_json, const char *dest, char **sources,
                              size_t nsources, const char *state, ps_err *err)
{
    return run_pipeline_for(params_json, dest, sources, nsources, state, NULL, err);
}

static const th_event *event_naming(uint32_t id, const char *text)
{
    const th_event *ev = th_find_text(&g_host, id, text);
    if (!ev) {
        for (size_t i = 0; i < g_host.count; i++)
            print_message("  event %u: %s\n", g_host.events[i].id, g_host.events[i].message);
        fail_msg("no event %u mentioning '%s'", id, text);
    }
    return ev;
}

/* The SID of the user running this test, as text (LocalFree). */
static wchar_t *my_sid(void)
{
    HANDLE token;
    assert_true(OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token));
    BYTE buf[256];
    DWORD len = 0;
    assert_true(GetTokenInformation(token, TokenUser, buf, sizeof buf, &len));
    CloseHandle(token);
    wchar_t *text = NULL;
    assert_true(ConvertSidToStringSidW(((TOKEN_USER *)buf)->User.Sid, &text));
    return text;
}

/* The DACL of `path` as SDDL (free). */
static char *dacl_text(const char *path)
{
    wchar_t *w = wide(path);
    PSECURITY_DESCRIPTOR sd = NULL;
    PACL dacl = NULL;
    DWORD e = GetNamedSecurityInfoW(w, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, NULL, NULL,
                                    &dacl, NULL, &sd);
    free(w);
    if (e != ERROR_SUCCESS)
        fail_msg("cannot read the DACL of '%s': error %lu", path, e);
    wchar_t *text = NULL;
    assert_true(ConvertSecurityDescriptorToStringSecurityDescriptorW(
        sd, SDDL_REVISION_1, DACL_SECURITY_INFORMATION, &text, NULL));
    char *out = malloc(4096);
    WideCharToMultiByte(CP_UTF8, 0, text, -1, out, 4096, NULL, NULL);
    LocalFree(text);
    LocalFree(sd);
    return out;
}

/* Under Wine, the Unix mode of a Z: file (Wine derives the DACL from it:
 * "other" read becomes an Everyone ACE). Wine runs Unix programs through
 * CreateProcess. */
static void wine_chmod(const char *path, const char *mode)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "chmod %s \"%s\"", mode, path + 2); /* drop "Z:" */
    for (char *c = cmd; *c; c++)
        if (*c == '\\')
            *c = '/';
    wchar_t *w = wide(cmd);
    STARTUPINFOW si = {.cb = sizeof si};
    PROCESS_INFORMATION pi;
    if (!CreateProcessW(L"Z:\\bin\\chmod", w, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi))
        fail_msg("cannot run /bin/chmod: error %lu", GetLastError());
    WaitForSingleObject(pi.hProcess, 10000);
    CloseHandle(pi.hProcess);
    CloseHandle(pi.hThread);
    free(w);
}

/* Replace the DACL of `path` with `sddl_dacl` ("D:P(...)"), not inherited.
 * Returns 0 when the system did not keep it (Wine keeps only what the Unix
 * mode can say); the caller then uses wine_chmod. */
static int set_dacl(const char *path, const wchar_t *sddl_dacl, const char *expect_in_readback)
{
    PSECURITY_DESCRIPTOR sd = NULL;
    assert_true(ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl_dacl, SDDL_REVISION_1,
                                                                      &sd, NULL));
    BOOL present = FALSE, defaulted = FALSE;
    PACL dacl = NULL;
    assert_true(GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted));
    wchar_t *w = wide(path);
    DWORD e = SetNamedSecurityInfoW(w, SE_FILE_OBJECT,
                                    DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                                    NULL, NULL, dacl, NULL);
    free(w);
    LocalFree(sd);
    if (e != ERROR_SUCCESS)
        fail_msg("cannot set the DACL of '%s': error %lu", path, e);
    char *back = dacl_text(path);
    int kept = strstr(back, expect_in_readback) != NULL;
    free(back);
    return kept;
}

/* Private: only SYSTEM and the user running the test; the other user is
 * not in the DACL. */
static void make_private(const char *path, const wchar_t *me)
{
    wchar_t sddl[512];
    _snwprintf(sddl, 512, L"D:P(A;;FA;;;SY)(A;;FA;;;%ls)", me);
    sddl[511] = 0;
    if (!set_dacl(path, sddl, "D:P")) {
        wine_chmod(path, "600");
        /* Wine does not wait for a Unix child: poll until the mode shows. */
        for (int i = 0;; i++) {
            char *back = dacl_text(path);
            int open_to_all = strstr(back, ";WD)") != NULL;
            if (open_to_all && i == 200)
                fail_msg("'%s' still grants Everyone: %s", path, back);
            free(back);
            if (!open_to_all)
                break;
            Sleep(50);
        }
    }
}

/* Readable by the other user: an ACE for their SID (Windows), or, where
 * explicit DACLs are not kept (Wine), read for Everyone. Returns whether
 * the SID's own ACE was kept. */
static int make_readable_by(const char *path, const wchar_t *me, const wchar_t *user)
{
    wchar_t sddl[512];
    _snwprintf(sddl, 512, L"D:P(A;;FA;;;SY)(A;;FA;;;%ls)(A;;FR;;;%ls)", me, user);
    sddl[511] = 0;
    if (set_dacl(path, sddl, "D:P"))
        return 1;
    wine_chmod(path, "644");
    for (int i = 0; i < 200; i++) {
        char *back = dacl_text(path);
        int open_to_all = strstr(back, ";WD)") != NULL;
        free(back);
        if (open_to_all)
            return 0;
        Sleep(50);
    }
    fail_msg("'%s' did not become readable by Everyone", path);
    return 0;
}

/* A user that exists only as a SID: what an elevated run is told to act for. */
#define OTHER_USER "S-1-5-21-1111111111-2222222222-3333333333-1001"

/* --- tests -------------------------------------------------------------------- */
static void test_file_held_exclusively_is_locked_not_an_io_error(void **state)
{
    (void)state;
    char *dir = win_dir("win_locked");
    char *pst = join(dir, "Mail.pst");
    write_pf(pst, "!BDNdata", 8);
    PROCESS_INFORMATION holder = hold_exclusively(pst);
    pf_file *f = NULL;
    ps_err err;
    assert_int_equal(pf_open_read(pst, &f, &err), PS_ERR_LOCKED);
    assert_null(f);
    assert_non_null(strstr(err.msg, "snapshot"));
    assert_non_null(strstr(err.msg, "Mail.pst"));
    /* Discovery still sees it: only its data is locked. */
    pf_stat st;
    assert_int_equal(pf_lstat(pst, &st, &err), PS_OK);
    assert_int_equal(st.kind, PF_KIND_FILE);
    assert_int_equal(st.size, 8);
    release_holder(&holder);
    assert_int_equal(pf_open_read(pst, &f, &err), PS_OK);
    pf_close(f, NULL);
    free(pst);
    free(dir);
}

static void test_auto_falls_back_from_vss_and_reports_the_locked_pst(void **state)
{
    (void)state;
    char *dir = win_dir("win_fallback");
    char *src = join(dir, "Outlook Files"), *dest = join(dir, "Backup"),
         *st_dir = join(dir, "state");
    mkdirs(src);
    char *free_pst = join(src, "Free.pst"), *held_pst = join(src, "Held.pst");
    write_pf(free_pst, "!BDN free", 9);
    write_pf(held_pst, "!BDN held", 9);
    PROCESS_INFORMATION holder = hold_exclusively(held_pst);
    char json[2048];
    snprintf(json, sizeof json,
             "{\"destination\": \"x\", \"minInterval\": \"0\", \"outlookProfiles\": false, "
             "\"snapshot\": \"auto\"}");
    char *sources[] = {src};
    ps_err err;
    ps_status s = run_pipeline(json, dest, sources, 1, st_dir, &err);
    release_holder(&holder);
    /* VSS is not there (Wine: E_NOTIMPL), so "auto" said so and went on. */
    const th_event *fb = event_naming(PS_EV_SNAPSHOT_FALLBACK, "vss");
    assert_int_equal(fb->level, PS_WARNING);
    assert_non_null(strstr(fb->message, "not available"));
    /* The free PST is backed up with the "none" checks; the held one is
     * skipped with a warning saying why (locked, no snapshot because VSS
     * is missing) and what to change; nothing of it was published. The
     * run is a partial success: no failure, a warning summary. */
    assert_int_equal(s, PS_OK);
    const th_event *ok = event_naming(PS_EV_FILE_BACKED_UP, "Free.pst");
    assert_non_null(strstr(ok->message, "none"));
    const th_event *locked = event_naming(PS_EV_FILE_SKIPPED, "Held.pst");
    assert_int_equal(locked->level, PS_WARNING);
    assert_string_equal(locked->name, "pstsnap.file.lockedNoSnapshot");
    assert_non_null(strstr(locked->message, "holds it open"));
    assert_non_null(strstr(locked->message, "no snapshot was taken because VSS"));
    assert_non_null(strstr(locked->message, "Run As to System"));
    assert_non_null(strstr(locked->detail, "\"snapshotFailure\""));
    assert_null(th_find(&g_host, PS_EV_COPY_FAILED));
    const th_event *sum = event_naming(PS_EV_SUMMARY, "partly done");
    assert_int_equal(sum->level, PS_WARNING);
    assert_non_null(strstr(sum->message, "1 copied"));
    assert_non_null(strstr(sum->message, "0 failed"));
    assert_non_null(strstr(sum->message, "1 locked and skipped (no snapshot)"));
    assert_non_null(strstr(sum->detail, "\"partial\":true"));
    assert_non_null(strstr(sum->detail, "\"locked\":1"));
    assert_int_equal(g_sum.copied, 1);
    assert_int_equal(g_sum.locked, 1);
    assert_int_equal(g_sum.failed, 0);
    char *free_backup = join(dest, "Outlook Files\\Free.pst");
    char *held_backup = join(dest, "Outlook Files\\Held.pst");
    assert_content(free_backup, "!BDN free", 9);
    assert_false(ts_exists(held_backup));
    free(free_backup);
    free(held_backup);
    free(free_pst);
    free(held_pst);
    free(src);
    free(dest);
    free(st_dir);
    free(dir);
}

static void test_explicit_vss_without_vss_fails_clearly(void **state)
{
    (void)state;
    char *dir = win_dir("win_vss_only");
    char *src = join(dir, "Outlook"), *dest = join(dir, "Backup"), *st_dir = join(dir, "state");
    mkdirs(src);
    char *pst = join(src, "Mail.pst");
    write_pf(pst, "!BDN", 4);
    char *sources[] = {src};
    ps_err err;
    ps_status s = run_pipeline("{\"destination\": \"x\", \"minInterval\": \"0\", "
                               "\"outlookProfiles\": false, \"snapshot\": \"vss\"}",
                               dest, sources, 1, st_dir, &err);
    assert_int_not_equal(s, PS_OK);
    const th_event *ev = event_naming(PS_EV_SNAPSHOT_FAILED, "Mail.pst");
    assert_non_null(strstr(ev->message, "VSS"));
    assert_null(th_find(&g_host, PS_EV_FILE_BACKED_UP));
    free(pst);
    free(src);
    free(dest);
    free(st_dir);
    free(dir);
}

static void test_user_can_read_follows_the_dacl_for_that_users_sid(void **state)
{
    (void)state;
    char *dir = win_dir("win_user_read");
    char *theirs = join(dir, "Theirs.pst"), *private_pst = join(dir, "Private.pst");
    write_pf(theirs, "!BDN", 4);
    write_pf(private_pst, "!BDN", 4);
    wchar_t *me = my_sid();
    int explicit_acls = make_readable_by(theirs, me, L"" OTHER_USER);
    make_private(private_pst, me);
    ps_err err;
    assert_int_equal(pf_user_can_read(theirs, OTHER_USER, &err), PS_OK);
    assert_int_equal(pf_user_can_read(private_pst, OTHER_USER, &err), PS_ERR_ACCESS);
    assert_non_null(strstr(err.msg, OTHER_USER));
    assert_non_null(strstr(err.msg, "Private.pst"));
    if (explicit_acls) {
        /* An explicit deny for the user wins over Everyone's read. */
        assert_true(set_dacl(theirs, L"D:P(D;;FR;;;" OTHER_USER L")(A;;FA;;;SY)(A;;FR;;;WD)",
                             "(D;"));
        assert_int_equal(pf_user_can_read(theirs, OTHER_USER, &err), PS_ERR_ACCESS);
    } else {
        print_message("this system keeps no explicit DACLs (Wine derives them from the Unix "
                      "mode): the per-SID and deny cases are not shown\n");
    }
    /* Not acting for anyone: no check. A malformed SID is refused. */
    assert_int_equal(pf_user_can_read(private_pst, NULL, &err), PS_OK);
    assert_int_equal(pf_user_can_read(private_pst, "uid:1000", &err), PS_ERR_INVALID);
    LocalFree(me);
    free(theirs);
    free(private_pst);
    free(dir);
}

static void test_elevated_run_backs_up_only_what_the_user_can_read(void **state)
{
    (void)state;
    char *dir = win_dir("win_for_user");
    char *src = join(dir, "Outlook Files"), *dest = join(dir, "Backup"),
         *st_dir = join(dir, "state");
    mkdirs(src);
    char *readable = join(src, "Readable.pst"), *hidden = join(src, "Hidden.pst");
    write_pf(readable, "!BDN readable", 13);
    write_pf(hidden, "!BDN hidden", 11);
    wchar_t *me = my_sid();
    make_readable_by(readable, me, L"" OTHER_USER);
    make_private(hidden, me);
    LocalFree(me);
    char *sources[] = {src};
    ps_err err;
    ps_status s = run_pipeline_for("{\"destination\": \"x\", \"minInterval\": \"0\", "
                                   "\"outlookProfiles\": false, \"snapshot\": \"none\"}",
                                   dest, sources, 1, st_dir, OTHER_USER, &err);
    const th_event *skip = event_naming(PS_EV_FILE_SKIPPED, "Hidden.pst");
    assert_int_equal(skip->level, PS_WARNING);
    assert_non_null(strstr(skip->message, "may not read"));
    event_naming(PS_EV_FILE_BACKED_UP, "Readable.pst");
    assert_int_equal(g_sum.copied, 1);
    assert_int_equal(g_sum.skipped, 1);
    char *readable_backup = join(dest, "Outlook Files\\Readable.pst");
    char *hidden_backup = join(dest, "Outlook Files\\Hidden.pst");
    assert_content(readable_backup, "!BDN readable", 13);
    assert_false(ts_exists(hidden_backup));
    /* Giving the backup to the user (owner = their SID) needs
     * SeRestorePrivilege for another account; whether Wine grants it or
     * not, the backup itself never fails over it: at worst a warning. */
    if (s != PS_OK)
        fail_msg("the run failed: %s", err.msg);
    const th_event *not_given = th_find(&g_host, PS_EV_DESTINATION_ERROR);
    if (not_given)
        assert_int_equal(not_given->level, PS_WARNING);
    free(readable_backup);
    free(hidden_backup);
    free(readable);
    free(hidden);
    free(src);
    free(dest);
    free(st_dir);
    free(dir);
}

static void test_long_paths_and_unusual_names_copy_correctly(void **state)
{
    (void)state;
    char *dir = win_dir("win_names");
    /* Deeper than MAX_PATH, through folders whose names end in a dot or a
     * space (Win32 would strip those without "\\?\"). */
    char *src = join(dir, "Outlook Files");
    char *deep = strdup(src);
    static const char *const parts[] = {"Archive. ", "\xc3\x9cnicode \xe2\x82\xac folder",
                                        "0123456789012345678901234567890123456789012345678901234567890123456789",
                                        "0123456789012345678901234567890123456789012345678901234567890123456789",
                                        "0123456789012345678901234567890123456789012345678901234567890123456789",
                                        "0123456789012345678901234567890123456789012345678901234567890123456789"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        char *next = join(deep, parts[i]);
        free(deep);
        deep = next;
    }
    mkdirs(deep);
    char *long_pst = join(deep, "\xc3\x84rchiv 2019.pst");
    char *dot_pst = join(src, "Mail.pst.");
    char *space_pst = join(src, "Mail.pst ");
    assert_true(strlen(long_pst) > 300);
    write_pf(long_pst, "!BDN long", 9);
    write_pf(dot_pst, "!BDN dot", 8);
    write_pf(space_pst, "!BDN space", 10);
    char *dest = join(dir, "Backup"), *st_dir = join(dir, "state");
    char *sources[] = {src};
    ps_err err;
    ps_status s = run_pipeline("{\"destination\": \"x\", \"minInterval\": \"0\", "
                               "\"outlookProfiles\": false, \"include\": [\"*.pst\", \"*.pst.\", "
                               "\"*.pst \"]}",
                               dest, sources, 1, st_dir, &err);
    if (s != PS_OK) {
        for (size_t i = 0; i < g_host.count; i++)
            print_message("  event %u: %s\n", g_host.events[i].id, g_host.events[i].message);
        fail_msg("%s", err.msg);
    }
    char *out = join(dest, "Outlook Files");
    char *rel_long = strdup(long_pst + strlen(src) + 1);
    char *b_long = join(out, rel_long), *b_dot = join(out, "Mail.pst."),
         *b_space = join(out, "Mail.pst ");
    assert_content(b_long, "!BDN long", 9);
    assert_content(b_dot, "!BDN dot", 8);
    assert_content(b_space, "!BDN space", 10);
    /* Three files, three backups: no two names folded into one. */
    assert_int_equal(th_count(&g_host, PS_EV_FILE_BACKED_UP), 3);
    free(rel_long);
    free(b_long);
    free(b_dot);
    free(b_space);
    free(out);
    free(long_pst);
    free(dot_pst);
    free(space_pst);
    free(deep);
    free(src);
    free(dest);
    free(st_dir);
    free(dir);
}

/* A junction made with FSCTL_SET_REPARSE_POINT; 0 when this system has no
 * reparse points (Wine 8). */
static int make_junction(const char *link, const char *target)
{
    wchar_t *wl = wide(link);
    CreateDirectoryW(wl, NULL);
    HANDLE h = CreateFileW(wl, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                           FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
    free(wl);
    if (h == INVALID_HANDLE_VALUE)
        return 0;
    wchar_t sub[1024];
    wchar_t *wt = wide(target);
    _snwprintf(sub, 1024, L"\\??\\%ls", wt);
    sub[1023] = 0;
    free(wt);
    size_t sl = wcslen(sub) * sizeof(wchar_t);
    BYTE buf[4096];
    memset(buf, 0, sizeof buf);
    /* REPARSE_DATA_BUFFER for a mount point: tag, length, reserved, then
     * substitute and print name offsets/lengths and the names. */
    DWORD *tag = (DWORD *)buf;
    WORD *w = (WORD *)(buf + 4);
    *tag = IO_REPARSE_TAG_MOUNT_POINT;
    w[2] = 0;               /* substitute offset */
    w[3] = (WORD)sl;        /* substitute length */
    w[4] = (WORD)(sl + 2);  /* print name offset */
    w[5] = 0;               /* print name length */
    memcpy(buf + 16, sub, sl);
    w[0] = (WORD)(8 + sl + 4); /* data length */
    DWORD got = 0;
    BOOL ok = DeviceIoControl(h, FSCTL_SET_REPARSE_POINT, buf, 8 + w[0], NULL, 0, &got, NULL);
    CloseHandle(h);
    return ok;
}

static void test_junction_in_a_source_is_not_followed(void **state)
{
    (void)state;
    char *dir = win_dir("win_junction");
    char *src = join(dir, "Outlook"), *elsewhere = join(dir, "Elsewhere");
    mkdirs(src);
    mkdirs(elsewhere);
    char *secret = join(elsewhere, "Secret.pst");
    write_pf(secret, "!BDN", 4);
    char *link = join(src, "Archive");
    if (!make_junction(link, elsewhere)) {
        print_message("this system cannot make junctions (Wine 8 has no reparse points)\n");
        skip();
    }
    pf_stat st;
    assert_int_equal(pf_lstat(link, &st, NULL), PS_OK);
    assert_int_equal(st.kind, PF_KIND_LINK);
    char *dest = join(dir, "Backup"), *st_dir = join(dir, "state");
    char *sources[] = {src};
    ps_err err;
    run_pipeline("{\"destination\": \"x\", \"minInterval\": \"0\", \"outlookProfiles\": false}",
                 dest, sources, 1, st_dir, &err);
    assert_null(th_find(&g_host, PS_EV_FILE_BACKED_UP));
    event_naming(PS_EV_FILE_SKIPPED, "Archive");
    free(dest);
    free(st_dir);
    free(link);
    free(secret);
    free(src);
    free(elsewhere);
    free(dir);
}

static void test_give_to_user_never_changes_a_links_target(void **state)
{
    (void)state;
    char *dir = win_dir("win_give");
    char *file = join(dir, "Mail.pst"), *twin = join(dir, "Twin.pst"), *target = join(dir, "t"),
         *junction = join(dir, "j");
    write_pf(file, "!BDN", 4);
    ps_err err;
    wchar_t *me = my_sid();
    char me8[256];
    WideCharToMultiByte(CP_UTF8, 0, me, -1, me8, sizeof me8, NULL, NULL);
    LocalFree(me);
    /* Our own file, given to the user running the test: allowed. */
    assert_int_equal(pf_give_to_user(file, -1, -1, me8, &err), PS_OK);
    /* Not acting for anyone: nothing to do. */
    assert_int_equal(pf_give_to_user(file, -1, -1, NULL, &err), PS_OK);
    /* A second hard link: someone else's file could be behind it. */
    wchar_t *wf = wide(file), *wt = wide(twin);
    assert_true(CreateHardLinkW(wt, wf, NULL));
    assert_int_equal(pf_give_to_user(file, -1, -1, me8, &err), PS_ERR_UNSAFE);
    free(wf);
    free(wt);
    /* A junction is refused as itself, its target untouched. */
    mkdirs(target);
    if (make_junction(junction, target)) {
        assert_int_equal(pf_give_to_user(junction, -1, -1, me8, &err), PS_ERR_UNSAFE);
        assert_non_null(strstr(err.msg, "not a folder or a file of our own"));
    } else {
        print_message("this system cannot make junctions: the junction case is not shown\n");
    }
    free(file);
    free(twin);
    free(target);
    free(junction);
    free(dir);
}

static void test_replace_keeps_the_previous_backup_when_it_cannot_happen(void **state)
{
    (void)state;
    char *dir = win_dir("win_replace");
    char *final = join(dir, "Mail.pst"), *staging = join(dir, "Mail.pst.pstsnap.partial");
    write_pf(final, "previous backup", 15);
    write_pf(staging, "new backup", 10);
    /* A sync client or Outlook holding the backup without sharing. */
    PROCESS_INFORMATION holder = hold_exclusively(final);
    ps_err err;
    ps_status s = pf_rename_replace(staging, final, &err);
    release_holder(&holder);
    assert_int_not_equal(s, PS_OK);
    assert_non_null(strstr(err.msg, "Mail.pst"));
    assert_content(final, "previous backup", 15);
    assert_content(staging, "new backup", 10);
    /* Once released, the same replace goes through in one step. */
    assert_int_equal(pf_rename_replace(staging, final, &err), PS_OK);
    assert_content(final, "new backup", 10);
    assert_false(ts_exists(staging));
    free(final);
    free(staging);
    free(dir);
}

/* reg.exe (Wine's too) with these arguments; its exit code. */
static DWORD reg(const wchar_t *args)
{
    wchar_t cmd[2048];
    _snwprintf(cmd, 2048, L"reg.exe %ls", args);
    cmd[2047] = 0;
    STARTUPINFOW si = {.cb = sizeof si};
    PROCESS_INFORMATION pi;
    if (!CreateProcessW(NULL, cmd, NULL, NULL, FALSE, CREATE_NO_WINDOW, NULL, NULL, &si, &pi))
        fail_msg("cannot run reg.exe: error %lu", GetLastError());
    WaitForSingleObject(pi.hProcess, 60000);
    DWORD code = 1;
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hProcess);
    CloseHandle(pi.hThread);
    return code;
}

/* `text` as the hex digits of its UTF-16LE bytes plus a NUL (001f6700). */
static void utf16_hex(const char *text, wchar_t *out, size_t len)
{
    wchar_t *w = wide(text);
    size_t o = 0;
    for (size_t i = 0; i <= wcslen(w) && o + 5 < len; i++)
        o += (size_t)_snwprintf(out + o, len - o, L"%02X%02X", w[i] & 0xFF, (w[i] >> 8) & 0xFF);
    out[o] = 0;
    free(w);
}

static void ascii_hex(const char *text, wchar_t *out, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i <= strlen(text) && o + 3 < len; i++)
        o += (size_t)_snwprintf(out + o, len - o, L"%02X", (unsigned char)text[i]);
    out[o] = 0;
}

#define PROFILE_16 L"HKCU\\Software\\Microsoft\\Office\\16.0\\Outlook\\Profiles\\pstsnap-test"
#define PROFILE_15 L"HKCU\\Software\\Microsoft\\Office\\15.0\\Outlook\\Profiles\\pstsnap-test"

static int listed(const pf_path_list *l, const char *path)
{
    for (size_t i = 0; i < l->count; i++)
        if (_stricmp(l->paths[i], path) == 0)
            return 1;
    return 0;
}

static void test_outlook_profiles_in_the_registry_add_their_psts(void **state)
{
    (void)state;
    char *dir = win_dir("win_profiles");
    char *archives = join(dir, "D-drive\\\xc3\x84rchive");
    mkdirs(archives);
    char *unicode_pst = join(archives, "Archive \xe2\x82\xac 2019.pst");
    /* ANSI Outlook wrote the system code page: keep that path ASCII. */
    char *ascii_dir = join(dir, "D-drive\\Old");
    mkdirs(ascii_dir);
    char *ansi_pst = join(ascii_dir, "Old.pst");
    char *ost = join(archives, "cache.ost");
    write_pf(unicode_pst, "!BDN unicode", 12);
    write_pf(ansi_pst, "!BDN ansi", 9);
    write_pf(ost, "!BDN ost", 8);
    wchar_t hex[4096], args[8192];
    reg(L"delete " PROFILE_16 L" /f");
    reg(L"delete " PROFILE_15 L" /f");
    utf16_hex(unicode_pst, hex, 4096);
    _snwprintf(args, 8192, L"add " PROFILE_16 L"\\0a0d020000000000c000000000000046 /v 001f6700 /t REG_BINARY /d %ls /f", hex);
    assert_int_equal(reg(args), 0);
    utf16_hex(ost, hex, 4096);
    _snwprintf(args, 8192, L"add " PROFILE_16 L"\\1b2c3d4e5f60718293a4b5c6d7e8f901 /v 001f6700 /t REG_BINARY /d %ls /f", hex);
    assert_int_equal(reg(args), 0);
    ascii_hex(ansi_pst, hex, 4096);
    _snwprintf(args, 8192, L"add " PROFILE_15 L"\\fedcba9876543210fedcba9876543210 /v 001e6700 /t REG_BINARY /d %ls /f", hex);
    assert_int_equal(reg(args), 0);

    pf_path_list l;
    ps_err err;
    assert_int_equal(pf_outlook_profile_psts(NULL, &l, &err), PS_OK);
    assert_true(listed(&l, unicode_pst));
    assert_true(listed(&l, ansi_pst));
    assert_false(listed(&l, ost)); /* an OST is a cache, never a PST */
    pf_path_list_free(&l);

    /* Elevated for a user: the same profiles through HKEY_USERS\<SID>. */
    HANDLE token;
    BYTE buf[256];
    DWORD n = 0;
    char *sid = NULL;
    if (OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token) &&
        GetTokenInformation(token, TokenUser, buf, sizeof buf, &n))
        ConvertSidToStringSidA(((TOKEN_USER *)buf)->User.Sid, &sid);
    if (sid) {
        ps_status s = pf_outlook_profile_psts(sid, &l, &err);
        if (s == PS_OK) {
            assert_true(listed(&l, unicode_pst));
            pf_path_list_free(&l);
        } else {
            assert_int_equal(s, PS_ERR_NOTFOUND); /* the hive is not under HKEY_USERS */
            assert_non_null(strstr(err.msg, sid));
        }
        LocalFree(sid);
    }
    assert_int_equal(pf_outlook_profile_psts("S-1-5-21-0-0-0-424242", &l, &err), PS_ERR_NOTFOUND);
    assert_int_equal(pf_outlook_profile_psts("HKLM\\..", &l, &err), PS_ERR_INVALID);

    /* End to end: no source folder, the profiles alone. */
    char *dest = join(dir, "Backup"), *st_dir = join(dir, "state");
    ps_status s = run_pipeline("{\"destination\": \"x\", \"minInterval\": \"0\"}", dest, NULL, 0,
                               st_dir, &err);
    if (s != PS_OK) {
        for (size_t i = 0; i < g_host.count; i++)
            print_message("  event %u: %s\n", g_host.events[i].id, g_host.events[i].message);
        fail_msg("%s", err.msg);
    }
    assert_int_equal(th_count(&g_host, PS_EV_FILE_BACKED_UP), 2);
    const th_event *ev = event_naming(PS_EV_FILE_BACKED_UP, "Old.pst");
    assert_non_null(strstr(ev->message, "Outlook Profiles"));

    reg(L"delete " PROFILE_16 L" /f");
    reg(L"delete " PROFILE_15 L" /f");
    free(dest);
    free(st_dir);
    free(unicode_pst);
    free(ansi_pst);
    free(ascii_dir);
    free(ost);
    free(archives);
    free(dir);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--hold") == 0)
        return hold_main(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_held_exclusively_is_locked_not_an_io_error),
        cmocka_unit_test(test_auto_falls_back_from_vss_and_reports_the_locked_pst),
        cmocka_unit_test(test_explicit_vss_without_vss_fails_clearly),
        cmocka_unit_test(test_user_can_read_follows_the_dacl_for_that_users_sid),
        cmocka_unit_test(test_elevated_run_backs_up_only_what_the_user_can_read),
        cmocka_unit_test(test_give_to_user_never_changes_a_links_target),
        cmocka_unit_test(test_long_paths_and_unusual_names_copy_correctly),
        cmocka_unit_test(test_junction_in_a_source_is_not_followed),
        cmocka_unit_test(test_replace_keeps_the_previous_backup_when_it_cannot_happen),
        cmocka_unit_test(test_outlook_profiles_in_the_registry_add_their_psts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
