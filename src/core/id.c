/* id — ULIDs (see id.h). The 128-bit value (48-bit big-endian millisecond
 * timestamp, then 80 random bits) is written as 26 Crockford base32 digits of
 * 5 bits each; 26 * 5 = 130, so the first digit carries only the top 3 bits
 * and is at most '7'. Text order equals time order because the timestamp
 * comes first and the alphabet is in ASCII order. */
#include "core/id.h"

#include "core/util.h"

#include <string.h>

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* Bit `pos` of the 130-bit number whose top 2 bits are zero and whose low
 * 128 bits are v, counted from the most significant end. */
static unsigned bit_at(const uint8_t v[16], int pos)
{
    int k = pos - 2;
    if (k < 0) return 0;
    return (v[k / 8] >> (7 - k % 8)) & 1u;
}

void ulid_make(char *out, int64_t ms, const uint8_t rnd[10])
{
    /* A negative time is a broken clock; 0 keeps the id well-formed. Times
     * past 2^48 ms (year 10889) wrap, as only 48 bits fit. */
    uint64_t t = ms < 0 ? 0 : (uint64_t)ms;
    uint8_t v[16];
    for (int i = 0; i < 6; i++)
        v[i] = (uint8_t)(t >> (40 - 8 * i));
    memcpy(v + 6, rnd, 10);
    for (int i = 0; i < ULID_LEN; i++) {
        unsigned d = 0;
        for (int b = 0; b < 5; b++)
            d = d << 1 | bit_at(v, i * 5 + b);
        out[i] = crockford[d];
    }
    out[ULID_LEN] = '\0';
}

int ulid_new(char *out)
{
    uint8_t rnd[10];
    int rc = random_bytes(rnd, sizeof rnd);
    if (rc < 0) return rc;
    ulid_make(out, wall_ms(), rnd);
    return 0;
}
