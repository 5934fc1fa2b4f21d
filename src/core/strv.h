/* strv — vectors of owned strings (char **): the one helper for argv, env,
 * labels and name lists, from the agent to the SDK.
 *
 * A vector owns its array and every string in it, and ends with a NULL entry;
 * where its length is also kept beside it (a size_t n), every function here
 * keeps the two in step. An empty vector may be NULL. Not for borrowed
 * strings, and not for vectors that must never fail to grow (the agent wraps
 * its own aborting allocation around these). */
#ifndef BOXLET_CORE_STRV_H
#define BOXLET_CORE_STRV_H

#include <stddef.h>

/* The entries before the NULL; 0 for a NULL vector. */
size_t strv_len(char *const *v);

/* Frees every string up to the NULL entry, then the array. NULL: no-op. */
void strv_free(char **v);

/* Frees the first n entries (NULL ones are skipped), then the array. For a
 * counted vector that may not be filled up to n, e.g. one abandoned half
 * built. NULL: no-op. */
void strv_free_n(char **v, size_t n);

/* Appends a copy of s to the counted vector (*v, *n), keeping it
 * NULL-terminated. Returns 0, or -ERR_NOMEM with (*v, *n) unchanged. */
int strv_push(char ***v, size_t *n, const char *s);

/* Like strv_push but appends s itself, which the vector then owns; on
 * failure s is freed. A NULL s (a failed allocation by the caller) is
 * -ERR_NOMEM. */
int strv_take(char ***v, size_t *n, char *s);

/* A NULL-terminated copy of the first n entries of v (n = 0 gives a vector
 * holding only the NULL entry). Returns NULL when out of memory. Free with
 * strv_free. */
char **strv_dup(char *const *v, size_t n);

#endif
