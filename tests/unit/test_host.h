/*
 * test_host.h - a ps_host for unit tests that records every event (level,
 * id, name, message, detail) so a test can assert on what the engine told
 * the admin, and that can ask the engine to stop after a number of progress
 * reports (to interrupt a copy at a known point).
 *
 * Header-only (static inline functions) because each tests/unit/test_*.c is its own
 * program; include it after <cmocka.h>. The recorder is sized for the tests
 * here: overflowing it fails the test instead of losing events silently.
 */
#ifndef PS_TEST_HOST_H
#define PS_TEST_HOST_H

#include <stdio.h>
#include <string.h>

#include "host.h"

#define TH_MAX_EVENTS 512

typedef struct th_event {
    ps_level level;
    uint32_t id;
    char name[64];
    char message[2048];
    char detail[2048];
} th_event;

typedef struct th_host {
    ps_host host; /* pass &th.host to the engine */
    th_event events[TH_MAX_EVENTS];
    size_t count;
    uint64_t progress_calls, last_done, last_total;
    /* cancelled() turns true once progress was reported this many times
     * (0: never). */
    uint64_t cancel_after_progress;
} th_host;

static inline void th_on_event(void *ctx, ps_level level, uint32_t id, const char *name,
                        const char *message, const char *detail_json)
{
    th_host *t = ctx;
    if (t->count == TH_MAX_EVENTS)
        fail_msg("test host: more than %d events", TH_MAX_EVENTS);
    th_event *e = &t->events[t->count++];
    e->level = level;
    e->id = id;
    snprintf(e->name, sizeof e->name, "%s", name ? name : "");
    snprintf(e->message, sizeof e->message, "%s", message ? message : "");
    snprintf(e->detail, sizeof e->detail, "%s", detail_json ? detail_json : "");
}

static inline void th_on_progress(void *ctx, uint64_t done, uint64_t total)
{
    th_host *t = ctx;
    t->progress_calls++;
    t->last_done = done;
    t->last_total = total;
}

static inline int th_on_cancelled(void *ctx)
{
    th_host *t = ctx;
    return t->cancel_after_progress && t->progress_calls >= t->cancel_after_progress;
}

/* Reset *t (events, counters, cancellation) and wire its callbacks. */
static inline void th_init(th_host *t)
{
    memset(t, 0, sizeof *t);
    t->host.ctx = t;
    t->host.event = th_on_event;
    t->host.progress = th_on_progress;
    t->host.cancelled = th_on_cancelled;
}

/* How many events with this id were recorded. */
static inline size_t th_count(const th_host *t, uint32_t id)
{
    size_t n = 0;
    for (size_t i = 0; i < t->count; i++)
        n += t->events[i].id == id;
    return n;
}

/* The first event with this id, or NULL. */
static inline const th_event *th_find(const th_host *t, uint32_t id)
{
    for (size_t i = 0; i < t->count; i++)
        if (t->events[i].id == id)
            return &t->events[i];
    return NULL;
}

/* The first event with this id whose message contains `text`, or NULL. */
static inline const th_event *th_find_text(const th_host *t, uint32_t id, const char *text)
{
    for (size_t i = 0; i < t->count; i++)
        if (t->events[i].id == id && strstr(t->events[i].message, text))
            return &t->events[i];
    return NULL;
}

/* Forget recorded events and progress; keep the cancellation setting. */
static inline void th_clear(th_host *t)
{
    t->count = 0;
    t->progress_calls = t->last_done = t->last_total = 0;
}

#endif
