/* boxes — boxlet through its public C API (in-process): bring a box up,
 * run a command to its exit, tear every box of the run down. */
#include "bench.h"

#include <stdlib.h>

boxlet_box *box_up(bench_t *b, const char *image)
{
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.image = image;
    boxlet_box *box = NULL;
    if (boxlet_box_create(b->rt, &o, &box) != BOXLET_OK || boxlet_box_start(box) != BOXLET_OK)
        die("box on image %s: %s", image, boxlet_runtime_errmsg(b->rt));
    return box;
}

void box_down(boxlet_box *box)
{
    if (!box) return;
    boxlet_box_remove(box, 1);
    boxlet_box_free(box);
}

double box_run(boxlet_box *box, const boxlet_cmd *c)
{
    boxlet_exec *e;
    boxlet_exit st;
    double t0 = clock_ms();
    if (boxlet_exec_start(box, c, &e) != BOXLET_OK) die("exec: %s", boxlet_box_errmsg(box));
    boxlet_exec_close_stdin(e);
    if (boxlet_exec_wait(e, &st, 30000) != BOXLET_OK || st.exit_code != 0)
        die("exec wait: %s (exit %d: %s)", boxlet_exec_errmsg(e), st.exit_code, st.error_message);
    boxlet_exec_free(e);
    return clock_ms() - t0;
}

void boxes_cleanup(bench_t *b)
{
    boxlet_box **all = NULL;
    size_t n = 0;
    if (!b->rt || boxlet_box_list(b->rt, &all, &n) != BOXLET_OK) return;
    for (size_t i = 0; i < n; i++)
        box_down(all[i]);
    free(all);
}
