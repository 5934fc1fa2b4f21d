/* autodelete — see autodelete.h. Every second it lists the home's boxes
 * (listing refreshes them: a box whose agent stopped it for being idle is
 * seen stopped here) and removes each stopped box with an auto_delete of N
 * seconds once it has been seen stopped for N seconds. When a box stopped
 * is not recorded, so the count starts when this thread first sees it
 * stopped: after a server restart a box is removed at the latest N
 * seconds after the restart. A box that is started again meanwhile is
 * forgotten. Not for: stopping idle boxes (their agent does that). */
#include "server/autodelete.h"

#include "boxlet.h"
#include "core/util.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { TICK_MS = 1000, MAX_SEEN = 4096 };

typedef struct seen {
    char id[64];
    long long since_ms;
    bool live; /* still stopped in the latest listing */
} seen;

struct autodelete {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    char *home;
    seen v[MAX_SEEN];
    size_t n;
};

static unsigned auto_delete_of(const boxlet_box *b)
{
    json_t *cfg = json_loads(boxlet_box_config_json(b), 0, NULL);
    json_int_t n = json_integer_value(json_object_get(cfg, "auto_delete"));
    json_decref(cfg);
    return n > 0 ? (unsigned)n : 0;
}

/* When b was first seen stopped (now if just now). */
static long long stopped_since(autodelete *a, const char *id, long long now)
{
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->v[i].id, id)) {
            a->v[i].live = true;
            return a->v[i].since_ms;
        }
    if (a->n < MAX_SEEN) {
        a->v[a->n] = (seen){.since_ms = now, .live = true};
        snprintf(a->v[a->n++].id, sizeof a->v[0].id, "%s", id);
    }
    return now;
}

/* Keeps only the boxes seen stopped in this listing. */
static void sweep_seen(autodelete *a)
{
    size_t k = 0;
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].live) {
            a->v[k] = a->v[i];
            a->v[k++].live = false;
        }
    a->n = k;
}

static void tick(autodelete *a, boxlet_runtime *rt)
{
    boxlet_box **v;
    size_t n;
    if (boxlet_box_list(rt, &v, &n) != BOXLET_OK) return;
    long long now = wall_ms();
    for (size_t i = 0; i < n; i++) {
        unsigned after = boxlet_box_state_of(v[i]) == BOXLET_BOX_STOPPED ? auto_delete_of(v[i]) : 0;
        int rc = after && now - stopped_since(a, boxlet_box_id(v[i]), now) >= after * 1000LL
                     ? boxlet_box_remove(v[i], 0)
                     : BOXLET_OK;
        if (rc != BOXLET_OK && rc != BOXLET_ENOTFOUND && rc != BOXLET_ECONFLICT)
            fprintf(stderr, "boxlet serve: auto_delete of box %s: %s\n", boxlet_box_id(v[i]),
                    boxlet_box_errmsg(v[i]));
        boxlet_box_free(v[i]);
    }
    free(v);
    sweep_seen(a);
}

static void *run(void *arg)
{
    autodelete *a = arg;
    boxlet_runtime *rt = NULL;
    if (boxlet_runtime_open(a->home, &rt) != BOXLET_OK) {
        fprintf(stderr, "boxlet serve: auto_delete is off: open the runtime: %s\n",
                boxlet_runtime_errmsg(rt));
        boxlet_runtime_free(rt);
        return NULL;
    }
    pthread_mutex_lock(&a->mu);
    while (!a->stop) {
        pthread_mutex_unlock(&a->mu);
        tick(a, rt);
        pthread_mutex_lock(&a->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += TICK_MS / 1000;
        while (!a->stop && pthread_cond_timedwait(&a->cv, &a->mu, &ts) == 0)
            ;
    }
    pthread_mutex_unlock(&a->mu);
    boxlet_runtime_free(rt);
    return NULL;
}

autodelete *autodelete_start(const char *home)
{
    autodelete *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    a->home = home ? strdup(home) : NULL;
    if ((home && !a->home) || pthread_create(&a->th, NULL, run, a) != 0) {
        free(a->home);
        free(a);
        return NULL;
    }
    return a;
}

void autodelete_stop(autodelete *a)
{
    if (!a) return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->th, NULL);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a->home);
    free(a);
}
