/*
 * discover.h - find the PSTs to back up.
 *
 * Walks each source folder with the include/exclude rules (glob.h), never
 * following links, junctions or mount points, and never entering the
 * destination. Anything that cannot be read is skipped with a warning event;
 * one bad folder never stops the rest. When the action runs elevated for a
 * user, files that user does not own are skipped: a profile is untrusted
 * input and must not be a way to copy someone else's data.
 *
 * Each candidate gets a destination key "<label>/<relative path>", label
 * being the source folder's name ("Outlook", "Outlook Files"; a repeated
 * name gets " (2)"), or "Outlook Profiles" for a PST only the user's
 * Outlook profiles name.
 *
 * Ownership: discover_files fills a caller-owned ps_candidates whose strings
 * are malloc'd; candidates_free releases them. Request strings are borrowed.
 */
#ifndef PS_DISCOVER_H
#define PS_DISCOVER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "host.h"
#include "platform.h"

typedef struct ps_candidate {
    char *path; /* the live file, native form */
    char *key;  /* destination-relative, '/'-separated */
    pf_stat st; /* as seen by discovery */
} ps_candidate;

typedef struct ps_candidates {
    ps_candidate *items;
    size_t count, cap;
    size_t skipped; /* matching files left out (each with a warning event) */
} ps_candidates;

typedef struct discover_request {
    char *const *sources; /* expanded, native */
    size_t source_count;
    char *const *include;
    size_t include_count;
    char *const *exclude;
    size_t exclude_count;
    int recurse;
    const char *destination; /* never walked into */
    int64_t owner_uid;       /* -1: any owner; else skip files of other owners */
    const ps_host *host;
    /* PSTs the user's Outlook profiles name (pf_outlook_profile_psts):
     * absolute, native. Each is taken alone, under the same rules as a file
     * found in a folder (include on its name, exclude wins, never a link,
     * never inside the destination), keyed "Outlook Profiles/<drive or
     * share>/<path>" so that two "Archive.pst" in different folders stay
     * two backups; one also found in a source folder is taken once. */
    char *const *profile_psts;
    size_t profile_pst_count;
    /* Windows, elevated for a user: skip (with a warning) files that user
     * may not read (pf_user_can_read). NULL: no such check. */
    const char *user_sid;
} discover_request;

/* Fails only when out of memory; everything else is a warning event. */
ps_status discover_files(const discover_request *req, ps_candidates *out, ps_err *err);
void candidates_free(ps_candidates *c);

#endif
