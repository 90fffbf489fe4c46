/*
 * policy.h - the policy model: our JSON stand-in for an EM configuration
 * (schemas/policy.schema.json), loaded, validated and bound to plugins.
 *
 * Loading does everything that can fail before a trigger fires: JSON syntax,
 * the policy schema, plugin loading, each action's parameters against that
 * action's own schema and its semantic validate(). Every problem becomes one
 * diagnostic line "<file>: <json pointer>: <why>", and all problems are
 * collected, not just the first.
 *
 * Ownership: emh_policy_load returns a policy freed by emh_policy_free, which
 * also unloads its plugins. emh_diag lines are malloc'd; emh_diag_free.
 */
#ifndef EMH_POLICY_H
#define EMH_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "catl_regex.h"
#include "em_action.h"
#include "plugin_loader.h"
#include "printf_like.h"

typedef enum emh_trigger {
    EMH_TRIGGER_PROCESS_STARTED = 0,
    EMH_TRIGGER_PROCESS_STOPPED = 1,
    EMH_TRIGGER_COUNT
} emh_trigger;

const char *emh_trigger_name(emh_trigger t); /* "processStarted" */

typedef enum emh_operator { EMH_OP_EQUAL, EMH_OP_NOT_EQUAL, EMH_OP_REGEX } emh_operator;

typedef struct emh_condition {
    int is_counter;   /* counter condition: run at most `max` times per session */
    int64_t max;
    emh_operator op;  /* processName condition */
    char *value;
    catl_regex *regex; /* compiled when op == EMH_OP_REGEX */
} emh_condition;

typedef struct emh_action_node {
    char *pointer; /* JSON pointer of this action in the policy */
    char *action_id;
    char *description;
    em_run_as run_as;
    int64_t timeout_ms; /* -1: use the node's */
    char *params_json;  /* the parameters object as compact JSON */
    const em_action *impl;
    const emh_plugin *plugin;
    struct emh_action_node *children;
    size_t child_count;
} emh_action_node;

typedef struct emh_node {
    char *pointer;
    char *name;
    emh_condition *conditions;
    size_t condition_count;
    int64_t timeout_ms; /* -1: policy default */
    int stop_sub_nodes_on_fail;
    emh_action_node *actions;
    size_t action_count;
    struct emh_node *children;
    size_t child_count;
} emh_node;

typedef struct emh_policy {
    char *path;
    char *name;
    uint32_t node_timeout_ms; /* 0 = infinite */
    emh_plugin **plugins;
    size_t plugin_count;
    emh_node *nodes[EMH_TRIGGER_COUNT]; /* enabled nodes only */
    size_t node_count[EMH_TRIGGER_COUNT];
} emh_policy;

typedef struct emh_diag {
    size_t count;
    char **lines;
} emh_diag;

void emh_diag_add(emh_diag *d, const char *fmt, ...)
    EMH_PRINTF_LIKE(2, 3)
    ;
void emh_diag_free(emh_diag *d);

/* plugin_dir may be NULL (then plugins resolve against the policy's folder).
 * Returns NULL when anything is wrong; `diag` then says what. */
emh_policy *emh_policy_load(const char *path, const char *plugin_dir, const em_host_api *host,
                            emh_diag *diag);
void emh_policy_free(emh_policy *p);

/* Resolve a plugin reference as a policy would: absolute path as is; else
 * relative to plugin_dir, then to base_dir; the platform suffix is added
 * when the name has none. malloc'd result (the first candidate when none
 * exists, so the error message names it). */
char *emh_resolve_plugin_path(const char *ref, const char *plugin_dir, const char *base_dir);

#endif
