/* routes — the handlers of the REST routes of boxes, executions, the
 * server itself and image imports (routes.c), as route.c's table names
 * them. Each answers one request whose path route_match has matched: it
 * reads rq->params, never rq->path. Private to src/server. */
#ifndef BOXLET_SERVER_ROUTES_H
#define BOXLET_SERVER_ROUTES_H

#include "server/http.h"

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

/* BoxLite's API keys (apikey_routes.c), as rq->who. */
void rest_apikey_create(server_t *s, const http_req *rq, http_resp *rs);
void rest_apikey_list(server_t *s, const http_req *rq, http_resp *rs);
void rest_apikey_revoke(server_t *s, const http_req *rq, http_resp *rs);

/* Every row of the route table's unsupported section: 501 unsupported. */
void rest_unsupported(server_t *s, const http_req *rq, http_resp *rs);

/* POST /v1/images/import: a path beneath the server's --import-dir. */
void rest_image_import(server_t *s, const http_req *rq, http_resp *rs);

#endif
