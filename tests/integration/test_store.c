/* test_store — the box store on a real SQLite file in a scratch home: records
 * round-trip field for field, lookups go exact id, then name, then unique id
 * prefix, conflicts and missing boxes give their codes and readable messages,
 * the file survives a reopen, a lock held past the busy timeout is a timeout,
 * and several processes opening one fresh home and writing at once all
 * succeed (WAL, busy timeout, IMMEDIATE migration); layer stacks, snapshots
 * and volume uses (store_state.c) and the migration from schema 2.
 * Children never call cmocka: they report through their exit status. */
#include "runtime/store.h"

#include "core/id.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include <cmocka.h>

typedef struct fixture {
    char home[64];
    store_t *s;
} fixture;

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path);
}

static int setup_home(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    snprintf(f->home, sizeof f->home, "/tmp/boxlet-store.XXXXXX");
    if (!mkdtemp(f->home)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int setup_store(void **state)
{
    if (setup_home(state) < 0) return -1;
    fixture *f = *state;
    err_t e;
    if (store_open(f->home, &f->s, &e) < 0) {
        fprintf(stderr, "setup: %s\n", e.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    store_close(f->s);
    int rc = nftw(f->home, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return rc;
}

/* A record with borrowed strings, for store_insert. */
static box_rec rec(const char *id, const char *name, int64_t created_ms)
{
    box_rec r = {.state = BOX_CONFIGURED, .created_ms = created_ms};
    snprintf(r.id, sizeof r.id, "%s", id);
    r.name = (char *)name;
    r.image = (char *)"docker.io/library/alpine:3.20";
    r.config = (char *)"{\"memory\":\"256m\"}";
    r.error = (char *)"";
    return r;
}

static void insert_ok(store_t *s, const char *id, const char *name, int64_t created_ms)
{
    box_rec r = rec(id, name, created_ms);
    err_t e = {0};
    int rc = store_insert(s, &r, &e);
    if (rc < 0) fail_msg("insert %s: %s", name, e.msg);
}

/* Inserts a box with a new id; returns the id in id. */
static void insert_new(store_t *s, char *id, const char *name, int64_t created_ms)
{
    assert_int_equal(ulid_new(id), 0);
    insert_ok(s, id, name, created_ms);
}

static void get_ok(store_t *s, const char *key, box_rec *out)
{
    err_t e = {0};
    if (store_get(s, key, out, &e) < 0) fail_msg("get %s: %s", key, e.msg);
}

static void assert_rec_equal(const box_rec *a, const box_rec *b)
{
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->image, b->image);
    assert_int_equal(a->state, b->state);
    assert_int_equal(a->created_ms, b->created_ms);
    assert_int_equal(a->started_ms, b->started_ms);
    assert_int_equal(a->init_pid, b->init_pid);
    assert_int_equal(a->init_start, b->init_start);
    assert_string_equal(a->config, b->config);
    assert_string_equal(a->error, b->error);
    /* "" at insert is the default */
    assert_string_equal(*a->backend ? a->backend : BOX_BACKEND_DEFAULT,
                        *b->backend ? b->backend : BOX_BACKEND_DEFAULT);
}

static void lower(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)(src[i] >= 'A' && src[i] <= 'Z' ? src[i] - 'A' + 'a' : src[i]);
    dst[n] = '\0';
}

static void insert_then_get_by_id_name_prefix(void **state)
{
    fixture *f = *state;
    char id[BOX_ID_LEN + 1], key[BOX_ID_LEN + 1];
    insert_new(f->s, id, "web", 1000);
    box_rec want = rec(id, "web", 1000), got;
    get_ok(f->s, id, &got);
    assert_rec_equal(&got, &want);
    box_rec_free(&got);
    get_ok(f->s, "web", &got);
    assert_rec_equal(&got, &want);
    box_rec_free(&got);
    lower(key, id, 6); /* a lower-case prefix: ids are matched ignoring case */
    get_ok(f->s, key, &got);
    assert_rec_equal(&got, &want);
    box_rec_free(&got);
    lower(key, id, BOX_ID_LEN); /* the whole id in lower case */
    get_ok(f->s, key, &got);
    assert_string_equal(got.id, id);
    box_rec_free(&got);

    err_t e = {0};
    snprintf(key, sizeof key, "%.3s", id); /* under the 4-character minimum */
    assert_int_equal(store_get(f->s, key, &got, &e), -ERR_NOTFOUND);
    assert_int_equal(store_get(f->s, "db", &got, &e), -ERR_NOTFOUND);
    assert_int_equal(e.code, ERR_NOTFOUND);
    assert_non_null(strstr(e.msg, "\"db\""));
}

static void make_id(char *id, uint8_t last)
{
    uint8_t rnd[10] = {0x12, 0x34};
    rnd[9] = last;
    ulid_make(id, 1469918176385, rnd);
}

/* Exact id beats a name, a name beats a prefix, an ambiguous prefix is a
 * conflict naming it. */
static void lookup_order_and_ambiguous_prefix(void **state)
{
    fixture *f = *state;
    char a[BOX_ID_LEN + 1], b[BOX_ID_LEN + 1], c[BOX_ID_LEN + 1], d[BOX_ID_LEN + 1];
    char key[BOX_ID_LEN + 1];
    make_id(a, 1);
    make_id(b, 2);
    insert_ok(f->s, a, "alpha", 1);
    insert_ok(f->s, b, "beta", 2);
    snprintf(key, sizeof key, "%.20s", a); /* shared by a and b */

    box_rec got;
    err_t e = {0};
    assert_int_equal(store_get(f->s, key, &got, &e), -ERR_CONFLICT);
    assert_int_equal(e.code, ERR_CONFLICT);
    assert_non_null(strstr(e.msg, key));
    assert_non_null(strstr(e.msg, "ambiguous"));
    lower(key, a, 4);
    assert_int_equal(store_get(f->s, key, &got, &e), -ERR_CONFLICT);

    get_ok(f->s, a, &got); /* the full id is unique */
    assert_string_equal(got.name, "alpha");
    box_rec_free(&got);

    snprintf(key, sizeof key, "%.4s", a);
    insert_new(f->s, c, key, 3); /* named like the prefix: the name wins */
    get_ok(f->s, key, &got);
    assert_string_equal(got.id, c);
    box_rec_free(&got);

    insert_new(f->s, d, b, 4); /* named like b's id: the id wins */
    get_ok(f->s, b, &got);
    assert_string_equal(got.name, "beta");
    box_rec_free(&got);
}

static void duplicates_conflict(void **state)
{
    fixture *f = *state;
    char id[BOX_ID_LEN + 1], other[BOX_ID_LEN + 1];
    insert_new(f->s, id, "web", 1);
    assert_int_equal(ulid_new(other), 0);

    box_rec r = rec(other, "web", 2);
    err_t e = {0};
    assert_int_equal(store_insert(f->s, &r, &e), -ERR_EXISTS);
    assert_int_equal(e.code, ERR_EXISTS);
    assert_string_equal(e.msg, "box name \"web\" is already taken");

    r = rec(id, "web2", 2);
    assert_int_equal(store_insert(f->s, &r, &e), -ERR_EXISTS);
    assert_non_null(strstr(e.msg, id));

    box_rec *v;
    size_t n;
    assert_int_equal(store_list(f->s, &v, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].created_ms, 1);
    box_recs_free(v, n);
}

static void invalid_records_are_refused(void **state)
{
    fixture *f = *state;
    char id[BOX_ID_LEN + 1], name[BOX_NAME_MAX + 2];
    assert_int_equal(ulid_new(id), 0);
    err_t e = {0};
    box_rec r = rec(id, "", 1);
    assert_int_equal(store_insert(f->s, &r, &e), -ERR_INVAL);
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    r = rec(id, name, 1);
    assert_int_equal(store_insert(f->s, &r, &e), -ERR_INVAL);
    name[BOX_NAME_MAX] = '\0'; /* exactly at the limit is fine */
    r = rec(id, name, 1);
    assert_int_equal(store_insert(f->s, &r, &e), 0);
    r = rec("01arz3ndektsv4rrffq69g5fav", "lower", 1);
    assert_int_equal(store_insert(f->s, &r, &e), -ERR_INVAL);
    r = rec("01ARZ3NDEK", "short", 1);
    assert_int_equal(store_insert(f->s, &r, &e), -ERR_INVAL);
    assert_int_equal(ulid_new(id), 0);
    r = rec(id, "nostate", 1);
    r.state = (box_state)7;
    assert_int_equal(store_insert(f->s, &r, &e), -ERR_INVAL);
}

static void list_is_oldest_first(void **state)
{
    fixture *f = *state;
    box_rec *v = NULL;
    size_t n = 99;
    assert_int_equal(store_list(f->s, &v, &n, NULL), 0);
    assert_int_equal(n, 0);
    box_recs_free(v, n);

    char ids[4][BOX_ID_LEN + 1];
    static const char *const names[] = {"c", "a", "b2", "b1"};
    static const int64_t created[] = {3000, 1000, 2000, 2000};
    make_id(ids[3], 1); /* same time: the smaller id first */
    make_id(ids[2], 2);
    assert_int_equal(ulid_new(ids[0]), 0);
    assert_int_equal(ulid_new(ids[1]), 0);
    for (int i = 0; i < 4; i++)
        insert_ok(f->s, ids[i], names[i], created[i]);
    assert_int_equal(store_list(f->s, &v, &n, NULL), 0);
    assert_int_equal(n, 4);
    static const char *const order[] = {"a", "b1", "b2", "c"};
    for (size_t i = 0; i < n; i++)
        assert_string_equal(v[i].name, order[i]);
    box_recs_free(v, n);
}

static void set_state_round_trip(void **state)
{
    fixture *f = *state;
    char id[BOX_ID_LEN + 1];
    insert_new(f->s, id, "job", 10);
    box_rec want = rec(id, "job", 10), got;
    err_t e = {0};
    uint64_t start = (UINT64_C(1) << 40) + 5;

    assert_int_equal(store_set_state(f->s, id, BOX_RUNNING, 4242, start, 20, "", &e), 0);
    want.state = BOX_RUNNING, want.init_pid = 4242, want.init_start = start, want.started_ms = 20;
    get_ok(f->s, "job", &got);
    assert_rec_equal(&got, &want);
    box_rec_free(&got);

    const char *why = "agent exited with status 3: \"no such image\"";
    assert_int_equal(store_set_state(f->s, id, BOX_FAILED, 0, 0, 20, why, &e), 0);
    want.state = BOX_FAILED, want.init_pid = 0, want.init_start = 0, want.error = (char *)why;
    get_ok(f->s, id, &got);
    assert_rec_equal(&got, &want);
    box_rec_free(&got);

    assert_int_equal(store_set_state(f->s, id, BOX_STOPPED, 0, 0, 20, NULL, &e), 0);
    get_ok(f->s, id, &got);
    assert_int_equal(got.state, BOX_STOPPED);
    assert_string_equal(got.error, "");
    box_rec_free(&got);

    char missing[BOX_ID_LEN + 1];
    assert_int_equal(ulid_new(missing), 0);
    assert_int_equal(store_set_state(f->s, missing, BOX_RUNNING, 1, 1, 1, "", &e), -ERR_NOTFOUND);
    assert_non_null(strstr(e.msg, missing));
    assert_int_equal(store_set_state(f->s, id, (box_state)-1, 0, 0, 0, "", &e), -ERR_INVAL);
}

static void state_names(void **state)
{
    (void)state;
    static const char *const names[] = {"configured", "running", "stopping", "stopped", "failed"};
    for (int i = 0; i < 5; i++) {
        assert_string_equal(box_state_name((box_state)i), names[i]);
        assert_int_equal(box_state_parse(names[i]), i);
    }
    assert_int_equal(box_state_parse("Running"), -1);
    assert_int_equal(box_state_parse(""), -1);
    assert_int_equal(box_state_parse(NULL), -1);
    assert_string_equal(box_state_name((box_state)9), "unknown");
}

static void delete_then_get_is_not_found(void **state)
{
    fixture *f = *state;
    char id[BOX_ID_LEN + 1], keep[BOX_ID_LEN + 1];
    insert_new(f->s, id, "gone", 1);
    insert_new(f->s, keep, "kept", 2);
    err_t e = {0};
    assert_int_equal(store_delete(f->s, id, &e), 0);
    box_rec got;
    assert_int_equal(store_get(f->s, id, &got, &e), -ERR_NOTFOUND);
    assert_int_equal(store_get(f->s, "gone", &got, &e), -ERR_NOTFOUND);
    assert_int_equal(store_delete(f->s, id, &e), -ERR_NOTFOUND);
    assert_non_null(strstr(e.msg, id));
    get_ok(f->s, "kept", &got);
    box_rec_free(&got);
    insert_ok(f->s, id, "gone", 3); /* the name is free again */
}

/* Reads one PRAGMA of the file directly, behind the store's back. */
static void pragma_text(const char *home, const char *sql, char *out, size_t n)
{
    char path[128];
    snprintf(path, sizeof path, "%s/boxlet.db", home);
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void reopen_persists(void **state)
{
    fixture *f = *state;
    char ids[3][BOX_ID_LEN + 1];
    static const char *const names[] = {"one", "two", "three"};
    for (int i = 0; i < 3; i++)
        insert_new(f->s, ids[i], names[i], i);
    err_t e = {0};
    assert_int_equal(store_set_state(f->s, ids[1], BOX_FAILED, 0, 0, 5, "boom", &e), 0);
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(store_open(f->home, &f->s, &e), 0);

    box_rec *v;
    size_t n;
    assert_int_equal(store_list(f->s, &v, &n, &e), 0);
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(v[i].id, ids[i]);
        assert_string_equal(v[i].name, names[i]);
    }
    assert_int_equal(v[1].state, BOX_FAILED);
    assert_string_equal(v[1].error, "boom");
    box_recs_free(v, n);

    char text[64];
    pragma_text(f->home, "PRAGMA user_version", text, sizeof text);
    assert_string_equal(text, "5");
    pragma_text(f->home, "PRAGMA journal_mode", text, sizeof text);
    assert_string_equal(text, "wal");
}

/* A writer that holds the lock past the busy timeout: -ERR_TIMEOUT, after
 * waiting the 10 s rather than at once. */
static void held_lock_times_out(void **state)
{
    fixture *f = *state;
    char path[128], id[BOX_ID_LEN + 1];
    snprintf(path, sizeof path, "%s/boxlet.db", f->home);
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(ulid_new(id), 0);
    box_rec r = rec(id, "late", 1);
    err_t e = {0};
    int64_t t0 = now_ms();
    assert_int_equal(store_insert(f->s, &r, &e), -ERR_TIMEOUT);
    assert_in_range(now_ms() - t0, 9000, 30000);
    assert_non_null(strstr(e.msg, path));
    assert_non_null(strstr(e.msg, "\"late\""));
    print_message("held lock: %s\n", e.msg);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    insert_ok(f->s, id, "late", 1);
}

/* The runtime forks box processes: the database must not leak into them. */
static void files_are_close_on_exec(void **state)
{
    fixture *f = *state;
    char id[BOX_ID_LEN + 1];
    insert_new(f->s, id, "x", 1); /* opens the WAL and shm files too */
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int seen = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char target[256];
        ssize_t n = readlinkat(dirfd(d), de->d_name, target, sizeof target - 1);
        if (n <= 0) continue;
        target[n] = '\0';
        if (strncmp(target, f->home, strlen(f->home)) != 0) continue;
        int fl = fcntl(atoi(de->d_name), F_GETFD);
        if (fl >= 0 && !(fl & FD_CLOEXEC)) fail_msg("%s is open without FD_CLOEXEC", target);
        seen++;
    }
    closedir(d);
    assert_true(seen >= 1);
}

static void open_missing_home_names_the_path(void **state)
{
    fixture *f = *state;
    char home[128], path[160];
    snprintf(home, sizeof home, "%s/no/such/dir", f->home);
    snprintf(path, sizeof path, "\"%s/boxlet.db\"", home);
    store_t *s = NULL;
    err_t e = {0};
    int rc = store_open(home, &s, &e);
    assert_true(rc < 0);
    assert_int_equal(e.code, -rc);
    assert_null(s);
    assert_non_null(strstr(e.msg, path));
    assert_non_null(strstr(e.msg, "open box store"));
    print_message("missing home: %s (%s)\n", e.msg, err_name(rc));

    /* The database path taken by a directory: SQLite's own refusal. */
    snprintf(home, sizeof home, "%s/clash", f->home);
    snprintf(path, sizeof path, "%s/boxlet.db", home);
    assert_int_equal(mkdir(home, 0700), 0);
    assert_int_equal(mkdir(path, 0700), 0);
    rc = store_open(home, &s, &e);
    assert_true(rc < 0);
    assert_null(s);
    assert_non_null(strstr(e.msg, path));
    print_message("directory in the way: %s (%s)\n", e.msg, err_name(rc));
}

/* Forks n children that wait for the start signal, then run fn(i, arg) and
 * exit with its result. Returns once every child has been started; the
 * caller writes to go[1] (closes it) to release them all at once. */
static void fork_all(pid_t *pids, int n, int go[2], int (*fn)(int, const char *), const char *arg)
{
    assert_int_equal(pipe(go), 0);
    for (int i = 0; i < n; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            char c;
            close(go[1]);
            (void)!read(go[0], &c, 1); /* EOF: everyone starts together */
            _exit(fn(i, arg));
        }
    }
    close(go[0]);
}

static int child_fail(const char *what, const err_t *e)
{
    fprintf(stderr, "child %d: %s: %s\n", (int)getpid(), what, e->msg);
    return 100;
}

/* One of the concurrent writers: its own connection on a fresh home. */
static int writer(int i, const char *home)
{
    store_t *s;
    err_t e = {0};
    char id[BOX_ID_LEN + 1], name[32];
    if (store_open(home, &s, &e) < 0) return child_fail("open", &e);
    for (int k = 0; k < 50; k++) {
        snprintf(name, sizeof name, "p%d-%d", i, k);
        box_rec r = rec("", name, wall_ms());
        if (ulid_new(r.id) < 0) return 101;
        if (store_insert(s, &r, &e) < 0) return child_fail("insert", &e);
        snprintf(id, sizeof id, "%s", r.id);
        if (store_set_state(s, id, BOX_RUNNING, getpid(), (uint64_t)k, wall_ms(), "", &e) < 0)
            return child_fail("set running", &e);
        box_rec got;
        if (store_get(s, name, &got, &e) < 0) return child_fail("get", &e);
        box_rec_free(&got);
        if (store_set_state(s, id, BOX_STOPPED, 0, 0, 1, "", &e) < 0)
            return child_fail("set stopped", &e);
    }
    store_close(s);
    return 0;
}

static void wait_all(const pid_t *pids, int n, int *status)
{
    for (int i = 0; i < n; i++) {
        int st;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st));
        status[i] = WEXITSTATUS(st);
    }
}

static void many_processes_on_a_fresh_home(void **state)
{
    fixture *f = *state;
    enum { PROCS = 8, EACH = 50 };
    pid_t pids[PROCS];
    int go[2], status[PROCS];
    fork_all(pids, PROCS, go, writer, f->home);
    close(go[1]);
    wait_all(pids, PROCS, status);
    for (int i = 0; i < PROCS; i++)
        assert_int_equal(status[i], 0);

    err_t e = {0};
    assert_int_equal(store_open(f->home, &f->s, &e), 0);
    box_rec *v;
    size_t n;
    assert_int_equal(store_list(f->s, &v, &n, &e), 0);
    assert_int_equal(n, PROCS * EACH);
    int per[PROCS] = {0};
    for (size_t i = 0; i < n; i++) {
        int p, k;
        assert_int_equal(sscanf(v[i].name, "p%d-%d", &p, &k), 2);
        assert_in_range(p, 0, PROCS - 1);
        per[p]++;
        assert_int_equal(v[i].state, BOX_STOPPED);
        assert_int_equal(v[i].started_ms, 1);
    }
    for (int i = 0; i < PROCS; i++)
        assert_int_equal(per[i], EACH);
    /* uid slots, allocated by racing processes: each one once, none skipped */
    static char slot_used[PROCS * EACH];
    for (size_t i = 0; i < n; i++) {
        assert_in_range(v[i].uid_slot, 0, PROCS * EACH - 1);
        assert_false(slot_used[v[i].uid_slot]);
        slot_used[v[i].uid_slot] = 1;
    }
    box_recs_free(v, n);
}

/* A slot is free again once its record is gone: the lowest free one is
 * given, never one a record holds. */
static void uid_slots_are_lowest_free(void **state)
{
    fixture *f = *state;
    char ids[4][BOX_ID_LEN + 1];
    static const char *const names[] = {"s0", "s1", "s2", "s3"};
    for (int i = 0; i < 3; i++)
        insert_new(f->s, ids[i], names[i], i);
    err_t e = {0};
    box_rec r;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(store_get(f->s, ids[i], &r, &e), 0);
        assert_int_equal(r.uid_slot, i);
        box_rec_free(&r);
    }
    assert_int_equal(store_delete(f->s, ids[1], &e), 0);
    insert_new(f->s, ids[3], names[3], 3);
    assert_int_equal(store_get(f->s, ids[3], &r, &e), 0);
    assert_int_equal(r.uid_slot, 1);
    box_rec_free(&r);
}

enum { RACE_NAMES = 20 };

/* Inserts race-0 .. race-19 under fresh ids; exits with the number won. */
static int racer(int i, const char *home)
{
    (void)i;
    store_t *s;
    err_t e = {0};
    int won = 0;
    if (store_open(home, &s, &e) < 0) return child_fail("open", &e);
    for (int k = 0; k < RACE_NAMES; k++) {
        char name[32];
        snprintf(name, sizeof name, "race-%d", k);
        box_rec r = rec("", name, k);
        if (ulid_new(r.id) < 0) return 101;
        int rc = store_insert(s, &r, &e);
        if (rc == 0)
            won++;
        else if (rc != -ERR_EXISTS || !strstr(e.msg, name))
            return child_fail("insert", &e);
    }
    store_close(s);
    return won;
}

static void same_name_race_has_one_winner(void **state)
{
    fixture *f = *state;
    /* A connection must not cross fork(): the children open their own. */
    store_close(f->s);
    f->s = NULL;
    pid_t pids[2];
    int go[2], status[2];
    fork_all(pids, 2, go, racer, f->home);
    close(go[1]);
    wait_all(pids, 2, status);
    assert_true(status[0] <= RACE_NAMES && status[1] <= RACE_NAMES);
    assert_int_equal(status[0] + status[1], RACE_NAMES);

    err_t e = {0};
    assert_int_equal(store_open(f->home, &f->s, &e), 0);
    box_rec *v;
    size_t n;
    assert_int_equal(store_list(f->s, &v, &n, &e), 0);
    assert_int_equal(n, RACE_NAMES);
    box_recs_free(v, n);
}

/* ---- layers and snapshots (store_state.c) ---- */

static void layer_ok(store_t *s, const char *box, char *id)
{
    layer_ref L = {.uid_base = 1065536};
    assert_int_equal(ulid_new(L.id), 0);
    snprintf(L.origin, sizeof L.origin, "%s", box);
    err_t e = {0};
    if (store_layer_begin(s, &L, 1, &e) < 0) fail_msg("begin layer: %s", e.msg);
    snprintf(id, BOX_ID_LEN + 1, "%s", L.id);
}

static size_t stack_of(store_t *s, const char *user, layer_ref *v)
{
    size_t n;
    assert_int_equal(store_layers_of(s, user, v, BOX_LAYERS_MAX, &n, NULL), 0);
    return n;
}

static size_t count_layers(store_t *s, bool unready)
{
    layer_ref *v;
    size_t n;
    assert_int_equal(store_layers_list(s, unready, &v, &n, NULL), 0);
    free(v);
    return n;
}

/* Stacks: pushes go on top, a snapshot copies the box's stack, a restore
 * puts it back with an intent, and a layer nothing holds is listed as
 * garbage only once its holders are gone; a box's deletion takes its
 * snapshots' holds with it. */
static void stacks_snapshots_and_garbage(void **state)
{
    fixture *f = *state;
    char box[BOX_ID_LEN + 1], l1[BOX_ID_LEN + 1], l2[BOX_ID_LEN + 1], user[40];
    insert_new(f->s, box, "stacked", 1);
    snprintf(user, sizeof user, "box:%s", box);
    layer_ok(f->s, box, l1);
    assert_int_equal(count_layers(f->s, true), 1); /* being made */
    snap_rec sn = {.created_ms = 2};
    assert_int_equal(ulid_new(sn.id), 0);
    snprintf(sn.name, sizeof sn.name, "s1");
    assert_int_equal(store_freeze_commit(f->s, l1, box, &sn, NULL), 0);
    assert_int_equal(count_layers(f->s, true), 0);
    layer_ok(f->s, box, l2);
    assert_int_equal(store_freeze_commit(f->s, l2, box, NULL, NULL), 0);
    layer_ref v[BOX_LAYERS_MAX];
    assert_int_equal(stack_of(f->s, user, v), 2);
    assert_string_equal(v[0].id, l2); /* top first */
    assert_string_equal(v[1].id, l1);
    char suser[40];
    snprintf(suser, sizeof suser, "snap:%s", sn.id);
    assert_int_equal(stack_of(f->s, suser, v), 1);
    snap_rec dup = sn;
    assert_int_equal(ulid_new(dup.id), 0);
    assert_int_equal(store_freeze_commit(f->s, NULL, box, &dup, NULL), -ERR_EXISTS);

    assert_int_equal(store_restore(f->s, box, sn.id, NULL), 0);
    assert_true(store_intent_pending(f->s, box));
    assert_int_equal(stack_of(f->s, user, v), 1);
    assert_int_equal(count_layers(f->s, false), 1); /* l2: nobody holds it */
    assert_int_equal(store_intent_done(f->s, box, NULL), 0);
    assert_false(store_intent_pending(f->s, box));
    assert_int_equal(store_layer_delete(f->s, l2, NULL), 0);

    snap_rec got;
    assert_int_equal(store_snap_get(f->s, box, "s1", &got, NULL), 0);
    assert_string_equal(got.id, sn.id);
    assert_int_equal(store_snap_get(f->s, box, "nope", &got, NULL), -ERR_NOTFOUND);
    assert_int_equal(store_delete(f->s, box, NULL), 0);
    assert_int_equal(count_layers(f->s, false), 1); /* l1, held by nothing now */
    snap_rec *all;
    size_t n;
    assert_int_equal(store_snaps(f->s, box, &all, &n, NULL), 0);
    assert_int_equal(n, 0);
    free(all);
}

/* A home made by schema 2 with a box in it: opening it migrates to the
 * current schema and keeps the box, as a namespaces box (the only kind
 * there was). */
static void migrates_from_schema_2(void **state)
{
    fixture *f = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/boxlet.db", f->home);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE boxes (id TEXT PRIMARY KEY, name TEXT NOT NULL "
                                  "UNIQUE, image TEXT NOT NULL, state TEXT NOT NULL, created_ms "
                                  "INTEGER, started_ms INTEGER, init_pid INTEGER, init_start "
                                  "INTEGER, config TEXT NOT NULL, error TEXT NOT NULL);"
                                  "ALTER TABLE boxes ADD COLUMN uid_slot INTEGER;"
                                  "CREATE UNIQUE INDEX boxes_uid_slot ON boxes (uid_slot);"
                                  "INSERT INTO boxes VALUES ('01M8XY8XEC0S7JTCRQHSQW7TJ9', 'old', "
                                  "'host', 'stopped', 1, 0, 0, 0, '{}', '', 0);"
                                  "PRAGMA user_version = 2;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    err_t e = {0};
    if (store_open(f->home, &f->s, &e) < 0) fail_msg("open: %s", e.msg);
    box_rec r;
    get_ok(f->s, "old", &r);
    assert_int_equal(r.uid_slot, 0);
    assert_string_equal(r.backend, "namespaces");
    assert_int_equal(r.boot.total_ms, -1); /* migrated: never timed */
    box_rec_free(&r);
    char user[40] = "box:01M8XY8XEC0S7JTCRQHSQW7TJ9";
    layer_ref v[BOX_LAYERS_MAX];
    assert_int_equal(stack_of(f->s, user, v), 0);
    vol_rec vr = {.size_bytes = 1 << 26, .created_ms = 1};
    snprintf(vr.name, sizeof vr.name, "vol");
    assert_int_equal(store_vol_insert(f->s, &vr, NULL), 0);
    assert_int_equal(store_vol_use(f->s, "01M8XY8XEC0S7JTCRQHSQW7TJ9", "vol", NULL), 0);
    assert_int_equal(store_vol_use(f->s, "01M8XY8XEC0S7JTCRQHSQW7TJ9", "nope", NULL),
                     -ERR_NOTFOUND);
    assert_int_equal(store_vol_delete(f->s, "vol", false, NULL), -ERR_CONFLICT);
    assert_int_equal(store_vol_delete(f->s, "vol", true, NULL), 0);
}

/* Each record keeps the backend it was inserted with; "" means the
 * default; a name that does not fit the field is refused, not cut. */
static void backend_round_trip(void **state)
{
    fixture *f = *state;
    char a[BOX_ID_LEN + 1], b[BOX_ID_LEN + 1];
    assert_int_equal(ulid_new(a), 0);
    box_rec r = rec(a, "vmbox", 1);
    snprintf(r.backend, sizeof r.backend, "vm");
    err_t e = {0};
    if (store_insert(f->s, &r, &e) < 0) fail_msg("insert: %s", e.msg);
    insert_new(f->s, b, "nsbox", 2);
    box_rec got;
    get_ok(f->s, "vmbox", &got);
    assert_string_equal(got.backend, "vm");
    box_rec_free(&got);
    get_ok(f->s, "nsbox", &got);
    assert_string_equal(got.backend, "namespaces");
    box_rec_free(&got);
    assert_int_equal(ulid_new(a), 0);
    r = rec(a, "long", 3);
    memset(r.backend, 'x', sizeof r.backend);
    assert_int_equal(store_insert(f->s, &r, &e), -ERR_INVAL);
    assert_non_null(strstr(e.msg, "backend"));
}

/* A start's timing: none on a new record, unknown phases kept unknown
 * (NULL, not 0), persisted across opens, replaced by the next start's;
 * state changes leave it alone. */
static void boot_round_trip(void **state)
{
    fixture *f = *state;
    char id[BOX_ID_LEN + 1], missing[BOX_ID_LEN + 1];
    insert_new(f->s, id, "timed", 1);
    box_rec got;
    get_ok(f->s, id, &got);
    assert_int_equal(got.boot.total_ms, -1);
    assert_int_equal(got.boot.agent_ms, -1);
    box_rec_free(&got);
    err_t e = {0};
    box_boot b = {.total_ms = 90, .image_ms = 0, .fs_ms = 7, .spawn_ms = -1, .agent_ms = 40};
    assert_int_equal(store_set_boot(f->s, id, &b, &e), 0);
    assert_int_equal(store_set_state(f->s, id, BOX_STOPPED, 0, 0, 5, "", &e), 0);
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(store_open(f->home, &f->s, &e), 0);
    get_ok(f->s, "timed", &got);
    assert_memory_equal(&got.boot, &b, sizeof b);
    box_rec_free(&got);
    b = (box_boot){.total_ms = 3, .image_ms = 1, .fs_ms = 1, .spawn_ms = 1, .agent_ms = 0};
    assert_int_equal(store_set_boot(f->s, id, &b, &e), 0);
    get_ok(f->s, id, &got);
    assert_memory_equal(&got.boot, &b, sizeof b);
    box_rec_free(&got);
    assert_int_equal(ulid_new(missing), 0);
    assert_int_equal(store_set_boot(f->s, missing, &b, &e), -ERR_NOTFOUND);
    assert_non_null(strstr(e.msg, missing));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(insert_then_get_by_id_name_prefix, setup_store, teardown),
        cmocka_unit_test_setup_teardown(lookup_order_and_ambiguous_prefix, setup_store, teardown),
        cmocka_unit_test_setup_teardown(duplicates_conflict, setup_store, teardown),
        cmocka_unit_test_setup_teardown(invalid_records_are_refused, setup_store, teardown),
        cmocka_unit_test_setup_teardown(list_is_oldest_first, setup_store, teardown),
        cmocka_unit_test_setup_teardown(set_state_round_trip, setup_store, teardown),
        cmocka_unit_test(state_names),
        cmocka_unit_test_setup_teardown(delete_then_get_is_not_found, setup_store, teardown),
        cmocka_unit_test_setup_teardown(reopen_persists, setup_store, teardown),
        cmocka_unit_test_setup_teardown(held_lock_times_out, setup_store, teardown),
        cmocka_unit_test_setup_teardown(files_are_close_on_exec, setup_store, teardown),
        cmocka_unit_test_setup_teardown(open_missing_home_names_the_path, setup_home, teardown),
        cmocka_unit_test_setup_teardown(uid_slots_are_lowest_free, setup_store, teardown),
        cmocka_unit_test_setup_teardown(many_processes_on_a_fresh_home, setup_home, teardown),
        cmocka_unit_test_setup_teardown(same_name_race_has_one_winner, setup_store, teardown),
        cmocka_unit_test_setup_teardown(stacks_snapshots_and_garbage, setup_store, teardown),
        cmocka_unit_test_setup_teardown(migrates_from_schema_2, setup_home, teardown),
        cmocka_unit_test_setup_teardown(backend_round_trip, setup_store, teardown),
        cmocka_unit_test_setup_teardown(boot_round_trip, setup_store, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
