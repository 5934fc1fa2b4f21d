/* records — each execution's record, kept for its box's life: the agent
 * keeps an execution (and its output journal) only while it runs and 5
 * minutes after, and forgets every one when the box stops, so `ps` had
 * nothing to show for a stopped box. The host side writes a line to
 * BOXDIR/execs.jsonl when it starts an execution (id, the full command,
 * the time) and when it sees one end (the exit result: through an
 * attached handle, a listing, or the listing taken before a stop);
 * boxlet_exec_list merges these lines with the agent's list. The file is
 * the host's (root-owned, in a directory the box cannot write), removed
 * with the box, and capped (RECORDS_MAX, some 50,000 executions): past the cap, new executions are
 * not recorded. The output itself is never recorded. */
#include "sdk/sdk.h"

#include "core/util.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECORDS_MAX (8 << 20)
#define RECORDS_FILE "execs.jsonl"

int sdk_record_path(const boxlet_box *b, char *out, size_t n)
{
    if (!b->rt->rt) return -1;
    int len = snprintf(out, n, "%s/boxes/%s/" RECORDS_FILE, b->rt->rt->home, b->rec.id);
    return len > 0 && (size_t)len < n ? 0 : -1;
}

/* Appends one line (one write: lines of concurrent writers do not mix). */
static void append(const char *path, json_t *o)
{
    char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!line) return;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < RECORDS_MAX) {
        size_t len = strlen(line);
        line[len] = '\n'; /* json_dumps's NUL becomes the newline */
        if (write(fd, line, len + 1) < 0) {
            /* best effort: a full disk costs the record, not the execution */
        }
    }
    if (fd >= 0) close(fd);
    free(line);
}

static char *joined(const boxlet_cmd *cmd)
{
    size_t len = 1;
    for (size_t i = 0; i < cmd->argc; i++)
        len += strlen(cmd->argv[i]) + 1;
    char *s = calloc(1, len);
    for (size_t i = 0; s && i < cmd->argc; i++) {
        if (i) strcat(s, " ");
        strcat(s, cmd->argv[i]);
    }
    return s;
}

void sdk_record_start(const boxlet_box *b, const char *id, const boxlet_cmd *cmd)
{
    char path[PATH_MAX];
    char *command = joined(cmd);
    if (command && sdk_record_path(b, path, sizeof path) == 0)
        append(path, json_pack("{s:s, s:s, s:I, s:b}", "id", id, "command", command, "created_ms",
                               (json_int_t)wall_ms(), "tty", cmd->tty));
    free(command);
}

void sdk_record_finish(const char *path, const char *id, const boxlet_exit *x,
                       unsigned long long stdin_bytes)
{
    if (!path || x->status == BOXLET_EXEC_RUNNING || (unsigned)x->status > 3) return;
    json_t *o =
        json_pack("{s:s, s:s, s:i, s:i, s:b, s:I, s:I, s:I, s:s}", "id", id, "status",
                  boxlet_exec_status_name(x->status), "exit_code", x->exit_code, "signal",
                  x->signal, "timed_out", x->timed_out, "duration_ms", (json_int_t)x->duration_ms,
                  "stdout_bytes", (json_int_t)x->stdout_bytes, "stderr_bytes",
                  (json_int_t)x->stderr_bytes, "error_message", x->error_message);
    if (o && stdin_bytes != SDK_STDIN_UNKNOWN)
        json_object_set_new(o, "stdin_bytes", json_integer((json_int_t)stdin_bytes));
    append(path, o);
}

void sdk_records_note_running(const boxlet_box *b, const boxlet_exec_info *xs, size_t n)
{
    char path[PATH_MAX];
    if (sdk_record_path(b, path, sizeof path) < 0) return;
    for (size_t i = 0; i < n; i++)
        if (xs[i].exit.status == BOXLET_EXEC_RUNNING &&
            (xs[i].stdin_bytes || xs[i].stdout_end || xs[i].stderr_end))
            append(path, json_pack("{s:s, s:I, s:I, s:I}", "id", xs[i].id, "stdin_bytes",
                                   (json_int_t)xs[i].stdin_bytes, "stdout_bytes",
                                   (json_int_t)xs[i].stdout_end, "stderr_bytes",
                                   (json_int_t)xs[i].stderr_end));
}

/* ---- reading ------------------------------------------------------------ */

typedef struct record {
    boxlet_exec_info info;
    bool finished;
    bool has_stdin; /* its finish line has stdin_bytes */
    bool listed;    /* the agent's list has it: its entry stands */
} record;

typedef struct records {
    record *v;
    size_t n, cap;
    size_t *slot; /* open addressing over v by id: index + 1, 0 = empty */
    size_t nslots;
} records;

static size_t hash_id(const char *id)
{
    size_t h = 1469598103934665603ull;
    for (; *id; id++)
        h = (h ^ (uint8_t)*id) * 1099511628211ull;
    return h;
}

static record *find(records *r, const char *id)
{
    if (!r->nslots) return NULL;
    for (size_t i = hash_id(id) & (r->nslots - 1);; i = (i + 1) & (r->nslots - 1)) {
        if (!r->slot[i]) return NULL;
        if (strcmp(r->v[r->slot[i] - 1].info.id, id) == 0) return &r->v[r->slot[i] - 1];
    }
}

static void put_slot(records *r, size_t idx)
{
    size_t i = hash_id(r->v[idx].info.id) & (r->nslots - 1);
    while (r->slot[i])
        i = (i + 1) & (r->nslots - 1);
    r->slot[i] = idx + 1;
}

/* Room for one more execution: the array, and the slots at most half full. */
static int grow(records *r)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        record *v = realloc(r->v, cap * sizeof *v);
        if (!v) return -1;
        r->v = v;
        r->cap = cap;
    }
    if (2 * (r->n + 1) <= r->nslots) return 0;
    size_t n = r->nslots ? r->nslots * 2 : 128;
    size_t *slot = calloc(n, sizeof *slot);
    if (!slot) return -1;
    free(r->slot);
    r->slot = slot;
    r->nslots = n;
    for (size_t i = 0; i < r->n; i++)
        put_slot(r, i);
    return 0;
}

/* The execution's record, new if it has none yet (NULL: out of memory). */
static record *add(records *r, const char *id)
{
    record *x = find(r, id);
    if (x || grow(r) < 0) return x;
    x = &r->v[r->n];
    memset(x, 0, sizeof *x);
    snprintf(x->info.id, sizeof x->info.id, "%s", id);
    put_slot(r, r->n++);
    return x;
}

static int status_of(const char *name)
{
    int st = boxlet_exec_status_of(name);
    return st < 0 ? BOXLET_EXEC_COMPLETED : st;
}

static void take_finish(record *x, json_t *o)
{
    boxlet_exit *e = &x->info.exit;
    e->status = (boxlet_exec_status)status_of(json_string_value(json_object_get(o, "status")));
    e->exit_code = (int)json_integer_value(json_object_get(o, "exit_code"));
    e->signal = (int)json_integer_value(json_object_get(o, "signal"));
    e->timed_out = json_is_true(json_object_get(o, "timed_out"));
    e->duration_ms = (unsigned long long)json_integer_value(json_object_get(o, "duration_ms"));
    e->stdout_bytes = (unsigned long long)json_integer_value(json_object_get(o, "stdout_bytes"));
    e->stderr_bytes = (unsigned long long)json_integer_value(json_object_get(o, "stderr_bytes"));
    json_t *in = json_object_get(o, "stdin_bytes");
    x->has_stdin = json_is_integer(in);
    if (x->has_stdin) x->info.stdin_bytes = (unsigned long long)json_integer_value(in);
    const char *msg = json_string_value(json_object_get(o, "error_message"));
    snprintf(e->error_message, sizeof e->error_message, "%s", msg ? msg : "");
    x->finished = true;
}

static void take_line(records *r, const char *line)
{
    json_t *o = json_loads(line, 0, NULL);
    const char *id = json_string_value(json_object_get(o, "id"));
    record *x = id && strlen(id) <= PROTO_MAX_ID ? add(r, id) : NULL;
    if (x && json_object_get(o, "status")) {
        take_finish(x, o);
    } else if (x && !json_object_get(o, "command")) { /* a running one's counts, before a stop */
        x->info.stdin_bytes =
            (unsigned long long)json_integer_value(json_object_get(o, "stdin_bytes"));
        x->info.exit.stdout_bytes =
            (unsigned long long)json_integer_value(json_object_get(o, "stdout_bytes"));
        x->info.exit.stderr_bytes =
            (unsigned long long)json_integer_value(json_object_get(o, "stderr_bytes"));
    } else if (x) {
        const char *cmd = json_string_value(json_object_get(o, "command"));
        snprintf(x->info.command, sizeof x->info.command, "%s", cmd ? cmd : "");
        x->info.created_ms = (long long)json_integer_value(json_object_get(o, "created_ms"));
        x->info.tty = json_is_true(json_object_get(o, "tty"));
    }
    json_decref(o);
}

static void load(const char *path, records *r)
{
    FILE *f = fopen(path, "re");
    if (!f) return;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0)
        take_line(r, line);
    free(line);
    fclose(f);
}

/* A record the agent no longer has and whose end nobody saw. */
static void unseen_end(record *x, bool stopped)
{
    if (x->finished) return;
    x->info.exit.status = BOXLET_EXEC_KILLED;
    x->info.exit.exit_code = -9;
    x->info.exit.signal = 9;
    snprintf(x->info.exit.error_message, sizeof x->info.exit.error_message, "%s",
             stopped ? "ended when the box stopped (its exit status was not recorded)"
                     : "its exit status was not recorded");
}

int sdk_records_merge(boxlet_box *b, boxlet_exec_info **xs, size_t *n, bool running)
{
    char path[PATH_MAX];
    records r = {0};
    if (sdk_record_path(b, path, sizeof path) < 0) return 0;
    load(path, &r);
    for (size_t i = 0; i < *n; i++) {
        record *x = find(&r, (*xs)[i].id);
        if (x && x->info.command[0]) /* the full command, not only argv[0] */
            memcpy((*xs)[i].command, x->info.command, sizeof x->info.command);
        if ((*xs)[i].exit.status != BOXLET_EXEC_RUNNING && (!x || !x->finished || !x->has_stdin))
            sdk_record_finish(path, (*xs)[i].id, &(*xs)[i].exit, (*xs)[i].stdin_bytes);
        if (x) x->listed = true;
    }
    size_t extra = 0;
    for (size_t i = 0; i < r.n; i++)
        extra += !r.v[i].listed;
    boxlet_exec_info *v = extra ? realloc(*xs, (*n + extra + 1) * sizeof *v) : *xs;
    if (!v) {
        free(r.v);
        free(r.slot);
        return BOXLET_ENOMEM;
    }
    *xs = v;
    for (size_t i = 0; i < r.n; i++) {
        if (r.v[i].listed) continue;
        bool before = !running || r.v[i].info.created_ms < b->rec.started_ms;
        unseen_end(&r.v[i], before);
        v[(*n)++] = r.v[i].info;
    }
    free(r.v);
    free(r.slot);
    return 0;
}
