/* The part of platform.h that needs no system call of its own: built only on
 * the other pf_ functions, so one copy serves POSIX and Win32. */
#include <stdlib.h>

#include "platform.h"

ps_status pf_read_file(const char *path, size_t max_len, char **data, size_t *len, ps_err *err)
{
    *data = NULL;
    *len = 0;
    pf_file *f = NULL;
    ps_status st = pf_open_read(path, &f, err);
    if (st != PS_OK)
        return st;
    pf_stat s;
    st = pf_fstat(f, &s, err);
    if (st == PS_OK && s.size > max_len)
        st = ps_err_set(err, PS_ERR_INVALID, "'%s' is %llu bytes, more than the %zu allowed", path,
                        (unsigned long long)s.size, max_len);
    char *buf = st == PS_OK ? malloc((size_t)s.size + 1) : NULL;
    if (st == PS_OK && !buf)
        st = ps_err_set(err, PS_ERR_NOMEM, "out of memory reading '%s'", path);
    size_t got = 0;
    if (st == PS_OK)
        st = pf_pread(f, buf, (size_t)s.size, 0, &got, err);
    pf_close(f, NULL);
    if (st != PS_OK) {
        free(buf);
        return st;
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return PS_OK;
}
