/* test_idem — BoxLite's Idempotency-Key store (src/server/idem.c): a
 * replay gets the original answer (status, body, Location) without running
 * again; another request under the same key is 422; a retry while the
 * first runs is 409; 5xx answers and abandoned requests are forgotten;
 * keys expire; a full store drops its oldest answered key and, when every
 * key is in flight, refuses (503) rather than grow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/idem.h"

static http_req req(const char *method, const char *path, const char *body)
{
    http_req rq;
    memset(&rq, 0, sizeof rq);
    snprintf(rq.method, sizeof rq.method, "%s", method);
    snprintf(rq.path, sizeof rq.path, "%s", path);
    rq.body = body;
    rq.body_len = strlen(body);
    return rq;
}

static void answer(http_resp *rs, int status, const char *body, const char *location)
{
    rs->status = status;
    buf_reset(&rs->body);
    buf_append(&rs->body, body, strlen(body));
    snprintf(rs->location, sizeof rs->location, "%s", location);
}

static void test_replay_and_mismatch(void **state)
{
    (void)state;
    idem_t *t = idem_new();
    http_resp rs;
    memset(&rs, 0, sizeof rs);
    buf_init(&rs.body, 0);
    http_req a = req("POST", "/v1/boxes", "{\"name\":\"x\"}");
    assert_int_equal(idem_begin(t, "k1", &a, 1000, &rs), IDEM_NEW);
    /* a retry while the first is still being answered */
    assert_int_equal(idem_begin(t, "k1", &a, 1001, &rs), IDEM_ANSWERED);
    assert_int_equal(rs.status, 409);
    answer(&rs, 201, "{\"box_id\":\"b1\"}", "/v1/boxes/b1");
    idem_end(t, "k1", &rs);
    answer(&rs, 0, "", "");
    assert_int_equal(idem_begin(t, "k1", &a, 2000, &rs), IDEM_ANSWERED);
    assert_int_equal(rs.status, 201);
    assert_int_equal(rs.body.len, strlen("{\"box_id\":\"b1\"}"));
    assert_memory_equal(buf_data(&rs.body), "{\"box_id\":\"b1\"}", rs.body.len);
    assert_string_equal(rs.location, "/v1/boxes/b1");
    http_req b = req("POST", "/v1/boxes", "{\"name\":\"y\"}");
    assert_int_equal(idem_begin(t, "k1", &b, 2000, &rs), IDEM_ANSWERED);
    assert_int_equal(rs.status, 422);
    http_req c = req("POST", "/v1/other/boxes", "{\"name\":\"x\"}"); /* another path */
    assert_int_equal(idem_begin(t, "k1", &c, 2000, &rs), IDEM_ANSWERED);
    assert_int_equal(rs.status, 422);
    /* expired: the key is new again */
    assert_int_equal(idem_begin(t, "k1", &b, 2000 + IDEM_LIFETIME_MS + 1, &rs), IDEM_NEW);
    buf_free(&rs.body);
    idem_free(t);
}

static void test_forgotten(void **state)
{
    (void)state;
    idem_t *t = idem_new();
    http_resp rs;
    memset(&rs, 0, sizeof rs);
    buf_init(&rs.body, 0);
    http_req a = req("DELETE", "/v1/boxes/b1", "");
    assert_int_equal(idem_begin(t, "k", &a, 1, &rs), IDEM_NEW);
    answer(&rs, 503, "{}", "");
    idem_end(t, "k", &rs); /* a 5xx: a retry runs again */
    assert_int_equal(idem_begin(t, "k", &a, 2, &rs), IDEM_NEW);
    idem_abandon(t, "k"); /* its client left */
    assert_int_equal(idem_begin(t, "k", &a, 3, &rs), IDEM_NEW);
    buf_free(&rs.body);
    idem_free(t);
}

static void test_bounded(void **state)
{
    (void)state;
    idem_t *t = idem_new();
    http_resp rs;
    memset(&rs, 0, sizeof rs);
    buf_init(&rs.body, 0);
    http_req a = req("POST", "/v1/boxes", "{}");
    char key[32];
    for (int i = 0; i < IDEM_MAX; i++) { /* all in flight */
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(idem_begin(t, key, &a, i, &rs), IDEM_NEW);
    }
    assert_int_equal(idem_begin(t, "one-more", &a, IDEM_MAX, &rs), IDEM_ANSWERED);
    assert_int_equal(rs.status, 503);
    answer(&rs, 204, "", "");
    idem_end(t, "k7", &rs); /* one answered: the one that can go */
    assert_int_equal(idem_begin(t, "one-more", &a, IDEM_MAX + 1, &rs), IDEM_NEW);
    idem_end(t, "one-more", &rs);
    /* k7's answer went: no replay, a new run (and "one-more" makes room) */
    assert_int_equal(idem_begin(t, "k7", &a, IDEM_MAX + 2, &rs), IDEM_NEW);
    buf_free(&rs.body);
    idem_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_and_mismatch),
        cmocka_unit_test(test_forgotten),
        cmocka_unit_test(test_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
