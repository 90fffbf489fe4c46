/* Helpers shared by the POSIX platform files. Internal to platform/posix. */
#ifndef PS_PF_POSIX_H
#define PS_PF_POSIX_H

#include <sys/stat.h>

#include "../platform.h"

/* Map errno to a status and fill err with "<what> '<path>': <reason>". */
ps_status pf_errno_err(ps_err *err, int e, const char *what, const char *path);
ps_status pf_errno_status(int e);
void pf_stat_from(const struct stat *s, pf_stat *st);

#endif
