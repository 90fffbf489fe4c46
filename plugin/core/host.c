#include "host.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void ps_emit(const ps_host *h, ps_level level, uint32_t id, const char *name, json_t *detail,
             const char *fmt, ...)
{
    char message[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    char *detail_text = detail ? json_dumps(detail, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (h && h->event)
        h->event(h->ctx, level, id, name, message, detail_text);
    free(detail_text);
    json_decref(detail);
}

int ps_cancelled(const ps_host *h) { return h && h->cancelled && h->cancelled(h->ctx); }

void ps_progress(const ps_host *h, uint64_t done, uint64_t total)
{
    if (h && h->progress)
        h->progress(h->ctx, done, total);
}
