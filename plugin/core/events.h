/*
 * events.h - the audit events the Backup PSTs action emits. Ids are stable
 * (admins filter on them in the Event Log and Management Center); names are
 * the machine-readable twin. deploy/ADMIN.md explains each one.
 * Environment Manager's own ids are 93xx-96xx; ours are 9800-9899.
 */
#ifndef PS_EVENTS_H
#define PS_EVENTS_H

/* Information */
#define PS_EV_SUMMARY 9800u            /* one per run: what was seen, copied, how long */
#define PS_EV_FILE_BACKED_UP 9801u     /* a PST was published */
#define PS_EV_NOTHING_CHANGED 9802u    /* fast path: no snapshot taken */
#define PS_EV_SNAPSHOT_CREATED 9803u
#define PS_EV_SNAPSHOT_RELEASED 9804u
#define PS_EV_ORPHAN_REMOVED 9805u     /* a snapshot a killed run left was removed */
#define PS_EV_RESUMED 9806u            /* an interrupted copy continues */
#define PS_EV_TOO_SOON 9808u           /* changed, but minInterval not yet elapsed */
#define PS_EV_BUSY 9810u               /* another run holds the destination */
#define PS_EV_STARTED 9811u            /* the action accepted its parameters */
#define PS_EV_PATCH_FINISHED 9815u     /* an interrupted in-place update was finished */

/* Warnings */
#define PS_EV_FILE_SKIPPED 9807u       /* unreadable, link, foreign owner, locked */
#define PS_EV_MANIFEST_UNTRUSTED 9809u /* damaged manifest: full copy instead */
#define PS_EV_JOURNAL_UNTRUSTED 9812u  /* damaged journal or blockmap: copy restarts, in full */
#define PS_EV_SOURCE_SKIPPED 9813u     /* a source folder unusable */
#define PS_EV_SNAPSHOT_FALLBACK 9814u  /* a provider failed; the next one is used */
#define PS_EV_CANCELLED 9825u          /* logoff/shutdown: checkpointed, resumes later */
#define PS_EV_CHANGED_DURING_COPY 9826u /* no snapshot and the file moved: not published */

/* Errors */
#define PS_EV_BAD_PARAMETERS 9820u     /* parameters or variables unusable */
#define PS_EV_DESTINATION_ERROR 9821u  /* destination missing, unsafe or unwritable */
#define PS_EV_COPY_FAILED 9822u        /* one file could not be copied or published */
#define PS_EV_NO_SPACE 9823u           /* destination full */
#define PS_EV_SNAPSHOT_FAILED 9824u    /* no provider could freeze a file */
#define PS_EV_STATE_ERROR 9827u        /* state folder unwritable */

#endif
