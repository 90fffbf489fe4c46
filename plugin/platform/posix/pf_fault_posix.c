/* Fault injection for the crash and error tests (see core/fault.h). Only
 * compiled into builds configured with PSTSNAP_FAULT_INJECTION. */
#include "../../core/fault.h"

#ifdef PSTSNAP_FAULT_INJECTION
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pf_posix.h"

static atomic_long g_points, g_named_points;

/* PSTSNAP_FAULT_KILL_AT=NAME#K: is this the Kth point called NAME? Aiming
 * by name survives runs that pass a different number of other points (a
 * checkpoint is also taken every second, so their count depends on speed). */
static int is_named_target(const char *spec, const char *name)
{
    const char *hash = strrchr(spec, '#');
    size_t len = hash ? (size_t)(hash - spec) : 0;
    if (!hash || strlen(name) != len || strncmp(spec, name, len) != 0)
        return 0;
    return atomic_fetch_add(&g_named_points, 1) + 1 == atol(hash + 1);
}

/* PSTSNAP_FAULT_PAUSE_AT=NAME[#K]:MS sleeps MS milliseconds at the Kth
 * (default first) point called NAME, after it is traced: a test waits for
 * the trace line, then changes the world under the paused run (a PST
 * swapped for a link between discovery and open). */
static atomic_long g_pause_points;

static void pause_if_asked(const char *name)
{
    const char *spec = getenv("PSTSNAP_FAULT_PAUSE_AT");
    const char *colon = spec ? strrchr(spec, ':') : NULL;
    if (!colon)
        return;
    const char *hash = memchr(spec, '#', (size_t)(colon - spec));
    size_t len = (size_t)((hash ? hash : colon) - spec);
    if (strlen(name) != len || strncmp(spec, name, len) != 0)
        return;
    long nth = hash ? atol(hash + 1) : 1;
    if (atomic_fetch_add(&g_pause_points, 1) + 1 == nth)
        pf_sleep_ms((uint32_t)atol(colon + 1));
}

void fault_point(const char *name)
{
    long n = atomic_fetch_add(&g_points, 1) + 1;
    const char *trace = getenv("PSTSNAP_FAULT_TRACE");
    if (trace && *trace) {
        FILE *f = fopen(trace, "a");
        if (f) {
            fprintf(f, "%ld %s\n", n, name);
            fclose(f);
        }
    }
    const char *kill_at = getenv("PSTSNAP_FAULT_KILL_AT");
    if (kill_at && (strchr(kill_at, '#') ? is_named_target(kill_at, name) : atol(kill_at) == n))
        kill(getpid(), SIGKILL);
    pause_if_asked(name);
}

int pf_fault_points_on(void)
{
    const char *trace = getenv("PSTSNAP_FAULT_TRACE"), *kill_at = getenv("PSTSNAP_FAULT_KILL_AT");
    return (trace && *trace) || (kill_at && *kill_at);
}

/* PSTSNAP_FAULT_ERROR is a comma-separated list of rules
 * CALL[@PART]:ERROR:NTH[+] - the NTH call (1-based) of CALL (read, write,
 * rename, sync, open) on a path containing PART fails with ERROR (EIO,
 * ENOSPC, EACCES, EROFS, EDQUOT or a number), or with "short" transfers only
 * half its bytes (the caller must carry on with the rest). "+" keeps
 * failing every later matching call too (a full disk stays full). */
#define MAX_RULES 8

typedef struct fault_rule {
    char call[16];
    char part[128];
    int error; /* errno, or -1 for a short transfer */
    long nth;
    int sticky;
    long seen;
} fault_rule;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static fault_rule g_rules[MAX_RULES];
static size_t g_rule_count;

static int parse_error(const char *text)
{
    static const struct { const char *name; int value; } names[] = {
        {"EIO", EIO}, {"ENOSPC", ENOSPC}, {"EACCES", EACCES}, {"EROFS", EROFS},
        {"EDQUOT", EDQUOT}, {"EPERM", EPERM}, {"short", -1},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(text, names[i].name) == 0)
            return names[i].value;
    int n = atoi(text);
    return n > 0 ? n : 0;
}

static void load_rules(void)
{
    const char *spec = getenv("PSTSNAP_FAULT_ERROR");
    if (!spec || !*spec)
        return;
    char *copy = strdup(spec), *save = NULL;
    for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && g_rule_count < MAX_RULES;
         tok = strtok_r(NULL, ",", &save)) {
        /* The error and the count are the last two fields, so PART may hold
         * any character but a comma. */
        char *c2 = strrchr(tok, ':');
        if (!c2)
            continue;
        *c2 = '\0';
        char *c1 = strrchr(tok, ':');
        if (!c1)
            continue;
        *c1 = '\0';
        fault_rule *r = &g_rules[g_rule_count];
        memset(r, 0, sizeof *r);
        char *at = strchr(tok, '@');
        if (at) {
            *at = '\0';
            snprintf(r->part, sizeof r->part, "%s", at + 1);
        }
        snprintf(r->call, sizeof r->call, "%s", tok);
        r->error = parse_error(c1 + 1);
        r->nth = atol(c2 + 1);
        r->sticky = strchr(c2 + 1, '+') != NULL;
        if (r->error && r->nth > 0)
            g_rule_count++;
    }
    free(copy);
}

int pf_fault_inject(const char *call, const char *path)
{
    pthread_once(&g_once, load_rules);
    if (!g_rule_count)
        return 0;
    int out = 0;
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_rule_count && !out; i++) {
        fault_rule *r = &g_rules[i];
        if (strcmp(r->call, call) != 0 || (r->part[0] && (!path || !strstr(path, r->part))))
            continue;
        r->seen++;
        if (r->seen == r->nth || (r->sticky && r->seen > r->nth))
            out = r->error;
    }
    pthread_mutex_unlock(&g_lock);
    return out;
}
#else
/* ISO C forbids an empty translation unit. */
typedef int pf_fault_points_compiled_out;
#endif
