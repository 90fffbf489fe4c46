/* The host: node/action scheduling with EM's timeout rules. The services of
 * em_host_api are in host_services.c; both share runner_internal.h. */
#include "runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "counter_store.h"
#include "host_os.h"
#include "runner_internal.h"

/* ---------------------------------------------------------------------------
 * Run bookkeeping
 * ------------------------------------------------------------------------- */

/* Drop one reference to the run's instance; the last one destroys it. The
 * action thread holds one while run() executes and the worker another, so
 * destroy never overlaps either, whichever ends first. */
void runner_release_instance(em_run *r)
{
    hos_mutex_lock(r->host->lock);
    int last = --r->instance_refs == 0;
    hos_mutex_unlock(r->host->lock);
    if (last && r->instance)
        r->an->impl->destroy(r->instance);
}

static em_run *new_run(emh_host *h, const emh_action_node *an, const char *trigger,
                       const char *node)
{
    em_run *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->host = h;
    r->an = an;
    r->trigger = trigger;
    r->node = node;
    r->user = h->user_info;
    r->user.run_as = an->run_as;
    r->instance_refs = 1;
    size_t n = strlen(h->state_root) + strlen(an->action_id) + 2;
    r->state_dir = malloc(n);
    if (!r->state_dir) {
        free(r);
        return NULL;
    }
    snprintf(r->state_dir, n, "%s/%s", h->state_root, an->action_id);
    hos_mutex_lock(h->lock);
    r->next = h->runs;
    h->runs = r;
    hos_mutex_unlock(h->lock);
    return r;
}

static void audit_action(emh_host *h, em_run *r, int ok, const char *result, const char *message,
                         int64_t duration)
{
    int started = strcmp(r->trigger, "processStarted") == 0;
    uint32_t id = started ? (ok ? EMH_EVENT_PROCESS_START_ACTION_OK : EMH_EVENT_PROCESS_START_ACTION_FAILED)
                          : (ok ? EMH_EVENT_PROCESS_STOP_ACTION_OK : EMH_EVENT_PROCESS_STOP_ACTION_FAILED);
    emh_event e = {.id = id, .level = ok ? EM_LEVEL_INFO : EM_LEVEL_ERROR, .source = "emhost",
                   .name = ok ? "action.succeeded" : "action.failed", .message = message,
                   .trigger = r->trigger, .node = r->node, .action = r->an->description,
                   .action_id = r->an->action_id,
                   .run_as = r->an->run_as == EM_RUN_AS_SYSTEM ? "System" : "CurrentUser",
                   .result = result, .duration_ms = duration};
    emh_audit_write(h->audit, &e);
}

/* A host note about one run. It carries the run's trigger, node and action
 * like the 9428-9431 event it follows up on: descriptions need not be unique,
 * so the message alone cannot say which node's action it means. */
static void audit_run_note(emh_host *h, em_run *r, em_level level, const char *name,
                           const char *message)
{
    emh_event e = {.id = 0, .level = level, .source = "emhost", .name = name, .message = message,
                   .trigger = r->trigger, .node = r->node, .action = r->an->description,
                   .action_id = r->an->action_id,
                   .run_as = r->an->run_as == EM_RUN_AS_SYSTEM ? "System" : "CurrentUser",
                   .duration_ms = -1};
    emh_audit_write(h->audit, &e);
}

void runner_count_failure(emh_host *h)
{
    hos_mutex_lock(h->lock);
    h->failures++;
    hos_mutex_unlock(h->lock);
}

/* ---------------------------------------------------------------------------
 * One action: create, run, and hand over to its worker if it started one.
 * Runs on its own thread so the chain can stop waiting at the deadline.
 * ------------------------------------------------------------------------- */
static void action_thread(void *arg)
{
    em_run *r = arg;
    emh_host *h = r->host;
    char err[1024] = "";
    em_run_result result = EM_RUN_FAILED;
    em_status st = r->an->impl->create(&h->api, r->an->params_json, &r->instance, err, sizeof err);
    if (st != EM_OK) {
        snprintf(r->message, sizeof r->message, "could not start: %s", err[0] ? err : "create failed");
        r->instance = NULL;
    } else {
        result = r->an->impl->run(r->instance, r);
        hos_mutex_lock(h->lock);
        int worker = r->worker_started;
        hos_mutex_unlock(h->lock);
        if (result == EM_RUN_ASYNC && !worker) {
            snprintf(r->message, sizeof r->message,
                     "plugin error: run() returned EM_RUN_ASYNC without starting a worker");
            result = EM_RUN_FAILED;
        } else if (result == EM_RUN_ASYNC) {
            snprintf(r->message, sizeof r->message, "started; continues in the background");
        } else if (!r->message[0]) {
            snprintf(r->message, sizeof r->message, result == EM_RUN_OK ? "completed" : "failed");
        }
    }
    runner_release_instance(r);
    hos_mutex_lock(h->lock);
    r->result = result;
    r->finished_ms = hos_now_ms();
    /* timed_out is only set while the run is unfinished, so it is final here. */
    int late = r->timed_out;
    if (!late) {
        r->finished = 1;
        hos_cond_broadcast(h->changed);
    }
    hos_mutex_unlock(h->lock);
    if (!late)
        return;
    /* Note the late finish BEFORE marking the run finished: from then on
     * emh_host_wait may return and emhost free the policy that the note's
     * strings (node, description) belong to. */
    char msg[1200];
    snprintf(msg, sizeof msg, "'%s' finished after its timeout (%s); it was counted as failed",
             r->an->description, result == EM_RUN_FAILED ? "failed" : "succeeded");
    audit_run_note(h, r, EM_LEVEL_WARNING, "action.finishedLate", msg);
    hos_mutex_lock(h->lock);
    r->finished = 1;
    hos_cond_broadcast(h->changed);
    hos_mutex_unlock(h->lock);
}

/* Run one action and wait for it until its deadline. Returns 1 on success. */
static int run_action(emh_host *h, const emh_action_node *an, const char *trigger,
                      const char *node, uint64_t node_deadline, int64_t node_timeout_ms)
{
    em_run *r = new_run(h, an, trigger, node);
    if (!r) {
        runner_count_failure(h);
        return 0;
    }
    uint64_t start = hos_now_ms();
    /* A custom action's own timeout overrides the node's (T14); 0 = infinite. */
    uint64_t deadline = an->timeout_ms < 0 ? node_deadline
                      : an->timeout_ms == 0 ? UINT64_MAX : start + (uint64_t)an->timeout_ms;
    if (hos_thread_start(&r->thread, action_thread, r) != 0) {
        audit_action(h, r, 0, "failure", "cannot start a thread for the action", 0);
        runner_count_failure(h);
        return 0;
    }
    hos_mutex_lock(h->lock);
    while (!r->finished && hos_now_ms() < deadline)
        hos_cond_wait_until(h->changed, h->lock, deadline);
    int finished = r->finished;
    if (!finished)
        r->timed_out = 1;
    hos_mutex_unlock(h->lock);
    int64_t took = (int64_t)(hos_now_ms() - start);
    if (!finished) {
        /* The timeout as configured: under the node's, the action started a
         * moment after the node's clock, so deadline - start falls short. */
        char msg[512];
        snprintf(msg, sizeof msg,
                 "did not finish within %s%lld ms: counted as failed (it keeps running; its "
                 "child actions are not run)",
                 an->timeout_ms < 0 ? "the node's timeout of " : "",
                 (long long)(an->timeout_ms < 0 ? node_timeout_ms : an->timeout_ms));
        audit_action(h, r, 0, "timeout", msg, took);
        runner_count_failure(h);
        return 0;
    }
    int ok = r->result != EM_RUN_FAILED;
    audit_action(h, r, ok, ok ? (r->result == EM_RUN_ASYNC ? "started" : "success") : "failure",
                 r->message, took);
    if (!ok)
        runner_count_failure(h);
    return ok;
}

/* ---------------------------------------------------------------------------
 * Chains: an action and, after it succeeds, its children in sequence.
 * ------------------------------------------------------------------------- */
typedef struct chain {
    emh_host *host;
    const emh_action_node *first;
    const char *trigger, *node;
    uint64_t deadline;      /* the node's, shared by every action of the chain */
    int64_t node_timeout_ms; /* what that deadline was made of, for messages */
    int done, ok;
    hos_thread *thread;
} chain;

static int run_chain_list(emh_host *h, const emh_action_node *an, const char *trigger,
                          const char *node, uint64_t deadline, int64_t node_timeout_ms)
{
    if (!run_action(h, an, trigger, node, deadline, node_timeout_ms))
        return 0;
    for (size_t i = 0; i < an->child_count; i++)
        if (!run_chain_list(h, &an->children[i], trigger, node, deadline, node_timeout_ms))
            return 0;
    return 1;
}

static void chain_thread(void *arg)
{
    chain *c = arg;
    int ok = run_chain_list(c->host, c->first, c->trigger, c->node, c->deadline,
                            c->node_timeout_ms);
    hos_mutex_lock(c->host->lock);
    c->ok = ok;
    c->done = 1;
    hos_cond_broadcast(c->host->changed);
    hos_mutex_unlock(c->host->lock);
}

/* ---------------------------------------------------------------------------
 * Nodes
 * ------------------------------------------------------------------------- */

/* Windows compares image names case-insensitively; ASCII folding covers the
 * executable names EM admins type (OUTLOOK.EXE). */
static int image_name_equal(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = (*a >= 'A' && *a <= 'Z') ? (char)(*a + 32) : *a;
        char y = (*b >= 'A' && *b <= 'Z') ? (char)(*b + 32) : *b;
        if (x != y)
            return 0;
    }
    return *a == *b;
}
static int conditions_hold(emh_host *h, const emh_node *n, const char *image)
{
    for (size_t i = 0; i < n->condition_count; i++) {
        const emh_condition *c = &n->conditions[i];
        if (c->is_counter)
            continue; /* counted last, so a node that doesn't run isn't counted */
        int match = c->op == EMH_OP_REGEX ? catl_regex_match(c->regex, image)
                                          : image_name_equal(c->value, image);
        if (c->op == EMH_OP_NOT_EQUAL)
            match = !match;
        if (!match)
            return 0;
    }
    for (size_t i = 0; i < n->condition_count; i++) {
        const emh_condition *c = &n->conditions[i];
        if (c->is_counter && !counter_store_take(h->counters, n->pointer, c->max))
            return 0;
    }
    return 1;
}

/* Returns 1 when every action of the node (not its children) succeeded. */
static int run_node(emh_host *h, const emh_policy *p, emh_trigger t, const char *image,
                    const emh_node *n)
{
    if (!conditions_hold(h, n, image))
        return 1;
    const char *trigger = emh_trigger_name(t);
    int64_t timeout = n->timeout_ms >= 0 ? n->timeout_ms : (int64_t)p->node_timeout_ms;
    uint64_t deadline = timeout == 0 ? UINT64_MAX : hos_now_ms() + (uint64_t)timeout;
    int ok = 1;
    chain *chains = n->action_count ? calloc(n->action_count, sizeof *chains) : NULL;
    if (n->action_count && !chains)
        return 0;
    /* EM runs the actions at one level simultaneously (T10). */
    for (size_t i = 0; i < n->action_count; i++) {
        chains[i] = (chain){.host = h, .first = &n->actions[i], .trigger = trigger,
                            .node = n->name, .deadline = deadline, .node_timeout_ms = timeout};
        if (hos_thread_start(&chains[i].thread, chain_thread, &chains[i]) != 0) {
            chains[i].done = 1;
            chains[i].ok = 0;
            runner_count_failure(h);
        }
    }
    /* Chains enforce the deadlines themselves, so they always return. */
    for (size_t i = 0; i < n->action_count; i++) {
        if (chains[i].thread)
            hos_thread_join(chains[i].thread);
        ok &= chains[i].ok;
    }
    free(chains);
    if (!ok && n->stop_sub_nodes_on_fail) {
        if (n->child_count) {
            char msg[512];
            snprintf(msg, sizeof msg, "node '%s' failed: its %zu child node(s) were not run "
                     "(Stop Sub Nodes on Fail)", n->name, n->child_count);
            emh_host_log(h, EM_LEVEL_WARNING, "node.childrenSkipped", msg);
        }
        return 0;
    }
    for (size_t i = 0; i < n->child_count; i++)
        run_node(h, p, t, image, &n->children[i]);
    return ok;
}

size_t emh_host_fire(emh_host *h, const emh_policy *p, emh_trigger trigger, const char *image)
{
    size_t before = emh_host_failures(h);
    for (size_t i = 0; i < p->node_count[trigger]; i++)
        run_node(h, p, trigger, image, &p->nodes[trigger][i]);
    return emh_host_failures(h) - before;
}

/* ---------------------------------------------------------------------------
 * Waiting, shutdown, teardown
 * ------------------------------------------------------------------------- */
static int all_work_done_locked(emh_host *h)
{
    for (em_run *r = h->runs; r; r = r->next)
        if (!r->finished || (r->worker_started && !r->worker_done))
            return 0;
    return 1;
}

int emh_host_wait(emh_host *h, uint64_t deadline_ms)
{
    hos_mutex_lock(h->lock);
    while (!all_work_done_locked(h)) {
        if (deadline_ms != UINT64_MAX && hos_now_ms() >= deadline_ms)
            break;
        hos_cond_wait_until(h->changed, h->lock, deadline_ms);
    }
    int done = all_work_done_locked(h);
    hos_mutex_unlock(h->lock);
    return done ? 0 : 1;
}

int emh_host_shutdown(emh_host *h, const emh_policy *p, uint32_t deadline_ms)
{
    uint64_t deadline = hos_now_ms() + deadline_ms;
    atomic_store(&h->cancelled, 1);
    int ok = 1;
    for (size_t i = 0; p && i < p->plugin_count; i++) {
        const em_module *m = p->plugins[i]->module;
        if (!m->shutdown)
            continue;
        uint64_t now = hos_now_ms();
        uint32_t left = now >= deadline ? 0 : (uint32_t)(deadline - now);
        if (m->shutdown(left) != EM_OK)
            ok = 0;
    }
    int rc = emh_host_wait(h, deadline);
    char msg[256];
    snprintf(msg, sizeof msg, rc == 0 && ok ? "shutdown: all work stopped within %u ms"
                                            : "shutdown: work still running after %u ms",
             deadline_ms);
    emh_host_log(h, rc == 0 && ok ? EM_LEVEL_INFO : EM_LEVEL_WARNING, "host.shutdown", msg);
    return rc == 0 && ok ? 0 : 1;
}

size_t emh_host_failures(const emh_host *h)
{
    hos_mutex_lock(h->lock);
    size_t n = h->failures;
    hos_mutex_unlock(h->lock);
    return n;
}

void emh_host_free(emh_host *h)
{
    if (!h)
        return;
    if (emh_host_wait(h, hos_now_ms()) != 0)
        return; /* threads still use it: leave it to process exit */
    while (h->runs) {
        em_run *r = h->runs;
        h->runs = r->next;
        hos_thread_join(r->thread);
        hos_thread_join(r->worker);
        free(r->state_dir);
        free(r);
    }
    host_services_teardown(h);
}
