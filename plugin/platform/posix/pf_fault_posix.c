/* Fault points (see core/fault.h): kill this process at the Nth point. */
#include "../../core/fault.h"

#ifdef PSTSNAP_FAULT_INJECTION
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static atomic_long g_points;

void fault_point(const char *name)
{
    long n = atomic_fetch_add(&g_points, 1) + 1;
    const char *trace = getenv("PSTSNAP_FAULT_TRACE");
    if (trace && *trace) {
        FILE *f = fopen(trace, "a");
        if (f) {
            fprintf(f, "%ld %s\n", n, name);
            fclose(f);
        }
    }
    const char *kill_at = getenv("PSTSNAP_FAULT_KILL_AT");
    if (kill_at && atol(kill_at) == n)
        kill(getpid(), SIGKILL);
}
#else
/* ISO C forbids an empty translation unit. */
typedef int pf_fault_points_compiled_out;
#endif
