/* registry_blobs — the blob half of a pull (see registry_int.h): every blob
 * a manifest names is one job; a few worker threads, each with its own
 * clone of the session (curl handle, credentials), take jobs in manifest
 * order. A job downloads into $home/downloads/<hex>.partial under an flock,
 * resuming from what is there, hashes as it writes, renames the verified
 * file to $home/downloads/<hex> and hard-links it into the layout. The
 * first failing job stops the others, and once all have stopped every
 * download of the pull is removed: what a registry made us write does not
 * outlive a failed pull. The calling thread only watches: it reports each
 * job's progress to the caller's callback, so callbacks never run on a
 * worker. */
#include "image/registry_int.h"

#include "core/strv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define REPORT_EVERY_MS 100

struct pool;

typedef struct dl {
    const char *home, *layout;
    const char *digest; /* "sha256:<hex>" */
    uint64_t size;
    char part[PATH_MAX], done[PATH_MAX], dst[PATH_MAX];
    struct pool *pool; /* for progress and cancellation */
    size_t job;
} dl;

/* One blob to fetch. Fields below `mu` in pool are guarded by it. */
typedef struct job {
    dl d;
    int index; /* the layer's place in the manifest; -1 for the config */
    int rc;
    err_t err;
    int phase;     /* LAYER_* */
    uint64_t have; /* bytes on disk */
    bool dirty;    /* changed since last reported */
} job;

typedef struct pool {
    const sess *s;
    job *jobs;
    size_t njobs;
    unsigned nlayers;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t next;    /* the next job to take */
    size_t running; /* workers not yet finished */
    bool cancel;    /* a job failed: the others stop */
    long failed;    /* the first job that failed, -1 */
} pool;

/* ---- one blob ---------------------------------------------------------------- */

/* A finished download from an earlier pull, verified again: 1 if usable. */
static int reuse_done(dl *d, err_t *e)
{
    int fd = open(d->done, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    sha256_ctx c;
    uint64_t len;
    uint8_t sum[SHA256_LEN];
    char hex[SHA256_HEX_LEN + 1];
    int rc = reg_hash_fd(fd, &c, &len, e);
    close(fd);
    if (rc < 0) return rc;
    sha256_final(&c, sum);
    sha256_to_hex(sum, hex);
    if (len == d->size && strcmp(hex, d->digest + 7) == 0) return 1;
    unlink(d->done);
    return 0;
}

static int finish(dl *d, sha256_ctx *c, uint64_t len, err_t *e)
{
    uint8_t sum[SHA256_LEN];
    char hex[SHA256_HEX_LEN + 1];
    sha256_final(c, sum);
    sha256_to_hex(sum, hex);
    if (len != d->size || strcmp(hex, d->digest + 7) != 0) {
        unlink(d->part);
        return err_make(e, ERR_PROTO,
                        "blob %s: digest mismatch: got sha256:%s (%llu bytes, expected %llu); "
                        "download discarded",
                        d->digest, hex, (unsigned long long)len, (unsigned long long)d->size);
    }
    if (rename(d->part, d->done) < 0) return err_sys(e, errno, "rename \"%s\"", d->part);
    return 0;
}

/* Drops a partial file's bytes the registry cannot continue from. */
static int restart(int fd, sha256_ctx *c, const dl *d, err_t *e)
{
    if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
        return err_sys(e, errno, "truncate \"%s\"", d->part);
    sha256_init(c);
    return 0;
}

/* Records a job's progress; false once the pull is being cancelled. */
static bool on_bytes(void *arg, uint64_t have)
{
    dl *d = arg;
    pool *pl = d->pool;
    pthread_mutex_lock(&pl->mu);
    pl->jobs[d->job].have = have;
    pl->jobs[d->job].dirty = true;
    bool go_on = !pl->cancel;
    pthread_mutex_unlock(&pl->mu);
    return go_on;
}

/* Downloads into the locked partial file fd, resuming from its length. */
static int download(sess *s, dl *d, int fd, err_t *e)
{
    sha256_ctx c;
    uint64_t have;
    int rc = reg_hash_fd(fd, &c, &have, e);
    if (rc == 0 && have > d->size) {
        if (ftruncate(fd, 0) < 0) return err_sys(e, errno, "truncate \"%s\"", d->part);
        rc = reg_hash_fd(fd, &c, &have, e);
    }
    if (rc < 0) return rc;
    on_bytes(d, have);
    char url[1024], what[160], range[48];
    reg_url_of(s, url, sizeof url, "blobs", d->digest);
    snprintf(what, sizeof what, "GET blob %s", d->digest);
    resp rs = {.fd = fd,
               .sha = &c,
               .limit = d->size,
               .max = MEM_MAX,
               .on_bytes = on_bytes,
               .bytes_arg = d};
    int kind = FINAL;
    for (int i = 0; have < d->size && i < s->tries; i++) {
        if (i > 0) reg_backoff(s, i - 1);
        snprintf(range, sizeof range, "%llu-", (unsigned long long)have);
        rs.offset = have;
        rs.range_start = UINT64_MAX;
        rc = reg_attempt(s, what, url, NULL, have ? range : NULL, &rs, &kind, e);
        have = rs.offset;
        if (rc < 0 && have > 0 && (rs.bad_range || rs.status == 416)) {
            int rc2 = restart(fd, &c, d, e);
            if (rc2 < 0) return reg_resp_free(&rs), rc2;
            have = 0; /* and again from the start */
            continue;
        }
        if (rc == 0 && have < d->size)
            rc = err_make(e, ERR_PROTO, "%s: reply ended after %llu of %llu bytes", what,
                          (unsigned long long)have, (unsigned long long)d->size),
            kind = TRANSIENT;
        if (rs.too_big) {
            unlink(d->part); /* more bytes than the descriptor says: not resumable */
            reg_resp_free(&rs);
            return rc;
        }
        if (rc == 0 || kind == FINAL || !on_bytes(d, have)) break;
    }
    reg_resp_free(&rs);
    if (rc == 0 || have == d->size) rc = finish(d, &c, have, e);
    return rc;
}

static int get_blob(sess *s, dl *d, err_t *e)
{
    const char *hex = d->digest + 7;
    snprintf(d->part, sizeof d->part, "%s/downloads/%s.partial", d->home, hex);
    snprintf(d->done, sizeof d->done, "%s/downloads/%s", d->home, hex);
    snprintf(d->dst, sizeof d->dst, "%s/blobs/sha256/%s", d->layout, hex);
    if (access(d->dst, F_OK) == 0) return 0; /* listed twice */
    int rc = reuse_done(d, e);
    if (rc == 0) {
        int fd = open(d->part, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) return err_sys(e, errno, "open \"%s\"", d->part);
        if (flock(fd, LOCK_EX) < 0)
            rc = err_sys(e, errno, "lock \"%s\"", d->part);
        else if ((rc = reuse_done(d, e)) == 0) /* another pull may have finished it */
            rc = download(s, d, fd, e);
        close(fd);
    }
    if (rc >= 0 && link(d->done, d->dst) < 0)
        rc = err_sys(e, errno, "link \"%s\" to \"%s\"", d->done, d->dst);
    return rc < 0 ? rc : 0;
}

/* ---- the workers -------------------------------------------------------------- */

static void job_set(pool *pl, job *j, int phase)
{
    j->phase = phase;
    j->dirty = true;
    pthread_cond_broadcast(&pl->cv);
}

/* Takes jobs until none is left or the pull is cancelled. */
static void work(pool *pl, sess *s)
{
    pthread_mutex_lock(&pl->mu);
    while (!pl->cancel && pl->next < pl->njobs) {
        job *j = &pl->jobs[pl->next++];
        job_set(pl, j, LAYER_DOWNLOADING);
        pthread_mutex_unlock(&pl->mu);
        int rc = get_blob(s, &j->d, &j->err);
        pthread_mutex_lock(&pl->mu);
        j->rc = rc;
        if (rc < 0 && !pl->cancel) { /* the first failure is the pull's */
            pl->cancel = true;
            pl->failed = j - pl->jobs;
        }
        if (rc == 0) j->have = j->d.size;
        job_set(pl, j, rc == 0 ? LAYER_DOWNLOADED : LAYER_FAILED);
    }
    pthread_mutex_unlock(&pl->mu);
}

static void *worker(void *arg)
{
    pool *pl = arg;
    sess s;
    err_t e = {0};
    if (reg_sess_clone(pl->s, &s, &e) == 0) {
        work(pl, &s);
        reg_sess_free(&s);
    } else {
        pthread_mutex_lock(&pl->mu);
        if (!pl->cancel && pl->next < pl->njobs) { /* charge it to the next job */
            job *j = &pl->jobs[pl->next++];
            j->rc = -e.code;
            j->err = e;
            pl->cancel = true;
            pl->failed = j - pl->jobs;
        }
        pthread_mutex_unlock(&pl->mu);
    }
    pthread_mutex_lock(&pl->mu);
    pl->running--;
    pthread_cond_broadcast(&pl->cv);
    pthread_mutex_unlock(&pl->mu);
    return NULL;
}

/* ---- watching ----------------------------------------------------------------- */

static void emit(const reg_fetch *f, const char *digest, unsigned index, unsigned count, int phase,
                 uint64_t done, uint64_t total)
{
    if (!f->progress || !f->progress->fn) return;
    layer_event ev = {.digest = digest,
                      .index = index,
                      .count = count,
                      .phase = phase,
                      .done = done,
                      .total = total};
    f->progress->fn(&ev, f->progress->arg);
}

/* Reports the layers that changed; called with mu held, releases it while
 * the callback runs (a snapshot is taken first). */
static void report_dirty(pool *pl, const reg_fetch *f)
{
    for (size_t i = 0; i < pl->njobs; i++) {
        job *j = &pl->jobs[i];
        if (!j->dirty) continue;
        j->dirty = false;
        if (j->index < 0) continue; /* the config is no layer */
        int phase = j->phase;
        uint64_t have = j->have;
        pthread_mutex_unlock(&pl->mu);
        emit(f, j->d.digest, (unsigned)j->index, pl->nlayers, phase, have, j->d.size);
        pthread_mutex_lock(&pl->mu);
    }
}

static void deadline_in(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Waits for the workers, reporting progress every REPORT_EVERY_MS and at
 * every change of phase. */
static void watch(pool *pl, const reg_fetch *f)
{
    pthread_mutex_lock(&pl->mu);
    while (pl->running > 0) {
        struct timespec ts;
        deadline_in(&ts, REPORT_EVERY_MS);
        pthread_cond_timedwait(&pl->cv, &pl->mu, &ts);
        report_dirty(pl, f);
    }
    report_dirty(pl, f);
    pthread_mutex_unlock(&pl->mu);
}

/* ---- the jobs ------------------------------------------------------------------- */

static bool unpacked(const reg_fetch *f, const char *digest)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/layers/%s", f->home, digest + 7);
    return access(p, F_OK) == 0;
}

static bool listed(const pool *pl, const char *digest)
{
    for (size_t i = 0; i < pl->njobs; i++)
        if (strcmp(pl->jobs[i].d.digest, digest) == 0) return true;
    return false;
}

/* Adds descriptor d (index -1: the config) as a job, unless it is listed
 * already or, for a layer, unpacked in the store. */
static int add_job(pool *pl, const reg_fetch *f, json_t *d, int index, const char *mdigest,
                   err_t *e)
{
    if (!reg_desc_ok(d))
        return err_make(e, ERR_PROTO, "manifest %s: %s is not a sha256 descriptor", mdigest,
                        index < 0 ? "the config" : "a layer");
    const char *digest = json_string_value(json_object_get(d, "digest"));
    uint64_t size = (uint64_t)json_integer_value(json_object_get(d, "size"));
    if (index < 0 && size > OCI_JSON_MAX) /* refused before a byte is fetched */
        return err_make(e, ERR_LIMIT,
                        "manifest %s: the config is %llu bytes, over the %d bytes limit", mdigest,
                        (unsigned long long)size, OCI_JSON_MAX);
    if (listed(pl, digest)) return 0;
    if (index >= 0 && f->skip_unpacked && unpacked(f, digest)) {
        emit(f, digest, (unsigned)index, pl->nlayers, LAYER_CACHED, size, size);
        return 0;
    }
    job *j = &pl->jobs[pl->njobs++];
    *j = (job){.d = {.home = f->home, .layout = f->layout, .digest = digest, .size = size},
               .index = index,
               .phase = LAYER_WAITING};
    j->d.pool = pl;
    j->d.job = (size_t)(j - pl->jobs);
    if (index >= 0) emit(f, digest, (unsigned)index, pl->nlayers, LAYER_WAITING, 0, size);
    return 0;
}

static int plan(pool *pl, const reg_fetch *f, json_t *manifest, const char *mdigest, err_t *e)
{
    json_t *layers = json_object_get(manifest, "layers"), *l;
    pl->nlayers = (unsigned)json_array_size(layers);
    if (!(pl->jobs = calloc(pl->nlayers + 1, sizeof *pl->jobs)))
        return err_make(e, ERR_NOMEM, "out of memory");
    int rc = add_job(pl, f, json_object_get(manifest, "config"), -1, mdigest, e);
    size_t i;
    json_array_foreach(layers, i, l)
    {
        if (rc < 0) break;
        rc = add_job(pl, f, l, (int)i, mdigest, e);
    }
    return rc;
}

/* Runs the jobs on min(parallel, jobs) workers; 0 or the first failure. */
static int run(pool *pl, const reg_fetch *f, err_t *e)
{
    size_t n = pl->njobs < (size_t)f->parallel ? pl->njobs : (size_t)f->parallel;
    pthread_t tid[16];
    if (n > sizeof tid / sizeof *tid) n = sizeof tid / sizeof *tid;
    size_t started = 0;
    pthread_mutex_lock(&pl->mu);
    for (; started < n; started++) {
        if (pthread_create(&tid[started], NULL, worker, pl) != 0) break;
        pl->running++;
    }
    pthread_mutex_unlock(&pl->mu);
    if (started == 0 && pl->njobs > 0)
        return err_make(e, ERR_NOMEM, "start a download thread: %s", strerror(errno));
    watch(pl, f);
    for (size_t i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    if (pl->failed < 0) return 0;
    job *j = &pl->jobs[pl->failed];
    if (e) *e = j->err;
    return j->rc;
}

int reg_fetch_blobs(const sess *s, const reg_fetch *f, json_t *manifest, const char *mdigest,
                    char ***done, size_t *n, err_t *e)
{
    pool pl = {.s = s, .failed = -1};
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&pl.cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&pl.mu, NULL);
    *done = NULL;
    *n = 0;
    int rc = plan(&pl, f, manifest, mdigest, e);
    if (rc == 0) rc = run(&pl, f, e);
    for (size_t i = 0; rc < 0 && i < pl.njobs; i++) { /* the workers have stopped */
        if (pl.jobs[i].d.part[0]) unlink(pl.jobs[i].d.part);
        if (pl.jobs[i].d.done[0]) unlink(pl.jobs[i].d.done);
    }
    for (size_t i = 0; rc == 0 && i < pl.njobs; i++)
        if (strv_push(done, n, pl.jobs[i].d.done) < 0) rc = err_make(e, ERR_NOMEM, "out of memory");
    free(pl.jobs);
    pthread_mutex_destroy(&pl.mu);
    pthread_cond_destroy(&pl.cv);
    return rc;
}
