#include "policy.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_os.h"
#include "jsonschema.h"

extern const char emh_policy_schema_json[]; /* embedded schemas/policy.schema.json */

#define DEFAULT_NODE_TIMEOUT_MS 30000u /* EM's NodeTimeout default (T14) */

const char *emh_trigger_name(emh_trigger t)
{
    return t == EMH_TRIGGER_PROCESS_STOPPED ? "processStopped" : "processStarted";
}

void emh_diag_add(emh_diag *d, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    char **grown = realloc(d->lines, (d->count + 1) * sizeof *grown);
    if (!grown)
        return;
    d->lines = grown;
    d->lines[d->count] = strdup(line);
    if (d->lines[d->count])
        d->count++;
}

void emh_diag_free(emh_diag *d)
{
    for (size_t i = 0; i < d->count; i++)
        free(d->lines[i]);
    free(d->lines);
    d->lines = NULL;
    d->count = 0;
}

/* One compiled parameter schema per action, so a policy with many nodes of
 * one action parses that schema once. */
typedef struct schema_cache {
    const em_action *action;
    js_schema *schema;
    struct schema_cache *next;
} schema_cache;

typedef struct load_ctx {
    const char *file;
    emh_diag *diag;
    emh_policy *policy;
    schema_cache *schemas;
    size_t errors_before;
} load_ctx;

static char *pointer_join(const char *base, const char *key)
{
    /* RFC 6901: '~' -> "~0", '/' -> "~1". */
    size_t n = strlen(base) + 2 * strlen(key) + 2;
    char *out = malloc(n), *w = out;
    if (!out)
        return NULL;
    w += sprintf(w, "%s/", base);
    for (const char *k = key; *k; k++) {
        if (*k == '~')
            *w++ = '~', *w++ = '0';
        else if (*k == '/')
            *w++ = '~', *w++ = '1';
        else
            *w++ = *k;
    }
    *w = '\0';
    return out;
}

static char *pointer_index(const char *base, const char *key, size_t index)
{
    size_t n = strlen(base) + strlen(key) + 32;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s/%s/%zu", base, key, index);
    return out;
}

char *emh_resolve_plugin_path(const char *ref, const char *plugin_dir, const char *base_dir)
{
    const char *base = hos_path_base(ref);
    const char *suffix = strchr(base, '.') ? "" : hos_plugin_suffix();
    if (hos_is_absolute(ref)) {
        size_t n = strlen(ref) + strlen(suffix) + 1;
        char *p = malloc(n);
        if (p)
            snprintf(p, n, "%s%s", ref, suffix);
        return p;
    }
    const char *dirs[2] = {plugin_dir, base_dir};
    char *first = NULL;
    for (int i = 0; i < 2; i++) {
        if (!dirs[i])
            continue;
        size_t n = strlen(dirs[i]) + strlen(ref) + strlen(suffix) + 2;
        char *p = malloc(n);
        if (!p)
            break;
        snprintf(p, n, "%s/%s%s", dirs[i], ref, suffix);
        if (hos_file_exists(p)) {
            free(first);
            return p;
        }
        if (!first)
            first = p;
        else
            free(p);
    }
    return first;
}

static int load_plugins(load_ctx *c, json_t *root, const char *plugin_dir, const em_host_api *host)
{
    json_t *list = json_object_get(root, "plugins");
    size_t n = json_array_size(list);
    if (n == 0)
        return 0;
    c->policy->plugins = calloc(n, sizeof *c->policy->plugins);
    if (!c->policy->plugins)
        return -1;
    char *base_dir = hos_dirname(c->file);
    for (size_t i = 0; i < n; i++) {
        const char *ref = json_string_value(json_array_get(list, i));
        char *path = emh_resolve_plugin_path(ref, plugin_dir, base_dir);
        char err[2048];
        emh_plugin *p = NULL;
        if (!path || emh_plugin_load(path, host, &p, err, sizeof err) != 0)
            emh_diag_add(c->diag, "%s: /plugins/%zu: %s", c->file, i, path ? err : "out of memory");
        else
            c->policy->plugins[c->policy->plugin_count++] = p;
        free(path);
    }
    free(base_dir);
    return 0;
}

static const em_action *find_action(load_ctx *c, const char *id, const emh_plugin **owner)
{
    for (size_t i = 0; i < c->policy->plugin_count; i++) {
        const em_action *a = emh_plugin_find_action(c->policy->plugins[i], id);
        if (a) {
            *owner = c->policy->plugins[i];
            return a;
        }
    }
    return NULL;
}

static js_schema *action_schema(load_ctx *c, const em_action *a)
{
    for (schema_cache *s = c->schemas; s; s = s->next)
        if (s->action == a)
            return s->schema;
    json_error_t jerr;
    json_t *doc = json_loads(a->parameter_schema_json, 0, &jerr);
    char err[1024] = "";
    js_schema *schema = doc ? js_schema_new(doc, err, sizeof err) : NULL;
    json_decref(doc);
    if (!schema) {
        emh_diag_add(c->diag, "%s: action '%s' ships an unusable parameter schema: %s", c->file,
                     a->id, doc ? err : jerr.text);
        return NULL;
    }
    schema_cache *entry = calloc(1, sizeof *entry);
    if (!entry) {
        js_schema_free(schema);
        return NULL;
    }
    entry->action = a;
    entry->schema = schema;
    entry->next = c->schemas;
    c->schemas = entry;
    return schema;
}

static void check_parameters(load_ctx *c, emh_action_node *an, json_t *params)
{
    js_schema *schema = action_schema(c, an->impl);
    if (!schema)
        return;
    char *ptr = pointer_join(an->pointer, "parameters");
    js_errors errs = {0};
    js_validate(schema, params, ptr, &errs);
    for (size_t i = 0; i < errs.count; i++)
        emh_diag_add(c->diag, "%s: %s: %s", c->file, errs.items[i].pointer, errs.items[i].message);
    /* Semantic checks only make sense on schema-valid parameters. */
    if (errs.count == 0 && an->impl->validate) {
        char why[1024] = "";
        if (an->impl->validate(an->params_json, why, sizeof why) != EM_OK)
            emh_diag_add(c->diag, "%s: %s%s%s", c->file, ptr, why[0] == '/' ? "" : ": ",
                         why[0] ? why : "rejected by the action");
    }
    js_errors_free(&errs);
    free(ptr);
}

static int build_action(load_ctx *c, json_t *j, const char *pointer, emh_action_node *an);

static int build_action_list(load_ctx *c, json_t *arr, const char *base, const char *key,
                             emh_action_node **out, size_t *count)
{
    size_t n = json_array_size(arr);
    *out = n ? calloc(n, sizeof **out) : NULL;
    *count = 0;
    if (n && !*out)
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_array_get(arr, i);
        json_t *enabled = json_object_get(j, "enabled");
        if (enabled && json_is_false(enabled))
            continue; /* like a disabled node, never passed to the agent */
        char *ptr = pointer_index(base, key, i);
        int rc = ptr ? build_action(c, j, ptr, &(*out)[*count]) : -1;
        free(ptr);
        if (rc != 0)
            return -1;
        (*count)++;
    }
    return 0;
}

static int build_action(load_ctx *c, json_t *j, const char *pointer, emh_action_node *an)
{
    an->pointer = strdup(pointer);
    an->action_id = strdup(json_string_value(json_object_get(j, "action")));
    const char *desc = json_string_value(json_object_get(j, "description"));
    json_t *params = json_object_get(j, "parameters");
    json_t *empty = params ? NULL : json_object();
    an->description = strdup(desc ? desc : an->action_id);
    const char *run_as = json_string_value(json_object_get(j, "runAs"));
    an->run_as = run_as && strcmp(run_as, "System") == 0 ? EM_RUN_AS_SYSTEM : EM_RUN_AS_CURRENT_USER;
    json_t *timeout = json_object_get(j, "timeoutMs");
    an->timeout_ms = timeout ? json_integer_value(timeout) : -1;
    an->params_json = json_dumps(params ? params : empty, JSON_COMPACT);
    if (!an->pointer || !an->action_id || !an->description || !an->params_json) {
        json_decref(empty);
        return -1;
    }
    an->impl = find_action(c, an->action_id, &an->plugin);
    if (!an->impl) {
        if (c->policy->plugin_count || c->diag->count == c->errors_before) {
            char provided[1024] = "";
            for (size_t i = 0; i < c->policy->plugin_count; i++) {
                const em_module *m = c->policy->plugins[i]->module;
                for (size_t k = 0; k < m->action_count; k++)
                    snprintf(provided + strlen(provided), sizeof provided - strlen(provided),
                             "%s%s", provided[0] ? ", " : "", m->actions[k].id);
            }
            emh_diag_add(c->diag, "%s: %s/action: unknown action '%s' (loaded plugins provide: %s)",
                         c->file, pointer, an->action_id, provided[0] ? provided : "none");
        }
    } else {
        check_parameters(c, an, params ? params : empty);
    }
    json_decref(empty);
    return build_action_list(c, json_object_get(j, "children"), pointer, "children",
                             &an->children, &an->child_count);
}

static int build_condition(load_ctx *c, json_t *j, const char *pointer, emh_condition *cond)
{
    const char *type = json_string_value(json_object_get(j, "type"));
    if (strcmp(type, "counter") == 0) {
        cond->is_counter = 1;
        cond->max = json_integer_value(json_object_get(j, "max"));
        return 0;
    }
    const char *op = json_string_value(json_object_get(j, "operator"));
    cond->op = strcmp(op, "RegEx") == 0 ? EMH_OP_REGEX
             : strcmp(op, "NotEqual") == 0 ? EMH_OP_NOT_EQUAL : EMH_OP_EQUAL;
    cond->value = strdup(json_string_value(json_object_get(j, "value")));
    if (!cond->value)
        return -1;
    if (cond->op == EMH_OP_REGEX) {
        char why[512];
        /* EM documents its regular expressions as case-sensitive (T8). */
        cond->regex = catl_regex_compile(cond->value, 0, why, sizeof why);
        if (!cond->regex)
            emh_diag_add(c->diag, "%s: %s/value: invalid regular expression: %s", c->file, pointer, why);
    }
    return 0;
}

static int build_node_list(load_ctx *c, json_t *arr, const char *base, const char *key,
                           emh_node **out, size_t *count);

static int build_node(load_ctx *c, json_t *j, const char *pointer, emh_node *node)
{
    node->pointer = strdup(pointer);
    node->name = strdup(json_string_value(json_object_get(j, "name")));
    if (!node->pointer || !node->name)
        return -1;
    json_t *timeout = json_object_get(j, "timeoutMs");
    node->timeout_ms = timeout ? json_integer_value(timeout) : -1;
    node->stop_sub_nodes_on_fail = json_is_true(json_object_get(j, "stopSubNodesOnFail"));
    json_t *conds = json_object_get(j, "conditions");
    size_t n = json_array_size(conds);
    node->conditions = n ? calloc(n, sizeof *node->conditions) : NULL;
    if (n && !node->conditions)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char *ptr = pointer_index(pointer, "conditions", i);
        int rc = ptr ? build_condition(c, json_array_get(conds, i), ptr, &node->conditions[i]) : -1;
        free(ptr);
        if (rc != 0)
            return -1;
        node->condition_count++;
    }
    if (build_action_list(c, json_object_get(j, "actions"), pointer, "actions", &node->actions,
                          &node->action_count) != 0)
        return -1;
    return build_node_list(c, json_object_get(j, "nodes"), pointer, "nodes", &node->children,
                           &node->child_count);
}

static int build_node_list(load_ctx *c, json_t *arr, const char *base, const char *key,
                           emh_node **out, size_t *count)
{
    size_t n = json_array_size(arr);
    *out = n ? calloc(n, sizeof **out) : NULL;
    *count = 0;
    if (n && !*out)
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_array_get(arr, i);
        if (json_is_false(json_object_get(j, "enabled")))
            continue; /* T13: a disabled node is not passed to the agent */
        char *ptr = pointer_index(base, key, i);
        int rc = ptr ? build_node(c, j, ptr, &(*out)[*count]) : -1;
        free(ptr);
        if (rc != 0)
            return -1;
        (*count)++;
    }
    return 0;
}

static int validate_against_policy_schema(load_ctx *c, json_t *root)
{
    json_error_t jerr;
    json_t *schema_doc = json_loads(emh_policy_schema_json, 0, &jerr);
    char err[1024] = "";
    js_schema *schema = schema_doc ? js_schema_new(schema_doc, err, sizeof err) : NULL;
    json_decref(schema_doc);
    if (!schema) {
        emh_diag_add(c->diag, "%s: internal error: the built-in policy schema is unusable: %s",
                     c->file, schema_doc ? err : jerr.text);
        return -1;
    }
    js_errors errs = {0};
    js_validate(schema, root, "", &errs);
    for (size_t i = 0; i < errs.count; i++)
        emh_diag_add(c->diag, "%s: %s: %s", c->file, errs.items[i].pointer[0] ? errs.items[i].pointer : "/",
                     errs.items[i].message);
    size_t n = errs.count;
    js_errors_free(&errs);
    js_schema_free(schema);
    return n ? -1 : 0;
}

emh_policy *emh_policy_load(const char *path, const char *plugin_dir, const em_host_api *host,
                            emh_diag *diag)
{
    load_ctx c = {.file = path, .diag = diag, .errors_before = diag->count};
    char err[1024];
    size_t len = 0;
    char *text = hos_read_file(path, &len, err, sizeof err);
    if (!text) {
        emh_diag_add(diag, "%s: %s", path, err);
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root) {
        emh_diag_add(diag, "%s:%d:%d: invalid JSON: %s", path, jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    emh_policy *p = calloc(1, sizeof *p);
    c.policy = p;
    if (!p || validate_against_policy_schema(&c, root) != 0) {
        json_decref(root);
        free(p);
        return NULL;
    }
    p->path = strdup(path);
    const char *name = json_string_value(json_object_get(root, "name"));
    p->name = strdup(name ? name : path);
    json_t *timeout = json_object_get(json_object_get(root, "settings"), "nodeTimeoutMs");
    json_int_t node_timeout = timeout ? json_integer_value(timeout) : DEFAULT_NODE_TIMEOUT_MS;
    /* The schema sets no upper bound: clamp instead of letting 2^32 + 1 wrap
     * to 1 ms (or 2^32 to 0, "infinite"). UINT32_MAX ms is about 50 days. */
    p->node_timeout_ms = node_timeout > (json_int_t)UINT32_MAX ? UINT32_MAX : (uint32_t)node_timeout;
    int rc = load_plugins(&c, root, plugin_dir, host);
    json_t *triggers = json_object_get(root, "triggers");
    for (int t = 0; rc == 0 && t < EMH_TRIGGER_COUNT; t++)
        rc = build_node_list(&c, json_object_get(triggers, emh_trigger_name((emh_trigger)t)),
                             "/triggers", emh_trigger_name((emh_trigger)t), &p->nodes[t],
                             &p->node_count[t]);
    json_decref(root);
    while (c.schemas) {
        schema_cache *next = c.schemas->next;
        js_schema_free(c.schemas->schema);
        free(c.schemas);
        c.schemas = next;
    }
    if (rc != 0)
        emh_diag_add(diag, "%s: out of memory while loading the policy", path);
    if (rc != 0 || diag->count > c.errors_before) {
        emh_policy_free(p);
        return NULL;
    }
    return p;
}

static void free_actions(emh_action_node *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(list[i].pointer);
        free(list[i].action_id);
        free(list[i].description);
        free(list[i].params_json);
        free_actions(list[i].children, list[i].child_count);
    }
    free(list);
}

static void free_nodes(emh_node *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(list[i].pointer);
        free(list[i].name);
        for (size_t k = 0; k < list[i].condition_count; k++) {
            free(list[i].conditions[k].value);
            catl_regex_free(list[i].conditions[k].regex);
        }
        free(list[i].conditions);
        free_actions(list[i].actions, list[i].action_count);
        free_nodes(list[i].children, list[i].child_count);
    }
    free(list);
}

void emh_policy_free(emh_policy *p)
{
    if (!p)
        return;
    for (int t = 0; t < EMH_TRIGGER_COUNT; t++)
        free_nodes(p->nodes[t], p->node_count[t]);
    for (size_t i = 0; i < p->plugin_count; i++)
        emh_plugin_unload(p->plugins[i]);
    free(p->plugins);
    free(p->path);
    free(p->name);
    free(p);
}
