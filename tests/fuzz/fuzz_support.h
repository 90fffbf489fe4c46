/* Shared by the libFuzzer targets: inputs that the code under test reads
 * from a file are written to a private scratch file first. */
#ifndef PS_FUZZ_SUPPORT_H
#define PS_FUZZ_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A path of this process's own below /dev/shm (or TMPDIR), made once. */
static inline const char *fuzz_scratch_path(const char *suffix)
{
    static char path[4][256];
    static int used;
    for (int i = 0; i < used; i++)
        if (strstr(path[i], suffix))
            return path[i];
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(path[used], sizeof path[used], "%s/pstsnap-fuzz-%ld-%s", dir ? dir : "/tmp",
             (long)getpid(), suffix);
    return path[used++];
}

static inline int fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort(); /* the harness itself is broken: say so loudly */
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    return 0;
}

/* The input as a NUL-terminated string (malloc'd; the caller frees). */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
