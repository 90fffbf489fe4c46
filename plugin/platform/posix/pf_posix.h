/* Helpers shared by the POSIX platform files. Internal to platform/posix. */
#ifndef PS_PF_POSIX_H
#define PS_PF_POSIX_H

#include <sys/stat.h>

#include "../platform.h"

/* Map errno to a status and fill err with "<what> '<path>': <reason>". */
ps_status pf_errno_err(ps_err *err, int e, const char *what, const char *path);
ps_status pf_errno_status(int e);
void pf_stat_from(const struct stat *s, pf_stat *st);

/* Fault injection (pf_fault_posix.c), only in PSTSNAP_FAULT_INJECTION
 * builds: the error to inject into this call of `call` on `path` (an errno
 * value, PF_FAULT_SHORT for a half transfer, 0 for none), and whether the
 * crash tests are tracing or killing (then writes are torn in two halves
 * with a fault point between them). Release builds compile both to 0. */
#define PF_FAULT_SHORT (-1)
#ifdef PSTSNAP_FAULT_INJECTION
int pf_fault_inject(const char *call, const char *path);
int pf_fault_points_on(void);
#else
#define pf_fault_inject(call, path) 0
#define pf_fault_points_on() 0
#endif

#endif
