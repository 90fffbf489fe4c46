/* Progress rendering for emhost (progress.h). */
#include "progress.h"

#include <stdlib.h>
#include <string.h>

#include "host_os.h"

#define MAX_TRACKED 32
#define BAR_REDRAW_MS 200u
#define BAR_WIDTH 24

typedef struct tracked {
    const void *key;
    char label[128];
    uint64_t first_ms, first_done; /* when and where this host started watching */
    uint64_t last_ms, last_print_ms;
    uint64_t done, total;
    uint64_t printed_done, printed_total; /* the last line, not to repeat it */
    int printed;
    int finished;
} tracked;

struct emh_progress {
    FILE *out;
    int bar;
    uint32_t interval_ms;
    hos_mutex *lock;
    tracked runs[MAX_TRACKED];
    size_t count;
    uint64_t last_draw_ms;
    int line_open; /* a bar is on screen without its newline */
};

emh_progress *emh_progress_new(FILE *out, int bar, uint32_t interval_ms)
{
    emh_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->out = out;
    p->bar = bar;
    p->interval_ms = interval_ms ? interval_ms : EMH_PROGRESS_DEFAULT_INTERVAL_MS;
    if (!(p->lock = hos_mutex_new())) {
        free(p);
        return NULL;
    }
    return p;
}

void emh_progress_format_bytes(uint64_t bytes, char *buf, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    size_t u = 0;
    while (v >= 1024.0 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void format_eta(uint64_t s, char *buf, size_t len)
{
    if (s >= 3600)
        snprintf(buf, len, "%lluh%02llum", (unsigned long long)(s / 3600),
                 (unsigned long long)(s % 3600 / 60));
    else if (s >= 60)
        snprintf(buf, len, "%llum%02llus", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
    else
        snprintf(buf, len, "%llus", (unsigned long long)s);
}

/* "1.2 of 2.9 GiB (41%), 35.0 MiB/s, 48s left" for done/total over `t`. */
static void describe(const tracked *t, uint64_t done, uint64_t total, char *buf, size_t len)
{
    char d[32], tot[32], rate[48] = "", eta[48] = "";
    emh_progress_format_bytes(done, d, sizeof d);
    emh_progress_format_bytes(total, tot, sizeof tot);
    uint64_t elapsed = t->last_ms - t->first_ms;
    uint64_t moved = done > t->first_done ? done - t->first_done : 0;
    if (elapsed >= 500 && moved) {
        double per_s = (double)moved * 1000.0 / (double)elapsed;
        char r[32];
        emh_progress_format_bytes((uint64_t)per_s, r, sizeof r);
        snprintf(rate, sizeof rate, ", %s/s", r);
        if (total > done) {
            char e[32];
            format_eta((uint64_t)((double)(total - done) / per_s + 0.5), e, sizeof e);
            snprintf(eta, sizeof eta, ", %s left", e);
        }
    }
    if (total)
        snprintf(buf, len, "%s of %s (%u%%)%s%s", d, tot, (unsigned)(done * 100 / total), rate, eta);
    else
        snprintf(buf, len, "%s%s", d, rate);
}

static tracked *find(emh_progress *p, const void *key)
{
    for (size_t i = 0; i < p->count; i++)
        if (p->runs[i].key == key)
            return &p->runs[i];
    return NULL;
}

/* Called with the lock held: one line for everything running. */
static void draw_bar(emh_progress *p, uint64_t now, int force)
{
    if (!force && now - p->last_draw_ms < BAR_REDRAW_MS)
        return;
    p->last_draw_ms = now;
    uint64_t done = 0, total = 0;
    size_t active = 0;
    const tracked *one = NULL, *slowest_start = NULL;
    for (size_t i = 0; i < p->count; i++) {
        const tracked *t = &p->runs[i];
        if (t->finished && !force)
            continue;
        done += t->done;
        total += t->total;
        active++;
        one = t;
        if (!slowest_start || t->first_ms < slowest_start->first_ms)
            slowest_start = t;
    }
    if (!active)
        return;
    tracked sum = *slowest_start;
    sum.first_done = 0;
    for (size_t i = 0; i < p->count; i++)
        if (!p->runs[i].finished || force)
            sum.first_done += p->runs[i].first_done;
    sum.last_ms = now;
    char text[160];
    describe(&sum, done, total, text, sizeof text);
    char bar[BAR_WIDTH + 1];
    size_t filled = total ? (size_t)(done * BAR_WIDTH / total) : 0;
    for (size_t i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < filled ? '#' : '-';
    bar[BAR_WIDTH] = '\0';
    char label[160];
    if (active == 1)
        snprintf(label, sizeof label, "%s", one->label);
    else
        snprintf(label, sizeof label, "%zu actions", active);
    /* \r and erase-line: redraw in place, however long the last line was. */
    fprintf(p->out, "\r\033[K[%s] %s  %s", bar, text, label);
    fflush(p->out);
    p->line_open = 1;
}

static void print_line(emh_progress *p, tracked *t)
{
    if (t->printed && t->printed_done == t->done && t->printed_total == t->total)
        return;
    t->printed = 1;
    t->printed_done = t->done;
    t->printed_total = t->total;
    char text[160];
    describe(t, t->done, t->total, text, sizeof text);
    fprintf(p->out, "progress: %s: %s\n", t->label, text);
    fflush(p->out);
    t->last_print_ms = t->last_ms;
}

/* Called with the lock held. */
static tracked *track(emh_progress *p, const void *key, const char *label, uint64_t now)
{
    tracked *t = find(p, key);
    if (!t && p->count < MAX_TRACKED) {
        t = &p->runs[p->count++];
        memset(t, 0, sizeof *t);
        t->key = key;
        snprintf(t->label, sizeof t->label, "%s", label ? label : "action");
        t->first_ms = t->last_print_ms = t->last_ms = now;
    }
    return t;
}

void emh_progress_begin(emh_progress *p, const void *key, const char *label)
{
    if (!p)
        return;
    hos_mutex_lock(p->lock);
    track(p, key, label, hos_now_ms());
    hos_mutex_unlock(p->lock);
}

void emh_progress_update(emh_progress *p, const void *key, const char *label, uint64_t done,
                         uint64_t total)
{
    if (!p)
        return;
    uint64_t now = hos_now_ms();
    if (total && done > total)
        done = total;
    hos_mutex_lock(p->lock);
    tracked *t = track(p, key, label, now);
    if (t) {
        t->done = done;
        t->total = total;
        t->last_ms = now;
        t->finished = 0;
        if (p->bar)
            draw_bar(p, now, 0);
        else if (now - t->last_print_ms >= p->interval_ms || (total && done == total))
            print_line(p, t);
    }
    hos_mutex_unlock(p->lock);
}

void emh_progress_done(emh_progress *p, const void *key)
{
    if (!p)
        return;
    hos_mutex_lock(p->lock);
    tracked *t = find(p, key);
    if (t && !t->finished) {
        t->last_ms = hos_now_ms();
        if (p->bar) {
            int others = 0;
            for (size_t i = 0; i < p->count; i++)
                others += &p->runs[i] != t && !p->runs[i].finished;
            if (!others && p->line_open) {
                draw_bar(p, t->last_ms, 1);
                fputc('\n', p->out);
                fflush(p->out);
                p->line_open = 0;
            }
        } else if (t->total || t->done) {
            print_line(p, t); /* where it ended, whatever the interval */
        }
        t->finished = 1;
    }
    hos_mutex_unlock(p->lock);
}

void emh_progress_free(emh_progress *p)
{
    if (!p)
        return;
    if (p->line_open) {
        fputc('\n', p->out);
        fflush(p->out);
    }
    hos_mutex_free(p->lock);
    free(p);
}
