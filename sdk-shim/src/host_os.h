/*
 * host_os.h - the operating-system services the host needs, behind one header
 * (libuv style): sdk-shim/src/posix/host_os_posix.c and
 * sdk-shim/src/win32/host_os_win32.c implement it; nothing else in the host
 * includes an OS header.
 *
 * Ownership: functions returning char * return malloc'd UTF-8 the caller
 * frees; handles are freed by their own *_free / join function.
 */
#ifndef EMH_HOST_OS_H
#define EMH_HOST_OS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* --- process start -------------------------------------------------------- */
/* Call first in main(). On Windows the C runtime's argv is in the ANSI code
 * page, which cannot hold every file name: this replaces *argv by the
 * command line in UTF-8 (kept for the life of the process), makes console
 * output UTF-8 and turns off the error dialogs Windows would show when a
 * plugin fails to load or crashes (a host must never wait on a dialog that
 * nobody sees). Nothing to do on POSIX. 0, or -1 when out of memory. */
int hos_process_init(int *argc, char ***argv);

/* --- threads ------------------------------------------------------------ */
typedef struct hos_thread hos_thread;
typedef struct hos_mutex hos_mutex;
typedef struct hos_cond hos_cond;

/* Start fn(arg) on a new thread. 0 on success. */
int hos_thread_start(hos_thread **out, void (*fn)(void *), void *arg);
/* Wait for the thread to end and free the handle. */
void hos_thread_join(hos_thread *t);

hos_mutex *hos_mutex_new(void);
void hos_mutex_free(hos_mutex *m);
void hos_mutex_lock(hos_mutex *m);
void hos_mutex_unlock(hos_mutex *m);

hos_cond *hos_cond_new(void);
void hos_cond_free(hos_cond *c);
void hos_cond_broadcast(hos_cond *c);
/* Wait with m held until signalled or until the monotonic clock reaches
 * deadline_ms (UINT64_MAX = no deadline). Returns 0 when woken, 1 on
 * timeout. Spurious wake-ups happen: callers re-check their predicate. */
int hos_cond_wait_until(hos_cond *c, hos_mutex *m, uint64_t deadline_ms);

/* Monotonic milliseconds, for timeouts and durations. */
uint64_t hos_now_ms(void);
void hos_sleep_ms(uint32_t ms);
/* UTC wall time as "2026-11-25T10:56:06.123Z" into buf (>= 32 bytes). */
void hos_utc_timestamp(char *buf, size_t len);

/* --- dynamic libraries -------------------------------------------------- */
/* Load a plugin; NULL with the loader's reason in errbuf. */
void *hos_dl_open(const char *path, char *errbuf, size_t errlen);
void *hos_dl_sym(void *lib, const char *name);
void hos_dl_close(void *lib);
/* ".so" or ".dll": lets a policy name a plugin without its suffix. */
const char *hos_plugin_suffix(void);

/* --- identity and environment ------------------------------------------- */
typedef struct hos_user {
    char *name;
    char *domain;
    char *sid;         /* "uid:1000" on POSIX */
    char *profile_dir; /* home */
    int64_t uid, gid;
    int elevated; /* the PROCESS has admin/root rights */
} hos_user;

/* The user running this process. */
int hos_current_user(hos_user *out, char *errbuf, size_t errlen);
/* Another account by name, for "act for the logged-on user" when elevated. */
int hos_lookup_user(const char *name, hos_user *out, char *errbuf, size_t errlen);
void hos_user_free(hos_user *u);
/* The value the user's logon environment gives a well-known variable
 * (USERPROFILE, LOCALAPPDATA, APPDATA, USERNAME, ...) for `u`, or NULL when
 * the platform derives no such variable. Lets an elevated host expand
 * %LOCALAPPDATA% for the logged-on user rather than for itself. malloc'd. */
char *hos_user_env(const hos_user *u, const char *name);

/* The default per-user state root of `u`: ~/.local/state/emhost on POSIX,
 * %LOCALAPPDATA%\emhost of that user on Windows. malloc'd. */
char *hos_user_state_root(const hos_user *u);

/* Environment lookup: exact name first, then case-insensitive (Windows
 * semantics, since policies are written for Windows). Borrowed result. */
const char *hos_getenv(const char *name);
char *hos_hostname(void);
uint32_t hos_session_id(void);

/* --- files --------------------------------------------------------------- */
/* mkdir -p with mode 0700 for new directories. 0 or -1 with errbuf. */
int hos_mkdir_p(const char *path, char *errbuf, size_t errlen);
/* Whole file into a malloc'd NUL-terminated buffer; NULL with errbuf. */
char *hos_read_file(const char *path, size_t *len, char *errbuf, size_t errlen);
/* Directory part of a path ("." when none); malloc'd. */
char *hos_dirname(const char *path);
int hos_is_absolute(const char *path);
int hos_file_exists(const char *path);
/* Replace `path` atomically with `data` (temp file + rename). */
int hos_write_file_atomic(const char *path, const char *data, size_t len, char *errbuf,
                          size_t errlen);
int hos_isatty(FILE *f);
/* fopen with a UTF-8 path (Windows' fopen takes the ANSI code page). */
FILE *hos_fopen(const char *path, const char *mode);
/* The last component of `path`: what follows the last '/' (on Windows also
 * '\\' or a drive's ':'). Borrowed from `path`. */
const char *hos_path_base(const char *path);

/* --- processes (emhost watch) -------------------------------------------- */
typedef struct hos_process {
    int64_t pid;
    uint64_t start_time; /* distinguishes a reused pid */
    char image[256];     /* image name, e.g. "OUTLOOK.EXE" */
} hos_process;
/* Snapshot of running processes; *out malloc'd array. 0 or -1. */
int hos_list_processes(hos_process **out, size_t *count);

/* --- signals -------------------------------------------------------------- */
/* Call fn (from a normal thread, not a signal handler) when the user presses
 * Ctrl+C or the service manager asks the process to stop. */
int hos_on_stop_request(void (*fn)(void *), void *arg);

/* --- system event log ------------------------------------------------------- */
/* Windows: the Application log, one event source per audit source ("emhost",
 * "pstsnap"), as EM's own events go there too. Other platforms have no
 * such log (journald already gets the JSON lines from stderr): open returns
 * NULL and report ignores a NULL log. Never fatal: without rights or an
 * event log service (Wine) the events are simply not mirrored. */
typedef enum hos_event_type {
    HOS_EVENT_INFO,
    HOS_EVENT_WARNING,
    HOS_EVENT_ERROR
} hos_event_type;
typedef struct hos_event_log hos_event_log;
hos_event_log *hos_event_log_open(void);
/* `message` is UTF-8, lines separated by '\n'. Thread-safe. */
void hos_event_log_report(hos_event_log *log, const char *source, uint32_t event_id,
                          hos_event_type type, const char *message);
void hos_event_log_close(hos_event_log *log);

#endif /* EMH_HOST_OS_H */
