/*
 * emhost - runs custom action plugins the way the Environment Manager agent
 * runs actions. See README.md ("emhost") for usage.
 *
 * Exit codes: 0 every action (and its background work) succeeded; 1 some
 * action failed or timed out; 2 bad usage, invalid policy or plugin.
 */
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_os.h"
#include "policy.h"
#include "query.h"
#include "runner.h"

#define EXIT_OK 0
#define EXIT_FAILED 1
#define EXIT_INVALID 2
#define MAX_PAIRS 64
#define DEFAULT_SHUTDOWN_DEADLINE_MS 5000u
#define DEFAULT_MAX_AGE "7d"

static const char usage[] =
    "usage:\n"
    "  emhost describe PLUGIN\n"
    "  emhost validate POLICY [--plugin-dir DIR]\n"
    "  emhost fire POLICY (--process-start NAME | --process-stop NAME) [options]\n"
    "  emhost watch POLICY [options] [--interval MS]\n"
    "  emhost status POLICY [--json] [--max-age DURATION] [options]\n"
    "  emhost verify POLICY [--json] [options]\n"
    "options:\n"
    "  --var NAME=VALUE      EM session variable, e.g. --var DataNowHome=/srv/fd (repeatable)\n"
    "  --env NAME=VALUE      override a variable of the user's environment (repeatable)\n"
    "  --audit FILE          append audit events (JSON lines) to FILE instead of stderr\n"
    "  --state-dir DIR       per-user state root (default ~/.local/state/emhost)\n"
    "  --user NAME           act for this logged-on user (when running elevated)\n"
    "  --session-id N        user session id (default: this process's session)\n"
    "  --plugin-dir DIR      where to find plugins named in the policy\n"
    "  --no-wait             do not wait for background work: ask it to checkpoint and stop\n"
    "  --logoff-after MS     simulate logoff MS milliseconds after the trigger fired\n"
    "  --shutdown-deadline MS  time given to plugins to stop at logoff (default 5000)\n"
    "  --progress            show progress of background work on stderr: a bar on a\n"
    "                        terminal (when --audit sends the events to a file), else a\n"
    "                        line per action every --progress-interval MS (default 5000)\n"
    "  --json                status, verify: one JSON document for monitoring\n"
    "  --max-age DURATION    status: a last good backup older than this needs attention\n"
    "                        (e.g. 36h, 7d; 0 = no limit; default " DEFAULT_MAX_AGE ")\n";

typedef struct cli {
    const char *command, *target;
    const char *process_start, *process_stop;
    const char *pairs_env[MAX_PAIRS], *pairs_var[MAX_PAIRS];
    size_t env_count, var_count;
    const char *audit, *state_dir, *user, *plugin_dir;
    uint32_t session_id;
    int no_wait, progress, json;
    const char *max_age;
    long long logoff_after_ms;
    uint32_t shutdown_deadline_ms, interval_ms, progress_interval_ms;
} cli;

static int parse_uint(const char *opt, const char *text, unsigned long long min,
                      unsigned long long max, unsigned long long *out)
{
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (!*text || *end || text[0] == '-' || v < min || v > max) {
        fprintf(stderr, "emhost: %s: '%s' is not a number between %llu and %llu\n", opt, text,
                min, max);
        return -1;
    }
    *out = v;
    return 0;
}

/* Options followed by a value; the flags (--no-wait, --progress) are not. */
static int takes_value(const char *opt)
{
    static const char *const names[] = {
        "--process-start", "--process-stop", "--var", "--env", "--audit", "--state-dir",
        "--user", "--plugin-dir", "--session-id", "--logoff-after", "--shutdown-deadline",
        "--interval", "--max-age", "--progress-interval"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(opt, names[i]))
            return 1;
    return 0;
}

static int parse_cli(int argc, char **argv, cli *c)
{
    memset(c, 0, sizeof *c);
    c->logoff_after_ms = -1;
    c->shutdown_deadline_ms = DEFAULT_SHUTDOWN_DEADLINE_MS;
    c->interval_ms = 500;
    if (argc < 3) {
        fputs(usage, stderr);
        return -1;
    }
    c->command = argv[1];
    c->target = argv[2];
    for (int i = 3; i < argc; i++) {
        const char *opt = argv[i];
        int flag = !strcmp(opt, "--no-wait") || !strcmp(opt, "--progress") || !strcmp(opt, "--json");
        if (!flag && !takes_value(opt)) {
            fprintf(stderr, "emhost: unknown option '%s'\n%s", opt, usage);
            return -1;
        }
        if (!flag && i + 1 >= argc) {
            fprintf(stderr, "emhost: %s needs a value\n%s", opt, usage);
            return -1;
        }
        const char *val = flag ? NULL : argv[++i];
        unsigned long long num = 0;
        if (!strcmp(opt, "--no-wait"))
            c->no_wait = 1;
        else if (!strcmp(opt, "--progress"))
            c->progress = 1;
        else if (!strcmp(opt, "--json"))
            c->json = 1;
        else if (!strcmp(opt, "--max-age"))
            c->max_age = val;
        else if (!strcmp(opt, "--process-start"))
            c->process_start = val;
        else if (!strcmp(opt, "--process-stop"))
            c->process_stop = val;
        else if (!strcmp(opt, "--var") || !strcmp(opt, "--env")) {
            int is_var = !strcmp(opt, "--var");
            size_t *n = is_var ? &c->var_count : &c->env_count;
            if (*n == MAX_PAIRS) {
                fprintf(stderr, "emhost: too many %s options (at most %d)\n", opt, MAX_PAIRS);
                return -1;
            }
            (is_var ? c->pairs_var : c->pairs_env)[(*n)++] = val;
        } else if (!strcmp(opt, "--audit"))
            c->audit = val;
        else if (!strcmp(opt, "--state-dir"))
            c->state_dir = val;
        else if (!strcmp(opt, "--user"))
            c->user = val;
        else if (!strcmp(opt, "--plugin-dir"))
            c->plugin_dir = val;
        else if (!strcmp(opt, "--session-id")) {
            if (parse_uint(opt, val, 0, UINT32_MAX, &num) != 0)
                return -1;
            c->session_id = (uint32_t)num;
        } else if (!strcmp(opt, "--logoff-after")) {
            if (parse_uint(opt, val, 0, 86400000ull, &num) != 0)
                return -1;
            c->logoff_after_ms = (long long)num;
        } else if (!strcmp(opt, "--shutdown-deadline")) {
            if (parse_uint(opt, val, 0, 600000ull, &num) != 0)
                return -1;
            c->shutdown_deadline_ms = (uint32_t)num;
        } else if (!strcmp(opt, "--progress-interval")) {
            if (parse_uint(opt, val, 1, 3600000ull, &num) != 0)
                return -1;
            c->progress_interval_ms = (uint32_t)num;
        } else if (!strcmp(opt, "--interval")) {
            /* 0 would poll without pause; say so instead of failing silently. */
            if (parse_uint(opt, val, 1, 60000ull, &num) != 0)
                return -1;
            c->interval_ms = (uint32_t)num;
        } else {
            fprintf(stderr, "emhost: unknown option '%s'\n%s", opt, usage);
            return -1;
        }
    }
    return 0;
}

static emh_host *make_host(const cli *c)
{
    /* A bar redrawn in place needs a terminal, and a stderr of its own: the
     * audit lines written there meanwhile would tear it apart. */
    int audit_elsewhere = c->audit && strcmp(c->audit, "-") != 0;
    emh_host_options o = {.audit_path = c->audit, .state_root = c->state_dir,
                          .user_name = c->user, .env = c->pairs_env, .env_count = c->env_count,
                          .vars = c->pairs_var, .var_count = c->var_count,
                          .session_id = c->session_id, .progress = c->progress,
                          .progress_bar = audit_elsewhere && hos_isatty(stderr),
                          .progress_interval_ms = c->progress_interval_ms};
    char err[1024];
    emh_host *h = emh_host_new(&o, err, sizeof err);
    if (!h)
        fprintf(stderr, "emhost: %s\n", err);
    return h;
}

static emh_policy *load_policy(const cli *c, emh_host *h)
{
    emh_diag diag = {0};
    emh_policy *p = emh_policy_load(c->target, c->plugin_dir, emh_host_api(h), &diag);
    for (size_t i = 0; i < diag.count; i++)
        fprintf(stderr, "%s\n", diag.lines[i]);
    if (!p)
        fprintf(stderr, "emhost: policy '%s' is invalid (%zu problem%s)\n", c->target, diag.count,
                diag.count == 1 ? "" : "s");
    emh_diag_free(&diag);
    return p;
}

/* --- describe -------------------------------------------------------------- */
static int cmd_describe(const cli *c)
{
    emh_host *h = make_host(c);
    if (!h)
        return EXIT_INVALID;
    char *path = emh_resolve_plugin_path(c->target, NULL, ".");
    emh_plugin *p = NULL;
    char err[2048];
    if (emh_plugin_load(path, emh_host_api(h), &p, err, sizeof err) != 0) {
        fprintf(stderr, "emhost: %s\n", err);
        free(path);
        emh_host_free(h);
        return EXIT_INVALID;
    }
    json_t *out = json_object(), *actions = json_array();
    const em_module *m = p->module;
    json_object_set_new(out, "plugin", json_string(path));
    json_object_set_new(out, "module", json_pack("{s:s, s:s, s:i}", "name", m->name, "version",
                                                 m->version, "abiVersion", (int)m->abi_version));
    int rc = EXIT_OK;
    for (size_t i = 0; i < m->action_count; i++) {
        const em_action *a = &m->actions[i];
        json_error_t jerr;
        json_t *schema = json_loads(a->parameter_schema_json, 0, &jerr);
        if (!schema) {
            fprintf(stderr, "emhost: action '%s' of '%s' has a parameter schema that is not JSON: "
                    "line %d: %s\n", a->id, path, jerr.line, jerr.text);
            rc = EXIT_INVALID;
            schema = json_null();
        }
        json_array_append_new(actions, json_pack("{s:s, s:s, s:s, s:o}", "id", a->id,
                                                 "displayName", a->display_name, "version",
                                                 a->version, "parameterSchema", schema));
    }
    json_object_set_new(out, "actions", actions);
    json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(out);
    emh_plugin_unload(p);
    free(path);
    emh_host_free(h);
    return rc;
}

/* --- validate -------------------------------------------------------------- */
static size_t count_actions(const emh_action_node *a, size_t n)
{
    size_t total = n;
    for (size_t i = 0; i < n; i++)
        total += count_actions(a[i].children, a[i].child_count);
    return total;
}

static void count_nodes(const emh_node *nodes, size_t n, size_t *node_total, size_t *action_total)
{
    for (size_t i = 0; i < n; i++) {
        (*node_total)++;
        *action_total += count_actions(nodes[i].actions, nodes[i].action_count);
        count_nodes(nodes[i].children, nodes[i].child_count, node_total, action_total);
    }
}

/* The host and the policy every command that runs plugins starts from;
 * 0, or EXIT_INVALID after saying why (nothing to free then). */
static int open_host_and_policy(const cli *c, emh_host **h, emh_policy **p)
{
    if (!(*h = make_host(c)))
        return EXIT_INVALID;
    if (!(*p = load_policy(c, *h))) {
        emh_host_free(*h);
        return EXIT_INVALID;
    }
    return 0;
}

static int cmd_validate(const cli *c)
{
    emh_host *h;
    emh_policy *p;
    if (open_host_and_policy(c, &h, &p) != 0)
        return EXIT_INVALID;
    size_t nodes = 0, actions = 0;
    for (int t = 0; t < EMH_TRIGGER_COUNT; t++)
        count_nodes(p->nodes[t], p->node_count[t], &nodes, &actions);
    printf("%s: valid (%zu plugin%s, %zu node%s, %zu action%s)\n", c->target, p->plugin_count,
           p->plugin_count == 1 ? "" : "s", nodes, nodes == 1 ? "" : "s", actions,
           actions == 1 ? "" : "s");
    emh_policy_free(p);
    emh_host_free(h);
    return EXIT_OK;
}

/* --- fire / watch ------------------------------------------------------------ */
/* A stop request (SIGINT/SIGTERM) is handled on the signal watcher's thread
 * while the main thread may be waiting for work, shutting it down itself
 * (--no-wait, --logoff-after) or tearing down. `lock` serialises these: a
 * module's shutdown() is never entered twice at once (the ABI promises one
 * thread), and the host and the plugins are not freed - nor the plugin
 * unloaded - while a stop request is still inside them. */
typedef struct stop_ctx {
    hos_mutex *lock;
    emh_host *host; /* NULL before setup and once teardown began */
    const emh_policy *policy;
    uint32_t deadline_ms;
    int closing;
    atomic_int requested;
} stop_ctx;

static stop_ctx g_stop;

static void on_stop_request(void *arg)
{
    stop_ctx *s = arg;
    atomic_store(&s->requested, 1);
    hos_mutex_lock(s->lock);
    if (!s->host) {
        int closing = s->closing;
        hos_mutex_unlock(s->lock);
        if (closing)
            return; /* the work is over and emhost is already on its way out */
        _Exit(EXIT_FAILED);
    }
    fprintf(stderr, "emhost: stop requested: asking actions to checkpoint and stop within %u ms\n",
            s->deadline_ms);
    if (emh_host_shutdown(s->host, s->policy, s->deadline_ms) != 0) {
        fprintf(stderr, "emhost: work still running at the shutdown deadline; exiting anyway\n");
        fflush(NULL);
        _Exit(EXIT_FAILED); /* threads are inside plugin code: no orderly teardown */
    }
    hos_mutex_unlock(s->lock);
}

static int stop_handling_begin(const cli *c)
{
    g_stop.deadline_ms = c->shutdown_deadline_ms;
    if (!(g_stop.lock = hos_mutex_new()) || hos_on_stop_request(on_stop_request, &g_stop) != 0) {
        fprintf(stderr, "emhost: cannot set up the handling of stop requests\n");
        return -1;
    }
    return 0;
}

static void stop_handling_attach(emh_host *h, const emh_policy *p)
{
    hos_mutex_lock(g_stop.lock);
    g_stop.host = h;
    g_stop.policy = p;
    hos_mutex_unlock(g_stop.lock);
}

/* Before freeing the host and the policy: waits for a stop request that is
 * being handled, and makes later ones leave them alone. */
static void stop_handling_detach(void)
{
    hos_mutex_lock(g_stop.lock);
    g_stop.host = NULL;
    g_stop.policy = NULL;
    g_stop.closing = 1;
    hos_mutex_unlock(g_stop.lock);
}

static int shutdown_work(emh_host *h, const emh_policy *p, uint32_t deadline_ms)
{
    hos_mutex_lock(g_stop.lock);
    int rc = emh_host_shutdown(h, p, deadline_ms);
    hos_mutex_unlock(g_stop.lock);
    return rc;
}

/* After the trigger: wait for background work as the options say. */
static int finish(const cli *c, emh_host *h, const emh_policy *p)
{
    int stopped = 0;
    if (c->no_wait) {
        stopped = shutdown_work(h, p, c->shutdown_deadline_ms) == 0;
    } else if (c->logoff_after_ms >= 0) {
        if (emh_host_wait(h, hos_now_ms() + (uint64_t)c->logoff_after_ms) == 0)
            stopped = 1;
        else
            stopped = shutdown_work(h, p, c->shutdown_deadline_ms) == 0;
    } else {
        stopped = emh_host_wait(h, UINT64_MAX) == 0;
    }
    if (!stopped) {
        fprintf(stderr, "emhost: background work did not stop within %u ms\n",
                c->shutdown_deadline_ms);
        fflush(NULL);
        _Exit(EXIT_FAILED);
    }
    return emh_host_failures(h) ? EXIT_FAILED : EXIT_OK;
}

static int cmd_fire(const cli *c)
{
    if (!!c->process_start == !!c->process_stop) {
        fprintf(stderr, "emhost: fire needs exactly one of --process-start NAME or --process-stop NAME\n");
        return EXIT_INVALID;
    }
    if (stop_handling_begin(c) != 0)
        return EXIT_FAILED;
    emh_host *h;
    emh_policy *p;
    if (open_host_and_policy(c, &h, &p) != 0)
        return EXIT_INVALID;
    stop_handling_attach(h, p);
    emh_trigger t = c->process_start ? EMH_TRIGGER_PROCESS_STARTED : EMH_TRIGGER_PROCESS_STOPPED;
    const char *image = c->process_start ? c->process_start : c->process_stop;
    size_t failed = emh_host_fire(h, p, t, image);
    printf("emhost: %s %s: %zu action%s failed\n", emh_trigger_name(t), image, failed,
           failed == 1 ? "" : "s");
    fflush(stdout);
    int rc = finish(c, h, p);
    stop_handling_detach();
    emh_policy_free(p);
    emh_host_free(h);
    return rc;
}

typedef struct seen_set {
    hos_process *items;
    size_t count;
} seen_set;

/* A process is the same one while its pid, start time and image stay. On
 * Linux a program starts by exec: a process seen between fork and exec (or
 * a shell that execs) keeps its pid and start time but is a new image, a
 * start EM would see, and the old image's end. */
static int seen_contains(const seen_set *s, const hos_process *p)
{
    for (size_t i = 0; i < s->count; i++)
        if (s->items[i].pid == p->pid && s->items[i].start_time == p->start_time &&
            strcmp(s->items[i].image, p->image) == 0)
            return 1;
    return 0;
}

static int cmd_watch(const cli *c)
{
    if (stop_handling_begin(c) != 0)
        return EXIT_FAILED;
    emh_host *h;
    emh_policy *p;
    if (open_host_and_policy(c, &h, &p) != 0)
        return EXIT_INVALID;
    stop_handling_attach(h, p);
    seen_set seen = {0};
    if (hos_list_processes(&seen.items, &seen.count) != 0) {
        fprintf(stderr, "emhost: cannot list running processes\n");
        return EXIT_FAILED;
    }
    fprintf(stderr, "emhost: watching for process starts (%zu running now); Ctrl+C to stop\n",
            seen.count);
    /* Processes already running are the baseline: EM fires Process Started
     * only for starts it observes. */
    while (!atomic_load(&g_stop.requested)) {
        hos_sleep_ms(c->interval_ms);
        seen_set now = {0};
        if (hos_list_processes(&now.items, &now.count) != 0)
            continue;
        for (size_t i = 0; i < now.count && !atomic_load(&g_stop.requested); i++)
            if (!seen_contains(&seen, &now.items[i]))
                emh_host_fire(h, p, EMH_TRIGGER_PROCESS_STARTED, now.items[i].image);
        for (size_t i = 0; i < seen.count && !atomic_load(&g_stop.requested); i++)
            if (!seen_contains(&now, &seen.items[i]))
                emh_host_fire(h, p, EMH_TRIGGER_PROCESS_STOPPED, seen.items[i].image);
        free(seen.items);
        seen = now;
    }
    free(seen.items);
    /* on_stop_request already shut the plugins down. */
    int rc = emh_host_wait(h, hos_now_ms() + c->shutdown_deadline_ms) == 0 ? EXIT_OK : EXIT_FAILED;
    stop_handling_detach();
    emh_policy_free(p);
    emh_host_free(h);
    return rc;
}

/* --- status / verify ------------------------------------------------------------ */
static int cmd_query(const cli *c, const char *command)
{
    int64_t max_age_s = emh_parse_duration(c->max_age ? c->max_age : DEFAULT_MAX_AGE);
    if (max_age_s < 0) {
        fprintf(stderr, "emhost: --max-age: '%s' is not a duration such as 36h or 7d (0 = no "
                "limit)\n", c->max_age);
        return EXIT_INVALID;
    }
    emh_host *h;
    emh_policy *p;
    if (open_host_and_policy(c, &h, &p) != 0)
        return EXIT_INVALID;
    char args[64];
    snprintf(args, sizeof args, "{\"maxAgeSeconds\": %lld}", (long long)max_age_s);
    emh_query_answer *answers = NULL;
    size_t count = emh_query_policy(h, p, command, args, &answers);
    int rc = emh_query_report(stdout, c->target, command, answers, count, max_age_s, c->json);
    emh_query_answers_free(answers, count);
    emh_policy_free(p);
    emh_host_free(h);
    return rc;
}

int main(int argc, char **argv)
{
    if (hos_process_init(&argc, &argv) != 0) {
        fputs("emhost: cannot read the command line\n", stderr);
        return EXIT_INVALID;
    }
    cli c;
    if (parse_cli(argc, argv, &c) != 0)
        return EXIT_INVALID;
    if (!strcmp(c.command, "describe"))
        return cmd_describe(&c);
    if (!strcmp(c.command, "validate"))
        return cmd_validate(&c);
    if (!strcmp(c.command, "fire"))
        return cmd_fire(&c);
    if (!strcmp(c.command, "watch"))
        return cmd_watch(&c);
    if (!strcmp(c.command, "status") || !strcmp(c.command, "verify"))
        return cmd_query(&c, c.command);
    fprintf(stderr, "emhost: unknown command '%s'\n%s", c.command, usage);
    return EXIT_INVALID;
}
