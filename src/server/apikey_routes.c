/* apikey_routes — the /v1/api-keys routes (BoxLite's createApiKey,
 * listApiKeys, revokeApiKey) over apikeys.c, as the caller (rq->who). */
#include "server/apikeys.h"
#include "server/reply.h"
#include "server/routes.h"

#include "core/util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* An RFC 3339 UTC time ("...Z", optional fraction) in ms; -1 if not one. */
static long long parse_utc(const char *s)
{
    struct tm tm = {0};
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end) return -1;
    long long ms = 0;
    if (*end == '.') {
        int digits = 0;
        for (end++; *end >= '0' && *end <= '9'; end++, digits++)
            if (digits < 3) ms = ms * 10 + (*end - '0');
        if (!digits) return -1;
        for (; digits < 3; digits++)
            ms *= 10;
    }
    if (strcmp(end, "Z") != 0) return -1;
    time_t t = timegm(&tm);
    return t < 0 ? -1 : (long long)t * 1000 + ms;
}

void rest_apikey_create(server_t *s, const http_req *rq, http_resp *rs)
{
    json_error_t je;
    json_t *o = json_loadb(rq->body, rq->body_len, 0, &je);
    json_t *name = json_object_get(o, "name"), *perms = json_object_get(o, "permissions");
    json_t *exp = json_object_get(o, "expires_at");
    const char *key;
    json_t *v;
    if (!json_is_object(o)) {
        reply_error(rs, 400, ERR_INVAL, "the body must be a JSON object");
        return json_decref(o);
    }
    json_object_foreach(o, key, v)
    {
        if (strcmp(key, "name") && strcmp(key, "permissions") && strcmp(key, "expires_at")) {
            reply_error(rs, 400, ERR_INVAL, "unknown field \"%.64s\"", key);
            return json_decref(o);
        }
    }
    if (!json_is_string(name) || !json_is_array(perms) || (exp && !json_is_string(exp))) {
        reply_error(rs, 400, ERR_INVAL,
                    "fields \"name\" (a string) and \"permissions\" (an array) are required; "
                    "\"expires_at\" is an RFC 3339 time");
        return json_decref(o);
    }
    unsigned bits = 0;
    size_t i;
    json_array_foreach(perms, i, v)
    {
        unsigned b = json_is_string(v) ? apikeys_perm_of(json_string_value(v)) : 0;
        if (!b) {
            reply_error(rs, 400, ERR_INVAL, "permissions[%zu]: not one of BoxLite's permissions",
                        i);
            return json_decref(o);
        }
        bits |= b;
    }
    long long exp_ms = exp ? parse_utc(json_string_value(exp)) : 0;
    if (exp_ms < 0) {
        reply_error(rs, 400, ERR_INVAL, "expires_at \"%.64s\": want UTC RFC 3339 (...Z)",
                    json_string_value(exp));
        return json_decref(o);
    }
    char value[64];
    err_t e;
    long long now = wall_ms();
    int rc = apikeys_issue(s->keys, &rq->who, json_string_value(name), bits, exp_ms, now, value,
                           sizeof value, &e);
    if (rc < 0) {
        reply_code(rs, rc, e.msg);
        return json_decref(o);
    }
    json_t *a = json_array();
    json_array_foreach(perms, i, v) json_array_append(a, v);
    if (!exp_ms && rq->who.expires_ms) exp_ms = rq->who.expires_ms; /* inherited */
    snprintf(rs->location, sizeof rs->location, "%s/%s", rq->path, json_string_value(name));
    reply_json(rs, 201,
               json_pack("{s:s, s:o, s:o, s:o, s:s}", "name", json_string_value(name),
                         "permissions", a, "created_at", reply_timestamp(now), "expires_at",
                         exp_ms ? reply_timestamp(exp_ms) : json_null(), "value", value));
    json_decref(o);
}

void rest_apikey_list(server_t *s, const http_req *rq, http_resp *rs)
{
    reply_json(rs, 200, json_pack("{s:o}", "api_keys", apikeys_list_json(s->keys, &rq->who)));
}

void rest_apikey_revoke(server_t *s, const http_req *rq, http_resp *rs)
{
    err_t e;
    int rc = apikeys_revoke(s->keys, &rq->who, rq->params.name, &e);
    if (rc < 0)
        reply_code(rs, rc, e.msg);
    else
        reply_json(rs, 204, NULL);
}
