/* images — the handlers of the REST image routes of `boxlet serve`
 * (route.c's table), over the public SDK: POST /v1/images/pull,
 * GET /v1/images, GET|HEAD|DELETE /v1/images/{image_id},
 * POST /v1/images/prune, and pulling a box's missing registry image before POST /v1/boxes
 * creates it. The image object is BoxLite's ImageInfo plus boxlet's fields.
 * Private to src/server. */
#ifndef BOXLET_SERVER_IMAGES_H
#define BOXLET_SERVER_IMAGES_H

#include "server/http.h"

#include <stdbool.h>

void rest_images_list(server_t *s, const http_req *rq, http_resp *rs);
/* GET: 200 with the image; HEAD: 204 without a body. */
void rest_image_get(server_t *s, const http_req *rq, http_resp *rs);
void rest_image_remove(server_t *s, const http_req *rq, http_resp *rs);
/* Defers the pull itself (http_defer) to a pull thread. */
void rest_image_pull(server_t *s, const http_req *rq, http_resp *rs);
void rest_images_prune(server_t *s, const http_req *rq, http_resp *rs);
/* Before a box is created from image (may be NULL): true when the store
 * has it or it is no registry reference. Otherwise false, with the request
 * deferred (http_defer) to a worker that pulls the image and then has the
 * request routed again — or answers 422 image_pull_failed with the
 * registry's reason (400 for a malformed reference). */
bool images_pull_missing(server_t *s, const char *image, http_resp *rs);

#endif
