/* POSIX (Linux) implementation of host_os.h. */
#include "host_os.h"

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* --- threads ------------------------------------------------------------ */
struct hos_thread {
    pthread_t id;
    void (*fn)(void *);
    void *arg;
};
struct hos_mutex {
    pthread_mutex_t m;
};
struct hos_cond {
    pthread_cond_t c;
};

static void *thread_trampoline(void *p)
{
    hos_thread *t = p;
    t->fn(t->arg);
    return NULL;
}

int hos_thread_start(hos_thread **out, void (*fn)(void *), void *arg)
{
    hos_thread *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    t->fn = fn;
    t->arg = arg;
    if (pthread_create(&t->id, NULL, thread_trampoline, t) != 0) {
        free(t);
        return -1;
    }
    *out = t;
    return 0;
}

void hos_thread_join(hos_thread *t)
{
    if (!t)
        return;
    pthread_join(t->id, NULL);
    free(t);
}

hos_mutex *hos_mutex_new(void)
{
    hos_mutex *m = calloc(1, sizeof *m);
    if (m)
        pthread_mutex_init(&m->m, NULL);
    return m;
}
void hos_mutex_free(hos_mutex *m)
{
    if (m) {
        pthread_mutex_destroy(&m->m);
        free(m);
    }
}
void hos_mutex_lock(hos_mutex *m) { pthread_mutex_lock(&m->m); }
void hos_mutex_unlock(hos_mutex *m) { pthread_mutex_unlock(&m->m); }

hos_cond *hos_cond_new(void)
{
    hos_cond *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    /* Deadlines are monotonic: a wall-clock jump (NTP, resume from
     * hibernate) must not fire or stall a node timeout. */
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->c, &attr);
    pthread_condattr_destroy(&attr);
    return c;
}
void hos_cond_free(hos_cond *c)
{
    if (c) {
        pthread_cond_destroy(&c->c);
        free(c);
    }
}
void hos_cond_broadcast(hos_cond *c) { pthread_cond_broadcast(&c->c); }

int hos_cond_wait_until(hos_cond *c, hos_mutex *m, uint64_t deadline_ms)
{
    if (deadline_ms == UINT64_MAX) {
        pthread_cond_wait(&c->c, &m->m);
        return 0;
    }
    struct timespec ts = {.tv_sec = (time_t)(deadline_ms / 1000),
                          .tv_nsec = (long)(deadline_ms % 1000) * 1000000L};
    return pthread_cond_timedwait(&c->c, &m->m, &ts) == ETIMEDOUT ? 1 : 0;
}

uint64_t hos_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void hos_sleep_ms(uint32_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void hos_utc_timestamp(char *buf, size_t len)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03ldZ", base, ts.tv_nsec / 1000000L);
}

/* --- dynamic libraries -------------------------------------------------- */
void *hos_dl_open(const char *path, char *errbuf, size_t errlen)
{
    /* RTLD_LOCAL keeps one plugin's symbols from satisfying another's. */
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *why = dlerror();
        snprintf(errbuf, errlen, "%s", why ? why : "unknown loader error");
    }
    return lib;
}
void *hos_dl_sym(void *lib, const char *name) { return dlsym(lib, name); }
void hos_dl_close(void *lib)
{
    if (lib)
        dlclose(lib);
}
const char *hos_plugin_suffix(void) { return ".so"; }

/* --- identity ------------------------------------------------------------- */
static int fill_user(const struct passwd *pw, hos_user *out)
{
    char sid[32];
    snprintf(sid, sizeof sid, "uid:%ld", (long)pw->pw_uid);
    out->name = strdup(pw->pw_name);
    out->domain = strdup("");
    out->sid = strdup(sid);
    out->profile_dir = strdup(pw->pw_dir);
    out->uid = pw->pw_uid;
    out->gid = pw->pw_gid;
    out->elevated = geteuid() == 0;
    if (!out->name || !out->domain || !out->sid || !out->profile_dir) {
        hos_user_free(out);
        return -1;
    }
    return 0;
}

int hos_current_user(hos_user *out, char *errbuf, size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct passwd *pw = getpwuid(geteuid());
    if (!pw) {
        snprintf(errbuf, errlen, "cannot look up the account of uid %ld", (long)geteuid());
        return -1;
    }
    if (fill_user(pw, out) != 0) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    /* A HOME the admin set wins over the passwd entry (tests, containers). */
    const char *home = getenv("HOME");
    if (home && *home) {
        free(out->profile_dir);
        out->profile_dir = strdup(home);
    }
    return 0;
}

int hos_lookup_user(const char *name, hos_user *out, char *errbuf, size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct passwd *pw = getpwnam(name);
    if (!pw) {
        snprintf(errbuf, errlen, "no such user account '%s'", name);
        return -1;
    }
    if (fill_user(pw, out) != 0) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    return 0;
}

void hos_user_free(hos_user *u)
{
    free(u->name);
    free(u->domain);
    free(u->sid);
    free(u->profile_dir);
    memset(u, 0, sizeof *u);
}

const char *hos_getenv(const char *name)
{
    const char *v = getenv(name);
    if (v)
        return v;
    size_t n = strlen(name);
    for (char **e = environ; e && *e; e++) {
        if (strncasecmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    }
    return NULL;
}

char *hos_hostname(void)
{
    char buf[256];
    if (gethostname(buf, sizeof buf) != 0)
        return strdup("localhost");
    buf[sizeof buf - 1] = '\0';
    return strdup(buf);
}

uint32_t hos_session_id(void)
{
    const char *xdg = getenv("XDG_SESSION_ID");
    if (xdg && *xdg)
        return (uint32_t)strtoul(xdg, NULL, 10);
    return (uint32_t)getsid(0);
}

/* --- files ----------------------------------------------------------------- */
int hos_mkdir_p(const char *path, char *errbuf, size_t errlen)
{
    char *p = strdup(path);
    if (!p) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char saved = *s;
            *s = '\0';
            if (mkdir(p, 0700) != 0 && errno != EEXIST) {
                snprintf(errbuf, errlen, "cannot create folder '%s': %s", p, strerror(errno));
                free(p);
                return -1;
            }
            *s = saved;
            if (saved == '\0')
                break;
        }
    }
    free(p);
    return 0;
}

char *hos_read_file(const char *path, size_t *len, char *errbuf, size_t errlen)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; the check
     * below refuses it. Reads of a regular file ignore the flag. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(errbuf, errlen, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(errbuf, errlen, "cannot read '%s': not a regular file", path);
        close(fd);
        return NULL;
    }
    size_t cap = (size_t)st.st_size + 1, used = 0;
    char *buf = malloc(cap);
    if (!buf) {
        snprintf(errbuf, errlen, "cannot read '%s': out of memory", path);
        close(fd);
        return NULL;
    }
    for (;;) {
        if (used + 1 >= cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                close(fd);
                snprintf(errbuf, errlen, "cannot read '%s': out of memory", path);
                return NULL;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + used, cap - used - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(errbuf, errlen, "cannot read '%s': %s", path, strerror(errno));
            free(buf);
            close(fd);
            return NULL;
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    close(fd);
    buf[used] = '\0';
    if (len)
        *len = used;
    return buf;
}

char *hos_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

int hos_is_absolute(const char *path) { return path[0] == '/'; }

int hos_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int hos_write_file_atomic(const char *path, const char *data, size_t len, char *errbuf,
                          size_t errlen)
{
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    snprintf(tmp, n, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(errbuf, errlen, "cannot create '%s': %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(errbuf, errlen, "cannot write '%s': %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            free(tmp);
            return -1;
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        snprintf(errbuf, errlen, "cannot replace '%s': %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

int hos_isatty(FILE *f) { return isatty(fileno(f)); }

/* --- processes -------------------------------------------------------------- */
int hos_list_processes(hos_process **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    size_t cap = 256, n = 0;
    hos_process *list = malloc(cap * sizeof *list);
    if (!list) {
        closedir(d);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        char path[300], stat_line[1024];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue; /* the process ended meanwhile */
        size_t got = fread(stat_line, 1, sizeof stat_line - 1, f);
        fclose(f);
        stat_line[got] = '\0';
        /* Field 2 is "(comm)" and may itself hold spaces or ')': take the
         * last ')'. comm is cut to 15 bytes, so prefer the exe's basename. */
        char *open_paren = strchr(stat_line, '('), *close_paren = strrchr(stat_line, ')');
        if (!open_paren || !close_paren || close_paren < open_paren)
            continue;
        hos_process p = {.pid = strtoll(e->d_name, NULL, 10)};
        /* starttime is field 22; after ") " come fields 3.. */
        char *fields = close_paren + 2;
        int field = 3;
        for (char *s = fields; *s && field < 22; s++)
            if (*s == ' ')
                field++, fields = s + 1;
        p.start_time = strtoull(fields, NULL, 10);
        char exe[300], target[4096];
        snprintf(exe, sizeof exe, "/proc/%s/exe", e->d_name);
        ssize_t tl = readlink(exe, target, sizeof target - 1);
        if (tl > 0) {
            target[tl] = '\0';
            char *deleted = strstr(target, " (deleted)");
            if (deleted)
                *deleted = '\0';
            const char *base = strrchr(target, '/');
            base = base ? base + 1 : target;
            size_t len = strlen(base) < sizeof p.image - 1 ? strlen(base) : sizeof p.image - 1;
            memcpy(p.image, base, len);
            p.image[len] = '\0';
        } else {
            snprintf(p.image, sizeof p.image, "%.*s", (int)(close_paren - open_paren - 1),
                     open_paren + 1);
        }
        if (n == cap) {
            hos_process *bigger = realloc(list, 2 * cap * sizeof *list);
            if (!bigger)
                break;
            list = bigger;
            cap *= 2;
        }
        list[n++] = p;
    }
    closedir(d);
    *out = list;
    *count = n;
    return 0;
}

/* --- signals ----------------------------------------------------------------- */
struct stop_watch {
    void (*fn)(void *);
    void *arg;
    sigset_t set;
};

static void stop_watch_thread(void *p)
{
    struct stop_watch *w = p;
    int sig = 0;
    /* sigwait in a dedicated thread: the callback then runs as ordinary code,
     * free to take locks and call into plugins. */
    if (sigwait(&w->set, &sig) == 0)
        w->fn(w->arg);
}

int hos_on_stop_request(void (*fn)(void *), void *arg)
{
    static struct stop_watch watch;
    watch.fn = fn;
    watch.arg = arg;
    sigemptyset(&watch.set);
    sigaddset(&watch.set, SIGINT);
    sigaddset(&watch.set, SIGTERM);
    sigaddset(&watch.set, SIGHUP);
    /* Block in this (main) thread before other threads start, so they all
     * inherit the mask and only the watcher receives the signals. */
    if (pthread_sigmask(SIG_BLOCK, &watch.set, NULL) != 0)
        return -1;
    /* Runs until the process exits and is never joined; the handle stays
     * reachable here for the process's lifetime. */
    static hos_thread *watcher;
    return hos_thread_start(&watcher, stop_watch_thread, &watch);
}

/* --- per-user environment ---------------------------------------------------- */
char *hos_user_env(const hos_user *u, const char *name)
{
    /* Policies are written for Windows; on the Linux development platform the
     * Windows profile variables map to their XDG equivalents. */
    static const struct {
        const char *name, *suffix;
    } profile_vars[] = {
        {"USERPROFILE", ""}, {"HOME", ""}, {"LOCALAPPDATA", "/.local/share"},
        {"APPDATA", "/.config"}, {"TEMP", "/.cache"}, {"TMP", "/.cache"},
    };
    for (size_t i = 0; i < sizeof profile_vars / sizeof profile_vars[0]; i++) {
        if (strcasecmp(name, profile_vars[i].name) == 0) {
            size_t n = strlen(u->profile_dir) + strlen(profile_vars[i].suffix) + 1;
            char *v = malloc(n);
            if (v)
                snprintf(v, n, "%s%s", u->profile_dir, profile_vars[i].suffix);
            return v;
        }
    }
    if (strcasecmp(name, "USERNAME") == 0)
        return strdup(u->name);
    if (strcasecmp(name, "USERDOMAIN") == 0)
        return strdup(u->domain);
    if (strcasecmp(name, "COMPUTERNAME") == 0)
        return hos_hostname();
    return NULL;
}

char *hos_user_state_root(const hos_user *u)
{
    size_t n = strlen(u->profile_dir) + 32;
    char *root = malloc(n);
    if (root)
        snprintf(root, n, "%s/.local/state/emhost", u->profile_dir);
    return root;
}

/* --- process start, paths ----------------------------------------------------- */
/* argv is already bytes as the user typed them (UTF-8 in any sane locale). */
int hos_process_init(int *argc, char ***argv) { return 0; }

FILE *hos_fopen(const char *path, const char *mode) { return fopen(path, mode); }

const char *hos_path_base(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* --- system event log ------------------------------------------------------------ */
/* No Application log here: the JSON lines are the record. */
hos_event_log *hos_event_log_open(void) { return NULL; }
void hos_event_log_report(hos_event_log *log, const char *source, uint32_t event_id,
                          hos_event_type type, const char *message)
{
}
void hos_event_log_close(hos_event_log *log) {}
