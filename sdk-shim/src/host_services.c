/* The services of em_host_api, and the host object's construction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner_internal.h"
#include "vars.h"

/* ---------------------------------------------------------------------------
 * Variables
 * ------------------------------------------------------------------------- */
/* Variable names are case-insensitive on Windows, where policies come from. */
static int strncasecmp_ascii(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int x = (unsigned char)a[i], y = (unsigned char)b[i];
        x = (x >= 'A' && x <= 'Z') ? x + 32 : x;
        y = (y >= 'A' && y <= 'Z') ? y + 32 : y;
        if (x != y || x == 0)
            return x - y;
    }
    return 0;
}

static const char *lookup_pairs(char **pairs, size_t count, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = count; i-- > 0;) /* later --env/--var wins */
        if (strncasecmp_ascii(pairs[i], name, n) == 0 && pairs[i][n] == '=')
            return pairs[i] + n + 1;
    return NULL;
}

typedef struct lookup_ctx {
    emh_host *host;
    char *scratch[8]; /* derived values live until the expansion ends */
    size_t scratch_used;
} lookup_ctx;

static const char *derived_user_var(lookup_ctx *c, const char *name)
{
    if (c->scratch_used == sizeof c->scratch / sizeof c->scratch[0])
        return NULL;
    char *v = hos_user_env(&c->host->user, name);
    if (v)
        c->scratch[c->scratch_used++] = v;
    return v;
}

static const char *lookup_var(void *ctx, vars_kind kind, const char *name)
{
    lookup_ctx *c = ctx;
    emh_host *h = c->host;
    if (kind == VARS_SESSION)
        return lookup_pairs(h->vars, h->var_count, name);
    const char *v = lookup_pairs(h->env, h->env_count, name);
    if (v)
        return v;
    /* Elevated for another user: that user's profile variables, never ours
     * (an elevated run must still act for the logged-on user). */
    if (h->acting_for_other_user && (v = derived_user_var(c, name)) != NULL)
        return v;
    if ((v = hos_getenv(name)) != NULL)
        return v;
    return derived_user_var(c, name);
}

static em_status svc_expand_vars(em_run *run, const char *text, char **out, char *errbuf,
                                 size_t errlen)
{
    lookup_ctx c = {.host = run->host};
    int rc = vars_expand(text, lookup_var, &c, out, errbuf, errlen);
    for (size_t i = 0; i < c.scratch_used; i++)
        free(c.scratch[i]);
    return rc == 0 ? EM_OK : EM_ERR_PARAMS;
}

static void svc_free_string(char *s) { free(s); }

/* ---------------------------------------------------------------------------
 * Audit, progress, cancellation, identity
 * ------------------------------------------------------------------------- */
static void svc_audit(em_run *run, em_level level, uint32_t event_id, const char *name,
                      const char *message, const char *detail_json)
{
    emh_event e = {.id = event_id, .level = level, .source = run->an->plugin->module->name,
                   .name = name, .message = message, .detail_json = detail_json,
                   .trigger = run->trigger, .node = run->node, .action = run->an->description,
                   .action_id = run->an->action_id,
                   .run_as = run->an->run_as == EM_RUN_AS_SYSTEM ? "System" : "CurrentUser",
                   .duration_ms = -1};
    emh_audit_write(run->host->audit, &e);
}

/* The renderer rate-limits itself (progress.h): a plugin may call this per
 * block without the copy paying for it. */
static void svc_progress(em_run *run, uint64_t done, uint64_t total)
{
    emh_progress_update(run->host->progress, run, run->an->description, done, total);
}

static int svc_is_cancelled(em_run *run) { return atomic_load(&run->host->cancelled); }

static const em_user_info *svc_user(em_run *run) { return &run->user; }

static const char *svc_state_dir(em_run *run)
{
    char err[512];
    hos_mutex_lock(run->host->lock);
    hos_mkdir_p(run->state_dir, err, sizeof err); /* failures surface when the plugin writes */
    hos_mutex_unlock(run->host->lock);
    return run->state_dir;
}

/* ---------------------------------------------------------------------------
 * Background workers
 * ------------------------------------------------------------------------- */
static void worker_thread(void *arg)
{
    em_run *r = arg;
    emh_host *h = r->host;
    uint64_t start = hos_now_ms();
    emh_progress_begin(h->progress, r, r->an->description);
    em_run_result result = r->worker_fn(r, r->worker_arg);
    emh_progress_done(h->progress, r);
    int ok = result == EM_RUN_OK;
    char msg[1200];
    snprintf(msg, sizeof msg, "background work of '%s' %s after %llu ms", r->an->description,
             ok ? "succeeded" : "failed", (unsigned long long)(hos_now_ms() - start));
    emh_event e = {.id = 0, .level = ok ? EM_LEVEL_INFO : EM_LEVEL_ERROR, .source = "emhost",
                   .name = ok ? "action.background.succeeded" : "action.background.failed",
                   .message = msg, .trigger = r->trigger, .node = r->node,
                   .action = r->an->description, .action_id = r->an->action_id,
                   /* Same context as the action's 9428-9431 event and the
                    * plugin's own events of this run. */
                   .run_as = r->an->run_as == EM_RUN_AS_SYSTEM ? "System" : "CurrentUser",
                   .result = ok ? "success" : "failure",
                   .duration_ms = (int64_t)(hos_now_ms() - start)};
    emh_audit_write(h->audit, &e);
    if (!ok)
        runner_count_failure(h);
    runner_release_instance(r);
    hos_mutex_lock(h->lock);
    r->worker_result = result;
    r->worker_done = 1;
    hos_cond_broadcast(h->changed);
    hos_mutex_unlock(h->lock);
}

static em_status svc_start_worker(em_run *run, em_worker_fn fn, void *arg)
{
    emh_host *h = run->host;
    hos_mutex_lock(h->lock);
    if (run->worker_started) {
        hos_mutex_unlock(h->lock);
        return EM_ERR_RUNTIME; /* at most one worker per run */
    }
    run->worker_started = 1;
    run->worker_fn = fn;
    run->worker_arg = arg;
    run->instance_refs++;
    hos_mutex_unlock(h->lock);
    if (hos_thread_start(&run->worker, worker_thread, run) != 0) {
        hos_mutex_lock(h->lock);
        run->worker_started = 0;
        run->instance_refs--;
        hos_mutex_unlock(h->lock);
        return EM_ERR_RUNTIME;
    }
    return EM_OK;
}

/* ---------------------------------------------------------------------------
 * Construction
 * ------------------------------------------------------------------------- */
static char **copy_strings(const char *const *src, size_t n)
{
    char **out = calloc(n ? n : 1, sizeof *out);
    for (size_t i = 0; out && i < n; i++)
        if (!(out[i] = strdup(src[i])))
            return NULL;
    return out;
}

static int check_pairs(const char *const *pairs, size_t n, const char *what, char *errbuf,
                       size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(pairs[i], '=');
        if (!eq || eq == pairs[i]) {
            snprintf(errbuf, errlen, "%s '%s' must be written NAME=VALUE", what, pairs[i]);
            return -1;
        }
    }
    return 0;
}

emh_host *emh_host_new(const emh_host_options *o, char *errbuf, size_t errlen)
{
    if (check_pairs(o->env, o->env_count, "--env", errbuf, errlen) != 0 ||
        check_pairs(o->vars, o->var_count, "--var", errbuf, errlen) != 0)
        return NULL;
    emh_host *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    int rc = o->user_name ? hos_lookup_user(o->user_name, &h->user, errbuf, errlen)
                          : hos_current_user(&h->user, errbuf, errlen);
    if (rc != 0) {
        free(h);
        return NULL;
    }
    h->acting_for_other_user = o->user_name != NULL;
    uint32_t session = o->session_id ? o->session_id : hos_session_id();
    h->user_info = (em_user_info){.struct_size = sizeof(em_user_info), .name = h->user.name,
                                  .domain = h->user.domain, .sid = h->user.sid,
                                  .profile_dir = h->user.profile_dir, .session_id = session,
                                  .elevated = h->user.elevated, .uid = h->user.uid,
                                  .gid = h->user.gid};
    if (o->state_root) {
        h->state_root = strdup(o->state_root);
    } else {
        h->state_root = hos_user_state_root(&h->user);
    }
    h->env = copy_strings(o->env, o->env_count);
    h->env_count = o->env_count;
    h->vars = copy_strings(o->vars, o->var_count);
    h->var_count = o->var_count;
    h->progress = o->progress ? emh_progress_new(stderr, o->progress_bar, o->progress_interval_ms)
                              : NULL;
    h->lock = hos_mutex_new();
    h->changed = hos_cond_new();
    char *computer = hos_hostname();
    if (!h->state_root || !h->env || !h->vars || !h->lock || !h->changed || !computer) {
        snprintf(errbuf, errlen, "out of memory");
        free(computer);
        host_services_teardown(h);
        return NULL;
    }
    if (hos_mkdir_p(h->state_root, errbuf, errlen) != 0 ||
        !(h->audit = emh_audit_open(o->audit_path, computer, h->user.name, h->user.sid, session,
                                    errbuf, errlen))) {
        free(computer);
        host_services_teardown(h);
        return NULL;
    }
    free(computer);
    h->counters = counter_store_open(h->state_root, session);
    h->api = (em_host_api){.struct_size = sizeof(em_host_api), .abi_version = EM_ABI_VERSION,
                           .audit = svc_audit, .expand_vars = svc_expand_vars,
                           .free_string = svc_free_string, .progress = svc_progress,
                           .is_cancelled = svc_is_cancelled, .user = svc_user,
                           .state_dir = svc_state_dir, .start_worker = svc_start_worker};
    return h;
}

const em_host_api *emh_host_api(emh_host *h) { return &h->api; }

void emh_host_log(emh_host *h, em_level level, const char *name, const char *message)
{
    emh_event e = {.id = 0, .level = level, .source = "emhost", .name = name, .message = message,
                   .duration_ms = -1};
    emh_audit_write(h->audit, &e);
}

void host_services_teardown(emh_host *h)
{
    emh_audit_close(h->audit);
    hos_user_free(&h->user);
    free(h->state_root);
    for (size_t i = 0; h->env && i < h->env_count; i++)
        free(h->env[i]);
    free(h->env);
    for (size_t i = 0; h->vars && i < h->var_count; i++)
        free(h->vars[i]);
    free(h->vars);
    counter_store_free(h->counters);
    emh_progress_free(h->progress);
    hos_mutex_free(h->lock);
    hos_cond_free(h->changed);
    free(h);
}
