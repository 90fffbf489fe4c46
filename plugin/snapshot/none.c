/*
 * none.c - the "no snapshot" provider: files are read where they live.
 *
 * It freezes nothing (is_live = 1), so the copy engine has to check that a
 * file's size and mtime did not move while it was read. It is the last
 * resort of "auto" and what an admin picks on a volume no other provider
 * supports. It makes no artifacts, so it never writes to the record.
 */
#include "snapshot.h"

#include <stdlib.h>
#include <string.h>

#include "platform.h"

struct snap_session {
    char **paths; /* copies of the created set, to refuse strangers in map_path */
    size_t count;
};

static ps_status none_probe(const char *path, ps_err *err)
{
    if (!path)
        return ps_err_set(err, PS_ERR_INVALID, "no path to probe");
    /* Through the platform layer: the C library's stat cannot reach a
     * Windows path longer than MAX_PATH or outside the ANSI code page. */
    pf_stat st;
    ps_status s = pf_lstat(path, &st, err);
    if (s != PS_OK)
        return s;
    if (st.kind != PF_KIND_FILE)
        return ps_err_set(err, PS_ERR_UNSUPPORTED, "'%s' is not a regular file", path);
    return PS_OK;
}

static void session_free(snap_session *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->count; i++)
        free(s->paths[i]);
    free(s->paths);
    free(s);
}

static ps_status none_create(const char *const *paths, size_t count, snap_record *record,
                             snap_session **out, ps_err *err)
{
    (void)record; /* nothing is made, so nothing to record */
    if (!out || (count && !paths))
        return ps_err_set(err, PS_ERR_INVALID, "snapshot create: bad arguments");
    *out = NULL;
    snap_session *s = calloc(1, sizeof *s);
    if (!s || (count && !(s->paths = calloc(count, sizeof *s->paths)))) {
        free(s);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        if (!paths[i] || !(s->paths[i] = strdup(paths[i]))) {
            session_free(s);
            return ps_err_set(err, paths[i] ? PS_ERR_NOMEM : PS_ERR_INVALID,
                              "snapshot create: %s", paths[i] ? "out of memory" : "null path");
        }
        s->count++;
    }
    *out = s;
    return PS_OK;
}

static ps_status none_map_path(snap_session *session, const char *live_path, char **out,
                               ps_err *err)
{
    if (!session || !live_path || !out)
        return ps_err_set(err, PS_ERR_INVALID, "snapshot map_path: bad arguments");
    *out = NULL;
    for (size_t i = 0; i < session->count; i++) {
        if (strcmp(session->paths[i], live_path) == 0) {
            *out = strdup(live_path);
            return *out ? PS_OK : ps_err_set(err, PS_ERR_NOMEM, "out of memory");
        }
    }
    return ps_err_set(err, PS_ERR_INVALID, "'%s' is not one of the files of this snapshot",
                      live_path);
}

static ps_status none_release(snap_session *session, ps_err *err)
{
    (void)err;
    session_free(session);
    return PS_OK;
}

static ps_status none_remove_artifact(const char *artifact, ps_err *err)
{
    (void)artifact;
    (void)err;
    return PS_OK; /* "none" never records anything; accept whatever is there */
}

const snap_provider snapshot_none_provider = {
    .name = "none",
    .is_live = 1,
    .probe = none_probe,
    .create = none_create,
    .map_path = none_map_path,
    .release = none_release,
    .remove_artifact = none_remove_artifact,
};
