#include "snapshot_plan.h"

#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "fault.h"

typedef struct plan_group {
    const snap_provider *provider;
    snap_session *session;
    snap_record *record;
} plan_group;

typedef struct plan_file {
    int group; /* index into groups, -1 when no provider could freeze it */
    ps_err why;
} plan_file;

struct snapshot_plan {
    const char *const *paths;
    size_t count;
    plan_file *files;
    plan_group *groups;
    size_t group_count;
    char providers[128];
    ps_err last_failure; /* why the most recent create failed */
};

/* The provider candidates for `method`, best first. */
static size_t candidates_for(const char *method, const snap_provider **out, size_t max)
{
    if (strcmp(method, "auto") != 0) {
        out[0] = snapshot_provider_by_name(method);
        return out[0] ? 1 : 0;
    }
    size_t n = 0;
    const snap_provider *const *all = snapshot_providers(&n);
    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++)
        out[i] = all[i];
    return n;
}

/* Create one session of `prov` for the files currently assigned to `group`.
 * On failure those files move back to "unassigned" with the reason. */
static int create_group(snapshot_plan *p, size_t g, const char *records_dir, const ps_host *host)
{
    plan_group *grp = &p->groups[g];
    const char **members = malloc(p->count * sizeof *members);
    size_t n = 0;
    if (!members)
        return 0;
    for (size_t i = 0; i < p->count; i++)
        if (p->files[i].group == (int)g)
            members[n++] = p->paths[i];
    ps_err err;
    ps_status s = snap_record_open(records_dir, grp->provider->name, &grp->record, &err);
    FAULT_POINT("snapshot.before-create");
    /* A provider that can wait long is told how to learn of a logoff. */
    snap_cancel cancel = {.cancelled = host ? host->cancelled : NULL,
                          .ctx = host ? host->ctx : NULL};
    if (s == PS_OK && grp->provider->create_cancellable)
        s = grp->provider->create_cancellable(members, n, grp->record, &cancel, &grp->session,
                                              &err);
    else if (s == PS_OK)
        s = grp->provider->create(members, n, grp->record, &grp->session, &err);
    FAULT_POINT("snapshot.after-create");
    free(members);
    if (s == PS_OK) {
        json_t *detail = json_pack("{s:s, s:I}", "provider", grp->provider->name, "files", (json_int_t)n);
        if (grp->provider->is_live)
            ps_emit(host, PS_INFO, PS_EV_SNAPSHOT_CREATED, "pstsnap.snapshot.none", detail,
                    "no snapshot: %zu file(s) read directly and published only if they did not "
                    "change while being read", n);
        else
            ps_emit(host, PS_INFO, PS_EV_SNAPSHOT_CREATED, "pstsnap.snapshot.created", detail,
                    "%s snapshot taken of %zu file(s)", grp->provider->name, n);
        return 1;
    }
    if (grp->record) {
        /* Whatever the record names was removed by create's own cleanup or
         * is left for orphan removal; the record goes only if it is empty. */
        snap_record_close(grp->record);
        grp->record = NULL;
    }
    p->last_failure = err;
    for (size_t i = 0; i < p->count; i++)
        if (p->files[i].group == (int)g) {
            p->files[i].group = -1;
            p->files[i].why = err;
        }
    return 0;
}

ps_status snapshot_plan_create(const char *const *paths, size_t count, const char *method,
                               const char *records_dir, const ps_host *host, snapshot_plan **out,
                               ps_err *err)
{
    const snap_provider *cands[8];
    size_t ncand = candidates_for(method, cands, 8);
    snapshot_plan *p = calloc(1, sizeof *p);
    if (!p || !(p->files = calloc(count ? count : 1, sizeof *p->files)) ||
        !(p->groups = calloc(ncand ? ncand : 1, sizeof *p->groups))) {
        if (p)
            free(p->files);
        free(p);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory planning snapshots");
    }
    p->paths = paths;
    p->count = count;
    for (size_t i = 0; i < count; i++) {
        p->files[i].group = -1;
        if (ncand == 0)
            ps_err_set(&p->files[i].why, PS_ERR_UNSUPPORTED,
                       "snapshot method '%s' is not available on this system", method);
        else
            ps_err_set(&p->files[i].why, PS_ERR_UNSUPPORTED, "no snapshot method could be used");
    }
    /* Provider by provider, best first: probe the still-unassigned files,
     * snapshot those it accepts; the ones it fails go on to the next. */
    for (size_t c = 0; c < ncand; c++) {
        plan_group *grp = &p->groups[p->group_count];
        grp->provider = cands[c];
        size_t members = 0;
        for (size_t i = 0; i < count; i++) {
            if (p->files[i].group != -1)
                continue;
            ps_err why;
            if (cands[c]->probe(paths[i], &why) == PS_OK) {
                p->files[i].group = (int)p->group_count;
                members++;
            } else if (ncand == 1 || c == 0) {
                p->files[i].why = why;
            }
        }
        if (!members)
            continue;
        if (create_group(p, p->group_count, records_dir, host)) {
            size_t used = strlen(p->providers);
            snprintf(p->providers + used, sizeof p->providers - used, "%s%s", used ? "," : "",
                     cands[c]->name);
            p->group_count++;
        } else if (p->last_failure.code == PS_ERR_CANCELLED) {
            break; /* logoff: no next method either; the files resume next run */
        } else if (c + 1 < ncand) {
            ps_emit(host, PS_WARNING, PS_EV_SNAPSHOT_FALLBACK, "pstsnap.snapshot.fallback",
                    json_pack("{s:s, s:s}", "provider", cands[c]->name, "reason",
                              p->last_failure.msg),
                    "%s snapshot failed, trying the next method: %s", cands[c]->name,
                    p->last_failure.msg);
        }
    }
    *out = p;
    return PS_OK;
}

ps_status snapshot_plan_map(snapshot_plan *p, size_t i, char **read_path, int *live,
                            const char **provider, ps_err *err)
{
    *read_path = NULL;
    if (p->files[i].group < 0) {
        if (err)
            *err = p->files[i].why;
        return p->files[i].why.code ? p->files[i].why.code : PS_ERR_UNSUPPORTED;
    }
    plan_group *grp = &p->groups[p->files[i].group];
    *live = grp->provider->is_live;
    *provider = grp->provider->name;
    return grp->provider->map_path(grp->session, p->paths[i], read_path, err);
}

const char *snapshot_plan_providers(const snapshot_plan *p) { return p->providers; }

const char *snapshot_plan_failure(const snapshot_plan *p)
{
    return p->last_failure.msg[0] ? p->last_failure.msg : NULL;
}

size_t snapshot_plan_sessions(const snapshot_plan *p) { return p->group_count; }

void snapshot_plan_release(snapshot_plan *p, const ps_host *host)
{
    if (!p)
        return;
    for (size_t g = 0; g < p->group_count; g++) {
        plan_group *grp = &p->groups[g];
        ps_err err;
        FAULT_POINT("snapshot.before-release");
        ps_status s = grp->provider->release(grp->session, &err);
        FAULT_POINT("snapshot.after-release");
        if (s == PS_OK) {
            snap_record_discard(grp->record, NULL);
            ps_emit(host, PS_DEBUG, PS_EV_SNAPSHOT_RELEASED, "pstsnap.snapshot.released",
                    json_pack("{s:s}", "provider", grp->provider->name), "%s snapshot released",
                    grp->provider->name);
        } else {
            snap_record_close(grp->record); /* the next run retries */
            ps_emit(host, PS_WARNING, PS_EV_SNAPSHOT_RELEASED, "pstsnap.snapshot.releaseFailed",
                    json_pack("{s:s, s:s}", "provider", grp->provider->name, "reason", err.msg),
                    "%s snapshot could not be released now; the next run removes it: %s",
                    grp->provider->name, err.msg);
        }
    }
    free(p->groups);
    free(p->files);
    free(p);
}
