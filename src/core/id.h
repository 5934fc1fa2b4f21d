/* id — identifiers: ULIDs for boxes (time-ordered, 26 Crockford base32
 * characters, 48-bit ms timestamp + 80 random bits). Not for secrets. */
#ifndef BOXLET_CORE_ID_H
#define BOXLET_CORE_ID_H

#include <stdint.h>

#define ULID_LEN 26

/* Writes a new ULID and a NUL into out[ULID_LEN + 1]. 0 or -errno. */
int ulid_new(char *out);
/* The same for a given time and 10 random bytes (for tests). */
void ulid_make(char *out, int64_t ms, const uint8_t rnd[10]);

#endif
