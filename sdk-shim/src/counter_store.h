/*
 * counter_store.h - EM's Counter condition (T18): a node guarded by
 * "counter max N" runs at most N times per user session. Counts persist in a
 * small JSON file per session under the host's state root, so separate
 * emhost processes (one per Outlook start) share them, as the agent does.
 *
 * Ownership: counter_store_open copies the path; counter_store_free frees.
 */
#ifndef EMH_COUNTER_STORE_H
#define EMH_COUNTER_STORE_H

#include <stdint.h>

typedef struct counter_store counter_store;

counter_store *counter_store_open(const char *state_root, uint32_t session_id);
/* If `key` has run fewer than max times this session, count one more run and
 * return 1; otherwise 0. A store that cannot be read or written fails open
 * (returns 1): missing a "run once" guard is better than never backing up. */
int counter_store_take(counter_store *s, const char *key, int64_t max);
void counter_store_free(counter_store *s);

#endif
