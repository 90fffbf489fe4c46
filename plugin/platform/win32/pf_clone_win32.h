/*
 * pf_clone_win32.h - the arithmetic of a ReFS block clone (pf_clone_win32.c):
 * which byte ranges go to FSCTL_DUPLICATE_EXTENTS_TO_FILE, one call each.
 * Pure functions with no Windows call, so that the rounding and the
 * splitting are proven without ReFS (tests/windows/test_pf_clone_win32.c).
 * Internal to platform/win32.
 */
#ifndef PS_PF_CLONE_WIN32_H
#define PS_PF_CLONE_WIN32_H

#include <stdint.h>

/* ReFS refuses a call of 4 GiB or more ("the cloned region must be less
 * than 4GB in length"); 1 GiB calls stay well under it and are few (47
 * for a PST at Outlook's default limit of 50 GB). */
#define PFW_CLONE_CALL_MAX (UINT64_C(1) << 30)

typedef struct pfw_clone_plan {
    uint64_t start; /* first byte cloned: `from` */
    uint64_t end;   /* the source's size rounded up to the cluster; == start
                       when there is nothing to clone */
    uint64_t call;  /* most bytes per call: a multiple of the cluster, < 4 GiB */
} pfw_clone_plan;

/* Plan the clone of src[from, src_size) to the same offsets of the
 * destination, in calls of at most call_max bytes. Every range must begin
 * and end on a cluster boundary, so the end is rounded up: the source's
 * partial last cluster is cloned whole (its bytes past the source's end of
 * file are cut off afterwards by setting the destination's size).
 * Returns 0 with *plan filled, or -1 when the clone cannot be cut into
 * clusters: cluster 0 or not a power of two, `from` not a multiple of it,
 * call_max smaller than one cluster, or a rounded end past INT64_MAX (the
 * FSCTL takes signed offsets). from >= src_size is a plan with nothing to
 * clone (start == end). */
int pfw_clone_plan_make(uint64_t from, uint64_t src_size, uint32_t cluster, uint64_t call_max,
                        pfw_clone_plan *plan);

/* The byte count of the call starting at `off` (plan->start <= off <=
 * plan->end, advanced by each count returned): a multiple of the cluster,
 * at most plan->call; 0 once off reaches the end. */
uint64_t pfw_clone_plan_step(const pfw_clone_plan *plan, uint64_t off);

#endif
