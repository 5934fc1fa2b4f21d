/* worker — see worker.h. */
#include "server/worker.h"

#include "core/err.h"
#include "server/lazy_lws.h"
#include "server/reply.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_WORKERS 16
#define BOX_KEY_MAX 256

struct job {
    job_t *next;
    http_req rq;
    char *body; /* rq.body's copy */
    http_resp rs;
    void *owner;
    bool orphan;           /* read and written on the loop only */
    bool routed;           /* handed over with its deferred work (rs.work) to run */
    char box[BOX_KEY_MAX]; /* the box the request is about, "" if none */
};

struct workers {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_t *todo, *todo_tail, *done;
    bool quit;
    int n, running;
    size_t queued, max_queued; /* jobs waiting for a thread, and their cap */
    workers_t *handoff;        /* where deferred work (a pull) goes, or NULL */
    pthread_t th[MAX_WORKERS];
    /* The box each thread works on ("" if none): a box's requests are taken
     * one at a time, so a box whose agent does not answer holds one thread,
     * never all of them. */
    char busy[MAX_WORKERS][BOX_KEY_MAX];
    int slots;  /* threads that took their slot */
    server_t s; /* the template each thread copies */
    char *home;
    struct lws_context *ctx;
};

workers_t *worker_pool_for(const server_t *s, const http_req *rq)
{
    unsigned f = rq->route ? rq->route->flags : 0;
    if (f & ROUTE_PULL) return s->pulls ? s->pulls : s->workers;
    if (f & (ROUTE_STREAM_IN | ROUTE_STREAM_OUT)) return s->streams;
    return f & ROUTE_WORKER ? s->workers : NULL;
}

/* Queues j on w unless w's queue is full (then false). Under w->mu. */
static bool enqueue_locked(workers_t *w, job_t *j)
{
    if (w->max_queued && w->queued >= w->max_queued) return false;
    j->next = NULL;
    if (w->todo_tail)
        w->todo_tail->next = j;
    else
        w->todo = j;
    w->todo_tail = j;
    w->queued++;
    pthread_cond_signal(&w->cv);
    return true;
}

/* A route on a lifecycle thread deferred its work (a pull): the pull
 * threads take it over, so that a slow registry holds only them. */
static bool hand_off(workers_t *w, job_t *j)
{
    workers_t *h = w->handoff;
    if (!h || !j->rs.work) return false;
    pthread_mutex_lock(&h->mu);
    j->routed = true;
    bool ok = !h->quit && enqueue_locked(h, j);
    pthread_mutex_unlock(&h->mu);
    if (ok) return true;
    j->routed = false;
    if (j->rs.work_free) j->rs.work_free(j->rs.work_arg);
    j->rs.work = NULL;
    buf_reset(&j->rs.body);
    reply_error(&j->rs, 503, ERR_LIMIT, "%zu image pulls are already waiting: try again later",
                h->queued);
    return false;
}

void worker_run_deferred(server_t *s, const http_req *rq, http_resp *rs)
{
    while (rs->work) {
        http_work_fn fn = rs->work;
        void *arg = rs->work_arg;
        void (*free_arg)(void *) = rs->work_free;
        rs->work = NULL;
        rs->work_arg = NULL;
        rs->work_free = NULL;
        bool again = fn(s->rt, arg, rs);
        if (free_arg) free_arg(arg);
        if (again) {
            buf_reset(&rs->body);
            rs->status = 500;
            route(s, rq, rs);
        }
    }
}

static bool box_busy(const workers_t *w, const char *box)
{
    if (!*box) return false;
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->busy[i], box) == 0) return true;
    return false;
}

/* Takes the first job whose box no other thread works on. Under w->mu. */
static job_t *take_locked(workers_t *w)
{
    job_t *prev = NULL;
    for (job_t *j = w->todo; j; prev = j, j = j->next) {
        if (box_busy(w, j->box)) continue;
        if (prev)
            prev->next = j->next;
        else
            w->todo = j->next;
        if (w->todo_tail == j) w->todo_tail = prev;
        w->queued--;
        return j;
    }
    return NULL;
}

static void *serve_jobs(void *arg)
{
    workers_t *w = arg;
    boxlet_runtime *rt = NULL;
    int orc = boxlet_runtime_open(w->home, &rt);
    server_t mine = w->s;
    mine.rt = rt;
    pthread_mutex_lock(&w->mu);
    int slot = w->slots++;
    pthread_mutex_unlock(&w->mu);
    for (;;) {
        pthread_mutex_lock(&w->mu);
        job_t *j;
        while (!(j = take_locked(w)) && !(w->quit && !w->todo))
            pthread_cond_wait(&w->cv, &w->mu);
        if (!j) { /* quit, nothing left */
            w->running--;
            pthread_mutex_unlock(&w->mu);
            break;
        }
        snprintf(w->busy[slot], BOX_KEY_MAX, "%s", j->box);
        pthread_mutex_unlock(&w->mu);
        if (!j->routed) buf_init(&j->rs.body, 0);
        if (orc != BOXLET_OK) {
            reply_code(&j->rs, orc, rt ? boxlet_runtime_errmsg(rt) : "out of memory");
        } else {
            if (!j->routed) route(&mine, &j->rq, &j->rs);
            if (hand_off(w, j)) continue;
            worker_run_deferred(&mine, &j->rq, &j->rs);
        }
        pthread_mutex_lock(&w->mu);
        if (w->busy[slot][0]) pthread_cond_broadcast(&w->cv); /* its box's next request */
        w->busy[slot][0] = '\0';
        j->next = w->done;
        w->done = j;
        if (w->ctx) lws_cancel_service(w->ctx); /* under the lock: see workers_stop */
        pthread_mutex_unlock(&w->mu);
    }
    boxlet_runtime_free(rt);
    return NULL;
}

workers_t *workers_start(const server_t *s, const char *home, void *lws_ctx, int n,
                         size_t max_queued, workers_t *handoff)
{
    workers_t *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->max_queued = max_queued;
    w->handoff = handoff;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->s = *s;
    w->home = home ? strdup(home) : NULL;
    w->ctx = lws_ctx;
    /* The threads take no signals: SIGTERM and SIGINT are the loop's. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 0; i < n && i < MAX_WORKERS; i++)
        if (pthread_create(&w->th[w->n], NULL, serve_jobs, w) == 0) w->n++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    w->running = w->n;
    if (!w->n) {
        free(w->home);
        free(w);
        return NULL;
    }
    return w;
}

static void job_free(job_t *j)
{
    if (j->rs.work_free) j->rs.work_free(j->rs.work_arg);
    http_stream_release(j->rq.stream); /* the handler's reference */
    buf_free(&j->rs.body);
    free(j->body);
    free(j);
}

void workers_stop(workers_t *w, int wait_ms)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    w->ctx = NULL;                                 /* the loop's context is about to go */
    for (job_t *j = w->todo, *next; j; j = next) { /* not started: dropped */
        next = j->next;
        job_free(j);
    }
    w->todo = w->todo_tail = NULL;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) until.tv_sec++, until.tv_nsec -= 1000000000;
    bool all = true;
    for (int i = 0; i < w->n; i++)
        all &= pthread_timedjoin_np(w->th[i], NULL, &until) == 0;
    if (!all) return; /* a thread is still busy (a pull): the exit ends it */
    for (job_t *j = w->done, *next; j; j = next) {
        next = j->next;
        job_free(j);
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->home);
    free(w);
}

job_t *worker_submit(workers_t *w, const http_req *rq, const char *box, void *owner, bool *busy)
{
    *busy = false;
    job_t *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->rq = *rq;
    j->owner = owner;
    if (!(j->body = malloc(rq->body_len + 1))) {
        free(j);
        return NULL;
    }
    snprintf(j->box, sizeof j->box, "%s", box ? box : "");
    memcpy(j->body, rq->body ? rq->body : "", rq->body ? rq->body_len : 0);
    j->body[rq->body ? rq->body_len : 0] = '\0';
    j->rq.body = j->body;
    pthread_mutex_lock(&w->mu);
    bool ok = enqueue_locked(w, j);
    pthread_mutex_unlock(&w->mu);
    if (ok) return j;
    *busy = true;
    free(j->body);
    free(j);
    return NULL;
}

void worker_orphan(job_t *j)
{
    if (j) j->orphan = true;
}

void workers_collect(workers_t *w, void (*done)(void *owner, http_resp *rs))
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    job_t *list = w->done;
    w->done = NULL;
    pthread_mutex_unlock(&w->mu);
    for (job_t *j = list, *next; j; j = next) {
        next = j->next;
        if (!j->orphan) done(j->owner, &j->rs);
        job_free(j);
    }
}
