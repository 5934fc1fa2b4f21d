/* routes — the handlers of the REST routes of boxes, executions, the
 * server itself and image imports (routes.c), as route.c's table names
 * them. Each answers one request whose path route_match has matched: it
 * reads rq->params, never rq->path. Private to src/server. */
#ifndef BOXLET_SERVER_ROUTES_H
#define BOXLET_SERVER_ROUTES_H

#include "server/http.h"

#include <jansson.h>

void rest_config(server_t *s, const http_req *rq, http_resp *rs);
void rest_me(server_t *s, const http_req *rq, http_resp *rs);
void rest_metrics(server_t *s, const http_req *rq, http_resp *rs);

void rest_boxes_list(server_t *s, const http_req *rq, http_resp *rs);
void rest_box_create(server_t *s, const http_req *rq, http_resp *rs);
void rest_box_get(server_t *s, const http_req *rq, http_resp *rs); /* GET and HEAD */
void rest_box_remove(server_t *s, const http_req *rq, http_resp *rs);
void rest_box_start(server_t *s, const http_req *rq, http_resp *rs);
void rest_box_stop(server_t *s, const http_req *rq, http_resp *rs);
void rest_box_metrics(server_t *s, const http_req *rq, http_resp *rs);

void rest_exec_start(server_t *s, const http_req *rq, http_resp *rs);
/* Streams its body (ROUTE_STREAM_OUT) when rq->stream is set. */
void rest_execs_list(server_t *s, const http_req *rq, http_resp *rs);
void rest_exec_get(server_t *s, const http_req *rq, http_resp *rs);
void rest_exec_kill(server_t *s, const http_req *rq, http_resp *rs);
void rest_exec_signal(server_t *s, const http_req *rq, http_resp *rs);
void rest_exec_resize(server_t *s, const http_req *rq, http_resp *rs);

/* POST /v1/images/import: a path beneath the server's --import-dir. */
void rest_image_import(server_t *s, const http_req *rq, http_resp *rs);

/* For the other route modules (state.c): a box as the Box schema, the
 * request's JSON object body (NULL with rs answered: 400), and the refusal
 * of fields outside known (NULL-terminated; false with rs answered). */
json_t *routes_box_json(boxlet_box *b);
json_t *routes_body(const http_req *rq, http_resp *rs);
bool routes_only_known(json_t *o, const char *const *known, http_resp *rs);

#endif
