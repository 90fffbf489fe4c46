/*
 * Win32 implementation of host_os.h: process start, threads, clock,
 * plugins, files, processes and stop requests. Identity and the per-user
 * environment are in identity.c, the Application log in event_log.c.
 *
 * Strings are UTF-8 on the host side and UTF-16 at every W call (utf8.h);
 * absolute paths go through hos_path_to_utf16 and so get \\?\.
 */
#include "host_os.h"

#include <io.h>
#include <process.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>
#include <shellapi.h>
#include <tlhelp32.h>

#include "utf8.h"

/* --- process start ---------------------------------------------------------- */
static UINT saved_output_cp;

static void restore_console_cp(void)
{
    if (saved_output_cp)
        SetConsoleOutputCP(saved_output_cp);
}

int hos_process_init(int *argc, char ***argv)
{
    /* No "cannot load DLL" or "program stopped working" dialogs: the EM
     * agent and ctest run us with nobody to click them away. */
    SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX | SEM_NOOPENFILEERRORBOX);
    /* The console's code page belongs to the console, not to us: put it back. */
    saved_output_cp = GetConsoleOutputCP();
    if (saved_output_cp && SetConsoleOutputCP(CP_UTF8))
        atexit(restore_console_cp);

    int n = 0;
    wchar_t **wargv = CommandLineToArgvW(GetCommandLineW(), &n);
    if (!wargv)
        return -1;
    char **args = calloc((size_t)n + 1, sizeof *args);
    for (int i = 0; args && i < n; i++) {
        if (!(args[i] = hos_utf16_to_utf8(wargv[i], (size_t)-1))) {
            for (int j = 0; j < i; j++)
                free(args[j]);
            free(args);
            args = NULL;
        }
    }
    LocalFree(wargv);
    if (!args)
        return -1;
    *argc = n;
    *argv = args; /* lives as long as the process, like the C runtime's argv */
    return 0;
}

/* --- threads ------------------------------------------------------------ */
struct hos_thread {
    HANDLE handle;
    void (*fn)(void *);
    void *arg;
};
struct hos_mutex {
    SRWLOCK lock;
};
struct hos_cond {
    CONDITION_VARIABLE cond;
};

static unsigned __stdcall thread_trampoline(void *p)
{
    hos_thread *t = p;
    t->fn(t->arg);
    return 0;
}

int hos_thread_start(hos_thread **out, void (*fn)(void *), void *arg)
{
    hos_thread *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    t->fn = fn;
    t->arg = arg;
    /* _beginthreadex, not CreateThread: the thread uses the C runtime. */
    uintptr_t h = _beginthreadex(NULL, 0, thread_trampoline, t, 0, NULL);
    if (h == 0) {
        free(t);
        return -1;
    }
    t->handle = (HANDLE)h;
    *out = t;
    return 0;
}

void hos_thread_join(hos_thread *t)
{
    if (!t)
        return;
    WaitForSingleObject(t->handle, INFINITE);
    CloseHandle(t->handle);
    free(t);
}

hos_mutex *hos_mutex_new(void)
{
    hos_mutex *m = calloc(1, sizeof *m);
    if (m)
        InitializeSRWLock(&m->lock);
    return m;
}
void hos_mutex_free(hos_mutex *m) { free(m); } /* an SRW lock holds no resources */
void hos_mutex_lock(hos_mutex *m) { AcquireSRWLockExclusive(&m->lock); }
void hos_mutex_unlock(hos_mutex *m) { ReleaseSRWLockExclusive(&m->lock); }

hos_cond *hos_cond_new(void)
{
    hos_cond *c = calloc(1, sizeof *c);
    if (c)
        InitializeConditionVariable(&c->cond);
    return c;
}
void hos_cond_free(hos_cond *c) { free(c); }
void hos_cond_broadcast(hos_cond *c) { WakeAllConditionVariable(&c->cond); }

int hos_cond_wait_until(hos_cond *c, hos_mutex *m, uint64_t deadline_ms)
{
    DWORD wait = INFINITE;
    if (deadline_ms != UINT64_MAX) {
        uint64_t now = hos_now_ms();
        if (now >= deadline_ms)
            return 1;
        /* The wait takes a relative time: computed from the same monotonic
         * clock, so a wall-clock change does not move the deadline. */
        uint64_t left = deadline_ms - now;
        wait = left >= INFINITE ? INFINITE - 1 : (DWORD)left;
    }
    if (SleepConditionVariableSRW(&c->cond, &m->lock, wait, 0))
        return 0;
    return GetLastError() == ERROR_TIMEOUT ? 1 : 0;
}

uint64_t hos_now_ms(void)
{
    /* QueryPerformanceCounter: monotonic and sub-millisecond, where
     * GetTickCount64 moves in 15.6 ms steps (durations in audit events). */
    static LARGE_INTEGER freq;
    if (freq.QuadPart == 0)
        QueryPerformanceFrequency(&freq);
    LARGE_INTEGER now;
    QueryPerformanceCounter(&now);
    uint64_t ticks = (uint64_t)now.QuadPart, f = (uint64_t)freq.QuadPart;
    return ticks / f * 1000u + ticks % f * 1000u / f;
}

void hos_sleep_ms(uint32_t ms) { Sleep(ms); }

void hos_utc_timestamp(char *buf, size_t len)
{
    FILETIME ft;
    GetSystemTimePreciseAsFileTime(&ft);
    SYSTEMTIME st;
    FileTimeToSystemTime(&ft, &st);
    snprintf(buf, len, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ", st.wYear, st.wMonth, st.wDay,
             st.wHour, st.wMinute, st.wSecond, st.wMilliseconds);
}

/* --- dynamic libraries -------------------------------------------------- */
void *hos_dl_open(const char *path, char *errbuf, size_t errlen)
{
    wchar_t *wpath = hos_path_to_utf16(path);
    if (!wpath) {
        snprintf(errbuf, errlen, "the path is not valid UTF-8");
        return NULL;
    }
    /* The plugin's own folder and the system folders: never the current
     * directory or PATH, where anyone may have dropped a DLL of that name.
     * Those flags need an absolute path; a relative one is searched the
     * classic way. */
    DWORD flags = hos_is_absolute(path)
                      ? LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR | LOAD_LIBRARY_SEARCH_DEFAULT_DIRS
                      : 0;
    HMODULE lib = LoadLibraryExW(wpath, NULL, flags);
    DWORD err = GetLastError();
    free(wpath);
    if (!lib)
        hos_win_error_text(err, errbuf, errlen);
    return lib;
}

void *hos_dl_sym(void *lib, const char *name)
{
    FARPROC f = GetProcAddress((HMODULE)lib, name);
    /* Function to object pointer: the same size on Windows; memcpy states
     * the conversion without a cast the compiler would question. */
    void *sym;
    memcpy(&sym, &f, sizeof sym);
    return sym;
}

void hos_dl_close(void *lib)
{
    if (lib)
        FreeLibrary((HMODULE)lib);
}

const char *hos_plugin_suffix(void) { return ".dll"; }

/* --- files ----------------------------------------------------------------- */
FILE *hos_fopen(const char *path, const char *mode)
{
    wchar_t *wpath = hos_path_to_utf16(path), *wmode = hos_utf8_to_utf16(mode);
    FILE *f = wpath && wmode ? _wfopen(wpath, wmode) : NULL;
    free(wpath);
    free(wmode);
    return f;
}

static int is_sep(char c) { return c == '/' || c == '\\'; }

const char *hos_path_base(const char *path)
{
    const char *base = path;
    for (const char *p = path; *p; p++)
        if (is_sep(*p) || *p == ':')
            base = p + 1;
    return base;
}

int hos_is_absolute(const char *path)
{
    /* "C:\x" and "\\server\share"; "\x" too: rooted on the current drive,
     * it names one file whatever the current directory. */
    if (is_sep(path[0]))
        return 1;
    return ((path[0] >= 'A' && path[0] <= 'Z') || (path[0] >= 'a' && path[0] <= 'z')) &&
           path[1] == ':' && is_sep(path[2]);
}

char *hos_dirname(const char *path)
{
    const char *base = hos_path_base(path);
    size_t n = (size_t)(base - path);
    if (n == 0)
        return _strdup(".");
    /* Keep the separator that makes a root a root: "C:\" and "\" stay. */
    int root = n == 1 || (n == 3 && path[1] == ':') || (n == 2 && path[1] == ':');
    if (!root && is_sep(path[n - 1]))
        n--;
    char *dir = malloc(n + 1);
    if (dir) {
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    return dir;
}

int hos_file_exists(const char *path)
{
    wchar_t *w = hos_path_to_utf16(path);
    int exists = w && GetFileAttributesW(w) != INVALID_FILE_ATTRIBUTES;
    free(w);
    return exists;
}

/* Where the components below the root of a converted path begin. */
static size_t root_length(const wchar_t *w)
{
    if (wcsncmp(w, L"\\\\?\\UNC\\", 8) == 0) {
        /* \\?\UNC\server\share: neither can be created. */
        const wchar_t *p = w + 8;
        for (int seps = 0; *p && seps < 2; p++)
            if (*p == L'\\')
                seps++;
        return (size_t)(p - w);
    }
    if (wcsncmp(w, L"\\\\?\\", 4) == 0)
        return 7; /* \\?\C:\ */
    size_t n = 0;
    while (w[n] == L'\\' || w[n] == L'/')
        n++;
    return n;
}

int hos_mkdir_p(const char *path, char *errbuf, size_t errlen)
{
    wchar_t *w = hos_path_to_utf16(path);
    if (!w) {
        snprintf(errbuf, errlen, "cannot create folder '%s': not valid UTF-8 or out of memory",
                 path);
        return -1;
    }
    /* New folders inherit their parent's ACL, which for the state root (in
     * the user's profile) is the user's own, like POSIX's 0700. */
    size_t len = wcslen(w);
    for (size_t i = root_length(w); i <= len; i++) {
        if (w[i] != L'\\' && w[i] != L'/' && w[i] != L'\0')
            continue;
        if (i == 0 || w[i - 1] == L'\\' || w[i - 1] == L'/')
            continue;
        wchar_t saved = w[i];
        w[i] = L'\0';
        if (!CreateDirectoryW(w, NULL)) {
            DWORD err = GetLastError();
            DWORD attrs = GetFileAttributesW(w);
            if (err != ERROR_ALREADY_EXISTS || attrs == INVALID_FILE_ATTRIBUTES ||
                !(attrs & FILE_ATTRIBUTE_DIRECTORY)) {
                char why[256];
                hos_win_error_text(err == ERROR_ALREADY_EXISTS ? ERROR_DIRECTORY : err, why,
                                   sizeof why);
                char *part = hos_utf16_to_utf8(w, (size_t)-1);
                snprintf(errbuf, errlen, "cannot create folder '%s': %s", part ? part : path,
                         why);
                free(part);
                free(w);
                return -1;
            }
        }
        w[i] = saved;
    }
    free(w);
    return 0;
}

char *hos_read_file(const char *path, size_t *len, char *errbuf, size_t errlen)
{
    wchar_t *w = hos_path_to_utf16(path);
    HANDLE h = w ? CreateFileW(w, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                               NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL)
                 : INVALID_HANDLE_VALUE;
    DWORD err = GetLastError();
    free(w);
    char why[256];
    if (h == INVALID_HANDLE_VALUE) {
        hos_win_error_text(err, why, sizeof why);
        snprintf(errbuf, errlen, "cannot open '%s': %s", path, why);
        return NULL;
    }
    LARGE_INTEGER size;
    if (!GetFileSizeEx(h, &size) || size.QuadPart >= (LONGLONG)(SIZE_MAX / 2)) {
        snprintf(errbuf, errlen, "cannot read '%s': not a regular file", path);
        CloseHandle(h);
        return NULL;
    }
    size_t cap = (size_t)size.QuadPart + 1, used = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (buf && used + 1 >= cap) {
            char *bigger = realloc(buf, cap * 2); /* it grew since GetFileSizeEx */
            if (!bigger)
                free(buf);
            buf = bigger;
            cap *= 2;
        }
        if (!buf) {
            snprintf(errbuf, errlen, "cannot read '%s': out of memory", path);
            CloseHandle(h);
            return NULL;
        }
        size_t want = cap - used - 1;
        DWORD got = 0;
        if (!ReadFile(h, buf + used, want > 0x40000000u ? 0x40000000u : (DWORD)want, &got, NULL)) {
            hos_win_error_text(GetLastError(), why, sizeof why);
            snprintf(errbuf, errlen, "cannot read '%s': %s", path, why);
            free(buf);
            CloseHandle(h);
            return NULL;
        }
        if (got == 0)
            break;
        used += got;
    }
    CloseHandle(h);
    buf[used] = '\0';
    if (len)
        *len = used;
    return buf;
}

int hos_write_file_atomic(const char *path, const char *data, size_t len, char *errbuf,
                          size_t errlen)
{
    size_t n = strlen(path) + 8;
    char *tmp = malloc(n);
    if (!tmp) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    snprintf(tmp, n, "%s.tmp", path);
    wchar_t *wtmp = hos_path_to_utf16(tmp), *wpath = hos_path_to_utf16(path);
    char why[256];
    int rc = -1;
    if (!wtmp || !wpath) {
        snprintf(errbuf, errlen, "cannot replace '%s': not valid UTF-8 or out of memory", path);
        goto out;
    }
    /* A leftover temp file (or a link planted in its place) is removed,
     * then the name is created anew: CREATE_NEW never writes through a link. */
    DeleteFileW(wtmp);
    HANDLE h = CreateFileW(wtmp, GENERIC_WRITE, 0, NULL, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        hos_win_error_text(GetLastError(), why, sizeof why);
        snprintf(errbuf, errlen, "cannot create '%s': %s", tmp, why);
        goto out;
    }
    size_t done = 0;
    while (done < len) {
        DWORD chunk = len - done > 0x40000000u ? 0x40000000u : (DWORD)(len - done), wrote = 0;
        if (!WriteFile(h, data + done, chunk, &wrote, NULL) || wrote == 0) {
            hos_win_error_text(GetLastError(), why, sizeof why);
            snprintf(errbuf, errlen, "cannot write '%s': %s", tmp, why);
            CloseHandle(h);
            DeleteFileW(wtmp);
            goto out;
        }
        done += wrote;
    }
    /* Flushed before the rename, and the rename itself written through: after
     * a power cut the name holds the old content or the new, never neither. */
    BOOL flushed = FlushFileBuffers(h);
    DWORD err = GetLastError();
    CloseHandle(h);
    if (!flushed ||
        !MoveFileExW(wtmp, wpath, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
        hos_win_error_text(flushed ? GetLastError() : err, why, sizeof why);
        snprintf(errbuf, errlen, "cannot replace '%s': %s", path, why);
        DeleteFileW(wtmp);
        goto out;
    }
    rc = 0;
out:
    free(wtmp);
    free(wpath);
    free(tmp);
    return rc;
}

int hos_isatty(FILE *f)
{
    /* A console, not just a character device (_isatty says yes to NUL). */
    HANDLE h = (HANDLE)_get_osfhandle(_fileno(f));
    DWORD mode;
    return h != INVALID_HANDLE_VALUE && GetConsoleMode(h, &mode);
}

/* --- processes -------------------------------------------------------------- */
static uint64_t process_start_time(DWORD pid)
{
    HANDLE p = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
    if (!p)
        return 0; /* another user's, or protected: the pid alone must do */
    FILETIME created, exited, kernel, user;
    uint64_t t = 0;
    if (GetProcessTimes(p, &created, &exited, &kernel, &user))
        t = (uint64_t)created.dwHighDateTime << 32 | created.dwLowDateTime;
    CloseHandle(p);
    return t;
}

int hos_list_processes(hos_process **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
    if (snap == INVALID_HANDLE_VALUE)
        return -1;
    size_t cap = 256, n = 0;
    hos_process *list = malloc(cap * sizeof *list);
    PROCESSENTRY32W pe = {.dwSize = sizeof pe};
    for (BOOL more = list && Process32FirstW(snap, &pe); more; more = Process32NextW(snap, &pe)) {
        if (pe.th32ProcessID == 0)
            continue; /* the idle process has no image */
        hos_process p = {.pid = pe.th32ProcessID,
                         .start_time = process_start_time(pe.th32ProcessID)};
        char *image = hos_utf16_to_utf8(pe.szExeFile, (size_t)-1);
        if (!image)
            continue;
        size_t len = strlen(image);
        if (len > sizeof p.image - 1) {
            len = sizeof p.image - 1;
            while (len > 0 && ((unsigned char)image[len] & 0xC0) == 0x80)
                len--; /* never cut a UTF-8 sequence in two */
        }
        memcpy(p.image, image, len);
        p.image[len] = '\0';
        free(image);
        if (n == cap) {
            hos_process *bigger = realloc(list, 2 * cap * sizeof *list);
            if (!bigger)
                break;
            list = bigger;
            cap *= 2;
        }
        list[n++] = p;
    }
    CloseHandle(snap);
    if (!list)
        return -1;
    *out = list;
    *count = n;
    return 0;
}

/* --- stop requests ------------------------------------------------------------- */
/* Console control events arrive on a thread Windows creates for the
 * handler. The handler only signals; a watcher thread of ours calls the
 * host's callback, once, as ordinary code (the POSIX side does the same with
 * sigwait). For close, logoff and shutdown Windows ends the process as soon
 * as the handler returns (or when its own timeout runs out: 5 s on close,
 * 20 s at logoff): the handler holds on until the callback has let the
 * work checkpoint. */
static struct {
    void (*fn)(void *);
    void *arg;
    HANDLE requested; /* manual reset: set by the first control event */
    HANDLE handled;   /* manual reset: set when fn has returned */
} g_stop;

static BOOL WINAPI console_control(DWORD type)
{
    switch (type) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
        SetEvent(g_stop.requested);
        return TRUE;
    case CTRL_CLOSE_EVENT:
    case CTRL_LOGOFF_EVENT:
    case CTRL_SHUTDOWN_EVENT:
        SetEvent(g_stop.requested);
        WaitForSingleObject(g_stop.handled, INFINITE);
        return TRUE;
    default:
        return FALSE;
    }
}

static void stop_watch_thread(void *unused)
{
    if (WaitForSingleObject(g_stop.requested, INFINITE) == WAIT_OBJECT_0)
        g_stop.fn(g_stop.arg);
    SetEvent(g_stop.handled);
}

int hos_on_stop_request(void (*fn)(void *), void *arg)
{
    g_stop.fn = fn;
    g_stop.arg = arg;
    g_stop.requested = CreateEventW(NULL, TRUE, FALSE, NULL);
    g_stop.handled = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!g_stop.requested || !g_stop.handled)
        return -1;
    hos_thread *t;
    if (hos_thread_start(&t, stop_watch_thread, NULL) != 0) /* runs until exit */
        return -1;
    return SetConsoleCtrlHandler(console_control, TRUE) ? 0 : -1;
}
