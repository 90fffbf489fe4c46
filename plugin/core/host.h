/*
 * host.h - what the engine needs from whoever runs it: somewhere to send
 * events and progress, and a way to learn that it must stop. The action glue
 * (plugin/action/) adapts em_host_api to this; unit tests provide their own.
 * Keeping the engine off em_action.h lets it run under any host (rundll32).
 *
 * Ownership: strings passed to the callbacks are borrowed for the call.
 */
#ifndef PS_HOST_H
#define PS_HOST_H

#include <stdint.h>

#include <jansson.h>

#include "error.h"

typedef enum ps_level { PS_DEBUG = 0, PS_INFO = 1, PS_WARNING = 2, PS_ERROR = 3 } ps_level;

typedef struct ps_host {
    void *ctx;
    void (*event)(void *ctx, ps_level level, uint32_t id, const char *name, const char *message,
                  const char *detail_json);
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    int (*cancelled)(void *ctx);
} ps_host;

/* Emit an event. `detail` (may be NULL) is a JSON object and is consumed
 * (decref'd) here; the message is printf-formatted. */
void ps_emit(const ps_host *h, ps_level level, uint32_t id, const char *name, json_t *detail,
             const char *fmt, ...)
    PS_PRINTF_LIKE(6, 7)
    ;

int ps_cancelled(const ps_host *h);
void ps_progress(const ps_host *h, uint64_t done, uint64_t total);

#endif
