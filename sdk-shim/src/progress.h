/*
 * progress.h - how emhost shows the progress plugins report through the
 * ABI's progress service (em_host_api.progress, bytes done of total).
 *
 * Two forms, chosen once for the host:
 *  - bar: on a terminal (and only when the audit lines go elsewhere, or the
 *    two would garble each other): one line redrawn in place at most five
 *    times a second - a bar, bytes done of total, the rate and the time
 *    left - for all running actions together; it ends with a newline when
 *    the work does;
 *  - lines: anywhere else (a log, a pipe, CI): one plain line per action
 *    every `interval_ms` (default 5 s) and a last one when it completes,
 *    "progress: <action>: 1.2 of 2.9 GiB (41%), 35.0 MiB/s, 48s left".
 * The rate is bytes done over the time since the run's work began
 * (emh_progress_begin; else its first report). A plugin that overshoots its
 * total (the file grew) is shown at 100%, never more; a state already shown
 * is not printed again.
 *
 * Thread-safe: update and done may be called from any worker.
 * Ownership: `key` identifies one run (its em_run); `label` is copied.
 */
#ifndef EMH_PROGRESS_H
#define EMH_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct emh_progress emh_progress;

#define EMH_PROGRESS_DEFAULT_INTERVAL_MS 5000u

/* bar: draw the terminal form; else plain lines every interval_ms. */
emh_progress *emh_progress_new(FILE *out, int bar, uint32_t interval_ms);
/* The run's background work starts now (the clock of its rate). */
void emh_progress_begin(emh_progress *p, const void *key, const char *label);
void emh_progress_update(emh_progress *p, const void *key, const char *label, uint64_t done,
                         uint64_t total);
/* The run's work ended (success or not): its last state is shown. */
void emh_progress_done(emh_progress *p, const void *key);
/* Ends a bar line still open; frees. NULL is fine. */
void emh_progress_free(emh_progress *p);

/* "293.0 KiB", "1.2 GiB": sizes as emhost writes them everywhere. */
void emh_progress_format_bytes(uint64_t bytes, char *buf, size_t len);

#endif
