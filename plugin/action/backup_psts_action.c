/*
 * backup_psts_action.c - the plugin's ABI glue: exposes pstsnap.BackupPsts
 * through em_action.h and adapts the host's services to the engine.
 *
 * run() does only what must fail the node visibly and fast (parameters and
 * variable expansion, a few milliseconds), then hands the backup to a host
 * worker and returns: Process Started must not hold Outlook up, and EM
 * counts an action running past the node timeout as failed.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "em_action.h"
#include "events.h"
#include "host.h"
#include "params.h"
#include "pipeline.h"
#include "platform.h"
#include "status.h"
#include "verify.h"

#define ACTION_ID "pstsnap.BackupPsts"

static const em_host_api *g_host;
static atomic_int g_shutdown;       /* module shutdown requested */
static atomic_int g_active_workers; /* backups in progress */

typedef struct backup_instance {
    ps_params params;
    char *destination;
    char **sources;
    size_t source_count;
} backup_instance;

/* --- ps_host over em_host_api ------------------------------------------------ */
static void host_event(void *ctx, ps_level level, uint32_t id, const char *name, const char *msg,
                       const char *detail)
{
    static const em_level levels[] = {EM_LEVEL_DEBUG, EM_LEVEL_INFO, EM_LEVEL_WARNING, EM_LEVEL_ERROR};
    g_host->audit((em_run *)ctx, levels[level], id, name, msg, detail);
}

static void host_progress(void *ctx, uint64_t done, uint64_t total)
{
    g_host->progress((em_run *)ctx, done, total);
}

static int host_cancelled(void *ctx)
{
    return atomic_load(&g_shutdown) || g_host->is_cancelled((em_run *)ctx);
}

/* --- lifecycle ------------------------------------------------------------------- */
static em_status backup_validate(const char *params_json, char *errbuf, size_t errlen)
{
    ps_params p;
    ps_err err;
    if (ps_params_parse(params_json, &p, &err) != PS_OK) {
        snprintf(errbuf, errlen, "%s", err.msg);
        return EM_ERR_PARAMS;
    }
    ps_params_free(&p);
    return EM_OK;
}

static em_status backup_create(const em_host_api *host, const char *params_json, void **out,
                               char *errbuf, size_t errlen)
{
    backup_instance *in = calloc(1, sizeof *in);
    if (!in)
        return EM_ERR_NOMEM;
    ps_err err;
    if (ps_params_parse(params_json, &in->params, &err) != PS_OK) {
        snprintf(errbuf, errlen, "%s", err.msg);
        free(in);
        return EM_ERR_PARAMS;
    }
    *out = in;
    return EM_OK;
}

static void backup_destroy(void *p)
{
    backup_instance *in = p;
    ps_params_free(&in->params);
    free(in->destination);
    for (size_t i = 0; i < in->source_count; i++)
        free(in->sources[i]);
    free(in->sources);
    free(in);
}

/* A variable that is set but empty turns "$(DataNowHome)\Outlook Backup"
 * into "\Outlook Backup": the root of the drive (of the filesystem here),
 * where an elevated run would then write. It is refused as an unset one is.
 * Each %NAME% / $(Name) of `text` is expanded alone to find out. */
static int has_empty_variable(em_run *run, const char *text, char *why, size_t why_len)
{
    for (const char *p = text; *p; p++) {
        const char *end = NULL;
        if (p[0] == '%' && p[1] == '%') {
            p++;
            continue;
        }
        if (p[0] == '%' && ((p[1] >= 'A' && p[1] <= 'Z') || (p[1] >= 'a' && p[1] <= 'z') || p[1] == '_'))
            end = strchr(p + 1, '%');
        else if (p[0] == '$' && p[1] == '(')
            end = strchr(p + 2, ')');
        char ref[512];
        if (!end || (size_t)(end - p) + 1 >= sizeof ref)
            continue;
        memcpy(ref, p, (size_t)(end - p) + 1);
        ref[end - p + 1] = '\0';
        char *value = NULL, ignored[256];
        int empty = g_host->expand_vars(run, ref, &value, ignored, sizeof ignored) == EM_OK &&
                    value && !*value;
        if (value)
            g_host->free_string(value);
        if (empty) {
            snprintf(why, why_len, "variable %s is empty, which would put '%s' at the root", ref,
                     text);
            return 1;
        }
        p = end;
    }
    return 0;
}

/* Expand variables for the user and convert to a native absolute path. */
static char *expand_path(em_run *run, const char *text, char *why, size_t why_len)
{
    char *expanded = NULL;
    if (has_empty_variable(run, text, why, why_len))
        return NULL;
    if (g_host->expand_vars(run, text, &expanded, why, why_len) != EM_OK)
        return NULL;
    char *native = pf_native_path(expanded);
    g_host->free_string(expanded);
    if (native && !pf_is_absolute(native)) {
        snprintf(why, why_len, "'%s' is not an absolute path after expansion", native);
        free(native);
        return NULL;
    }
    return native;
}

/* The engine's job for this run: paths already expanded (expand_job_paths). */
static ps_job job_for(backup_instance *in, em_run *run, const ps_host *host)
{
    const em_user_info *user = g_host->user(run);
    ps_job job = {.params = &in->params, .destination = in->destination,
                  .sources = in->sources, .source_count = in->source_count,
                  .state_dir = g_host->state_dir(run),
                  /* Elevated for a user: only that user's files are theirs to back up. */
                  .owner_uid = user->elevated && user->uid >= 0 ? user->uid : -1,
                  .owner_gid = user->elevated && user->uid >= 0 ? user->gid : -1,
                  /* Elevated (Run As System) for a Windows user: read their
                   * Outlook profiles from their hive, not SYSTEM's. */
                  .user_sid = user->elevated && user->sid && strncmp(user->sid, "S-1-", 4) == 0
                                  ? user->sid : NULL,
                  .host = host};
    return job;
}

static em_run_result backup_worker(em_run *run, void *arg)
{
    backup_instance *in = arg;
    ps_host host = {.ctx = run, .event = host_event, .progress = host_progress,
                    .cancelled = host_cancelled};
    ps_err err;
    if (in->params.io_priority_low && pf_io_priority_low(&err) != PS_OK)
        ps_emit(&host, PS_DEBUG, 0, "pstsnap.ioPriority", NULL, "%s", err.msg);
    ps_job job = job_for(in, run, &host);
    ps_summary sum;
    ps_status s = pipeline_run(&job, &sum, &err);
    atomic_fetch_sub(&g_active_workers, 1);
    /* A run stopped by logoff lost nothing and resumes: not a failure. */
    return s == PS_OK ? EM_RUN_OK : EM_RUN_FAILED;
}

/* Expand destination and sources for the run's user. On failure `field`
 * names the parameter (a JSON pointer) and `why` says what is wrong. */
static int expand_job_paths(backup_instance *in, em_run *run, char *field, size_t field_len,
                            char *why, size_t why_len)
{
    snprintf(field, field_len, "/destination");
    in->destination = expand_path(run, in->params.destination, why, why_len);
    if (!in->destination)
        return -1;
    in->sources = calloc(in->params.source_count ? in->params.source_count : 1, sizeof *in->sources);
    if (!in->sources) {
        snprintf(why, why_len, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < in->params.source_count; i++) {
        char *src = expand_path(run, in->params.sources[i], why, why_len);
        if (!src) {
            snprintf(field, field_len, "/sources/%zu", i);
            return -1;
        }
        in->sources[in->source_count++] = src;
    }
    return 0;
}

static em_run_result backup_run(void *p, em_run *run)
{
    backup_instance *in = p;
    ps_host host = {.ctx = run, .event = host_event};
    char why[1024], field[32];
    /* An unset variable in a source is a policy error, as for the
     * destination: the folder meant cannot be known, and a run that quietly
     * backs up the rest would hide from the admin that this one is never
     * saved. A folder that is merely absent is skipped later, quietly. */
    if (expand_job_paths(in, run, field, sizeof field, why, sizeof why) != 0) {
        ps_emit(&host, PS_ERROR, PS_EV_BAD_PARAMETERS, "pstsnap.parameters.invalid",
                json_pack("{s:s, s:s}", "field", field, "reason", why),
                "%s: %s; nothing was backed up", field, why);
        return EM_RUN_FAILED;
    }
    atomic_fetch_add(&g_active_workers, 1);
    if (g_host->start_worker(run, backup_worker, in) != EM_OK) {
        atomic_fetch_sub(&g_active_workers, 1);
        ps_emit(&host, PS_ERROR, PS_EV_STATE_ERROR, "pstsnap.worker.failed", NULL,
                "cannot start the background backup");
        return EM_RUN_FAILED;
    }
    return EM_RUN_ASYNC;
}

static em_status backup_shutdown(uint32_t deadline_ms)
{
    atomic_store(&g_shutdown, 1);
    uint64_t end = pf_monotonic_ms() + deadline_ms;
    /* Workers see the flag within one chunk (well under a second),
     * checkpoint and return. */
    while (atomic_load(&g_active_workers) > 0 && pf_monotonic_ms() < end)
        pf_sleep_ms(10);
    return atomic_load(&g_active_workers) == 0 ? EM_OK : EM_ERR_RUNTIME;
}

/* --- query: status and verify, outside any trigger --------------------------- */
static em_status answer(ps_status s, const ps_err *err, json_t *report, char **result_json,
                        char *errbuf, size_t errlen)
{
    if (s != PS_OK) {
        json_decref(report);
        snprintf(errbuf, errlen, "%s", err->msg);
        return s == PS_ERR_INVALID ? EM_ERR_PARAMS : EM_ERR_RUNTIME;
    }
    *result_json = json_dumps(report, JSON_COMPACT);
    json_decref(report);
    if (!*result_json) {
        snprintf(errbuf, errlen, "cannot write the report (invalid UTF-8 in a path?)");
        return EM_ERR_RUNTIME;
    }
    return EM_OK;
}

/* verify.h's report in the terms emhost shows (healthy, itemKind, items
 * with name, healthy and problems in words); its own fields stay as they
 * are for --json. */
static void add_verify_items(json_t *report)
{
    json_t *items = json_array(), *file;
    size_t i;
    json_array_foreach(json_object_get(report, "files"), i, file) {
        json_t *problems = json_array(), *pst = json_object_get(file, "pst"), *p;
        char text[1400];
        const char *error = json_string_value(json_object_get(file, "error"));
        if (error)
            json_array_append_new(problems, json_string(error));
        if (json_is_false(json_object_get(file, "sizeOk"))) {
            snprintf(text, sizeof text, "size %lld bytes, %lld recorded at publish",
                     (long long)json_integer_value(json_object_get(file, "size")),
                     (long long)json_integer_value(json_object_get(file, "expectedSize")));
            json_array_append_new(problems, json_string(text));
        }
        if (json_is_true(json_object_get(file, "replaced")))
            json_array_append_new(problems, json_string("changed since it was published (a sync "
                                                        "client or a person wrote it)"));
        if (json_is_false(json_object_get(file, "blocksOk"))) {
            json_t *bad = json_object_get(file, "badBlocks");
            snprintf(text, sizeof text, "%lld block(s) of %lld bytes differ from what was "
                     "published, first at offset %lld",
                     (long long)json_integer_value(json_object_get(file, "badBlockCount")),
                     (long long)json_integer_value(json_object_get(file, "blockSize")),
                     (long long)(json_integer_value(json_array_get(bad, 0)) *
                                 json_integer_value(json_object_get(file, "blockSize"))));
            json_array_append_new(problems, json_string(text));
        }
        size_t k;
        json_array_foreach(json_object_get(pst, "problems"), k, p) {
            const char *what = json_string_value(json_object_get(p, "what"));
            snprintf(text, sizeof text, "PST structure at offset %lld: %s",
                     (long long)json_integer_value(json_object_get(p, "offset")),
                     what ? what : "damaged");
            json_array_append_new(problems, json_string(text));
        }
        json_int_t unlisted = json_integer_value(json_object_get(pst, "problemsNotListed"));
        if (unlisted > 0) {
            snprintf(text, sizeof text, "and %lld more PST structure problems", (long long)unlisted);
            json_array_append_new(problems, json_string(text));
        }
        const char *name = json_string_value(json_object_get(file, "backup"));
        json_array_append_new(items, json_pack("{s:s, s:b, s:o}", "name", name ? name : "?",
                                               "healthy", json_is_true(json_object_get(file, "ok")),
                                               "problems", problems));
    }
    json_object_set_new(report, "itemKind", json_string("backup"));
    json_object_set_new(report, "items", items);
    json_object_set(report, "healthy", json_object_get(report, "ok"));
}

static em_status backup_query(void *p, em_run *run, const char *command, const char *args_json,
                              char **result_json, char *errbuf, size_t errlen)
{
    backup_instance *in = p;
    *result_json = NULL;
    json_error_t jerr;
    json_t *args = json_loads(args_json ? args_json : "{}", 0, &jerr);
    json_t *max_age = json_object_get(args, "maxAgeSeconds");
    int is_status = strcmp(command, "status") == 0, is_verify = strcmp(command, "verify") == 0;
    if (!json_is_object(args) || (max_age && (!json_is_integer(max_age) ||
                                              json_integer_value(max_age) < 0))) {
        json_decref(args);
        snprintf(errbuf, errlen, "query options must be a JSON object whose maxAgeSeconds is a "
                 "whole number >= 0");
        return EM_ERR_PARAMS;
    }
    int64_t max_age_s = max_age ? (int64_t)json_integer_value(max_age) : 0;
    json_decref(args);
    if (!is_status && !is_verify) {
        snprintf(errbuf, errlen, "pstsnap answers 'status' and 'verify', not '%s'", command);
        return EM_ERR_PARAMS;
    }
    char why[1024], field[32];
    if (expand_job_paths(in, run, field, sizeof field, why, sizeof why) != 0) {
        snprintf(errbuf, errlen, "%s: %s", field, why);
        return EM_ERR_RUNTIME;
    }
    /* Events of a query (verify's findings) go to the audit as a run's do. */
    ps_host host = {.ctx = run, .event = host_event, .progress = host_progress,
                    .cancelled = host_cancelled};
    ps_job job = job_for(in, run, &host);
    json_t *report = NULL;
    ps_err err;
    ps_status s;
    if (is_status) {
        s = status_report(&job, max_age_s, &report, &err);
    } else {
        s = verify_backups(&job, &report, &err);
        if (s == PS_OK)
            add_verify_items(report);
    }
    return answer(s, &err, report, result_json, errbuf, errlen);
}

static void backup_free_result(char *result_json) { free(result_json); }

static const em_action actions[] = {{
    .struct_size = sizeof(em_action),
    .id = ACTION_ID,
    .display_name = "Backup PSTs",
    .version = PSTSNAP_VERSION,
    .parameter_schema_json = pstsnap_backup_psts_schema_json,
    .validate = backup_validate,
    .create = backup_create,
    .run = backup_run,
    .destroy = backup_destroy,
    .query = backup_query,
    .free_result = backup_free_result,
}};

static const em_module module = {
    .struct_size = sizeof(em_module),
    .abi_version = EM_ABI_VERSION,
    .name = "pstsnap",
    .version = PSTSNAP_VERSION,
    .action_count = sizeof actions / sizeof actions[0],
    .actions = actions,
    .shutdown = backup_shutdown,
};

EM_EXPORT em_status em_module_init(uint32_t host_abi_version, const em_host_api *host,
                                   const em_module **out, char *errbuf, size_t errlen)
{
    if (host_abi_version < 1 || !host || host->struct_size < sizeof(em_host_api)) {
        snprintf(errbuf, errlen, "pstsnap needs a host speaking plugin ABI >= 1 with the full "
                 "version-1 service table (host ABI %u)", host_abi_version);
        return EM_ERR_ABI;
    }
    g_host = host;
    atomic_store(&g_shutdown, 0);
    *out = &module;
    return EM_OK;
}
