/*
 * pipeline.h - one backup run, top-down:
 *   lock -> remove orphans -> discover -> compare -> snapshot -> copy ->
 *   publish -> release -> manifest -> summary.
 *
 * Everything the run needs comes in a ps_job: parameters already parsed,
 * paths already expanded for the user (the action glue does that with the
 * host's variables), the user's state folder, and the host callbacks.
 *
 * Ownership: everything in ps_job is borrowed for the duration of the call.
 */
#ifndef PS_PIPELINE_H
#define PS_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "discover.h"
#include "error.h"
#include "host.h"
#include "params.h"

/* Copies are staged beside their backup under this suffix: File Director
 * and OneDrive skip *.partial. */
#define PIPELINE_STAGING_SUFFIX ".pstsnap.partial"

typedef struct ps_job {
    const ps_params *params;
    const char *destination;   /* expanded, native */
    char *const *sources;      /* expanded, native */
    size_t source_count;
    const char *state_dir;     /* private to the user and this action */
    int64_t owner_uid;         /* -1, or the user's uid when running elevated */
    int64_t owner_gid;         /* the user's primary group then (-1: none) */
    /* Whose Outlook profiles name PSTs to add (params->outlook_profiles):
     * NULL for the user running the process, else that user's Windows SID
     * (elevated for a logged-on user). */
    const char *user_sid;
    const ps_host *host;
} ps_job;

typedef struct ps_summary {
    size_t seen, skipped, unchanged, too_soon, copied, failed;
    uint64_t bytes_read, bytes_written;
    uint64_t duration_ms;
    size_t snapshots;
    char providers[128];
    int busy;      /* another run held the destination: nothing done */
    int cancelled; /* stopped for logoff/shutdown; resumes next time */
    /* PSTs another process held open (Outlook) that had to be read without
     * a snapshot and so were skipped: the run is only a partial success,
     * yet not a failure - the admin has to change Run As or the snapshot
     * method. Counted apart from `failed`. */
    size_t locked;
} ps_summary;

/* PS_OK when every file that needed a backup got one (or will resume after
 * a cancellation); otherwise the first error, with err describing it. The
 * run never stops at one bad file. */
ps_status pipeline_run(const ps_job *job, ps_summary *summary, ps_err *err);

/* Discover the job's PSTs exactly as a run does (its sources, rules,
 * destination, user and Outlook profiles), reporting skips to `host`:
 * the run's own host, or a silent one (`emhost status`). */
ps_status pipeline_discover(const ps_job *job, const ps_host *host, ps_candidates *found,
                            ps_err *err);

/* Where pipeline_run keeps its state, derived from the destination:
 * <state_dir>/<what>/<hash of destination><suffix>. malloc'd. */
char *pipeline_state_path(const char *state_dir, const char *what, const char *destination,
                          const char *suffix);

#endif
