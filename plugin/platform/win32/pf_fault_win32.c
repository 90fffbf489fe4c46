/* Fault points (see core/fault.h): kill this process at the Nth point. */
#include "../../core/fault.h"

#ifdef PSTSNAP_FAULT_INJECTION
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <windows.h>

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
    /* TerminateProcess on ourselves is Windows' SIGKILL: no atexit, no
     * DllMain detach, no flush - like a power cut or Task Manager. Exit
     * code 137 as a shell reports a SIGKILL'd process. */
    if (kill_at && atol(kill_at) == n)
        TerminateProcess(GetCurrentProcess(), 137);
}
#else
/* ISO C forbids an empty translation unit. */
typedef int pf_fault_points_compiled_out;
#endif
