/*
 * test_pf_fs_win32.c - pf_write_file_atomic on Windows (here: Wine) sweeps
 * the "<path>.<pid>.tmp" files of writers that are gone, as on POSIX: a run
 * killed between writing its temporary file and renaming it leaves one
 * behind, which nothing else would remove. A live writer's file, another
 * path's, and anything that is not a plain file stay.
 *
 * The writers are this program started again: with --exit it ends at once
 * (its pid, once waited for and its handles closed, names no process), with
 * --sleep it stays alive until the test ends it.
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

#include "platform.h"
#include "test_support.h"

static PROCESS_INFORMATION start_self(const wchar_t *arg)
{
    wchar_t exe[MAX_PATH + 1];
    GetModuleFileNameW(NULL, exe, MAX_PATH + 1);
    wchar_t cmd[2 * MAX_PATH];
    _snwprintf(cmd, 2 * MAX_PATH, L"\"%ls\" %ls", exe, arg);
    cmd[2 * MAX_PATH - 1] = 0;
    STARTUPINFOW si = {.cb = sizeof si};
    PROCESS_INFORMATION pi;
    if (!CreateProcessW(exe, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi))
        fail_msg("cannot start '%ls %ls': error %lu", exe, arg, GetLastError());
    return pi;
}

/* The pid of a process that has ended and that nothing holds any more:
 * OpenProcess fails with ERROR_INVALID_PARAMETER. (Wine keeps an ended
 * process openable for about half a second after its last handle closes.) */
static DWORD dead_pid(void)
{
    PROCESS_INFORMATION pi = start_self(L"--exit");
    WaitForSingleObject(pi.hProcess, 30000);
    DWORD pid = pi.dwProcessId;
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    for (int i = 0; i < 100; i++) {
        HANDLE p = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
        if (!p) {
            assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
            return pid;
        }
        CloseHandle(p);
        Sleep(50);
    }
    fail_msg("pid %lu still opens a process 5 s after it ended", (unsigned long)pid);
    return 0;
}

static wchar_t *wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    wchar_t *w = malloc((size_t)n * sizeof *w);
    assert_non_null(w);
    MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
    return w;
}

/* A file symbolic link at `link` to `target`, when this system makes real
 * ones (a reparse point); 0 otherwise, with nothing left at `link`. */
static int make_file_link(const char *link, const char *target)
{
    wchar_t *wl = wide(link), *wt = wide(target);
    int ok = CreateSymbolicLinkW(wl, wt, SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE) &&
             GetFileAttributesW(wl) != INVALID_FILE_ATTRIBUTES &&
             (GetFileAttributesW(wl) & FILE_ATTRIBUTE_REPARSE_POINT);
    if (!ok)
        DeleteFileW(wl);
    free(wl);
    free(wt);
    return ok;
}

static char *temp_name(const char *dir, const char *base, unsigned long pid)
{
    char name[256];
    snprintf(name, sizeof name, "%s.%lu.tmp", base, pid);
    return ts_path(dir, name);
}

static void test_atomic_write_removes_dead_writers_temps_and_keeps_live_ones(void **state)
{
    (void)state;
    char *dir = ts_temp_dir("pf_fs_win32_sweep");
    char *path = ts_path(dir, "manifest.json");
    DWORD dead = dead_pid();
    /* Ended, but still held (here by this test): it opens, and its exit
     * code says it is over. */
    PROCESS_INFORMATION ended = start_self(L"--exit");
    WaitForSingleObject(ended.hProcess, 30000);
    PROCESS_INFORMATION live = start_self(L"--sleep");
    /* Far above any pid Windows or Wine hands out (they are multiples of
     * 4, and small). */
    DWORD never = 4000000000u;

    char *dead_tmp = temp_name(dir, "manifest.json", dead);
    char *ended_tmp = temp_name(dir, "manifest.json", ended.dwProcessId);
    char *live_tmp = temp_name(dir, "manifest.json", live.dwProcessId);
    char *never_tmp = temp_name(dir, "manifest.json", never);
    char *other_tmp = temp_name(dir, "journal.json", dead);     /* another path's */
    char *dir_tmp = temp_name(dir, "manifest.json", never + 4); /* a folder, not a file */
    char *odd_tmp = ts_path(dir, "manifest.json.12x.tmp");      /* not a pid */
    ts_write_file(dead_tmp, "killed run", 10);
    ts_write_file(ended_tmp, "ended run", 9);
    ts_write_file(live_tmp, "running run", 11);
    ts_write_file(never_tmp, "long gone", 9);
    ts_write_file(other_tmp, "journal", 7);
    ts_write_file(odd_tmp, "odd", 3);
    ps_err err;
    if (pf_mkdirs(dir_tmp, &err) != PS_OK)
        fail_msg("%s", err.msg);
    /* A link of a dead writer's name is left, never followed. */
    char *link_tmp = temp_name(dir, "manifest.json", never + 8);
    char *link_target = ts_path(dir, "kept.pst");
    ts_write_file(link_target, "kept", 4);
    int have_link = make_file_link(link_tmp, link_target);
    if (!have_link)
        print_message("this system makes no symbolic links (Wine 8 has no reparse points): "
                      "the link case is not shown\n");

    ps_status s = pf_write_file_atomic(path, "{\"v\":1}", 7, &err);
    TerminateProcess(live.hProcess, 0);
    WaitForSingleObject(live.hProcess, 10000);
    CloseHandle(live.hThread);
    CloseHandle(live.hProcess);
    CloseHandle(ended.hThread);
    CloseHandle(ended.hProcess);
    if (s != PS_OK)
        fail_msg("%s", err.msg);

    size_t n = 0;
    char *text = ts_read_file(path, &n);
    assert_int_equal(n, 7);
    assert_memory_equal(text, "{\"v\":1}", 7);
    free(text);
    assert_false(ts_exists(dead_tmp));
    assert_false(ts_exists(ended_tmp));
    assert_false(ts_exists(never_tmp));
    assert_true(ts_exists(live_tmp));
    assert_true(ts_exists(other_tmp));
    assert_true(ts_exists(dir_tmp));
    assert_true(ts_exists(odd_tmp));
    assert_true(ts_exists(link_target));
    if (have_link)
        assert_true(ts_exists(link_tmp));
    /* This process's own temporary file became the new text. */
    char *own_tmp = temp_name(dir, "manifest.json", GetCurrentProcessId());
    assert_false(ts_exists(own_tmp));

    free(own_tmp);
    free(dead_tmp);
    free(ended_tmp);
    free(live_tmp);
    free(never_tmp);
    free(other_tmp);
    free(dir_tmp);
    free(odd_tmp);
    free(link_tmp);
    free(link_target);
    free(path);
    ts_remove_tree(dir);
    free(dir);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--exit") == 0)
        return 0;
    if (argc == 2 && strcmp(argv[1], "--sleep") == 0) {
        Sleep(120000); /* ended by the test long before */
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_atomic_write_removes_dead_writers_temps_and_keeps_live_ones),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
