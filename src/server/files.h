/* files — the handlers of BoxLite's Files routes (route.c's table):
 * PUT /v1/boxes/{box_id}/files?path=DEST[&overwrite=] extracts the
 * request's tar body at DEST inside the box, GET
 * /v1/boxes/{box_id}/files?path=SRC[&follow_symlinks=] answers a tar of
 * SRC. Both stream (ROUTE_STREAM_IN, ROUTE_STREAM_OUT) through the SDK's
 * push/pull copy (boxlet_box_copy_in_open, boxlet_box_copy_out_open), so
 * no body sits whole in the server. Private to src/server. */
#ifndef BOXLET_SERVER_FILES_H
#define BOXLET_SERVER_FILES_H

#include "server/http.h"

/* 204 once the archive is extracted and in place; 400 (a mount, a bad
 * archive), 404, 409 as docs/files.md says, before or after the body. */
void rest_files_put(server_t *s, const http_req *rq, http_resp *rs);
/* 200 application/x-tar, streamed; an error found before the first byte
 * is a JSON error, one after it cuts the body (http_stream_fail). */
void rest_files_get(server_t *s, const http_req *rq, http_resp *rs);

#endif
