/* The part of platform.h that needs no system call of its own: built only on
 * the other pf_ functions, so one copy serves POSIX and Win32. */
#include <stdlib.h>
#include <string.h>

#include "../core/fault.h"
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

struct pf_atomic_file {
    char *path, *tmp;
    pf_file *file;
    uint64_t len;
};

void pf_atomic_abandon(pf_atomic_file *a)
{
    if (!a)
        return;
    pf_close(a->file, NULL);
    if (a->tmp)
        pf_unlink(a->tmp, NULL);
    free(a->tmp);
    free(a->path);
    free(a);
}

ps_status pf_atomic_create(const char *path, pf_atomic_file **out, ps_err *err)
{
    *out = NULL;
    pf_atomic_file *a = calloc(1, sizeof *a);
    if (!a || !(a->path = strdup(path)) || !(a->tmp = pf_atomic_temp_path(path))) {
        pf_atomic_abandon(a);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory writing '%s'", path);
    }
    ps_status s = pf_open_write(a->tmp, &a->file, NULL, err);
    if (s == PS_OK)
        s = pf_truncate(a->file, 0, err);
    if (s != PS_OK) {
        pf_atomic_abandon(a);
        return s;
    }
    *out = a;
    return PS_OK;
}

ps_status pf_atomic_append(pf_atomic_file *a, const void *data, size_t len, ps_err *err)
{
    ps_status s = pf_pwrite(a->file, data, len, a->len, err);
    if (s == PS_OK)
        a->len += len;
    return s;
}

ps_status pf_atomic_commit(pf_atomic_file *a, ps_err *err)
{
    ps_status s = pf_sync(a->file, err);
    ps_status cs = pf_close(a->file, s == PS_OK ? err : NULL);
    a->file = NULL;
    if (s == PS_OK)
        s = cs;
    FAULT_POINT("atomic-file.written"); /* the new text is flushed, not yet in place */
    if (s == PS_OK)
        s = pf_rename_replace(a->tmp, a->path, err);
    if (s == PS_OK) {
        free(a->tmp); /* it is the file at `path` now */
        a->tmp = NULL;
    }
    pf_atomic_abandon(a);
    return s;
}

ps_status pf_write_file_atomic(const char *path, const void *data, size_t len, ps_err *err)
{
    pf_atomic_file *a = NULL;
    ps_status s = pf_atomic_create(path, &a, err);
    if (s == PS_OK && (s = pf_atomic_append(a, data, len, err)) != PS_OK)
        pf_atomic_abandon(a);
    else if (s == PS_OK)
        s = pf_atomic_commit(a, err);
    return s;
}
