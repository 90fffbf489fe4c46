/*
 * query.h - admins' questions to the actions of a policy, outside any
 * trigger (`emhost status`, `emhost verify`): the ABI's optional
 * em_action.query, and how emhost shows its answers.
 *
 * emh_query_policy visits every action of the policy (all triggers, nodes
 * and child actions, in policy order). For each one whose plugin implements
 * query it creates an instance from the node's parameters and an em_run for
 * the user the host acts for (audit, expand_vars, user, state_dir and
 * progress work as in a run; start_worker is refused: a query is
 * synchronous), asks, and destroys the instance. An action without query
 * (NULL, or an em_action too old to have the member) is listed with "this
 * action has no <command>".
 *
 * What emhost reads in an answer (the rest is passed through to --json):
 *   healthy            false: the action's own verdict is "needs attention"
 *   itemKind           what an item is ("PST"); default "item"
 *   items[]            name, lastSuccess (UTC text or null), ageSeconds,
 *                      size (bytes), lastResult ("ok", "failed", ...),
 *                      pendingResume (null, or {stagedBytes, totalBytes}),
 *                      versionsKept, healthy, problems[] (text or objects)
 *   orphanedSnapshots[] record, provider, artifacts[]
 *   problems[]         text about the action as a whole
 * An item is also judged by the host: no lastSuccess, an ageSeconds above
 * --max-age, or lastResult "failed" make it unhealthy whatever the plugin
 * said.
 *
 * Ownership: answers are freed with emh_query_answers_free.
 */
#ifndef EMH_QUERY_H
#define EMH_QUERY_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "policy.h"
#include "runner.h"

typedef enum emh_query_outcome {
    EMH_QUERY_ANSWERED,    /* result holds the plugin's JSON object */
    EMH_QUERY_NO_SUPPORT,  /* no query member, or the command is not one it knows */
    EMH_QUERY_FAILED       /* create or query failed: error says why */
} emh_query_outcome;

typedef struct emh_query_answer {
    const emh_action_node *action; /* borrowed from the policy */
    const char *node;              /* the node's name, borrowed */
    const char *trigger;           /* "processStarted", ... */
    emh_query_outcome outcome;
    char error[1024];
    json_t *result; /* owned; NULL unless answered */
} emh_query_answer;

/* Ask every action of `p`. *answers is malloc'd (count returned). */
size_t emh_query_policy(emh_host *h, const emh_policy *p, const char *command,
                        const char *args_json, emh_query_answer **answers);
void emh_query_answers_free(emh_query_answer *answers, size_t count);

/* "7d", "12h", "90m", "45s", "0" -> seconds; -1 when malformed. */
int64_t emh_parse_duration(const char *text);

/* Print the answers (a table per action, or one JSON document when
 * as_json) and return emhost's exit code: 0 all healthy, 1 something needs
 * attention (or could not be answered), 2 nothing in the policy answers
 * `command`. */
int emh_query_report(FILE *out, const char *policy_path, const char *command,
                     const emh_query_answer *answers, size_t count, int64_t max_age_s,
                     int as_json);

#endif
