#include "error.h"

#include <stdio.h>
#include <string.h>

ps_status ps_err_set(ps_err *err, ps_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

ps_status ps_err_prefix(ps_err *err, const char *fmt, ...)
{
    if (!err)
        return PS_ERR_INVALID;
    char prefix[PS_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* Keep as much of both as fits; the end of the old message goes first. */
    char old[PS_ERR_MSG_MAX];
    memcpy(old, err->msg, sizeof old);
    size_t plen = strlen(prefix);
    if (plen >= sizeof err->msg)
        plen = sizeof err->msg - 1;
    memcpy(err->msg, prefix, plen);
    size_t rest = sizeof err->msg - 1 - plen, olen = strlen(old);
    if (olen > rest)
        olen = rest;
    memcpy(err->msg + plen, old, olen);
    err->msg[plen + olen] = '\0';
    return err->code;
}

void ps_err_clear(ps_err *err)
{
    if (err) {
        err->code = PS_OK;
        err->msg[0] = '\0';
    }
}

const char *ps_status_name(ps_status code)
{
    switch (code) {
    case PS_OK: return "ok";
    case PS_ERR_INVALID: return "invalid";
    case PS_ERR_IO: return "io";
    case PS_ERR_NOSPACE: return "no-space";
    case PS_ERR_ACCESS: return "access-denied";
    case PS_ERR_NOTFOUND: return "not-found";
    case PS_ERR_LOCKED: return "locked";
    case PS_ERR_CHANGED: return "changed-during-copy";
    case PS_ERR_CANCELLED: return "cancelled";
    case PS_ERR_BUSY: return "busy";
    case PS_ERR_UNSUPPORTED: return "unsupported";
    case PS_ERR_CORRUPT: return "corrupt";
    case PS_ERR_NOMEM: return "out-of-memory";
    case PS_ERR_UNSAFE: return "unsafe-path";
    }
    return "unknown";
}
