#include "audit.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_os.h"

struct emh_audit {
    FILE *out;
    int owns_out;
    hos_mutex *lock;
    hos_event_log *event_log; /* NULL where the platform has none */
    char *computer, *user, *sid;
    uint32_t session_id;
};

emh_audit *emh_audit_open(const char *path, const char *computer, const char *user,
                          const char *sid, uint32_t session_id, char *errbuf, size_t errlen)
{
    emh_audit *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    if (!path || strcmp(path, "-") == 0) {
        a->out = stderr;
    } else {
        /* Append: several emhost runs (one per Outlook start) share a log.
         * Binary: "\n" line ends on Windows too, as JSON Lines wants. */
        a->out = hos_fopen(path, "ab");
        if (!a->out) {
            snprintf(errbuf, errlen, "cannot open audit file '%s' for appending", path);
            free(a);
            return NULL;
        }
        a->owns_out = 1;
    }
    a->lock = hos_mutex_new();
    a->event_log = hos_event_log_open();
    a->computer = strdup(computer ? computer : "");
    a->user = strdup(user ? user : "");
    a->sid = strdup(sid ? sid : "");
    a->session_id = session_id;
    return a;
}

static const char *level_name(em_level level)
{
    switch (level) {
    case EM_LEVEL_DEBUG: return "debug";
    case EM_LEVEL_INFO: return "info";
    case EM_LEVEL_WARNING: return "warning";
    case EM_LEVEL_ERROR: return "error";
    }
    return "info";
}

static void set_opt(json_t *o, const char *key, const char *value)
{
    if (value && *value)
        json_object_set_new(o, key, json_string(value));
}

/* EM's numbered events (and the plugins') also go to the system event log,
 * as EM's own do; the host's unnumbered progress lines and debug events stay
 * in the JSON lines only, or they would flood the Application log. The
 * event's text is the message, then the whole JSON line for the details. */
static void mirror_to_event_log(emh_audit *a, const emh_event *e, const char *line)
{
    if (!a->event_log || e->id == 0 || e->level == EM_LEVEL_DEBUG)
        return;
    hos_event_type type = e->level == EM_LEVEL_ERROR     ? HOS_EVENT_ERROR
                          : e->level == EM_LEVEL_WARNING ? HOS_EVENT_WARNING
                                                         : HOS_EVENT_INFO;
    const char *message = e->message ? e->message : "";
    size_t n = strlen(message) + strlen(line) + 3;
    char *text = malloc(n);
    if (!text)
        return;
    snprintf(text, n, "%s\n\n%s", message, line);
    hos_event_log_report(a->event_log, e->source ? e->source : "emhost", e->id, type, text);
    free(text);
}

void emh_audit_write(emh_audit *a, const emh_event *e)
{
    char when[40];
    hos_utc_timestamp(when, sizeof when);
    json_t *o = json_object();
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "eventId", json_integer(e->id));
    json_object_set_new(o, "level", json_string(level_name(e->level)));
    json_object_set_new(o, "source", json_string(e->source ? e->source : "emhost"));
    json_object_set_new(o, "name", json_string(e->name ? e->name : "log"));
    /* json_string rejects invalid UTF-8: a plugin bug must not lose the event. */
    json_t *msg = json_string(e->message ? e->message : "");
    json_object_set_new(o, "message", msg ? msg : json_string("(message was not valid UTF-8)"));
    json_object_set_new(o, "computer", json_string(a->computer));
    json_object_set_new(o, "user", json_string(a->user));
    set_opt(o, "sid", a->sid);
    json_object_set_new(o, "sessionId", json_integer(a->session_id));
    set_opt(o, "trigger", e->trigger);
    set_opt(o, "node", e->node);
    set_opt(o, "action", e->action);
    set_opt(o, "actionId", e->action_id);
    set_opt(o, "runAs", e->run_as);
    set_opt(o, "result", e->result);
    if (e->duration_ms >= 0)
        json_object_set_new(o, "durationMs", json_integer(e->duration_ms));
    if (e->detail_json) {
        json_error_t jerr;
        json_t *detail = json_loads(e->detail_json, 0, &jerr);
        if (json_is_object(detail)) {
            json_object_set_new(o, "detail", detail);
        } else {
            json_decref(detail);
            json_t *wrapped = json_object();
            json_t *text = json_string(e->detail_json);
            json_object_set_new(wrapped, "text", text ? text : json_string("(invalid UTF-8)"));
            json_object_set_new(o, "detail", wrapped);
        }
    }
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!line)
        return;
    hos_mutex_lock(a->lock);
    fputs(line, a->out);
    fputc('\n', a->out);
    fflush(a->out);
    hos_mutex_unlock(a->lock);
    mirror_to_event_log(a, e, line);
    free(line);
}

void emh_audit_close(emh_audit *a)
{
    if (!a)
        return;
    if (a->owns_out)
        fclose(a->out);
    hos_mutex_free(a->lock);
    hos_event_log_close(a->event_log);
    free(a->computer);
    free(a->user);
    free(a->sid);
    free(a);
}
