/*
 * hash.h - block and checksum hashing: xxHash XXH3 (64-bit), chosen for
 * speed (several GB/s per core, far above disk rates) and good dispersion.
 * It detects change and damage, not tampering: nothing here is a security
 * boundary.
 */
#ifndef PS_HASH_H
#define PS_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t ps_hash64(const void *data, size_t len);
uint64_t ps_hash64_seeded(const void *data, size_t len, uint64_t seed);
/* The ps_hash64 of data given in pieces (a state file too large to hold
 * at once). _new returns NULL without memory; _free takes NULL. */
typedef struct ps_hash_stream ps_hash_stream;
ps_hash_stream *ps_hash_stream_new(void);
void ps_hash_stream_add(ps_hash_stream *h, const void *data, size_t len);
uint64_t ps_hash_stream_value(const ps_hash_stream *h);
void ps_hash_stream_free(ps_hash_stream *h);
/* 16 lowercase hex digits + NUL into out[17]. */
void ps_hash_hex(uint64_t h, char out[17]);

/* Little-endian encoding, so state files move between machines. */
void ps_put_u32le(unsigned char *p, uint32_t v);
void ps_put_u64le(unsigned char *p, uint64_t v);
uint32_t ps_get_u32le(const unsigned char *p);
uint64_t ps_get_u64le(const unsigned char *p);

#endif
