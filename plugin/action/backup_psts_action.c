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

/* Expand variables for the user and convert to a native absolute path. */
static char *expand_path(em_run *run, const char *text, char *why, size_t why_len)
{
    char *expanded = NULL;
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

static em_run_result backup_worker(em_run *run, void *arg)
{
    backup_instance *in = arg;
    ps_host host = {.ctx = run, .event = host_event, .progress = host_progress,
                    .cancelled = host_cancelled};
    ps_err err;
    if (in->params.io_priority_low && pf_io_priority_low(&err) != PS_OK)
        ps_emit(&host, PS_DEBUG, 0, "pstsnap.ioPriority", NULL, "%s", err.msg);
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
                  .host = &host};
    ps_summary sum;
    ps_status s = pipeline_run(&job, &sum, &err);
    atomic_fetch_sub(&g_active_workers, 1);
    /* A run stopped by logoff lost nothing and resumes: not a failure. */
    return s == PS_OK ? EM_RUN_OK : EM_RUN_FAILED;
}

static em_run_result backup_run(void *p, em_run *run)
{
    backup_instance *in = p;
    ps_host host = {.ctx = run, .event = host_event};
    char why[1024];
    in->destination = expand_path(run, in->params.destination, why, sizeof why);
    if (!in->destination) {
        ps_emit(&host, PS_ERROR, PS_EV_BAD_PARAMETERS, "pstsnap.parameters.invalid",
                json_pack("{s:s, s:s}", "field", "/destination", "reason", why),
                "/destination: %s; nothing was backed up", why);
        return EM_RUN_FAILED;
    }
    in->sources = calloc(in->params.source_count ? in->params.source_count : 1, sizeof *in->sources);
    if (!in->sources)
        return EM_RUN_FAILED;
    for (size_t i = 0; i < in->params.source_count; i++) {
        char *src = expand_path(run, in->params.sources[i], why, sizeof why);
        if (src) {
            in->sources[in->source_count++] = src;
            continue;
        }
        /* An unset variable is a policy error, as for the destination: the
         * folder meant cannot be known, and a run that quietly backs up the
         * rest would hide from the admin that this one is never saved. A
         * folder that is merely absent is skipped later, quietly. */
        char field[32];
        snprintf(field, sizeof field, "/sources/%zu", i);
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
