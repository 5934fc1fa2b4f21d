/* lookup — finding what a user names: boxes by id, name, id prefix or short
 * id, and executions by id, unique id prefix, or as "the box's main
 * command". A box id is a ULID: 10 characters of time, then 16 random.
 * Boxes made in the same second share their first 6 to 8 characters, so a
 * prefix is a poor handle; the short id shown in tables is the first 12
 * characters of the random part instead (60 bits: unique in practice),
 * and any unique prefix of at least 4 of those is accepted, case-blind.
 * The full id stays in --json, inspect and what create/run -d print. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { ULID_LEN = 26, ULID_TIME = 10, SHORT_MIN = 4 };

const char *cli_short_id(const char *id, char *buf, size_t len)
{
    if (strlen(id) != ULID_LEN) return id;
    snprintf(buf, len, "%.*s", CLI_SHORT_ID, id + ULID_TIME);
    return buf;
}

/* The one box whose random part starts with key: 0 and *out, -1 none,
 * -2 several. */
static int by_short_id(boxlet_runtime *rt, const char *key, boxlet_box **out)
{
    boxlet_box **v = NULL;
    size_t n = 0, hits = 0;
    size_t klen = strlen(key);
    *out = NULL;
    if (klen < SHORT_MIN || klen > ULID_LEN - ULID_TIME) return -1;
    if (boxlet_box_list(rt, &v, &n) != BOXLET_OK) return -1;
    for (size_t i = 0; i < n; i++) {
        const char *id = boxlet_box_id(v[i]);
        if (strlen(id) == ULID_LEN && strncasecmp(id + ULID_TIME, key, klen) == 0 && hits++ == 0) {
            *out = v[i];
            continue;
        }
        boxlet_box_free(v[i]);
    }
    free(v);
    if (hits == 1) return 0;
    boxlet_box_free(*out);
    *out = NULL;
    return hits ? -2 : -1;
}

int cli_get_box(boxlet_runtime *rt, const char *key, boxlet_box **out)
{
    *out = NULL;
    int rc = boxlet_box_get(rt, key, out);
    if (rc == BOXLET_OK) return 0;
    *out = NULL;
    if (rc == BOXLET_ENOTFOUND) {
        int found = by_short_id(rt, key, out);
        if (found == 0) return 0;
        if (found == -2) {
            cli_warn("look up box \"%s\": several boxes have that short id; give more of it", key);
            return -1;
        }
    }
    char what[512];
    snprintf(what, sizeof what, "look up box \"%s\"", key);
    cli_fail(what, rc, boxlet_runtime_errmsg(rt));
    return -1;
}

/* The oldest: the box's main command. */
/* The main command: the oldest execution since the box last started (the
 * records of earlier runs are listed too), else the oldest of all. */
static size_t oldest(const boxlet_exec_info *xs, size_t n, long long since)
{
    size_t best = n;
    for (size_t i = 0; i < n; i++)
        if (xs[i].created_ms >= since && (best == n || xs[i].created_ms < xs[best].created_ms))
            best = i;
    if (best < n || !since) return best < n ? best : 0;
    return oldest(xs, n, 0);
}

int cli_find_exec(boxlet_box *b, const char *key, boxlet_exec_info *out)
{
    boxlet_exec_info *xs = NULL;
    size_t n = 0, hits = 0, at = 0;
    int rc = boxlet_exec_list(b, &xs, &n);
    if (rc != BOXLET_OK) return cli_fail("list executions", rc, boxlet_box_errmsg(b)), -1;
    for (size_t i = 0; key && i < n; i++) {
        if (strcmp(xs[i].id, key) == 0) {
            hits = 1, at = i;
            break;
        }
        if (strncmp(xs[i].id, key, strlen(key)) == 0 && hits++ == 0) at = i;
    }
    if (!key && n > 0) hits = 1, at = oldest(xs, n, boxlet_box_started_ms(b));
    if (hits == 1) *out = xs[at];
    free(xs);
    if (hits == 1) return 0;
    if (!key)
        cli_warn("box %s has no execution (its main command is gone or never ran)",
                 boxlet_box_name(b));
    else
        cli_warn("execution \"%s\" of box %s: %s", key, boxlet_box_name(b),
                 hits ? "ambiguous prefix: give more of the id" : "not found");
    return -1;
}

static int by_created(const void *a, const void *b)
{
    const boxlet_exec_info *x = a, *y = b;
    return (x->created_ms > y->created_ms) - (x->created_ms < y->created_ms);
}

size_t cli_exec_select(boxlet_exec_info *xs, size_t n, int all)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (all || xs[i].exit.status == BOXLET_EXEC_RUNNING) xs[kept++] = xs[i];
    qsort(xs, kept, sizeof *xs, by_created);
    return kept;
}

int cli_attach_failed(const char *what, boxlet_box *b, const boxlet_exec_info *x, int rc)
{
    /* Known from its record, gone from the agent: its output was dropped. */
    if (rc == BOXLET_ENOTFOUND && x->exit.status != BOXLET_EXEC_RUNNING &&
        boxlet_box_state_of(b) == BOXLET_BOX_RUNNING) {
        cli_warn("%s: execution %s has ended and its output is no longer kept (output is kept "
                 "5 minutes after the end; 'ps -a' still shows how it ended)",
                 what, x->id);
        return CLI_EXIT_FAIL;
    }
    return cli_fail(what, rc, boxlet_box_errmsg(b));
}
