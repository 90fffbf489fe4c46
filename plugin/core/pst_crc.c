/*
 * pst_crc.c - [MS-PST] 5.3 CRC and 5.5 signature.
 *
 * The spec's CRC is the reflected CRC-32 polynomial (0xEDB88320) processed a
 * byte at a time through a 256-entry table, started at 0 and not inverted
 * at the end (unlike zlib's crc32, which starts and ends with ~0). The
 * table is computed by the compiler from the polynomial: a constant needs no
 * initialisation race between threads.
 */
#include "pst_check.h"

#define PST_POLY 0xEDB88320u
#define CRC_STEP(c) (((c) >> 1) ^ (PST_POLY & (0u - ((c)&1u))))
#define CRC_ENTRY(i)                                                                             \
    CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP((uint32_t)(i)))))))))
#define CRC_4(i) CRC_ENTRY(i), CRC_ENTRY((i) + 1), CRC_ENTRY((i) + 2), CRC_ENTRY((i) + 3)
#define CRC_16(i) CRC_4(i), CRC_4((i) + 4), CRC_4((i) + 8), CRC_4((i) + 12)
#define CRC_64(i) CRC_16(i), CRC_16((i) + 16), CRC_16((i) + 32), CRC_16((i) + 48)

static const uint32_t crc_table[256] = {CRC_64(0), CRC_64(64), CRC_64(128), CRC_64(192)};

uint32_t pst_crc32_update(uint32_t crc, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        crc = crc_table[(crc ^ p[i]) & 0xFFu] ^ (crc >> 8);
    return crc;
}

uint32_t pst_crc32(const void *data, size_t len)
{
    return pst_crc32_update(0, data, len);
}

uint16_t pst_signature(uint64_t ib, uint64_t bid)
{
    uint64_t x = ib ^ bid;
    return (uint16_t)((uint16_t)(x >> 16) ^ (uint16_t)x);
}
