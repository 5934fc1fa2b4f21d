/* state — the handlers of the REST routes of snapshots, clones and managed
 * volumes (state.c), as route.c's table names them, and the volumes of a
 * box being created (for routes.c's create). Private to src/server. */
#ifndef BOXLET_SERVER_STATE_H
#define BOXLET_SERVER_STATE_H

#include "server/http.h"

#include <jansson.h>
#include <limits.h>

void rest_snapshot_create(server_t *s, const http_req *rq, http_resp *rs);
void rest_snapshots_list(server_t *s, const http_req *rq, http_resp *rs);
void rest_snapshot_get(server_t *s, const http_req *rq, http_resp *rs);
void rest_snapshot_remove(server_t *s, const http_req *rq, http_resp *rs);
void rest_snapshot_restore(server_t *s, const http_req *rq, http_resp *rs);
void rest_box_clone(server_t *s, const http_req *rq, http_resp *rs);
/* Stream their bodies (ROUTE_STREAM_OUT, ROUTE_STREAM_IN). */
void rest_box_export(server_t *s, const http_req *rq, http_resp *rs);
void rest_box_import(server_t *s, const http_req *rq, http_resp *rs);

void rest_volume_create(server_t *s, const http_req *rq, http_resp *rs);
void rest_volumes_list(server_t *s, const http_req *rq, http_resp *rs);
void rest_volume_get(server_t *s, const http_req *rq, http_resp *rs);
void rest_volume_remove(server_t *s, const http_req *rq, http_resp *rs);

/* Whether a create request may name image: a path on the server's
 * machine (which boxlet imports as a rootfs) only when absolute and beneath
 * the server's --import-dir, with no symlink on the way, the policy of
 * server-side imports and host-path volumes. False with rs answered (403,
 * 404). */
bool state_image_allowed(const server_t *s, const char *image, http_resp *rs);

/* The volumes of a create request, kept for as long as the options that
 * point into them. */
#define STATE_VOLUMES_MAX 16
typedef struct state_volumes {
    boxlet_volume_mount m[STATE_VOLUMES_MAX];
    char path[STATE_VOLUMES_MAX][PATH_MAX];
} state_volumes;

/* Reads o's "volumes" (BoxLite's VolumeSpec list: managed_volume,
 * guest_path, read_only; boxlet's host_path, allowed only beneath the
 * server's --import-dir) into opts, pointing into *keep (which must
 * outlive opts) and into o. False with rs answered (400, 403, 404). */
bool state_box_volumes(const server_t *s, json_t *o, boxlet_box_opts *opts, state_volumes *keep,
                       http_resp *rs);

#endif
