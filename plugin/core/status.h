/*
 * status.h - what the Backup PSTs action has done for a user, for `emhost
 * status` (the ABI's query "status"): per PST the last good backup, its
 * age and size, how the last attempt ended, a copy waiting to resume and
 * the versions kept; and snapshot artifacts a killed run left behind.
 *
 * Read-only by design: it is run by monitoring and by admins while Outlook
 * and a backup may be running, so it never removes, repairs or rewrites
 * anything (orphans are reported; the next run removes them). The only
 * write is the lock file pf_lock_acquire creates when absent.
 *
 * The report is a JSON object (field names are the contract with emhost,
 * which renders them; see sdk-shim/src/query_report.h):
 *   destination, stateDir, generatedAt, maxAgeSeconds, running (a run holds
 *   the destination now), manifest ("ok" | "missing" | "damaged"),
 *   items: [{name, source, backup, sourceFound, lastSuccess, lastSuccessNs,
 *            ageSeconds, size, backupState ("intact" | "replaced" | "missing"
 *            | "none"), lastAttempt, lastResult ("ok" | "failed" | "tooSoon" |
 *            "interrupted" | "never"), lastError, pendingResume (null |
 *            {stagedBytes, totalBytes} | {damaged: true}), versionsKept,
 *            healthy, problems: [text]}],
 *   orphanedSnapshots: [{record, provider, artifacts: [text]}],
 *   healthy, problems: [text]
 * An item is unhealthy when it has no good backup, when that backup is
 * older than max_age_s (0: no limit), missing or replaced, or when its last
 * attempt failed.
 *
 * Ownership: *report is a new reference for the caller (json_decref); the
 * job is borrowed.
 */
#ifndef PS_STATUS_H
#define PS_STATUS_H

#include <jansson.h>
#include <stdint.h>

#include "error.h"
#include "pipeline.h"

ps_status status_report(const ps_job *job, int64_t max_age_s, json_t **report, ps_err *err);

#endif
