#include "vars.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Growable output buffer; `failed` latches the first allocation failure so
 * the expansion loop does not need to check every append. */
typedef struct vars_buf {
    char *data;
    size_t len, cap;
    int failed;
} vars_buf;

static void buf_append(vars_buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

/* "<what> at offset N in '<in>'" */
static void err_at(char *errbuf, size_t errlen, const char *what, const char *in, size_t off)
{
    if (errbuf && errlen > 0)
        snprintf(errbuf, errlen, "%s at offset %lu in '%s'", what, (unsigned long)off, in);
}

static int is_ascii_letter(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Length of the name starting at `s` and closed by `close`, or -1 when a
 * character that may not appear in a name (or the end) comes first. */
static long name_length(const char *s, char close, const char *stops)
{
    size_t n = 0;
    for (; s[n] != close; n++) {
        unsigned char c = (unsigned char)s[n];
        if (c == '\0' || c < 0x20 || c == 0x7f || strchr(stops, c))
            return -1;
    }
    return (long)n;
}

/* Look up the `len`-byte name at `name` and append its value. */
static int expand_one(const char *name, size_t len, vars_kind kind, vars_lookup_fn lookup,
                      void *ctx, vars_buf *b, char *errbuf, size_t errlen)
{
    char *copy = malloc(len + 1);
    if (!copy) {
        b->failed = 1;
        return -1;
    }
    memcpy(copy, name, len);
    copy[len] = '\0';
    const char *value = lookup(ctx, kind, copy);
    if (!value) {
        if (errbuf && errlen > 0)
            snprintf(errbuf, errlen,
                     kind == VARS_ENV ? "variable %%%s%% is not set"
                                      : "session variable $(%s) is not set",
                     copy);
        free(copy);
        return -1;
    }
    buf_append(b, value, strlen(value));
    free(copy);
    return 0;
}

int vars_expand(const char *in, vars_lookup_fn lookup, void *ctx, char **out, char *errbuf,
                size_t errlen)
{
    if (out)
        *out = NULL;
    if (!in || !lookup || !out) {
        if (errbuf && errlen > 0)
            snprintf(errbuf, errlen, "vars_expand: NULL argument");
        return -1;
    }
    vars_buf b = {NULL, 0, 0, 0};
    buf_append(&b, "", 0); /* an empty input still yields a malloc'd "" */
    size_t i = 0;
    while (in[i] && !b.failed) {
        /* Copy the run of plain text up to the next possible reference. */
        size_t run = strcspn(in + i, "%$");
        buf_append(&b, in + i, run);
        i += run;
        if (!in[i])
            break;
        unsigned char next = (unsigned char)in[i + 1];
        if (in[i] == '%' && next == '%') {
            buf_append(&b, "%", 1);
            i += 2;
        } else if (in[i] == '%' && (is_ascii_letter(next) || next == '_')) {
            long n = name_length(in + i + 1, '%', "\\/");
            if (n < 0)
                goto unterminated;
            if (expand_one(in + i + 1, (size_t)n, VARS_ENV, lookup, ctx, &b, errbuf, errlen))
                goto fail;
            i += (size_t)n + 2;
        } else if (in[i] == '$' && next == '(') {
            long n = name_length(in + i + 2, ')', "(");
            if (n < 0)
                goto unterminated;
            if (n == 0) {
                err_at(errbuf, errlen, "empty variable name", in, i);
                goto fail;
            }
            if (expand_one(in + i + 2, (size_t)n, VARS_SESSION, lookup, ctx, &b, errbuf,
                           errlen))
                goto fail;
            i += (size_t)n + 3;
        } else {
            buf_append(&b, in + i, 1); /* a literal '%' or '$' */
            i++;
        }
    }
    if (b.failed) {
        if (errbuf && errlen > 0)
            snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    *out = b.data;
    return 0;

unterminated:
    err_at(errbuf, errlen, "unterminated variable reference", in, i);
fail:
    if (b.failed && errbuf && errlen > 0)
        snprintf(errbuf, errlen, "out of memory");
    free(b.data);
    return -1;
}
