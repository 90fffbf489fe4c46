#include "hash.h"

#include <stdio.h>

/* Header-only use: one copy compiled here, no library to find on mingw. */
#define XXH_INLINE_ALL
#include <xxhash.h>

uint64_t ps_hash64(const void *data, size_t len) { return XXH3_64bits(data, len); }

uint64_t ps_hash64_seeded(const void *data, size_t len, uint64_t seed)
{
    return XXH3_64bits_withSeed(data, len, seed);
}

ps_hash_stream *ps_hash_stream_new(void)
{
    XXH3_state_t *st = XXH3_createState();
    if (st && XXH3_64bits_reset(st) != XXH_OK) {
        XXH3_freeState(st);
        st = NULL;
    }
    return (ps_hash_stream *)st;
}

void ps_hash_stream_add(ps_hash_stream *h, const void *data, size_t len)
{
    XXH3_64bits_update((XXH3_state_t *)h, data, len);
}

uint64_t ps_hash_stream_value(const ps_hash_stream *h)
{
    return XXH3_64bits_digest((const XXH3_state_t *)h);
}

void ps_hash_stream_free(ps_hash_stream *h) { XXH3_freeState((XXH3_state_t *)h); }

void ps_hash_hex(uint64_t h, char out[17]) { snprintf(out, 17, "%016llx", (unsigned long long)h); }

void ps_put_u32le(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

void ps_put_u64le(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

uint32_t ps_get_u32le(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

uint64_t ps_get_u64le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
