/* regconf — per-registry settings of a boxlet home, from
 * $home/registries.json (absent: none):
 *
 *   {"insecure": ["reg.lan:5000", "10.1.2.3"],
 *    "mirrors": {"docker.io": ["http://127.0.0.1:5000", "mirror.example"]}}
 *
 * "insecure" lists hosts ("host" or "host:port") that may be reached over
 * plain HTTP (loopback always may). "mirrors" maps a registry, as canonical
 * references name it ("docker.io", "ghcr.io", "127.0.0.1:5000"), to
 * registries tried first, in order, for its pulls; a mirror written with
 * "http://" may be reached over plain HTTP. See docs/images.md. */
#ifndef BOXLET_IMAGE_REGCONF_H
#define BOXLET_IMAGE_REGCONF_H

#include "core/err.h"

#include <stddef.h>

typedef struct regconf {
    char **insecure; /* NULL-terminated; mirrors written with http:// added */
    size_t ninsecure;
    struct regconf_mirrors {
        char *registry;
        char **hosts; /* "host[:port]", NULL-terminated */
        size_t n;
    } * mirrors;
    size_t nmirrors;
} regconf;

/* Reads $home/registries.json into c (empty when the file does not exist).
 * ERR_INVAL naming the file and the field when it is malformed. */
int regconf_load(const char *home, regconf *c, err_t *e);
void regconf_free(regconf *c);
/* The mirrors of `registry` (NULL-terminated), or NULL for none. */
char *const *regconf_mirrors(const regconf *c, const char *registry);

#endif
