/*
 * error.h - status codes and the error object every fallible plugin function
 * fills in.
 *
 * Functions return a ps_status (PS_OK == 0) and, on failure, describe the
 * problem in a caller-owned ps_err: the code again, plus one message that
 * names the file, field or step concerned ("cannot open '/x/Mail.pst':
 * Permission denied"). Messages are UTF-8 and fit in the fixed buffer, so
 * reporting an error never allocates and never fails.
 */
#ifndef PS_ERROR_H
#define PS_ERROR_H

#include <stdarg.h>

/* printf-style checking of our own formatters. mingw builds use mingw's
 * C99 printf (__USE_MINGW_ANSI_STDIO), whose checker is gnu_printf; plain
 * "printf" there means msvcrt's, which knows no %zu or %lld. */
#if defined(__MINGW32__)
#define PS_PRINTF_LIKE(fmt, args) __attribute__((format(gnu_printf, fmt, args)))
#elif defined(__GNUC__)
#define PS_PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PS_PRINTF_LIKE(fmt, args)
#endif

typedef enum ps_status {
    PS_OK = 0,
    PS_ERR_INVALID = 1,   /* bad input: parameters, policy, state file contents */
    PS_ERR_IO = 2,        /* read/write/flush failed */
    PS_ERR_NOSPACE = 3,   /* destination full */
    PS_ERR_ACCESS = 4,    /* permission denied */
    PS_ERR_NOTFOUND = 5,  /* file or folder does not exist */
    PS_ERR_LOCKED = 6,    /* held by another process (Outlook): needs a snapshot */
    PS_ERR_CHANGED = 7,   /* source changed while it was read without a snapshot */
    PS_ERR_CANCELLED = 8, /* shutdown/logoff asked the run to stop */
    PS_ERR_BUSY = 9,      /* another run holds the destination lock */
    PS_ERR_UNSUPPORTED = 10, /* e.g. snapshot provider cannot work on this volume */
    PS_ERR_CORRUPT = 11,  /* a state file or a staged block failed its checksum */
    PS_ERR_NOMEM = 12,
    PS_ERR_UNSAFE = 13    /* symlink / reparse point / foreign owner refused */
} ps_status;

#define PS_ERR_MSG_MAX 1024

typedef struct ps_err {
    ps_status code;
    char msg[PS_ERR_MSG_MAX];
} ps_err;

/* Set *err (when err is non-NULL) and return code, so callers can write
 * `return ps_err_set(err, PS_ERR_IO, "cannot read '%s': %s", path, why);`. */
ps_status ps_err_set(ps_err *err, ps_status code, const char *fmt, ...)
    PS_PRINTF_LIKE(3, 4)
    ;

/* Prefix an existing message with more context ("copying 'x': " + old). */
ps_status ps_err_prefix(ps_err *err, const char *fmt, ...)
    PS_PRINTF_LIKE(2, 3)
    ;

void ps_err_clear(ps_err *err);

/* Stable lowercase name of a status code, for audit event details. */
const char *ps_status_name(ps_status code);

#endif /* PS_ERROR_H */
