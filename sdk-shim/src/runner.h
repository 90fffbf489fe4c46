/*
 * runner.h - the host proper: runs a trigger's nodes the way the EM agent
 * does and implements the services of em_host_api.
 *
 * Semantics modelled (see shared/em-reference.md):
 *  - nodes under a trigger run in order; a node runs when all its conditions
 *    hold (processName Equal/NotEqual case-insensitive, RegEx CAtlRegExp;
 *    counter: at most N times per session);
 *  - the actions at one level of a node run in parallel; an action's
 *    children run in sequence after it succeeds;
 *  - node timeout (default 30 000 ms, 0 infinite; an action's timeoutMs
 *    overrides it): a late action keeps running to completion but is counted
 *    as failed at the deadline and its children do not run;
 *  - stopSubNodesOnFail: a failed node does not run its child nodes;
 *  - audit 9428/9429 (Process Started) or 9430/9431 (Process Stopped) per
 *    action, plus the plugins' own events;
 *  - background work (start_worker) continues after the node completed;
 *    emhost_wait / emhost_shutdown collect it.
 *
 * Ownership: emh_host_new copies the options it needs; the policy passed to
 * emh_host_fire must outlive every worker (free it after emh_host_wait or
 * emh_host_shutdown returned 0).
 */
#ifndef EMH_RUNNER_H
#define EMH_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include "em_action.h"
#include "policy.h"

typedef struct emh_host emh_host;

typedef struct emh_host_options {
    const char *audit_path;  /* NULL: stderr */
    const char *state_root;  /* NULL: <profile>/.local/state/emhost */
    const char *user_name;   /* act for this account (elevated runs); NULL: self */
    const char *const *env;  /* "NAME=VALUE" overrides of the user's environment */
    size_t env_count;
    const char *const *vars; /* "Name=Value" EM session variables */
    size_t var_count;
    uint32_t session_id;     /* 0: this process's session */
    int progress;            /* show the progress plugins report, on stderr */
    int progress_bar;        /* ... as a bar redrawn in place (a terminal) */
    uint32_t progress_interval_ms; /* ... else a line per action this often (0: 5 s) */
} emh_host_options;

emh_host *emh_host_new(const emh_host_options *o, char *errbuf, size_t errlen);
const em_host_api *emh_host_api(emh_host *h);

/* Fire `trigger` for a process with image name `image` (e.g. OUTLOOK.EXE)
 * and run the matching nodes. Returns the number of actions that failed
 * (timeouts included). */
size_t emh_host_fire(emh_host *h, const emh_policy *p, emh_trigger trigger, const char *image);

/* Wait for every background worker and late action until deadline_ms on the
 * monotonic clock (UINT64_MAX: forever). 0 when all finished, 1 otherwise. */
int emh_host_wait(emh_host *h, uint64_t deadline_ms);

/* Logoff/shutdown: set the cancel flag, call each module's shutdown with
 * what remains of deadline_ms, then wait for workers until the deadline.
 * 0 when everything stopped in time. */
int emh_host_shutdown(emh_host *h, const emh_policy *p, uint32_t deadline_ms);

/* Failed actions plus failed background workers so far. */
size_t emh_host_failures(const emh_host *h);

/* Write a host event (id 0 unless given) to the audit sink. */
void emh_host_log(emh_host *h, em_level level, const char *name, const char *message);

/* Free the host. Only after emh_host_wait/shutdown returned 0; if work is
 * still running the host is deliberately leaked (the process is exiting). */
void emh_host_free(emh_host *h);

#endif
