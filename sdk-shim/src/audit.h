/*
 * audit.h - the host's audit sink: one JSON object per line (JSON Lines,
 * schemas/audit-event.schema.json) to a file or stderr, safe to call from any
 * thread. The fields EM itself adds (time, computer, user, SID, session) are
 * filled in here; the caller supplies what happened.
 *
 * Ownership: emh_audit_open copies every string it is given; strings in
 * emh_event are borrowed for the duration of emh_audit_write.
 */
#ifndef EMH_AUDIT_H
#define EMH_AUDIT_H

#include <stdint.h>

#include "em_action.h"

/* Environment Manager's own event ids for trigger actions (em-reference A3). */
#define EMH_EVENT_PROCESS_START_ACTION_OK 9428u
#define EMH_EVENT_PROCESS_START_ACTION_FAILED 9429u
#define EMH_EVENT_PROCESS_STOP_ACTION_OK 9430u
#define EMH_EVENT_PROCESS_STOP_ACTION_FAILED 9431u

typedef struct emh_audit emh_audit;

typedef struct emh_event {
    uint32_t id;
    em_level level;
    const char *source;      /* "emhost" or the plugin's module name */
    const char *name;        /* stable event name */
    const char *message;     /* one sentence for a human */
    const char *detail_json; /* JSON object text or NULL */
    const char *trigger, *node, *action, *action_id, *run_as, *result; /* optional */
    int64_t duration_ms;     /* -1 when not applicable */
} emh_event;

/* path NULL or "-" writes to stderr. Returns NULL with errbuf on failure. */
emh_audit *emh_audit_open(const char *path, const char *computer, const char *user,
                          const char *sid, uint32_t session_id, char *errbuf, size_t errlen);
void emh_audit_write(emh_audit *a, const emh_event *e);
void emh_audit_close(emh_audit *a);

#endif
