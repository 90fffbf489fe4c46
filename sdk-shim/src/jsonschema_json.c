/*
 * jsonschema_json.c - JSON value helpers for the validator: JSON pointers
 * (RFC 6901), equality and number comparison with JSON's rules rather than
 * jansson's (for JSON, 1 and 1.0 are the same number), and the value text
 * used in messages.
 */
#include "jsonschema_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON pointers ---- */

static int path_reserve(js_path *p, size_t more)
{
    if (p->oom)
        return -1;
    if (p->len + more + 1 <= p->cap)
        return 0;
    size_t cap = p->cap ? p->cap : 64;
    while (cap < p->len + more + 1)
        cap *= 2;
    char *buf = realloc(p->buf, cap);
    if (!buf) {
        p->oom = 1;
        return -1;
    }
    p->buf = buf;
    p->cap = cap;
    return 0;
}

void js_path_init(js_path *p, const char *prefix)
{
    memset(p, 0, sizeof *p);
    size_t n = prefix ? strlen(prefix) : 0;
    if (path_reserve(p, n) == 0) {
        if (n)
            memcpy(p->buf, prefix, n);
        p->len = n;
        p->buf[n] = '\0';
    }
}

size_t js_path_push_key(js_path *p, const char *key)
{
    size_t old = p->len, n = strlen(key);
    /* worst case every character needs two ("~0", "~1") */
    if (path_reserve(p, 2 * n + 1) < 0)
        return old;
    p->buf[p->len++] = '/';
    for (size_t i = 0; i < n; i++) {
        if (key[i] == '~' || key[i] == '/') {
            p->buf[p->len++] = '~';
            p->buf[p->len++] = key[i] == '~' ? '0' : '1';
        } else {
            p->buf[p->len++] = key[i];
        }
    }
    p->buf[p->len] = '\0';
    return old;
}

size_t js_path_push_index(js_path *p, size_t index)
{
    char num[32];
    size_t old = p->len;
    int n = snprintf(num, sizeof num, "/%lu", (unsigned long)index);
    if (n > 0 && path_reserve(p, (size_t)n) == 0) {
        memcpy(p->buf + p->len, num, (size_t)n + 1);
        p->len += (size_t)n;
    }
    return old;
}

void js_path_pop(js_path *p, size_t len)
{
    if (p->buf && len <= p->len) {
        p->len = len;
        p->buf[len] = '\0';
    }
}

const char *js_path_str(const js_path *p)
{
    return p->buf ? p->buf : "";
}

void js_path_free(js_path *p)
{
    free(p->buf);
    memset(p, 0, sizeof *p);
}

/* ---- numbers ---- */

int js_is_integral(const json_t *v)
{
    if (json_is_integer(v))
        return 1;
    if (!json_is_real(v))
        return 0;
    double d = json_real_value(v);
    /* Every double this large is a whole number; below it, truncation via
     * an integer type tells whether a fraction is there (no libm needed). */
    if (d >= 9007199254740992.0 || d <= -9007199254740992.0)
        return 1;
    return d == (double)(long long)d;
}

static double as_double(const json_t *v)
{
    return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

int js_number_cmp(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return (x > y) - (x < y);
    }
    double x = as_double(a), y = as_double(b);
    return (x > y) - (x < y);
}

int js_is_multiple_of(const json_t *value, const json_t *divisor)
{
    if (json_is_integer(value) && json_is_integer(divisor)) {
        json_int_t d = json_integer_value(divisor);
        return d == 1 || d == -1 || (d != 0 && json_integer_value(value) % d == 0);
    }
    double q = as_double(value) / as_double(divisor);
    /* A quotient that overflows cannot be checked: treat it as not a
     * multiple rather than guess. */
    if (!(q < 1e300 && q > -1e300))
        return 0;
    if (q >= 9007199254740992.0 || q <= -9007199254740992.0)
        return 1;
    /* Decimal fractions are inexact in binary (0.0075 / 0.0001 is
     * 75.00000000000001), so allow a relative error near the rounding. */
    double whole = (double)(long long)(q < 0 ? q - 0.5 : q + 0.5);
    double diff = q - whole, tol = 1e-9 * (q < 0 ? -q : q > 1 ? q : 1);
    return diff <= tol && diff >= -tol;
}

int js_get_count(const json_t *schema, const char *kw, size_t *out)
{
    const json_t *v = json_object_get(schema, kw);
    if (!js_is_integral(v))
        return 0;
    double d = json_number_value(v);
    if (d < 0)
        return 0;
    *out = json_is_integer(v) ? (size_t)json_integer_value(v)
           : d >= 1e18 ? (size_t)-1 : (size_t)d;
    return 1;
}

/* ---- equality ---- */

static int object_equal(const json_t *a, const json_t *b)
{
    const char *key;
    json_t *va;
    if (json_object_size(a) != json_object_size(b))
        return 0;
    /* jansson's iteration API is not const-correct; nothing is modified. */
    json_object_foreach((json_t *)a, key, va) {
        const json_t *vb = json_object_get(b, key);
        if (!vb || !js_json_equal(va, vb))
            return 0;
    }
    return 1;
}

int js_json_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return js_number_cmp(a, b) == 0;
    if (json_typeof(a) != json_typeof(b))
        return 0;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!js_json_equal(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    case JSON_OBJECT:
        return object_equal(a, b);
    default: /* true, false, null: the type says it all */
        return 1;
    }
}

/* ---- text for messages ---- */

const char *js_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "value";
}

/* Shortest text that reads back as the same double, so a limit written 0.1
 * shows as 0.1 and not 0.10000000000000001. */
static char *real_text(double d)
{
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    size_t n = strlen(buf) + 1;
    char *out = malloc(n);
    if (out)
        memcpy(out, buf, n);
    return out;
}

char *js_value_text(const json_t *v, size_t max)
{
    if (json_is_real(v))
        return real_text(json_real_value(v));
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!text || strlen(text) <= max)
        return text;
    /* cut on a UTF-8 character boundary */
    size_t cut = max;
    while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80)
        cut--;
    memcpy(text + cut, "...", 4);
    return text;
}

size_t js_utf8_length(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80; /* skip continuation bytes */
    return n;
}

char *js_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}
