/* How emhost shows the answers of status and verify queries (query.h):
 * a table per action for a person, one JSON document for monitoring, and
 * the exit code both share. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "host_os.h"
#include "progress.h"
#include "query.h"

int64_t emh_parse_duration(const char *text)
{
    if (!text || !isdigit((unsigned char)text[0]))
        return -1;
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    static const struct {
        char unit;
        int64_t seconds;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}};
    if (*end == '\0')
        return v == 0 ? 0 : -1; /* a bare number other than 0 has no unit */
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (end[0] == units[i].unit && end[1] == '\0' && v <= INT64_MAX / units[i].seconds)
            return (int64_t)v * units[i].seconds;
    return -1;
}

/* --- judging ------------------------------------------------------------------- */
/* Problems the host itself sees in an item, whatever the plugin said: the
 * checks an admin's --max-age asks for must not depend on each plugin. */
static void host_item_problems(const json_t *item, int64_t max_age_s, json_t *out)
{
    const json_t *last = json_object_get(item, "lastSuccess");
    const json_t *age = json_object_get(item, "ageSeconds");
    const char *result = json_string_value(json_object_get(item, "lastResult"));
    char text[160];
    if (!json_is_string(last)) {
        json_array_append_new(out, json_string("never backed up successfully"));
    } else if (max_age_s > 0 && json_is_integer(age) && json_integer_value(age) > max_age_s) {
        snprintf(text, sizeof text, "last good backup is %lld s old (more than --max-age %lld s)",
                 (long long)json_integer_value(age), (long long)max_age_s);
        json_array_append_new(out, json_string(text));
    }
    if (result && strcmp(result, "failed") == 0)
        json_array_append_new(out, json_string("last attempt failed"));
}

static int item_healthy(const json_t *item, int64_t max_age_s, const char *command)
{
    if (json_is_false(json_object_get(item, "healthy")) || json_is_false(json_object_get(item, "ok")))
        return 0;
    if (strcmp(command, "status") != 0)
        return 1;
    json_t *mine = json_array();
    host_item_problems(item, max_age_s, mine);
    int ok = json_array_size(mine) == 0;
    json_decref(mine);
    return ok;
}

static int answer_healthy(const emh_query_answer *a, int64_t max_age_s, const char *command)
{
    if (a->outcome == EMH_QUERY_FAILED)
        return 0;
    if (a->outcome != EMH_QUERY_ANSWERED)
        return 1;
    if (json_is_false(json_object_get(a->result, "healthy")) ||
        json_is_false(json_object_get(a->result, "ok")))
        return 0;
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(a->result, "items"), i, item)
        if (!item_healthy(item, max_age_s, command))
            return 0;
    return 1;
}

/* --- text ------------------------------------------------------------------------ */
static void format_bytes(const json_t *v, char *buf, size_t len)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0)
        emh_progress_format_bytes((uint64_t)json_integer_value(v), buf, len);
    else
        snprintf(buf, len, "-");
}

static void format_age(const json_t *v, char *buf, size_t len)
{
    if (!json_is_integer(v)) {
        snprintf(buf, len, "-");
        return;
    }
    long long s = json_integer_value(v);
    if (s < 120)
        snprintf(buf, len, "%llds", s);
    else if (s < 7200)
        snprintf(buf, len, "%lldm", s / 60);
    else if (s < 172800)
        snprintf(buf, len, "%lldh", s / 3600);
    else
        snprintf(buf, len, "%lldd", s / 86400);
}

static void format_resume(const json_t *v, char *buf, size_t len)
{
    json_t *staged = json_object_get(v, "stagedBytes"), *total = json_object_get(v, "totalBytes");
    if (json_is_true(json_object_get(v, "damaged")))
        snprintf(buf, len, "damaged");
    else if (json_is_integer(staged) && json_is_integer(total) && json_integer_value(total) > 0)
        snprintf(buf, len, "%lld%%",
                 (long long)(100 * json_integer_value(staged) / json_integer_value(total)));
    else if (json_is_object(v) || json_is_true(v))
        snprintf(buf, len, "yes");
    else
        snprintf(buf, len, "-");
}

/* A damaged file can have hundreds of findings: a person gets the first
 * ones and the count; --json has them all. */
#define MAX_PROBLEMS_SHOWN 12

static void print_problems(FILE *out, const json_t *list, const char *indent)
{
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) {
        if (i == MAX_PROBLEMS_SHOWN) {
            fprintf(out, "%s! ... and %zu more (--json lists them all)\n", indent,
                    json_array_size(list) - i);
            break;
        }
        if (json_is_string(p)) {
            fprintf(out, "%s! %s\n", indent, json_string_value(p));
        } else {
            char *text = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
            fprintf(out, "%s! %s\n", indent, text ? text : "?");
            free(text);
        }
    }
}

static const char *text_or(const json_t *v, const char *fallback)
{
    return json_is_string(v) ? json_string_value(v) : fallback;
}

static void print_status_table(FILE *out, const json_t *result, int64_t max_age_s)
{
    json_t *items = json_object_get(result, "items");
    const char *kind = text_or(json_object_get(result, "itemKind"), "ITEM");
    int width = (int)strlen(kind);
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        int n = (int)strlen(text_or(json_object_get(it, "name"), "?"));
        width = n > width ? n : width;
    }
    width = width > 60 ? 60 : width;
    if (json_array_size(items) == 0) {
        fprintf(out, "  no %s found and none backed up\n", kind);
    } else {
        fprintf(out, "  %-*s  %-20s  %6s  %10s  %-12s  %-7s  %s\n", width, kind,
                "LAST GOOD BACKUP", "AGE", "SIZE", "LAST ATTEMPT", "RESUME", "VERSIONS");
    }
    json_array_foreach(items, i, it) {
        char age[32], size[32], resume[32], versions[16];
        format_age(json_object_get(it, "ageSeconds"), age, sizeof age);
        format_bytes(json_object_get(it, "size"), size, sizeof size);
        format_resume(json_object_get(it, "pendingResume"), resume, sizeof resume);
        json_t *v = json_object_get(it, "versionsKept");
        if (json_is_integer(v))
            snprintf(versions, sizeof versions, "%lld", (long long)json_integer_value(v));
        else
            snprintf(versions, sizeof versions, "-");
        fprintf(out, "  %-*s  %-20s  %6s  %10s  %-12s  %-7s  %s\n", width,
                text_or(json_object_get(it, "name"), "?"),
                text_or(json_object_get(it, "lastSuccess"), "never"), age, size,
                text_or(json_object_get(it, "lastResult"), "-"), resume, versions);
        /* The plugin's own words first; the host's only if it said nothing. */
        json_t *problems = json_object_get(it, "problems");
        if (json_array_size(problems)) {
            print_problems(out, problems, "      ");
        } else {
            json_t *mine = json_array();
            host_item_problems(it, max_age_s, mine);
            print_problems(out, mine, "      ");
            json_decref(mine);
        }
        const char *why = json_string_value(json_object_get(it, "lastError"));
        if (why && !json_array_size(problems))
            fprintf(out, "      last error: %s\n", why);
    }
    json_t *orphans = json_object_get(result, "orphanedSnapshots");
    if (json_is_array(orphans)) {
        if (json_array_size(orphans) == 0)
            fprintf(out, "  orphaned snapshots: none\n");
        else
            fprintf(out, "  orphaned snapshots: %zu (the next run removes them)\n",
                    json_array_size(orphans));
        json_array_foreach(orphans, i, it) {
            json_t *arts = json_object_get(it, "artifacts");
            fprintf(out, "    %s (%s, %zu artifact%s)\n", text_or(json_object_get(it, "record"), "?"),
                    text_or(json_object_get(it, "provider"), "?"), json_array_size(arts),
                    json_array_size(arts) == 1 ? "" : "s");
            size_t k;
            json_t *a;
            json_array_foreach(arts, k, a) fprintf(out, "      %s\n", text_or(a, "?"));
        }
    }
}

static void print_verify_table(FILE *out, const json_t *result)
{
    json_t *items = json_object_get(result, "items");
    size_t i;
    json_t *it;
    if (!json_is_array(items)) {
        char *text = json_dumps(result, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fprintf(out, "%s\n", text ? text : "?");
        free(text);
        return;
    }
    if (json_array_size(items) == 0)
        fprintf(out, "  nothing to verify\n");
    json_array_foreach(items, i, it) {
        int bad = json_is_false(json_object_get(it, "healthy")) || json_is_false(json_object_get(it, "ok"));
        fprintf(out, "  %-4s %s\n", bad ? "BAD" : "ok", text_or(json_object_get(it, "name"), "?"));
        print_problems(out, json_object_get(it, "problems"), "      ");
    }
}

static void print_text(FILE *out, const char *command, const emh_query_answer *a, int64_t max_age_s)
{
    const char *dest = json_string_value(json_object_get(a->result, "destination"));
    fprintf(out, "%s (%s) in node '%s'%s%s\n", a->action->description, a->action->action_id,
            a->node, dest ? ": " : "", dest ? dest : "");
    if (a->outcome == EMH_QUERY_NO_SUPPORT) {
        fprintf(out, "  %s\n", a->error);
        return;
    }
    if (a->outcome == EMH_QUERY_FAILED) {
        fprintf(out, "  ! could not answer '%s': %s\n", command, a->error);
        return;
    }
    if (json_is_true(json_object_get(a->result, "running")))
        fprintf(out, "  a backup is running now\n");
    print_problems(out, json_object_get(a->result, "problems"), "  ");
    if (strcmp(command, "status") == 0)
        print_status_table(out, a->result, max_age_s);
    else
        print_verify_table(out, a->result);
}

/* --- JSON ------------------------------------------------------------------------- */
static json_t *answer_json(const emh_query_answer *a, int64_t max_age_s, const char *command)
{
    const char *outcome = a->outcome == EMH_QUERY_ANSWERED     ? "answered"
                          : a->outcome == EMH_QUERY_NO_SUPPORT ? "unsupported"
                                                               : "failed";
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "trigger", a->trigger, "node", a->node,
                          "action", a->action->description, "actionId", a->action->action_id,
                          "outcome", outcome);
    if (a->outcome != EMH_QUERY_ANSWERED)
        json_object_set_new(o, "error", json_string(a->error));
    else
        json_object_set(o, "result", a->result);
    if (a->outcome != EMH_QUERY_NO_SUPPORT)
        json_object_set_new(o, "healthy", json_boolean(answer_healthy(a, max_age_s, command)));
    return o;
}

int emh_query_report(FILE *out, const char *policy_path, const char *command,
                     const emh_query_answer *answers, size_t count, int64_t max_age_s, int as_json)
{
    size_t asked = 0, unhealthy = 0;
    for (size_t i = 0; i < count; i++) {
        if (answers[i].outcome == EMH_QUERY_NO_SUPPORT)
            continue;
        asked++;
        unhealthy += !answer_healthy(&answers[i], max_age_s, command);
    }
    if (as_json) {
        char now[40];
        hos_utc_timestamp(now, sizeof now);
        json_t *list = json_array();
        for (size_t i = 0; i < count; i++)
            json_array_append_new(list, answer_json(&answers[i], max_age_s, command));
        json_t *doc = json_pack("{s:s, s:s, s:s, s:I, s:b, s:o}", "command", command, "policy",
                                policy_path, "generatedAt", now, "maxAgeSeconds",
                                (json_int_t)max_age_s, "healthy", asked > 0 && unhealthy == 0,
                                "actions", list);
        json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', out);
        json_decref(doc);
    } else {
        for (size_t i = 0; i < count; i++) {
            if (i)
                fputc('\n', out);
            print_text(out, command, &answers[i], max_age_s);
        }
        if (asked)
            fprintf(out, "\n%s: %s\n", command,
                    unhealthy ? "ATTENTION: something above needs looking at" : "all healthy");
    }
    fflush(out);
    if (asked == 0) {
        fprintf(stderr, "emhost: no action of '%s' answers '%s'\n", policy_path, command);
        return 2;
    }
    return unhealthy ? 1 : 0;
}
