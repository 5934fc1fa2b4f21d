/* cmd — boxlet_cmd: a command and its settings, checked as they are set so
 * a mistake is reported where it was made (and again by boxlet_exec_start). */
#include "sdk/sdk.h"

#include "core/strv.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int push(char ***v, size_t *n, const char *s)
{
    return strv_push(v, n, s) < 0 ? BOXLET_ENOMEM : BOXLET_OK;
}

static int note(boxlet_cmd *c, int rc)
{
    if (rc && !c->error) c->error = rc;
    return rc;
}

boxlet_cmd *boxlet_cmd_newv(int argc, const char *const *argv)
{
    if (argc < 1 || !argv || !argv[0]) return NULL;
    boxlet_cmd *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->grace_ms = -1;
    buf_init(&c->stdin_data, 1u << 20);
    for (int i = 0; i < argc; i++)
        if (push(&c->argv, &c->argc, argv[i]) != BOXLET_OK) {
            boxlet_cmd_free(c);
            return NULL;
        }
    return c;
}

boxlet_cmd *boxlet_cmd_new(const char *program, ...)
{
    const char *argv[256] = {program};
    int argc = 1;
    va_list ap;
    va_start(ap, program);
    const char *a;
    while ((a = va_arg(ap, const char *)) && argc < 255)
        argv[argc++] = a;
    va_end(ap);
    return boxlet_cmd_newv(argc, argv);
}

void boxlet_cmd_free(boxlet_cmd *c)
{
    if (!c) return;
    strv_free_n(c->argv, c->argc);
    strv_free_n(c->env, c->nenv);
    free(c->dir);
    free(c->user);
    buf_free(&c->stdin_data);
    free(c);
}

int boxlet_cmd_arg(boxlet_cmd *c, const char *arg)
{
    return note(c, push(&c->argv, &c->argc, arg));
}

int boxlet_cmd_putenv(boxlet_cmd *c, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) return note(c, BOXLET_EINVAL);
    return note(c, push(&c->env, &c->nenv, kv));
}

int boxlet_cmd_setenv(boxlet_cmd *c, const char *key, const char *value)
{
    if (!*key || strchr(key, '=')) return note(c, BOXLET_EINVAL);
    size_t n = strlen(key) + strlen(value) + 2;
    char *kv = malloc(n);
    if (!kv) return note(c, BOXLET_ENOMEM);
    snprintf(kv, n, "%s=%s", key, value);
    int rc = push(&c->env, &c->nenv, kv);
    free(kv);
    return note(c, rc);
}

static int set_str(boxlet_cmd *c, char **dst, const char *s)
{
    char *copy = s ? strdup(s) : NULL;
    if (s && !copy) return note(c, BOXLET_ENOMEM);
    free(*dst);
    *dst = copy;
    return BOXLET_OK;
}

int boxlet_cmd_setdir(boxlet_cmd *c, const char *dir)
{
    return set_str(c, &c->dir, dir);
}

int boxlet_cmd_setuser(boxlet_cmd *c, const char *user)
{
    return set_str(c, &c->user, user);
}

int boxlet_cmd_settimeout(boxlet_cmd *c, double seconds)
{
    if (isnan(seconds) || seconds < 0 || seconds > 1e9) return note(c, BOXLET_EINVAL);
    c->timeout_ms = (uint64_t)(seconds * 1000 + 0.5);
    if (seconds > 0 && c->timeout_ms == 0) c->timeout_ms = 1;
    return BOXLET_OK;
}

int boxlet_cmd_settty(boxlet_cmd *c, unsigned rows, unsigned cols)
{
    if (rows < 1 || rows > 65535 || cols < 1 || cols > 65535) return note(c, BOXLET_EINVAL);
    c->tty = true;
    c->rows = (uint16_t)rows;
    c->cols = (uint16_t)cols;
    return BOXLET_OK;
}

int boxlet_cmd_setstdin(boxlet_cmd *c, const void *data, size_t len)
{
    buf_reset(&c->stdin_data);
    if (buf_append(&c->stdin_data, data, len) < 0) return note(c, BOXLET_ETOOBIG);
    c->has_stdin = true;
    return BOXLET_OK;
}

int boxlet_cmd_setretain(boxlet_cmd *c, size_t bytes)
{
    if (bytes == 0 || bytes > (1ull << 32)) return note(c, BOXLET_EINVAL);
    c->retain = bytes;
    return BOXLET_OK;
}

int boxlet_cmd_setlifetime(boxlet_cmd *c, double seconds)
{
    if (isnan(seconds) || seconds < 0 || seconds > 9e15 / 1000) return note(c, BOXLET_EINVAL);
    c->lifetime_ms = seconds == 0 ? -1 : (int64_t)(seconds * 1000);
    if (c->lifetime_ms == 0) c->lifetime_ms = 1; /* under a millisecond: the shortest cap */
    return BOXLET_OK;
}

int boxlet_cmd_setgrace(boxlet_cmd *c, double seconds)
{
    /* The timeout's bound: 1e300 s would overflow the conversion (UB). */
    if (isnan(seconds) || seconds < 0 || seconds > 1e9) return note(c, BOXLET_EINVAL);
    c->grace_ms = (int64_t)(seconds * 1000);
    return BOXLET_OK;
}
