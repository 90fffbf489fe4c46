/*
 * The Application event log for host_os.h: audit events mirrored where
 * Windows administrators (and EM's own events) look. One registered event
 * source per audit source ("emhost", "pstsnap"); no message file is
 * installed, so Event Viewer shows the text we pass as the event's data.
 *
 * Failures are swallowed on purpose: the JSON lines are the record, and a
 * host without the right to write the log (or Wine, whose event log is a
 * stub) must still run its actions.
 */
#include "host_os.h"

#include <stdlib.h>
#include <string.h>
#include <windows.h>

#include "utf8.h"

#define MAX_SOURCES 16 /* emhost and a few plugins */

struct hos_event_log {
    SRWLOCK lock;
    size_t count;
    struct {
        char *name;
        HANDLE handle; /* NULL: registering failed, do not retry per event */
    } sources[MAX_SOURCES];
};

hos_event_log *hos_event_log_open(void)
{
    hos_event_log *log = calloc(1, sizeof *log);
    if (log)
        InitializeSRWLock(&log->lock);
    return log;
}

/* Called with the lock held. */
static HANDLE source_handle(hos_event_log *log, const char *source)
{
    for (size_t i = 0; i < log->count; i++)
        if (strcmp(log->sources[i].name, source) == 0)
            return log->sources[i].handle;
    if (log->count == MAX_SOURCES)
        return NULL;
    char *name = _strdup(source);
    wchar_t *wsource = hos_utf8_to_utf16(source);
    if (!name || !wsource) {
        free(name);
        free(wsource);
        return NULL;
    }
    HANDLE h = RegisterEventSourceW(NULL, wsource);
    free(wsource);
    log->sources[log->count].name = name;
    log->sources[log->count].handle = h;
    log->count++;
    return h;
}

/* UTF-8 with '\n' line ends -> UTF-16 with "\r\n", as Event Viewer shows. */
static wchar_t *event_text(const char *message)
{
    size_t lines = 0;
    for (const char *p = message; *p; p++)
        lines += *p == '\n';
    char *crlf = malloc(strlen(message) + lines + 1), *q = crlf;
    if (!crlf)
        return NULL;
    for (const char *p = message; *p; p++) {
        if (*p == '\n')
            *q++ = '\r';
        *q++ = *p;
    }
    *q = '\0';
    wchar_t *w = hos_utf8_to_utf16(crlf);
    free(crlf);
    return w;
}

void hos_event_log_report(hos_event_log *log, const char *source, uint32_t event_id,
                          hos_event_type type, const char *message)
{
    if (!log)
        return;
    AcquireSRWLockExclusive(&log->lock);
    HANDLE h = source_handle(log, source);
    ReleaseSRWLockExclusive(&log->lock);
    if (!h)
        return;
    WORD wtype = type == HOS_EVENT_ERROR     ? EVENTLOG_ERROR_TYPE
                 : type == HOS_EVENT_WARNING ? EVENTLOG_WARNING_TYPE
                                             : EVENTLOG_INFORMATION_TYPE;
    wchar_t *text = event_text(message);
    if (!text)
        return;
    LPCWSTR strings[1] = {text};
    ReportEventW(h, wtype, 0, event_id, NULL, 1, 0, strings, NULL);
    free(text);
}

void hos_event_log_close(hos_event_log *log)
{
    if (!log)
        return;
    for (size_t i = 0; i < log->count; i++) {
        if (log->sources[i].handle)
            DeregisterEventSource(log->sources[i].handle);
        free(log->sources[i].name);
    }
    free(log);
}
