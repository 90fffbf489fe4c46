#include "params.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "glob.h"

/* The value of `name` in the params object, or the schema's default. */
static json_t *value_or_default(json_t *params, json_t *schema_props, const char *name)
{
    json_t *v = json_object_get(params, name);
    if (v)
        return v;
    return json_object_get(json_object_get(schema_props, name), "default");
}

static ps_status get_string(json_t *v, const char *name, char **out, ps_err *err)
{
    if (!json_is_string(v) || json_string_length(v) == 0)
        return ps_err_set(err, PS_ERR_INVALID, "/%s: expected a non-empty string", name);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return ps_err_set(err, PS_ERR_INVALID, "/%s: must not contain NUL characters", name);
    *out = strdup(json_string_value(v));
    return *out ? PS_OK : ps_err_set(err, PS_ERR_NOMEM, "out of memory");
}

static ps_status get_bool(json_t *v, const char *name, int *out, ps_err *err)
{
    if (!json_is_boolean(v))
        return ps_err_set(err, PS_ERR_INVALID, "/%s: expected true or false", name);
    *out = json_is_true(v);
    return PS_OK;
}

static ps_status get_uint(json_t *v, const char *name, json_int_t max, uint32_t *out, ps_err *err)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
        return ps_err_set(err, PS_ERR_INVALID, "/%s: expected a whole number from 0 to %lld", name,
                          (long long)max);
    *out = (uint32_t)json_integer_value(v);
    return PS_OK;
}

static ps_status get_string_list(json_t *v, const char *name, int globs, char ***out, size_t *count,
                                 ps_err *err)
{
    if (!json_is_array(v))
        return ps_err_set(err, PS_ERR_INVALID, "/%s: expected a list of strings", name);
    size_t n = json_array_size(v);
    if (n > 64)
        return ps_err_set(err, PS_ERR_INVALID, "/%s: at most 64 entries", name);
    *out = calloc(n ? n : 1, sizeof **out);
    if (!*out)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    *count = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(v, i);
        char field[64];
        snprintf(field, sizeof field, "%s/%zu", name, i);
        ps_status st = get_string(item, field, &(*out)[i], err);
        if (st != PS_OK)
            return st;
        (*count)++;
        char why[256];
        if (globs && glob_check((*out)[i], why, sizeof why) != 0)
            return ps_err_set(err, PS_ERR_INVALID, "/%s: %s", field, why);
    }
    return PS_OK;
}

int64_t ps_parse_interval(const char *text)
{
    if (!text || !*text)
        return -1;
    int64_t n = 0;
    const char *p = text;
    /* The schema's pattern allows 1 to 6 digits; counting digits (not the
     * value) keeps "0000001" refused here too, for hosts that did not
     * validate, and stopping at the seventh keeps a long run of digits
     * from overflowing n (found by fuzz_params). */
    for (; *p >= '0' && *p <= '9'; p++) {
        if (p - text == 6)
            return -1;
        n = n * 10 + (*p - '0');
    }
    if (p == text)
        return -1;
    int64_t unit = 1;
    switch (*p) {
    case '\0':
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return -1;
    }
    if (*p && p[1])
        return -1;
    return n * unit;
}

static ps_status get_enum(json_t *v, const char *name, const char *const *allowed, int *index,
                          ps_err *err)
{
    const char *s = json_string_value(v);
    for (int i = 0; s && allowed[i]; i++)
        if (strcmp(s, allowed[i]) == 0) {
            *index = i;
            return PS_OK;
        }
    char list[256] = "";
    for (int i = 0; allowed[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", allowed[i]);
    return ps_err_set(err, PS_ERR_INVALID, "/%s: must be one of %s", name, list);
}

static ps_status parse_fields(json_t *params, json_t *props, ps_params *out, ps_err *err)
{
    static const char *const snapshots[] = {"auto", "vss", "btrfs", "reflink", "none", NULL};
    static const char *const verifies[] = {"none", "quick", "full", NULL};
    static const char *const priorities[] = {"low", "normal", NULL};
    const char *known[] = {"destination", "sources", "outlookProfiles", "include", "exclude",
                           "recurse", "snapshot", "minInterval", "keepVersions", "blockSize",
                           "verify", "maxBandwidth", "ioPriority", "updateInPlace", NULL};
    const char *key;
    json_t *unused;
    json_object_foreach(params, key, unused) {
        int ok = 0;
        for (int i = 0; known[i]; i++)
            ok |= strcmp(key, known[i]) == 0;
        if (!ok)
            return ps_err_set(err, PS_ERR_INVALID, "/%s: unknown parameter", key);
    }
#define GET(name) value_or_default(params, props, name)
    if (!json_object_get(params, "destination"))
        return ps_err_set(err, PS_ERR_INVALID, "/destination: required");
    ps_status st = get_string(GET("destination"), "destination", &out->destination, err);
    if (st == PS_OK)
        st = get_string_list(GET("sources"), "sources", 0, &out->sources, &out->source_count, err);
    if (st == PS_OK)
        st = get_bool(GET("outlookProfiles"), "outlookProfiles", &out->outlook_profiles, err);
    if (st == PS_OK)
        st = get_string_list(GET("include"), "include", 1, &out->include, &out->include_count, err);
    if (st == PS_OK && out->include_count == 0)
        st = ps_err_set(err, PS_ERR_INVALID, "/include: needs at least one pattern");
    if (st == PS_OK)
        st = get_string_list(GET("exclude"), "exclude", 1, &out->exclude, &out->exclude_count, err);
    if (st == PS_OK)
        st = get_bool(GET("recurse"), "recurse", &out->recurse, err);
    int idx = 0;
    if (st == PS_OK && (st = get_enum(GET("snapshot"), "snapshot", snapshots, &idx, err)) == PS_OK)
        out->snapshot = strdup(snapshots[idx]);
    if (st == PS_OK) {
        out->min_interval_s = ps_parse_interval(json_string_value(GET("minInterval")));
        if (out->min_interval_s < 0)
            st = ps_err_set(err, PS_ERR_INVALID,
                            "/minInterval: expected a number with an optional unit s, m, h or d "
                            "(e.g. \"90m\")");
    }
    if (st == PS_OK)
        st = get_uint(GET("keepVersions"), "keepVersions", 100, &out->keep_versions, err);
    if (st == PS_OK) {
        /* One message for every wrong value: "from 0 to 4096" would invite
         * 0 or 48, which are wrong too. */
        json_t *v = GET("blockSize");
        json_int_t kib = json_is_integer(v) ? json_integer_value(v) : 0;
        if (kib < 4 || kib > 4096 || (kib & (kib - 1)) != 0)
            st = ps_err_set(err, PS_ERR_INVALID, "/blockSize: must be a power of two from 4 to 4096 KiB");
        else
            out->block_size = (uint32_t)kib * 1024u;
    }
    if (st == PS_OK && (st = get_enum(GET("verify"), "verify", verifies, &idx, err)) == PS_OK)
        out->verify = (ps_verify)idx;
    if (st == PS_OK)
        st = get_uint(GET("maxBandwidth"), "maxBandwidth", 100000, &out->max_bandwidth_mibps, err);
    if (st == PS_OK && (st = get_enum(GET("ioPriority"), "ioPriority", priorities, &idx, err)) == PS_OK)
        out->io_priority_low = idx == 0;
    if (st == PS_OK)
        st = get_bool(GET("updateInPlace"), "updateInPlace", &out->update_in_place, err);
#undef GET
    return st;
}

ps_status ps_params_parse_with(const char *params_json, json_t *schema, ps_params *out,
                               ps_err *err)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *params = json_loads(params_json, JSON_REJECT_DUPLICATES, &jerr);
    ps_status st;
    if (!params)
        st = ps_err_set(err, PS_ERR_INVALID, "parameters are not valid JSON (line %d, column %d): %s",
                        jerr.line, jerr.column, jerr.text);
    else if (!json_is_object(params))
        st = ps_err_set(err, PS_ERR_INVALID, "parameters must be a JSON object");
    else
        st = parse_fields(params, json_object_get(schema, "properties"), out, err);
    json_decref(params);
    if (st != PS_OK)
        ps_params_free(out);
    return st;
}

ps_status ps_params_parse(const char *params_json, ps_params *out, ps_err *err)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *schema = json_loads(pstsnap_backup_psts_schema_json, 0, &jerr);
    if (!schema)
        return ps_err_set(err, PS_ERR_INVALID, "internal error: embedded schema: %s", jerr.text);
    ps_status st = ps_params_parse_with(params_json, schema, out, err);
    json_decref(schema);
    return st;
}

static void free_list(char **list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        free(list[i]);
    free(list);
}

void ps_params_free(ps_params *p)
{
    free(p->destination);
    free_list(p->sources, p->source_count);
    free_list(p->include, p->include_count);
    free_list(p->exclude, p->exclude_count);
    free(p->snapshot);
    memset(p, 0, sizeof *p);
}
