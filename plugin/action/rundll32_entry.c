/*
 * rundll32_entry.c - run one backup without the plugin host, on endpoints
 * whose EM agent only runs programs and scripts (Execute action, PowerShell
 * custom action):
 *
 *   rundll32.exe pstsnap.dll,BackupPsts PARAMS.json [--destination DIR]
 *                [--state-dir DIR] [--log FILE] [--user-sid SID]
 *
 * PARAMS.json  the action's parameters object, exactly as in a policy
 *              (schemas/backup-psts.parameters.schema.json).
 * --destination overrides the file's destination. EM expands session
 *              variables on the command line but not inside a file, so
 *              pass $(DataNowHome)\Outlook Backup here.
 * --state-dir  where manifests, journals and locks live; default
 *              %LOCALAPPDATA%\pstsnap\pstsnap.BackupPsts.
 * --log FILE   also append every event to FILE as one JSON object a line.
 * --user-sid SID  run for that user (Run As System on their behalf): only
 *              PSTs the user may read are copied, what is created is given
 *              to them, and their Outlook profiles (HKEY_USERS\SID) are read.
 *
 * %VARIABLES% in paths are expanded from the environment of the user
 * rundll32 runs as; an unset one (or an EM $(Variable) left in the file)
 * fails the run rather than writing somewhere unintended. The backup runs
 * synchronously; events go to the Application event log (source
 * "pstsnap"), to stderr, and to --log. rundll32 ignores what an entry point
 * returns, so the process ends with the run's exit code for EM to judge:
 * 0 every PST backed up (or nothing changed), 1 a PST or the run failed,
 * 2 bad command line or parameters.
 *
 * Execute action: program %SystemRoot%\System32\rundll32.exe, arguments
 *   "C:\Program Files\pstsnap\pstsnap.dll",BackupPsts "C:\ProgramData\pstsnap\backup-psts.json" --destination "$(DataNowHome)\Outlook Backup"
 * PowerShell custom action:
 *   $p = Start-Process rundll32.exe -ArgumentList '"C:\Program Files\pstsnap\pstsnap.dll",BackupPsts "C:\ProgramData\pstsnap\backup-psts.json"' -Wait -PassThru -WindowStyle Hidden
 *   exit $p.ExitCode
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <windows.h>
#include <shellapi.h>

#include "events.h"
#include "host.h"
#include "params.h"
#include "pipeline.h"
#include "platform.h"
#include "../platform/win32/pf_win32.h"

#define PARAMS_MAX_BYTES (1024 * 1024)

typedef struct cli_host {
    HANDLE event_log; /* RegisterEventSourceW, or NULL */
    FILE *log;        /* --log, or NULL */
} cli_host;

static void cli_event(void *ctx, ps_level level, uint32_t id, const char *name, const char *message,
                      const char *detail_json)
{
    cli_host *h = ctx;
    static const char *const levels[] = {"debug", "info", "warning", "error"};
    json_t *line = json_pack("{s:s, s:I, s:s, s:s}", "level", levels[level], "eventId",
                             (json_int_t)id, "name", name, "message", message);
    json_t *detail = detail_json ? json_loads(detail_json, 0, NULL) : NULL;
    if (line && detail)
        json_object_set_new(line, "detail", detail);
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    json_decref(line);
    if (text) {
        fprintf(stderr, "%s\n", text);
        if (h->log) {
            fprintf(h->log, "%s\n", text);
            fflush(h->log);
        }
    }
    free(text);
    if (h->event_log && level >= PS_INFO) {
        WORD type = level == PS_ERROR     ? EVENTLOG_ERROR_TYPE
                  : level == PS_WARNING ? EVENTLOG_WARNING_TYPE
                                        : EVENTLOG_INFORMATION_TYPE;
        wchar_t *w = pfw_utf16(message);
        const wchar_t *strings[1] = {w ? w : L"(message not convertible)"};
        ReportEventW(h->event_log, type, 0, id, NULL, 1, 0, strings, NULL);
        free(w);
    }
}

static int cli_cancelled(void *ctx)
{
    (void)ctx;
    return 0; /* a killed rundll32 resumes next time, like a logoff */
}

/* Expand %VARIABLES% and make a native absolute path, or explain why not. */
static char *expand_path(const char *text, char *why, size_t why_len)
{
    if (strstr(text, "$(")) {
        snprintf(why, why_len, "'%s' uses an EM session variable, which only EM can expand: "
                 "pass the path on the command line (--destination) instead", text);
        return NULL;
    }
    wchar_t *w = pfw_utf16(text);
    DWORD n = w ? ExpandEnvironmentStringsW(w, NULL, 0) : 0;
    wchar_t *x = n ? malloc(n * sizeof *x) : NULL;
    char *expanded = NULL;
    if (x && ExpandEnvironmentStringsW(w, x, n) == n)
        expanded = pfw_utf8(x, (size_t)-1);
    free(w);
    free(x);
    if (!expanded) {
        snprintf(why, why_len, "cannot expand '%s'", text);
        return NULL;
    }
    /* ExpandEnvironmentStrings leaves an unset %NAME% as it is. */
    const char *pct = strchr(expanded, '%');
    if (pct && strchr(pct + 1, '%')) {
        snprintf(why, why_len, "'%s' names a variable that is not set", expanded);
        free(expanded);
        return NULL;
    }
    char *native = pf_native_path(expanded);
    free(expanded);
    if (native && !pf_is_absolute(native)) {
        snprintf(why, why_len, "'%s' is not an absolute path after expansion", native);
        free(native);
        return NULL;
    }
    return native;
}

/* The whole run; returns the process exit code. */
static int run_backup(int argc, wchar_t **argv, cli_host *h)
{
    ps_host host = {.ctx = h, .event = cli_event, .cancelled = cli_cancelled};
    char *params_path = NULL, *dest_arg = NULL, *state_arg = NULL, *log_arg = NULL,
         *sid_arg = NULL;
    int usage = argc < 1;
    for (int i = 0; i < argc && !usage; i++) {
        char **slot = !wcscmp(argv[i], L"--destination") ? &dest_arg
                    : !wcscmp(argv[i], L"--state-dir")   ? &state_arg
                    : !wcscmp(argv[i], L"--log")         ? &log_arg
                    : !wcscmp(argv[i], L"--user-sid")    ? &sid_arg
                    : !params_path                       ? &params_path
                                                         : NULL;
        if (!slot || (slot != &params_path && ++i >= argc)) {
            usage = 1;
            break;
        }
        free(*slot);
        *slot = pfw_utf8(argv[i], (size_t)-1);
    }
    if (log_arg) {
        wchar_t *w = pfw_utf16(log_arg);
        h->log = w ? _wfopen(w, L"ab") : NULL;
        free(w);
    }
    int code = 2;
    char why[1024];
    ps_params params;
    int have_params = 0;
    char *dest = NULL, *state = NULL, **sources = NULL;
    size_t nsources = 0;
    char *text = NULL;
    size_t len = 0;
    ps_err err;
    if (usage || !params_path) {
        ps_emit(&host, PS_ERROR, PS_EV_BAD_PARAMETERS, "pstsnap.parameters.invalid", NULL,
                "usage: rundll32 pstsnap.dll,BackupPsts PARAMS.json [--destination DIR] "
                "[--state-dir DIR] [--log FILE] [--user-sid SID]");
        goto done;
    }
    if (pf_read_file(params_path, PARAMS_MAX_BYTES, &text, &len, &err) != PS_OK ||
        ps_params_parse(text, &params, &err) != PS_OK) {
        ps_emit(&host, PS_ERROR, PS_EV_BAD_PARAMETERS, "pstsnap.parameters.invalid",
                json_pack("{s:s}", "reason", err.msg), "%s: %s; nothing was backed up",
                params_path, err.msg);
        goto done;
    }
    have_params = 1;
    dest = expand_path(dest_arg ? dest_arg : params.destination, why, sizeof why);
    if (!dest) {
        ps_emit(&host, PS_ERROR, PS_EV_BAD_PARAMETERS, "pstsnap.parameters.invalid",
                json_pack("{s:s, s:s}", "field", "/destination", "reason", why),
                "/destination: %s; nothing was backed up", why);
        goto done;
    }
    state = expand_path(state_arg ? state_arg : "%LOCALAPPDATA%\\pstsnap\\pstsnap.BackupPsts", why,
                        sizeof why);
    if (!state || pf_mkdirs(state, &err) != PS_OK) {
        if (state)
            snprintf(why, sizeof why, "%s", err.msg);
        ps_emit(&host, PS_ERROR, PS_EV_STATE_ERROR, "pstsnap.state.error",
                json_pack("{s:s}", "reason", why), "cannot use the state folder: %s", why);
        goto done;
    }
    sources = calloc(params.source_count ? params.source_count : 1, sizeof *sources);
    for (size_t i = 0; sources && i < params.source_count; i++) {
        char *src = expand_path(params.sources[i], why, sizeof why);
        if (src)
            sources[nsources++] = src;
        else
            ps_emit(&host, PS_WARNING, PS_EV_SOURCE_SKIPPED, "pstsnap.source.skipped",
                    json_pack("{s:s, s:s}", "field", "/sources", "reason", why),
                    "/sources/%zu: %s; that folder is skipped", i, why);
    }
    if (params.io_priority_low)
        pf_io_priority_low(NULL);
    ps_job job = {.params = &params, .destination = dest, .sources = sources,
                  .source_count = nsources, .state_dir = state, .owner_uid = -1,
                  .owner_gid = -1,
                  .user_sid = sid_arg && strncmp(sid_arg, "S-1-", 4) == 0 ? sid_arg : NULL,
                  .host = &host};
    ps_summary sum;
    code = sources && pipeline_run(&job, &sum, &err) == PS_OK ? 0 : 1;
done:
    for (size_t i = 0; i < nsources; i++)
        free(sources[i]);
    free(sources);
    free(dest);
    free(state);
    free(text);
    if (have_params)
        ps_params_free(&params);
    free(params_path);
    free(dest_arg);
    free(state_arg);
    free(log_arg);
    free(sid_arg);
    return code;
}

/* rundll32 looks for "BackupPstsW" first when asked for "BackupPsts" and
 * then passes the rest of its command line as UTF-16. */
__declspec(dllexport) void CALLBACK BackupPstsW(HWND hwnd, HINSTANCE inst, LPWSTR cmdline, int show)
{
    (void)hwnd;
    (void)inst;
    (void)show;
    int argc = 0;
    /* CommandLineToArgvW treats an empty line as "the program's name":
     * no arguments then. */
    wchar_t **argv = cmdline && *cmdline ? CommandLineToArgvW(cmdline, &argc) : NULL;
    cli_host h = {.event_log = RegisterEventSourceW(NULL, L"pstsnap")};
    int code = run_backup(argv ? argc : 0, argv, &h);
    if (argv)
        LocalFree(argv);
    if (h.event_log)
        DeregisterEventSource(h.event_log);
    if (h.log)
        fclose(h.log);
    fflush(stderr);
    ExitProcess((UINT)code);
}
