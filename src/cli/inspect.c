/* inspect — `boxlet inspect BOX...`: the named boxes as a JSON array of the
 * objects ls --json prints ({id, name, image, state, created_at, pid,
 * config}). A box that cannot be found is reported on stderr and left out;
 * the array is printed anyway and the exit code is then 1. */
#include "cli/cli.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: boxlet inspect BOX...\n"
    "\n"
    "Print each BOX (an id, a unique id prefix or a name) as a JSON object\n"
    "{id, name, image, state, created_at, pid, isolation, config}, all in one\n"
    "array; a vm box's also has accel: kvm or tcg (see 'boxlet info').\n"
    "Exits 1 if any BOX could not be found.\n"
    "\n"
    "Options:\n"
    "  -h, --help   show this help\n";

/* Looks every key up into boxes (found ones only, *n of them). */
static int lookup(boxlet_runtime *rt, int nkeys, char **keys, boxlet_box **boxes, size_t *n)
{
    int failed = 0;
    *n = 0;
    for (int i = 0; i < nkeys; i++) {
        if (cli_get_box(rt, keys[i], &boxes[*n]) < 0)
            failed = 1;
        else
            (*n)++;
    }
    return failed ? CLI_EXIT_SOME : 0;
}

/* The accelerator vm boxes boot under here, when one of boxes is a vm
 * box and the runtime is local (free it); else NULL. */
static char *vm_accel(boxlet_runtime *rt, boxlet_box *const *boxes, size_t n)
{
    bool vm = false;
    for (size_t i = 0; i < n; i++)
        vm = vm || strcmp(boxlet_box_isolation(boxes[i]), "vm") == 0;
    boxlet_isolation_info *v;
    size_t nv;
    if (!vm || boxlet_runtime_isolations(rt, &v, &nv) < 0) return NULL;
    char *accel = NULL;
    for (size_t i = 0; i < nv; i++)
        if (strcmp(v[i].name, "vm") == 0 && v[i].accel) accel = strdup(v[i].accel);
    boxlet_isolations_free(v, nv);
    return accel;
}

static int inspect(const struct cli *g, int nkeys, char **keys)
{
    boxlet_runtime *rt;
    size_t n = 0;
    boxlet_box **boxes = calloc((size_t)nkeys, sizeof *boxes);
    if (!boxes) return cli_fail("inspect", BOXLET_ENOMEM, NULL);
    int code = CLI_EXIT_FAIL;
    if (cli_open(g, &rt) == 0) {
        code = lookup(rt, nkeys, keys, boxes, &n);
        char *accel = vm_accel(rt, boxes, n);
        cli_json_boxes(stdout, boxes, n, accel);
        free(accel);
        for (size_t i = 0; i < n; i++)
            boxlet_box_free(boxes[i]);
        boxlet_runtime_free(rt);
    }
    free(boxes);
    return code;
}

int cmd_inspect(const struct cli *g, int argc, char **argv)
{
    int code;
    if (!cli_box_args(argc, argv, usage, &code)) return code;
    return inspect(g, argc - optind, argv + optind);
}
