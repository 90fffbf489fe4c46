#include "counter_store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_os.h"

struct counter_store {
    char *path;
    hos_mutex *lock;
};

counter_store *counter_store_open(const char *state_root, uint32_t session_id)
{
    counter_store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    size_t n = strlen(state_root) + 64;
    s->path = malloc(n);
    s->lock = hos_mutex_new();
    if (!s->path || !s->lock) {
        counter_store_free(s);
        return NULL;
    }
    snprintf(s->path, n, "%s/counters-session-%u.json", state_root, session_id);
    return s;
}

int counter_store_take(counter_store *s, const char *key, int64_t max)
{
    if (!s)
        return 1;
    hos_mutex_lock(s->lock);
    json_error_t jerr;
    json_t *counts = json_load_file(s->path, 0, &jerr);
    if (!json_is_object(counts)) {
        json_decref(counts);
        counts = json_object();
    }
    json_int_t used = json_integer_value(json_object_get(counts, key));
    int allowed = used < max;
    if (allowed) {
        json_object_set_new(counts, key, json_integer(used + 1));
        char *text = json_dumps(counts, JSON_COMPACT);
        char err[512];
        if (text)
            hos_write_file_atomic(s->path, text, strlen(text), err, sizeof err);
        free(text);
    }
    json_decref(counts);
    hos_mutex_unlock(s->lock);
    return allowed;
}

void counter_store_free(counter_store *s)
{
    if (!s)
        return;
    free(s->path);
    hos_mutex_free(s->lock);
    free(s);
}
