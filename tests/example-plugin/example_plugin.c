/*
 * example_plugin.c - a tiny plugin that exercises the whole em_action.h ABI
 * for the host's tests. It is not the product; it only uses what the header
 * offers, exactly as a third-party plugin would.
 *
 * Actions:
 *   example.Echo        synchronous: expands `message`, audits it, optionally
 *                       sleeps (`sleepMs`, for timeouts) and fails (`fail`);
 *                       remembers its last run in <state_dir>/echo-status.json
 *                       and answers the "status" query from it
 *   example.Background  returns at once; a worker runs `workMs`, reports
 *                       progress, honours cancellation and writes what
 *                       happened to `<state_dir>/<name>.result`
 *   example.WhoAmI      audits the user info and state dir it was given
 *
 * Build-time knobs (for version tests): EXAMPLE_BUILT_ABI is the ABI the
 * module claims to be built for; EXAMPLE_MIN_HOST_ABI the oldest host ABI it
 * accepts.
 */
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(_WIN32)
#include <windows.h>
#endif

#include "em_action.h"

#ifndef EXAMPLE_BUILT_ABI
#define EXAMPLE_BUILT_ABI EM_ABI_VERSION
#endif
#ifndef EXAMPLE_MIN_HOST_ABI
#define EXAMPLE_MIN_HOST_ABI 1u
#endif

static const em_host_api *g_host;
static atomic_int g_shutdown;
static atomic_int g_active_workers;

/* The only OS calls of this plugin: a sleep and a monotonic clock for the
 * sleepMs/workMs parameters (a real plugin keeps these in its platform
 * layer, as pstsnap does in plugin/platform/). */
#if defined(_WIN32)
static void sleep_ms(unsigned ms) { Sleep(ms); }
static uint64_t now_ms(void) { return GetTickCount64(); }
#else
static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
#endif

typedef struct instance {
    json_t *params;
} instance;

static em_status create(const em_host_api *host, const char *params_json, void **out,
                        char *errbuf, size_t errlen)
{
    json_error_t jerr;
    instance *in = calloc(1, sizeof *in);
    if (!in)
        return EM_ERR_NOMEM;
    in->params = json_loads(params_json, 0, &jerr);
    if (!in->params) {
        snprintf(errbuf, errlen, "parameters are not JSON: %s", jerr.text);
        free(in);
        return EM_ERR_PARAMS;
    }
    *out = in;
    return EM_OK;
}

static void destroy(void *p)
{
    instance *in = p;
    json_decref(in->params);
    free(in);
}

/* --- example.Echo ---------------------------------------------------------- */
static const char echo_schema[] =
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"type\":\"object\","
    "\"required\":[\"message\"],\"additionalProperties\":false,\"properties\":{"
    "\"message\":{\"type\":\"string\",\"minLength\":1},"
    "\"sleepMs\":{\"type\":\"integer\",\"minimum\":0,\"default\":0},"
    "\"fail\":{\"type\":\"boolean\",\"default\":false}}}";

static em_status echo_validate(const char *params_json, char *errbuf, size_t errlen)
{
    json_t *p = json_loads(params_json, 0, NULL);
    const char *msg = json_string_value(json_object_get(p, "message"));
    em_status st = EM_OK;
    /* A semantic rule the schema cannot say: used by the host tests. */
    if (msg && strcmp(msg, "forbidden") == 0) {
        snprintf(errbuf, errlen, "/message: the word 'forbidden' is not allowed");
        st = EM_ERR_PARAMS;
    }
    json_decref(p);
    return st;
}

static void echo_status_path(em_run *run, char *path, size_t len)
{
    snprintf(path, len, "%s/echo-status.json", g_host->state_dir(run));
}

/* Keep the last success across failed runs, as a backup keeps its last good copy. */
static void remember_echo(em_run *run, int ok)
{
    char path[4096];
    echo_status_path(run, path, sizeof path);
    json_t *state = json_load_file(path, 0, NULL);
    if (!json_is_object(state)) {
        json_decref(state);
        state = json_object();
    }
    json_int_t now = (json_int_t)time(NULL);
    json_object_set_new(state, "lastAttempt", json_integer(now));
    json_object_set_new(state, "lastResult", json_string(ok ? "ok" : "failed"));
    if (ok)
        json_object_set_new(state, "lastSuccess", json_integer(now));
    json_dump_file(state, path, JSON_COMPACT);
    json_decref(state);
}

static em_run_result echo_run(void *p, em_run *run)
{
    instance *in = p;
    const char *msg = json_string_value(json_object_get(in->params, "message"));
    char *expanded = NULL, err[512];
    if (g_host->expand_vars(run, msg, &expanded, err, sizeof err) != EM_OK) {
        g_host->audit(run, EM_LEVEL_ERROR, 9701, "example.echo.badVariable", err, NULL);
        return EM_RUN_FAILED;
    }
    json_int_t sleep_for = json_integer_value(json_object_get(in->params, "sleepMs"));
    if (sleep_for > 0)
        sleep_ms((unsigned)sleep_for);
    json_t *detail = json_pack("{s:s}", "expanded", expanded);
    char *detail_text = json_dumps(detail, JSON_COMPACT);
    g_host->audit(run, EM_LEVEL_INFO, 9700, "example.echo", expanded, detail_text);
    free(detail_text);
    json_decref(detail);
    g_host->free_string(expanded);
    int ok = !json_is_true(json_object_get(in->params, "fail"));
    remember_echo(run, ok);
    return ok ? EM_RUN_OK : EM_RUN_FAILED;
}

/* "status": one item, this action's last run. The times are epoch seconds
 * in the file so that a test can age them. */
static em_status echo_query(void *p, em_run *run, const char *command, const char *args_json,
                            char **result_json, char *errbuf, size_t errlen)
{
    instance *in = p;
    if (strcmp(command, "status") != 0) {
        snprintf(errbuf, errlen, "example.Echo answers only 'status', not '%s'", command);
        return EM_ERR_PARAMS;
    }
    char path[4096];
    echo_status_path(run, path, sizeof path);
    json_t *state = json_load_file(path, 0, NULL);
    json_int_t success = json_integer_value(json_object_get(state, "lastSuccess"));
    json_int_t attempt = json_integer_value(json_object_get(state, "lastAttempt"));
    const char *result = json_string_value(json_object_get(state, "lastResult"));
    time_t now = time(NULL);
    char when[32] = "";
    if (success > 0) {
        time_t t = (time_t)success;
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    }
    json_t *item = json_pack("{s:s, s:o, s:o, s:s}", "name",
                             json_string_value(json_object_get(in->params, "message")),
                             "lastSuccess", success > 0 ? json_string(when) : json_null(),
                             "ageSeconds", success > 0 ? json_integer(now - success) : json_null(),
                             "lastResult", attempt > 0 && result ? result : "never");
    json_t *doc = json_pack("{s:s, s:[o]}", "itemKind", "message", "items", item);
    *result_json = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    json_decref(state);
    return *result_json ? EM_OK : EM_ERR_NOMEM;
}

static void free_result(char *result_json) { free(result_json); }

/* --- example.Background ------------------------------------------------------ */
static const char background_schema[] =
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"type\":\"object\","
    "\"required\":[\"name\"],\"additionalProperties\":false,\"properties\":{"
    "\"name\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z0-9_-]+$\"},"
    "\"workMs\":{\"type\":\"integer\",\"minimum\":0,\"default\":100},"
    "\"fail\":{\"type\":\"boolean\",\"default\":false},"
    "\"ignoreCancel\":{\"type\":\"boolean\",\"default\":false}}}";

static void write_result(em_run *run, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.result", g_host->state_dir(run), name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static em_run_result background_worker(em_run *run, void *arg)
{
    instance *in = arg;
    const char *name = json_string_value(json_object_get(in->params, "name"));
    json_int_t work = json_integer_value(json_object_get(in->params, "workMs"));
    int ignore_cancel = json_is_true(json_object_get(in->params, "ignoreCancel"));
    uint64_t start = now_ms();
    char text[128];
    /* Work in 10 ms steps and poll for cancellation between them: the ABI
     * asks workers to notice a shutdown within a second. */
    while (now_ms() - start < (uint64_t)work) {
        if (!ignore_cancel && (g_host->is_cancelled(run) || atomic_load(&g_shutdown))) {
            snprintf(text, sizeof text, "cancelled after %llu ms\n",
                     (unsigned long long)(now_ms() - start));
            write_result(run, name, text);
            g_host->audit(run, EM_LEVEL_WARNING, 9703, "example.background.cancelled", text, NULL);
            atomic_fetch_sub(&g_active_workers, 1);
            return EM_RUN_FAILED;
        }
        g_host->progress(run, now_ms() - start, (uint64_t)work);
        sleep_ms(10);
    }
    snprintf(text, sizeof text, "completed %lld ms of work\n", (long long)work);
    write_result(run, name, text);
    g_host->audit(run, EM_LEVEL_INFO, 9702, "example.background.done", text, NULL);
    atomic_fetch_sub(&g_active_workers, 1);
    return json_is_true(json_object_get(in->params, "fail")) ? EM_RUN_FAILED : EM_RUN_OK;
}

static em_run_result background_run(void *p, em_run *run)
{
    atomic_fetch_add(&g_active_workers, 1);
    if (g_host->start_worker(run, background_worker, p) != EM_OK) {
        atomic_fetch_sub(&g_active_workers, 1);
        return EM_RUN_FAILED;
    }
    return EM_RUN_ASYNC;
}

/* --- example.WhoAmI ------------------------------------------------------------ */
static const char whoami_schema[] =
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"type\":\"object\","
    "\"additionalProperties\":false,\"properties\":{}}";

static em_run_result whoami_run(void *p, em_run *run)
{
    const em_user_info *u = g_host->user(run);
    json_t *detail = json_pack("{s:s, s:s, s:s, s:i, s:s, s:b, s:s}", "name", u->name, "sid",
                               u->sid, "profileDir", u->profile_dir, "sessionId",
                               (int)u->session_id, "runAs",
                               u->run_as == EM_RUN_AS_SYSTEM ? "System" : "CurrentUser",
                               "elevated", u->elevated, "stateDir", g_host->state_dir(run));
    char *text = json_dumps(detail, JSON_COMPACT);
    g_host->audit(run, EM_LEVEL_INFO, 9704, "example.whoami", u->name, text);
    free(text);
    json_decref(detail);
    return EM_RUN_OK;
}

/* --- module ---------------------------------------------------------------------- */
static em_status shutdown_module(uint32_t deadline_ms)
{
    atomic_store(&g_shutdown, 1);
    uint64_t end = now_ms() + deadline_ms;
    while (atomic_load(&g_active_workers) > 0 && now_ms() < end)
        sleep_ms(5);
    return atomic_load(&g_active_workers) == 0 ? EM_OK : EM_ERR_RUNTIME;
}

static const em_action actions[] = {
    {sizeof(em_action), "example.Echo", "Echo", "1.0.0", echo_schema, echo_validate, create,
     echo_run, destroy, echo_query, free_result},
    {sizeof(em_action), "example.Background", "Background work", "1.0.0", background_schema,
     NULL, create, background_run, destroy, NULL, NULL},
    {sizeof(em_action), "example.WhoAmI", "Who am I", "1.0.0", whoami_schema, NULL, create,
     whoami_run, destroy, NULL, NULL},
};

static const em_module module = {sizeof(em_module), EXAMPLE_BUILT_ABI, "example", "1.0.0",
                                 sizeof actions / sizeof actions[0], actions, shutdown_module};

EM_EXPORT em_status em_module_init(uint32_t host_abi_version, const em_host_api *host,
                                   const em_module **out, char *errbuf, size_t errlen)
{
    if (host_abi_version < EXAMPLE_MIN_HOST_ABI) {
        snprintf(errbuf, errlen, "needs host ABI >= %u, host has %u", EXAMPLE_MIN_HOST_ABI,
                 host_abi_version);
        return EM_ERR_ABI;
    }
    g_host = host;
    *out = &module;
    return EM_OK;
}
