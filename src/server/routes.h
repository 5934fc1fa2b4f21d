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

/* The source of a REST import (or a box's rootfs_path), src, opened
 * beneath the server's --import-dir: an O_PATH descriptor to close, with
 * via the path the importer reads; -1 with rs answered (403 when imports
 * are off or src leads out of the directory, 404 when missing). */
int rest_open_import_source(const server_t *s, const char *src, char *via, size_t n, http_resp *rs);

/* BoxLite's pagination of lists: the page from ?pageSize (1..1000,
 * default 100) and ?pageToken (a next_page_token this server gave: the
 * offset of the page's first item, opaque to clients); false with rs
 * answered (400) when either is malformed. Then rest_page_next sets
 * next_page_token on the answer o: the next page's token, or null after
 * the last of total items. */
bool rest_page_of(const http_req *rq, size_t *first, size_t *size, http_resp *rs);
void rest_page_next(json_t *o, size_t first, size_t size, size_t total);

/* BoxLite's API keys (apikey_routes.c), as rq->who. */
void rest_apikey_create(server_t *s, const http_req *rq, http_resp *rs);
void rest_apikey_list(server_t *s, const http_req *rq, http_resp *rs);
void rest_apikey_revoke(server_t *s, const http_req *rq, http_resp *rs);

/* Every row of the route table's unsupported section: 501 unsupported. */
void rest_unsupported(server_t *s, const http_req *rq, http_resp *rs);

/* POST /v1/images/import: a path beneath the server's --import-dir. */
void rest_image_import(server_t *s, const http_req *rq, http_resp *rs);

/* For the other route modules (state.c): a 201's Location, the request's
 * path followed by "/" and tail; the 201 of a new box (its Box JSON,
 * Location and the created counter); the
 * request's JSON object body (NULL with rs answered: 400), and the refusal
 * of fields outside known (NULL-terminated; false with rs answered). */
void routes_location(const http_req *rq, http_resp *rs, const char *tail);
void routes_box_created(server_t *s, const http_req *rq, http_resp *rs, boxlet_box *b);
json_t *routes_body(const http_req *rq, http_resp *rs);
bool routes_only_known(json_t *o, const char *const *known, http_resp *rs);

#endif
