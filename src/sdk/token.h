/* token — the credential of a `boxlet serve` on this machine: a random
 * token kept in HOME/serve.token (mode 0600, owned by the server's user),
 * written at the server's first start and read by the local SDK and CLI
 * when they talk to a server at a loopback or unix address without a key.
 * Shared by src/sdk (the reader) and src/server (the writer); it knows
 * nothing of HTTP. docs/server.md "Authentication". */
#ifndef BOXLET_SDK_TOKEN_H
#define BOXLET_SDK_TOKEN_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

#define TOKEN_MAX 4096 /* longest API key accepted anywhere, in bytes */

/* The token file of home (NULL: the default home) into out. */
void token_path(const char *home, char *out, size_t n);
/* The server side: reads the token of home, creating it (64 hex digits from
 * the kernel's random source) if absent. Refuses a file that is not a
 * regular file owned by this user with no group/other permissions. The
 * token goes into out (n > 64). 0 or a negative ERR_* code with e set. */
int token_load_or_create(const char *home, char *out, size_t n, err_t *e);
/* Reads an API key from a file: its first line, without the newline; at
 * most TOKEN_MAX bytes, not empty. *out is malloc'd (free it). 0 or a
 * negative ERR_* code with e set. */
int token_read_file(const char *path, char **out, err_t *e);
/* The client side, for a server at url (token_url_is_local): the token of
 * the default home if it is readable and the server at url runs as the
 * token file's owner (the unix socket's owner; every TCP listener on the
 * port, from /proc/net/tcp), else NULL. malloc'd; free it. */
char *token_find_local(const char *url);
/* Is url a server on this machine: unix:PATH, or http(s) to localhost,
 * 127.0.0.0/8 or [::1]? */
bool token_url_is_local(const char *url);

#endif
