/* Win32 implementation of platform.h: renames, links, folders, small files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf_win32.h"

/* Virus scanners and sync clients open a file for a moment right after it
 * was written; a rename that meets them fails with a sharing violation or
 * "access denied". A few short retries ride that out; a real lock (the
 * backup opened in Outlook) still fails after them. */
#define RENAME_TRIES 10
#define RENAME_PAUSE_MS 100

ps_status pf_sync_dir(const char *path, ps_err *err)
{
    /* NTFS journals its metadata and MoveFileExW(WRITE_THROUGH) returns
     * once the rename is on disk: nothing to flush per folder. */
    (void)path;
    (void)err;
    return PS_OK;
}

ps_status pf_rename_replace(const char *from, const char *to, ps_err *err)
{
    wchar_t *wf, *wt = NULL;
    ps_status s = pfw_path_err(from, &wf, err);
    if (s == PS_OK)
        s = pfw_path_err(to, &wt, err);
    DWORD e = 0;
    for (int i = 0; s == PS_OK && i < RENAME_TRIES; i++) {
        /* REPLACE_EXISTING swaps the name over in one step (the old backup
         * is never missing); WRITE_THROUGH returns only once it is durable. */
        if (MoveFileExW(wf, wt, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
            e = 0;
            break;
        }
        e = GetLastError();
        if (e != ERROR_SHARING_VIOLATION && e != ERROR_ACCESS_DENIED && e != ERROR_LOCK_VIOLATION)
            break;
        Sleep(RENAME_PAUSE_MS);
    }
    free(wf);
    free(wt);
    if (s == PS_OK && e)
        s = pfw_err(err, e, "cannot rename into place", to);
    return s;
}

ps_status pf_link(const char *existing, const char *new_path, ps_err *err)
{
    wchar_t *we, *wn = NULL;
    ps_status s = pfw_path_err(existing, &we, err);
    if (s == PS_OK)
        s = pfw_path_err(new_path, &wn, err);
    if (s == PS_OK && !CreateHardLinkW(wn, we, NULL)) {
        DWORD e = GetLastError();
        /* FAT/exFAT and many network shares have no hard links. */
        if (e == ERROR_NOT_SUPPORTED || e == ERROR_INVALID_FUNCTION || e == ERROR_NOT_SAME_DEVICE) {
            char why[256];
            pfw_message(e, why, sizeof why);
            s = ps_err_set(err, PS_ERR_UNSUPPORTED, "cannot link '%s': %s", new_path, why);
        } else {
            s = pfw_err(err, e, "cannot link", new_path);
        }
    }
    free(we);
    free(wn);
    return s;
}

ps_status pf_unlink(const char *path, ps_err *err)
{
    wchar_t *w;
    ps_status s = pfw_path_err(path, &w, err);
    if (s != PS_OK)
        return s;
    if (!DeleteFileW(w)) {
        DWORD e = GetLastError();
        if (e != ERROR_FILE_NOT_FOUND && e != ERROR_PATH_NOT_FOUND)
            s = pfw_err(err, e, "cannot remove", path);
    }
    free(w);
    return s;
}

ps_status pf_mkdirs(const char *path, ps_err *err)
{
    char *p = _strdup(path);
    if (!p)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    /* Start after the root (C:\ or \\server\share\): it exists or the
     * path is no good anyway. */
    size_t root = pfw_root_len(p);
    if (root == 0)
        root = 1;
    ps_status st = PS_OK;
    for (size_t i = root; st == PS_OK; i++) {
        char c = p[i];
        if (c != '\\' && c != '/' && c != '\0')
            continue;
        p[i] = '\0';
        wchar_t *w = pfw_path(p);
        if (!w) {
            st = ps_err_set(err, PS_ERR_INVALID, "cannot use the path '%s': not valid UTF-8", p);
        } else if (!CreateDirectoryW(w, NULL)) {
            DWORD e = GetLastError();
            /* ACCESS_DENIED on an existing folder we may not create in
             * (a drive root) is fine as long as the folder is there. */
            if (e != ERROR_ALREADY_EXISTS &&
                !(e == ERROR_ACCESS_DENIED && GetFileAttributesW(w) != INVALID_FILE_ATTRIBUTES))
                st = pfw_err(err, e, "cannot create folder", p);
        }
        free(w);
        p[i] = c;
        if (c == '\0')
            break;
    }
    if (st == PS_OK) {
        pf_stat s;
        st = pf_lstat(path, &s, err);
        if (st == PS_OK && s.kind != PF_KIND_DIR)
            st = ps_err_set(err, PS_ERR_UNSAFE, "'%s' is not a folder (a link, junction or a file)",
                            path);
    }
    free(p);
    return st;
}

/* Whether process `pid` is gone for certain. OpenProcess fails with
 * ERROR_INVALID_PARAMETER for a pid no process has; ERROR_ACCESS_DENIED is
 * a live process of someone else (another user's run, a service). A process
 * that exited while something still holds a handle to it opens, and its
 * exit code says it is over. Anything else counts as alive: a temporary
 * file left one run longer costs nothing, one removed under a live writer
 * fails its rename. (A reused pid looks alive too: its file goes when that
 * process has ended, as on POSIX.) */
static int process_gone(DWORD pid)
{
    HANDLE p = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
    if (!p)
        return GetLastError() == ERROR_INVALID_PARAMETER;
    DWORD code = STILL_ACTIVE;
    int gone = GetExitCodeProcess(p, &code) && code != STILL_ACTIVE;
    CloseHandle(p);
    return gone;
}

/* The writer's pid in `name` when it is "<base>.<digits>.tmp", else 0
 * (pid 0 is the idle process, never a writer). */
static DWORD temp_writer(const char *name, const char *base, size_t base_len)
{
    const char *p = name + base_len;
    if (strncmp(name, base, base_len) != 0 || *p != '.' || !(p[1] >= '0' && p[1] <= '9'))
        return 0;
    char *end = NULL;
    unsigned long long pid = strtoull(p + 1, &end, 10);
    if (!end || strcmp(end, ".tmp") != 0 || pid > 0xffffffffull)
        return 0;
    return (DWORD)pid;
}

/* A run killed between writing "<path>.<pid>.tmp" and renaming it left
 * that file behind, and nothing else would ever remove it: remove the
 * temporary files of `path` whose writer is gone (a live pid may be a run
 * writing right now; this process's own is about to be rewritten). Only
 * plain files: a link or junction of that name is left alone, never
 * followed. Names are compared exactly, as the writer spelled them.
 * Best effort: whatever cannot be listed or removed stays for next time. */
static void remove_stale_temps(const char *path)
{
    char *dir = pf_dirname(path);
    const char *base = pf_basename(path);
    size_t base_len = strlen(base);
    DWORD self = GetCurrentProcessId();
    pf_dir *d = NULL;
    if (!dir || pf_dir_open(dir, &d, NULL) != PS_OK) {
        free(dir);
        return;
    }
    const char *name;
    pf_kind kind;
    while (pf_dir_next(d, &name, &kind, NULL) == PS_OK && name) {
        DWORD pid = kind == PF_KIND_FILE ? temp_writer(name, base, base_len) : 0;
        if (pid == 0 || pid == self || !process_gone(pid))
            continue;
        char *stale = pf_path_join(dir, name);
        if (stale)
            pf_unlink(stale, NULL);
        free(stale);
    }
    pf_dir_close(d);
    free(dir);
}

char *pf_atomic_temp_path(const char *path)
{
    remove_stale_temps(path);
    char *tmp = malloc(strlen(path) + 32);
    if (tmp)
        sprintf(tmp, "%s.%lu.tmp", path, (unsigned long)GetCurrentProcessId());
    return tmp;
}

