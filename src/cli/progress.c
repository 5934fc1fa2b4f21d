/* progress — what a pull shows while it runs. On a terminal every layer has
 * a line, redrawn in place as its phase and bytes change ("4b3a9f0c21de:
 * Downloading [=======>      ] 1.2 MB/3.4 MB"); anywhere else (a pipe, a
 * log) one plain line per layer and phase, no bytes counting up. Layers
 * are keyed by digest: one that appears twice in an image has one line.
 * Also the byte sizes shown by images and prune. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 30
#define REDRAW_MS 100

struct cli_pull_display {
    FILE *f;
    int tty;
    size_t n, drawn; /* lines known, lines on the screen */
    struct layer_line {
        char digest[72];
        int phase; /* boxlet_pull_phase; -1 before the first event */
        unsigned long long done, total;
    } * v;
    long long last_ms;
};

void cli_size(unsigned long long bytes, char *buf, size_t len)
{
    static const char *const unit[] = {"B", "kB", "MB", "GB", "TB"};
    double v = (double)bytes;
    size_t i = 0;
    while (v >= 1000 && i < sizeof unit / sizeof *unit - 1)
        v /= 1000, i++;
    snprintf(buf, len, i ? "%.1f %s" : "%.0f %s", v, unit[i]);
}

static struct cli_pull_display *display_new(FILE *f)
{
    struct cli_pull_display *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->f = f;
    d->tty = isatty(fileno(f));
    return d;
}

static void display_free(struct cli_pull_display *d)
{
    if (!d) return;
    free(d->v);
    free(d);
}

static const char *phase_name(int p)
{
    static const char *const names[] = {"Waiting",        "Downloading", "Downloaded",
                                        "Already exists", "Extracting",  "Pull complete",
                                        "Failed"};
    return (unsigned)p < sizeof names / sizeof *names ? names[p] : "?";
}

static struct layer_line *line_of(struct cli_pull_display *d, const char *digest)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->v[i].digest, digest) == 0) return &d->v[i];
    struct layer_line *v = realloc(d->v, (d->n + 1) * sizeof *v);
    if (!v) return NULL;
    d->v = v;
    struct layer_line *l = &v[d->n++];
    memset(l, 0, sizeof *l);
    snprintf(l->digest, sizeof l->digest, "%s", digest);
    l->phase = -1;
    return l;
}

/* The short id docker shows: 12 hex digits. */
static const char *short_id(const char *digest)
{
    const char *colon = strchr(digest, ':');
    return colon ? colon + 1 : digest;
}

static void draw_line(struct cli_pull_display *d, const struct layer_line *l)
{
    char done[32], total[32];
    fprintf(d->f, "\r\033[2K%.12s: %s", short_id(l->digest), phase_name(l->phase));
    if (l->phase == (int)BOXLET_PULL_DOWNLOADING && l->total > 0) {
        int fill = (int)(BAR_WIDTH * (double)l->done / (double)l->total);
        if (fill > BAR_WIDTH) fill = BAR_WIDTH;
        cli_size(l->done, done, sizeof done);
        cli_size(l->total, total, sizeof total);
        fprintf(d->f, " [%.*s%s%*s] %s/%s", fill ? fill - 1 : 0,
                "==============================", fill ? ">" : "", BAR_WIDTH - fill, "", done,
                total);
    }
    fputc('\n', d->f);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Moves up over what was drawn and draws every line again. */
static void redraw(struct cli_pull_display *d)
{
    if (d->drawn) fprintf(d->f, "\033[%zuA", d->drawn);
    for (size_t i = 0; i < d->n; i++)
        draw_line(d, &d->v[i]);
    d->drawn = d->n;
    fflush(d->f);
    d->last_ms = now_ms();
}

static void on_event(const boxlet_pull_event *ev, void *arg)
{
    struct cli_pull_display *d = arg;
    struct layer_line *l = line_of(d, ev->digest);
    if (!l) return;
    int changed = l->phase != (int)ev->phase;
    l->phase = (int)ev->phase;
    l->done = ev->done;
    l->total = ev->total;
    if (d->tty) {
        if (changed || now_ms() - d->last_ms >= REDRAW_MS) redraw(d);
        return;
    }
    if (!changed || ev->phase == BOXLET_PULL_WAITING) return;
    char size[32];
    cli_size(ev->total, size, sizeof size);
    fprintf(d->f, "%s: %s%s%s%s\n", ev->digest, phase_name(ev->phase),
            ev->phase == BOXLET_PULL_DOWNLOADING || ev->phase == BOXLET_PULL_DOWNLOADED ? " (" : "",
            ev->phase == BOXLET_PULL_DOWNLOADING || ev->phase == BOXLET_PULL_DOWNLOADED ? size : "",
            ev->phase == BOXLET_PULL_DOWNLOADING || ev->phase == BOXLET_PULL_DOWNLOADED ? ")" : "");
    fflush(d->f);
}

int cli_pull(boxlet_runtime *rt, const char *ref, const char *name, FILE *f)
{
    boxlet_pull_opts o;
    boxlet_pull_opts_init(&o);
    o.name = name;
    struct cli_pull_display *d = f ? display_new(f) : NULL;
    if (d) {
        o.progress = on_event;
        o.progress_arg = d;
    }
    int rc = boxlet_image_pull_with(rt, ref, &o);
    if (d && d->tty && d->n) redraw(d); /* the final state of every line */
    display_free(d);
    return rc;
}

int cli_pull_missing(boxlet_runtime *rt, const char *image)
{
    boxlet_image_info im;
    if (!image || !isatty(STDERR_FILENO) || !boxlet_image_is_registry_ref(image) ||
        boxlet_image_get(rt, image, &im) != BOXLET_ENOTFOUND)
        return BOXLET_OK; /* creating the box pulls it quietly, if at all */
    fprintf(stderr, "pulling %s\n", image);
    int rc = cli_pull(rt, image, NULL, stderr);
    return rc == BOXLET_EEXISTS ? BOXLET_OK : rc; /* pulled meanwhile */
}
