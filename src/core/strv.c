/* strv — vectors of owned strings: append, copy, free. See strv.h for the
 * ownership rule every function keeps. */
#include "core/strv.h"

#include "core/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t strv_len(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

void strv_free(char **v)
{
    strv_free_n(v, strv_len(v));
}

void strv_free_n(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

int strv_take(char ***v, size_t *n, char *s)
{
    char **nv = s && *n < SIZE_MAX / sizeof *nv - 2 ? realloc(*v, (*n + 2) * sizeof *nv) : NULL;
    if (!nv) {
        free(s);
        return -ERR_NOMEM;
    }
    nv[(*n)++] = s;
    nv[*n] = NULL;
    *v = nv;
    return 0;
}

int strv_push(char ***v, size_t *n, const char *s)
{
    return strv_take(v, n, strdup(s));
}

char **strv_dup(char *const *v, size_t n)
{
    char **d = n < SIZE_MAX / sizeof *d ? calloc(n + 1, sizeof *d) : NULL;
    for (size_t i = 0; d && i < n; i++)
        if (!(d[i] = strdup(v[i]))) {
            strv_free_n(d, i);
            return NULL;
        }
    return d;
}
