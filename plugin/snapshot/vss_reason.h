/*
 * vss_reason.h - the one part of vss.c that is reached from outside the provider
 * table: what a failing VSS HRESULT means to an admin. A pure function, so
 * the messages are tested without VSS (tests/windows/test_vss_reasons.c).
 */
#ifndef PS_VSS_REASON_H
#define PS_VSS_REASON_H

#include "../core/error.h"

/* The reason and remedy for `hr` (an HRESULT; long is its type on Windows),
 * as one sentence an admin can act on, and in *status (may be NULL) the
 * status it maps to: PS_ERR_ACCESS (not elevated), PS_ERR_UNSUPPORTED (VSS
 * absent or disabled, volume unsupported: "auto" moves on),
 * PS_ERR_BUSY, PS_ERR_CANCELLED, else PS_ERR_IO. NULL, status untouched,
 * for an HRESULT without a known meaning: the caller shows the system's
 * text. The string is static. */
const char *vss_hresult_reason(long hr, ps_status *status);

#endif
