/*
 * em_action.h - the custom action plugin ABI of the pstsnap sdk-shim.
 *
 * Ivanti (AppSense) Environment Manager publishes no C SDK for custom actions,
 * so this header is our model of the contract between the EM agent (the
 * "host") and a plugin that provides actions. It depends on the C standard
 * library only, so a plugin can be built against it with no other files.
 *
 * ---------------------------------------------------------------------------
 * Loading and versioning
 * ---------------------------------------------------------------------------
 * A plugin is a shared library (.so / .dll) that exports exactly one symbol,
 * EM_MODULE_ENTRY_NAME ("em_module_init"), of type em_module_init_fn. The host
 * calls it once, passing the ABI version it speaks and its table of services.
 *
 *  - The plugin refuses a host that is too old for it by returning
 *    EM_ERR_ABI with a message in errbuf ("needs host ABI >= 2, host has 1").
 *  - Otherwise it returns a module descriptor whose abi_version says which
 *    version of this header it was built with. The host refuses a module
 *    whose abi_version is greater than its own ("plugin built for ABI 3;
 *    this host speaks ABI 1 - upgrade the host").
 *  - A newer host loads an older plugin: structs only ever grow at the end,
 *    every struct starts with its own size, and a reader checks that size
 *    (EM_HAS_MEMBER) before touching a member added in a later version. This
 *    is the scheme of SQLite's VFS (iVersion) and Redis modules (APIVER).
 *
 * ---------------------------------------------------------------------------
 * Lifecycle of one action node
 * ---------------------------------------------------------------------------
 *   validate(params)            - cheap, pure check; no side effects
 *   create(params) -> instance  - once per node execution
 *   run(instance, run)          - returns EM_RUN_OK, EM_RUN_FAILED or
 *                                 EM_RUN_ASYNC (work continues on a worker
 *                                 started with host->start_worker)
 *   destroy(instance)           - after run returned AND its worker, if any,
 *                                 finished; never concurrently with either
 * and once per loaded module:
 *   shutdown(deadline_ms)       - logoff / agent stop: ask all work to
 *                                 checkpoint and stop within deadline_ms
 *
 * EM gives a node 30 s by default and counts a late action as failed (its
 * children do not run), so long work must not happen inside run(): run()
 * returns EM_RUN_ASYNC after handing the work to host->start_worker(). The
 * host keeps the module loaded until every worker has returned (or the
 * shutdown deadline expired), then unloads it. EM judges the node by run()'s
 * result; the worker's result is reported separately through the audit service
 * and to host->complete-style bookkeeping (see em_worker_fn).
 *
 * ---------------------------------------------------------------------------
 * Threading rules
 * ---------------------------------------------------------------------------
 *  - em_module_init and shutdown are called from one host thread, never
 *    concurrently with each other.
 *  - validate may be called from any thread, concurrently.
 *  - Sibling actions run in parallel (EM runs actions at one level at the
 *    same time), so create/run/destroy of DIFFERENT instances can overlap;
 *    calls on ONE instance never overlap.
 *  - Every host service is thread-safe and may be called from run() and from
 *    a worker started by start_worker, passing the em_run handle of that run.
 *  - shutdown may be called while workers are running; it must return within
 *    its deadline and make those workers stop promptly (they observe
 *    host->is_cancelled returning nonzero as well).
 *
 * ---------------------------------------------------------------------------
 * Memory and strings
 * ---------------------------------------------------------------------------
 *  - Every string crossing this ABI is NUL-terminated UTF-8, on Windows too
 *    (the plugin converts to UTF-16 at its own Win32 boundary).
 *  - Strings and tables the plugin returns (the module, actions, schema text)
 *    are owned by the plugin and must stay valid until the module is
 *    unloaded. The host never frees them.
 *  - Strings the host passes in (params_json, user info, state_dir) are
 *    borrowed: valid for the duration of the call, or - for em_run-scoped
 *    data - until the run's worker returns. Copy what you keep.
 *  - Strings the host allocates FOR the plugin (expand_vars output) are
 *    released by the plugin with host->free_string, never with free(): the
 *    host and the plugin may use different C runtimes (Windows).
 *  - Error buffers (errbuf/errlen) are owned by the caller; the callee writes
 *    at most errlen bytes including the terminating NUL.
 */
#ifndef EM_ACTION_H
#define EM_ACTION_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header. Bump when a member is appended to a struct or
 * a new service is added; never reorder or remove members. */
#define EM_ABI_VERSION 1u

#define EM_MODULE_ENTRY_NAME "em_module_init"

#if defined(_WIN32)
#define EM_EXPORT __declspec(dllexport)
#elif defined(__GNUC__)
#define EM_EXPORT __attribute__((visibility("default")))
#else
#define EM_EXPORT
#endif

/* True when a struct of the given (reader-visible) size contains `member`:
 * the way to use a member added after ABI version 1. */
#define EM_HAS_MEMBER(ptr, type, member)                                                          \
    ((ptr)->struct_size >= offsetof(type, member) + sizeof(((type *)0)->member))

/* Status codes returned by em_module_init, validate and create. */
typedef enum em_status {
    EM_OK = 0,
    EM_ERR_ABI = 1,     /* version mismatch between host and plugin */
    EM_ERR_PARAMS = 2,  /* parameters rejected; errbuf names the field */
    EM_ERR_RUNTIME = 3, /* anything else; errbuf says what and where */
    EM_ERR_NOMEM = 4
} em_status;

/* Result of em_action.run. */
typedef enum em_run_result {
    EM_RUN_OK = 0,     /* finished, succeeded */
    EM_RUN_FAILED = 1, /* finished, failed (an audit event says why) */
    EM_RUN_ASYNC = 2   /* accepted; a worker started with start_worker goes on */
} em_run_result;

/* Levels of audit events and log lines. */
typedef enum em_level {
    EM_LEVEL_DEBUG = 0,
    EM_LEVEL_INFO = 1,
    EM_LEVEL_WARNING = 2,
    EM_LEVEL_ERROR = 3
} em_level;

/* Under which identity EM runs the action (the node's Run As tab). */
typedef enum em_run_as {
    EM_RUN_AS_CURRENT_USER = 0,
    EM_RUN_AS_SYSTEM = 1
} em_run_as;

/* The user the action acts FOR. When run_as is EM_RUN_AS_SYSTEM the process
 * is elevated, but these fields still describe the logged-on user: a plugin
 * must resolve paths for this user, not for SYSTEM/root. All strings UTF-8,
 * borrowed for the lifetime of the run. */
typedef struct em_user_info {
    uint32_t struct_size;
    const char *name;        /* account name, e.g. "alice" */
    const char *domain;      /* Windows domain or "" */
    const char *sid;         /* Windows SID string, or "uid:1000" on POSIX */
    const char *profile_dir; /* %USERPROFILE% / $HOME of that user */
    uint32_t session_id;     /* logon session */
    em_run_as run_as;        /* the context the action runs in */
    int elevated;            /* nonzero when running with admin/root rights */
    int64_t uid;             /* POSIX uid of the user (-1 on Windows) */
    int64_t gid;             /* POSIX primary gid of the user (-1 on Windows) */
} em_user_info;

/* One execution of one action. Opaque; passed back to host services. */
typedef struct em_run em_run;

/* Body of a background worker. Its return value (EM_RUN_OK or EM_RUN_FAILED)
 * is the outcome of the background work; the host audits it and, when told
 * to wait, counts it in its own exit status. `arg` is the plugin's. */
typedef em_run_result (*em_worker_fn)(em_run *run, void *arg);

/* Services the host offers. Every function is thread-safe. */
typedef struct em_host_api {
    uint32_t struct_size;
    uint32_t abi_version; /* == the host's EM_ABI_VERSION */

    /* Write an audit event. event_id: the plugin's own detail event id (or 0
     * for a plain log line); name: short stable event name, e.g.
     * "pstsnap.copy.done"; message: one human sentence; detail_json: a JSON
     * object with machine-readable fields, or NULL. The host adds time,
     * computer, user, trigger, node and action. */
    void (*audit)(em_run *run, em_level level, uint32_t event_id, const char *name,
                  const char *message, const char *detail_json);

    /* Expand %ENV% (the user's environment) and $(Name) (EM session
     * variables) in `text`; "%%" is a literal '%'. On success returns EM_OK
     * and *out is a new string to release with free_string. An unset
     * variable is an error: returns EM_ERR_PARAMS and errbuf names it. */
    em_status (*expand_vars)(em_run *run, const char *text, char **out, char *errbuf,
                             size_t errlen);
    void (*free_string)(char *s);

    /* Progress of the current run, in bytes. total may be 0 if unknown. */
    void (*progress)(em_run *run, uint64_t done, uint64_t total);

    /* Nonzero once the run should stop: module shutdown (logoff, shutdown)
     * was requested. Workers poll this at least once a second. */
    int (*is_cancelled)(em_run *run);

    /* The user this run acts for; borrowed for the lifetime of the run. */
    const em_user_info *(*user)(em_run *run);

    /* A directory private to this user and this action, existing and
     * writable, for manifests, journals and locks. UTF-8, borrowed. */
    const char *(*state_dir)(em_run *run);

    /* Start `fn(run, arg)` on a host-owned worker thread. Call at most once
     * per run, from run(); then return EM_RUN_ASYNC. The host calls destroy
     * only after fn returned. Returns EM_OK or EM_ERR_RUNTIME. */
    em_status (*start_worker)(em_run *run, em_worker_fn fn, void *arg);
} em_host_api;

/* An action a plugin provides. */
typedef struct em_action {
    uint32_t struct_size;
    const char *id;           /* stable, e.g. "pstsnap.BackupPsts" */
    const char *display_name; /* shown in the console, e.g. "Backup PSTs" */
    const char *version;      /* the action's own version, e.g. "1.0.0" */
    /* JSON Schema (draft-07) of the parameters object, as JSON text. */
    const char *parameter_schema_json;

    /* Semantic checks beyond the schema (the host has already validated the
     * parameters against parameter_schema_json). Returns EM_OK or
     * EM_ERR_PARAMS with "field: why" in errbuf. No side effects. */
    em_status (*validate)(const char *params_json, char *errbuf, size_t errlen);

    /* Make an instance for one execution. params_json is borrowed. */
    em_status (*create)(const em_host_api *host, const char *params_json, void **instance,
                        char *errbuf, size_t errlen);

    /* Run it. Must return quickly (well under the node timeout); long work
     * goes to host->start_worker and run returns EM_RUN_ASYNC. */
    em_run_result (*run)(void *instance, em_run *run);

    /* Free the instance (see lifecycle above). */
    void (*destroy)(void *instance);

    /* --- optional; read only after EM_HAS_MEMBER(action, em_action, query) --
     * An admin's question about what this action has done for a user,
     * answered outside any trigger (`emhost status`, `emhost verify`). The
     * host creates an instance from the node's parameters and an em_run for
     * the user it acts for (so audit, expand_vars, user, state_dir, progress
     * and is_cancelled work as in a run), calls query once, then destroys the
     * instance. Runs synchronously on the calling thread.
     *   command      "status" or "verify"; others give EM_ERR_PARAMS
     *   args_json    a JSON object of command options ("{}" for none)
     *   *result_json on EM_OK, a JSON object allocated by the plugin and
     *                released by the host with free_result (never free():
     *                the two may use different C runtimes)
     * Returns EM_OK when the question was answered (the verdict is inside the
     * result, e.g. {"healthy": false, ...}), EM_ERR_PARAMS for an unknown
     * command or bad options, EM_ERR_RUNTIME when it could not be answered;
     * errbuf says why. query and free_result are both set or both NULL. */
    em_status (*query)(void *instance, em_run *run, const char *command, const char *args_json,
                       char **result_json, char *errbuf, size_t errlen);
    void (*free_result)(char *result_json);
} em_action;

/* What em_module_init hands back. Owned by the plugin. */
typedef struct em_module {
    uint32_t struct_size;
    uint32_t abi_version; /* the EM_ABI_VERSION the plugin was built with */
    const char *name;     /* e.g. "pstsnap" */
    const char *version;  /* e.g. "0.1.0" */
    size_t action_count;
    const em_action *actions; /* array of action_count */

    /* Logoff / agent stop: make all running work checkpoint and stop, and
     * return within deadline_ms. Returns EM_OK when everything stopped in
     * time, EM_ERR_RUNTIME otherwise. May be NULL when a module never has
     * background work. */
    em_status (*shutdown)(uint32_t deadline_ms);
} em_module;

typedef em_status (*em_module_init_fn)(uint32_t host_abi_version, const em_host_api *host,
                                       const em_module **module, char *errbuf, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* EM_ACTION_H */
