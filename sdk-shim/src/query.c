/* Asking actions outside a trigger: the em_action.query half of query.h.
 * The rendering is in query_report.c. */
#include "query.h"

#include <stdlib.h>
#include <string.h>

#include "runner_internal.h"

/* A run that belongs to no trigger. It is not on the host's run list, so
 * emh_host_wait and emh_host_free never see it; worker_started is set from
 * the start so that start_worker refuses (a query answers synchronously). */
static em_run *query_run_new(emh_host *h, const emh_action_node *an, const char *node)
{
    em_run *r = calloc(1, sizeof *r);
    size_t n = strlen(h->state_root) + strlen(an->action_id) + 2;
    char *dir = malloc(n);
    if (!r || !dir) {
        free(r);
        free(dir);
        return NULL;
    }
    snprintf(dir, n, "%s/%s", h->state_root, an->action_id);
    r->host = h;
    r->an = an;
    r->node = node;
    r->user = h->user_info;
    r->user.run_as = an->run_as;
    r->state_dir = dir;
    r->instance_refs = 1;
    r->worker_started = 1;
    return r;
}

static void ask(emh_host *h, const emh_action_node *an, const char *trigger, const char *node,
                const char *command, const char *args_json, emh_query_answer *a)
{
    memset(a, 0, sizeof *a);
    a->action = an;
    a->node = node;
    a->trigger = trigger;
    const em_action *impl = an->impl;
    /* A plugin built before query existed has a shorter em_action. */
    if (!EM_HAS_MEMBER(impl, em_action, free_result) || !impl->query || !impl->free_result) {
        a->outcome = EMH_QUERY_NO_SUPPORT;
        snprintf(a->error, sizeof a->error, "this action has no %s", command);
        return;
    }
    em_run *r = query_run_new(h, an, node);
    if (!r) {
        a->outcome = EMH_QUERY_FAILED;
        snprintf(a->error, sizeof a->error, "out of memory");
        return;
    }
    void *instance = NULL;
    char err[1024] = "";
    em_status st = impl->create(&h->api, an->params_json, &instance, err, sizeof err);
    if (st != EM_OK) {
        a->outcome = EMH_QUERY_FAILED;
        snprintf(a->error, sizeof a->error, "could not create the action: %s",
                 err[0] ? err : "create failed");
    } else {
        char *result = NULL;
        st = impl->query(instance, r, command, args_json, &result, err, sizeof err);
        if (st == EM_OK && result) {
            json_error_t jerr;
            a->result = json_loads(result, 0, &jerr);
            if (json_is_object(a->result)) {
                a->outcome = EMH_QUERY_ANSWERED;
            } else {
                json_decref(a->result);
                a->result = NULL;
                a->outcome = EMH_QUERY_FAILED;
                snprintf(a->error, sizeof a->error,
                         "plugin error: the answer is not a JSON object (line %d: %s)", jerr.line,
                         jerr.text);
            }
        } else if (st == EM_OK) {
            a->outcome = EMH_QUERY_FAILED;
            snprintf(a->error, sizeof a->error, "plugin error: query returned EM_OK and no result");
        } else {
            /* EM_ERR_PARAMS: a command it does not know (emhost's options
             * are always well-formed). */
            a->outcome = st == EM_ERR_PARAMS ? EMH_QUERY_NO_SUPPORT : EMH_QUERY_FAILED;
            snprintf(a->error, sizeof a->error, "%s", err[0] ? err : "query failed");
        }
        if (result)
            impl->free_result(result);
        impl->destroy(instance);
    }
    free(r->state_dir);
    free(r);
}

typedef struct collector {
    emh_host *host;
    const char *command, *args_json, *trigger;
    emh_query_answer *items;
    size_t count, cap;
} collector;

static void visit_action(collector *c, const emh_action_node *an, const char *node)
{
    if (c->count == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        emh_query_answer *n = realloc(c->items, cap * sizeof *n);
        if (!n)
            return;
        c->items = n;
        c->cap = cap;
    }
    ask(c->host, an, c->trigger, node, c->command, c->args_json, &c->items[c->count++]);
    for (size_t i = 0; i < an->child_count; i++)
        visit_action(c, &an->children[i], node);
}

static void visit_nodes(collector *c, const emh_node *nodes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < nodes[i].action_count; k++)
            visit_action(c, &nodes[i].actions[k], nodes[i].name);
        visit_nodes(c, nodes[i].children, nodes[i].child_count);
    }
}

size_t emh_query_policy(emh_host *h, const emh_policy *p, const char *command,
                        const char *args_json, emh_query_answer **answers)
{
    collector c = {.host = h, .command = command, .args_json = args_json};
    for (int t = 0; t < EMH_TRIGGER_COUNT; t++) {
        c.trigger = emh_trigger_name((emh_trigger)t);
        visit_nodes(&c, p->nodes[t], p->node_count[t]);
    }
    *answers = c.items;
    return c.count;
}

void emh_query_answers_free(emh_query_answer *answers, size_t count)
{
    for (size_t i = 0; i < count; i++)
        json_decref(answers[i].result);
    free(answers);
}
