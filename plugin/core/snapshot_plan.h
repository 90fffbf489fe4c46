/*
 * snapshot_plan.h - freeze the files that must be copied, choosing a
 * snapshot provider per file.
 *
 * With "auto" every file gets the first provider (best first, see
 * snapshot_providers) whose probe accepts it; when that provider then fails
 * to create its snapshot, its files fall back to the next one, and an event
 * says so. A named provider is used or the file fails with the reason.
 * Every artifact is recorded (snapshot.h) before it is created, in
 * records_dir, so a crash never leaks one.
 *
 * Ownership: snapshot_plan_create allocates the plan; snapshot_plan_release
 * frees it. Paths passed in are borrowed and must outlive the plan.
 */
#ifndef PS_SNAPSHOT_PLAN_H
#define PS_SNAPSHOT_PLAN_H

#include <stddef.h>

#include "error.h"
#include "host.h"
#include "snapshot.h"

typedef struct snapshot_plan snapshot_plan;

/* Never fails as a whole except out of memory: files no provider could
 * freeze are reported by snapshot_plan_map. */
ps_status snapshot_plan_create(const char *const *paths, size_t count, const char *method,
                               const char *records_dir, const ps_host *host, snapshot_plan **out,
                               ps_err *err);
/* Where to read file i, and whether that read is live (provider "none").
 * Returns the reason when no provider could freeze it. *read_path is
 * malloc'd. */
ps_status snapshot_plan_map(snapshot_plan *p, size_t i, char **read_path, int *live,
                            const char **provider, ps_err *err);
/* Names of the providers used, comma-separated, for the summary. */
const char *snapshot_plan_providers(const snapshot_plan *p);
/* Why the last snapshot method that failed to create a snapshot failed
 * (e.g. VSS without elevation), or NULL when none failed. Borrowed from the
 * plan. For telling an admin why a locked file was read without one. */
const char *snapshot_plan_failure(const snapshot_plan *p);
/* Number of snapshot sessions actually created. */
size_t snapshot_plan_sessions(const snapshot_plan *p);
/* Release every session; failures are reported as events and left to the
 * next run's orphan removal. Frees the plan. */
void snapshot_plan_release(snapshot_plan *p, const ps_host *host);

#endif
