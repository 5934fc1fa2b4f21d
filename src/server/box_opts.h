/* box_opts — the fields of BoxLite's CreateBoxRequest beyond a box's
 * basic options (routes.c parses those): the main command (entrypoint,
 * cmd, tty), lifecycle (auto_stop, auto_delete, auto_resume), capabilities
 * (advanced.capabilities), secrets and rootfs_path, parsed into
 * boxlet_box_opts; and their echo in the Box JSON. Each is implemented or
 * refused naming the field, never accepted and ignored (docs/server.md,
 * "Creating a box"). Private to src/server. */
#ifndef BOXLET_SERVER_BOX_OPTS_H
#define BOXLET_SERVER_BOX_OPTS_H

#include "server/http.h"

#include <jansson.h>

/* What the parse allocated for opts; its strings are borrowed from the
 * request's JSON, which must outlive opts. Free with box_extra_free. */
typedef struct box_extra {
    const char **entrypoint, **cmd, **cap_add, **cap_drop;
    boxlet_secret *secrets;
    char image[96]; /* the image a rootfs_path was imported as */
} box_extra;

/* REST boxes stop after this long idle unless auto_stop says otherwise
 * (BoxLite's default). */
#define BOX_REST_AUTO_STOP 900

/* Fills opts's extra fields from request o. false with rs answered: 400
 * for a malformed field, 501 `unsupported` for a part boxlet does not do
 * (secrets' hosts and placeholders), 403 for rootfs_path without
 * --import-dir, each naming the field. */
bool box_extra_parse(server_t *s, json_t *o, boxlet_box_opts *opts, box_extra *x, http_resp *rs);
void box_extra_free(box_extra *x);

/* Adds BoxLite's auto_stop, auto_delete, auto_resume and boxlet's
 * entrypoint-and-cmd (`main`), `tty`, `capabilities` {add, drop} and
 * `secret_names` to Box JSON v from the box's config cfg (never a
 * secret's value). */
void box_extra_json(json_t *v, json_t *cfg);

#endif
