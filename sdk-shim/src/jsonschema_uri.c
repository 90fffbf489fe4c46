/*
 * jsonschema_uri.c - RFC 3986 reference resolution, which is how draft-07
 * turns "$id": "folder/" and "$ref": "folderInteger.json" into the absolute
 * URI a schema is registered under.
 *
 * Only what $id/$ref need: no normalisation of case or percent-encoding, so
 * a schema must spell a URI the same way where it is defined and used.
 */
#include "jsonschema_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct span {
    const char *p;
    size_t n;
    int defined; /* "?" with nothing after it is a defined, empty query */
} span;

typedef struct uri_parts {
    span scheme, authority, path, query, fragment;
} uri_parts;

static void parse_uri(const char *s, uri_parts *u)
{
    memset(u, 0, sizeof *u);
    /* scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
    size_t k = strcspn(s, ":/?#");
    if (s[k] == ':' && k > 0 && ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z')) {
        u->scheme = (span){s, k, 1};
        s += k + 1;
    }
    if (s[0] == '/' && s[1] == '/') {
        size_t n = strcspn(s + 2, "/?#");
        u->authority = (span){s + 2, n, 1};
        s += 2 + n;
    }
    size_t n = strcspn(s, "?#");
    u->path = (span){s, n, 1};
    s += n;
    if (*s == '?') {
        n = strcspn(s + 1, "#");
        u->query = (span){s + 1, n, 1};
        s += 1 + n;
    }
    if (*s == '#')
        u->fragment = (span){s + 1, strlen(s + 1), 1};
}

/* RFC 3986 5.2.4: remove "." and ".." segments. Works in place on a
 * NUL-terminated copy, since the output never outgrows the input. */
static void remove_dot_segments(char *path)
{
    char *in = path, *out = path;
    while (*in) {
        if (strncmp(in, "../", 3) == 0) {
            in += 3;
        } else if (strncmp(in, "./", 2) == 0) {
            in += 2;
        } else if (strncmp(in, "/./", 3) == 0) {
            in += 2;
        } else if (strcmp(in, "/.") == 0) {
            in[1] = '\0';
        } else if (strncmp(in, "/../", 4) == 0 || strcmp(in, "/..") == 0) {
            /* "/../x" leaves "/x"; "/.." leaves "/" (reusing its last dot) */
            in += 3;
            if (*in == '\0')
                *--in = '/';
            while (out > path && *--out != '/')
                ;
            *out = '\0';
        } else if (strcmp(in, ".") == 0 || strcmp(in, "..") == 0) {
            *in = '\0';
        } else {
            /* copy one segment: an optional leading '/' and up to the next */
            do {
                *out++ = *in++;
            } while (*in && *in != '/');
        }
    }
    *out = '\0';
}

typedef struct sbuf {
    char *p;
    size_t len;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Build the target path (merged and dot-free) into a malloc'd string. */
static char *target_path(const uri_parts *B, const uri_parts *R)
{
    size_t cap = B->path.n + R->path.n + 2;
    sbuf b = {malloc(cap), 0};
    if (!b.p)
        return NULL;
    b.p[0] = '\0';
    if (R->path.n && R->path.p[0] == '/') {
        put(&b, R->path.p, R->path.n);
    } else if (B->authority.defined && B->path.n == 0) {
        put(&b, "/", 1);
        put(&b, R->path.p, R->path.n);
    } else {
        /* merge: everything of the base path up to its last '/' */
        size_t keep = B->path.n;
        while (keep > 0 && B->path.p[keep - 1] != '/')
            keep--;
        put(&b, B->path.p, keep);
        put(&b, R->path.p, R->path.n);
    }
    remove_dot_segments(b.p);
    return b.p;
}

static char *compose(const span *scheme, const span *authority, const char *path,
                     const span *query, const span *fragment)
{
    size_t cap = scheme->n + authority->n + strlen(path) + query->n + fragment->n + 8;
    sbuf b = {malloc(cap), 0};
    if (!b.p)
        return NULL;
    b.p[0] = '\0';
    if (scheme->defined) {
        put(&b, scheme->p, scheme->n);
        put(&b, ":", 1);
    }
    if (authority->defined) {
        put(&b, "//", 2);
        put(&b, authority->p, authority->n);
    }
    put(&b, path, strlen(path));
    if (query->defined) {
        put(&b, "?", 1);
        put(&b, query->p, query->n);
    }
    if (fragment->defined) {
        put(&b, "#", 1);
        put(&b, fragment->p, fragment->n);
    }
    return b.p;
}

static char *copy_span(const span *s)
{
    char *p = malloc(s->n + 1);
    if (p) {
        memcpy(p, s->p, s->n);
        p[s->n] = '\0';
    }
    return p;
}

char *js_uri_resolve(const char *base, const char *ref)
{
    uri_parts B, R;
    parse_uri(base ? base : "", &B);
    parse_uri(ref, &R);
    const span *scheme = &B.scheme, *authority = &B.authority, *query = &R.query;
    char *path;

    if (R.scheme.defined) {
        scheme = &R.scheme;
        authority = &R.authority;
        path = copy_span(&R.path);
        if (path)
            remove_dot_segments(path);
    } else if (R.authority.defined) {
        authority = &R.authority;
        path = copy_span(&R.path);
        if (path)
            remove_dot_segments(path);
    } else if (R.path.n == 0) {
        path = copy_span(&B.path);
        if (!R.query.defined)
            query = &B.query;
    } else {
        path = target_path(&B, &R);
    }
    if (!path)
        return NULL;
    char *out = compose(scheme, authority, path, query, &R.fragment);
    free(path);
    return out;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

char *js_percent_decode(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    size_t n = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%' && i + 2 < len && hex_digit(s[i + 1]) >= 0 &&
            hex_digit(s[i + 2]) >= 0) {
            out[n++] = (char)(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
            i += 2;
        } else {
            out[n++] = s[i];
        }
    }
    out[n] = '\0';
    return out;
}
