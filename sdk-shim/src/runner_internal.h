/*
 * runner_internal.h - state shared by runner.c (scheduling) and
 * host_services.c (the em_host_api implementation). Not part of any API.
 *
 * Locking: host->lock guards the run list and every mutable field of a run
 * (finished, result, timed_out, worker_*), and failures. `changed` is
 * broadcast whenever a run finishes or a worker ends.
 */
#ifndef EMH_RUNNER_INTERNAL_H
#define EMH_RUNNER_INTERNAL_H

#include <stdatomic.h>

#include "audit.h"
#include "counter_store.h"
#include "host_os.h"
#include "policy.h"
#include "progress.h"
#include "runner.h"

struct em_run {
    emh_host *host;
    const emh_action_node *an;
    const char *trigger; /* borrowed: static trigger name */
    const char *node;    /* borrowed from the policy */
    em_user_info user;   /* the host's user, with this action's run_as */
    char *state_dir;
    void *instance;
    int instance_refs;
    hos_thread *thread; /* the action thread (create + run) */
    int finished, timed_out;
    em_run_result result;
    uint64_t finished_ms;
    char message[1024];
    hos_thread *worker;
    int worker_started, worker_done;
    em_run_result worker_result;
    em_worker_fn worker_fn;
    void *worker_arg;
    struct em_run *next;
};

struct emh_host {
    em_host_api api;
    emh_audit *audit;
    hos_user user;
    em_user_info user_info;
    int acting_for_other_user;
    char *state_root;
    char **env;  /* "NAME=VALUE" overrides */
    size_t env_count;
    char **vars; /* "Name=Value" session variables */
    size_t var_count;
    emh_progress *progress; /* NULL: progress is not shown */
    counter_store *counters;
    hos_mutex *lock;
    hos_cond *changed;
    em_run *runs;
    size_t failures;
    atomic_int cancelled;
};

void runner_count_failure(emh_host *h);
/* Drop one reference to the run's instance; the last destroys it. */
void runner_release_instance(em_run *r);
void host_services_teardown(emh_host *h);

#endif
