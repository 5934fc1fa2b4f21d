/* test_route — the route table's matcher (src/server/route.c): every row
 * is reached by a path made from its own pattern, with and without a
 * {prefix} of one and several segments; the parameters come out whole and
 * bounded; literal rows win over parameter rows; a known path with an
 * unknown method is 405, an unknown path 404; hostile paths (too many
 * segments, a segment too long, no /v1, a prefix alone) match nothing.
 * Not a test of what the handlers do (test_server_rest, test_openapi). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/route.h"

static const route_t *match(const char *method, const char *path, route_params *p, int want)
{
    const route_t *row = (const route_t *)1;
    route_params mine;
    int got = route_match(method, path, &row, p ? p : &mine);
    if (got != want) fail_msg("%s %s: %d, want %d", method, path, got, want);
    if (want != ROUTE_MATCHED) assert_null(row);
    return row;
}

/* A concrete path for a pattern: each {name} or {name*} becomes "x-name". */
static void concrete(const char *prefix, const char *pattern, char *out, size_t n)
{
    size_t o = (size_t)snprintf(out, n, "/v1%s", prefix);
    for (const char *c = pattern; *c && o + 1 < n;) {
        if (*c == '{') {
            size_t len = strcspn(c, "}");
            o += (size_t)snprintf(out + o, n - o, "x-%.*s", (int)(len - 1 - (c[len - 1] == '*')),
                                  c + 1);
            c += len + 1;
        } else {
            out[o++] = *c++;
        }
    }
    out[o] = '\0';
}

static void test_every_row_by_its_pattern(void **state)
{
    (void)state;
    size_t n;
    const route_t *t = route_table(&n);
    assert_true(n > 20);
    static const char *const prefixes[] = {"", "/tenant-a", "/acme/team/x"};
    for (size_t pi = 0; pi < 3; pi++)
        for (size_t i = 0; i < n; i++) {
            char path[512];
            route_params p;
            concrete(prefixes[pi], t[i].pattern, path, sizeof path);
            const route_t *row = match(t[i].method, path, &p, ROUTE_MATCHED);
            if (row != &t[i])
                fail_msg("%s %s matched row %s %s", t[i].method, path, row->method, row->pattern);
            if (strstr(t[i].pattern, "{box_id}")) assert_string_equal(p.box_id, "x-box_id");
            if (strstr(t[i].pattern, "{exec_id}")) assert_string_equal(p.exec_id, "x-exec_id");
            if (strstr(t[i].pattern, "{image_id")) assert_string_equal(p.image_id, "x-image_id");
            assert_true((t[i].fn != NULL) != ((t[i].flags & ROUTE_WS) != 0));
            assert_true(!(t[i].flags & ROUTE_WS) || t[i].ws);
        }
}

static void test_parameters(void **state)
{
    (void)state;
    route_params p;
    match("GET", "//v1//boxes//b1//executions/e1/attach", &p, ROUTE_MATCHED);
    assert_string_equal(p.box_id, "b1");
    assert_string_equal(p.exec_id, "e1");
    /* {image_id*}: the rest of the path as it came, '/' and all */
    match("GET", "/v1/images/library/busybox:1.36", &p, ROUTE_MATCHED);
    assert_string_equal(p.image_id, "library/busybox:1.36");
    match("DELETE", "/v1/acme/images/127.0.0.1:5000/a//b/", &p, ROUTE_MATCHED);
    assert_string_equal(p.image_id, "127.0.0.1:5000/a//b/");
    assert_string_equal(p.box_id, "");
    /* a literal row before the parameter row; other methods fall to it */
    assert_string_equal(match("POST", "/v1/images/pull", NULL, ROUTE_MATCHED)->pattern,
                        "/images/pull");
    match("GET", "/v1/images/pull", &p, ROUTE_MATCHED);
    assert_string_equal(p.image_id, "pull");
    /* the first resource word ends the prefix: a box may be called "images" */
    match("GET", "/v1/boxes/images", &p, ROUTE_MATCHED);
    assert_string_equal(p.box_id, "images");
}

static void test_not_found_and_not_allowed(void **state)
{
    (void)state;
    match("PUT", "/v1/boxes/b1", NULL, ROUTE_NOT_ALLOWED);
    match("HEAD", "/v1/boxes", NULL, ROUTE_NOT_ALLOWED);
    match("POST", "/v1/config", NULL, ROUTE_NOT_ALLOWED);
    match("POST", "/v1/images/a/b", NULL, ROUTE_NOT_ALLOWED);
    match("GET", "/v1/boxes/b1/nothing", NULL, ROUTE_NOT_FOUND);
    match("GET", "/v1/boxes/b1/executions/e1/attach/more", NULL, ROUTE_NOT_FOUND);
    match("GET", "/v1/nothing", NULL, ROUTE_NOT_FOUND);
    match("GET", "/v1", NULL, ROUTE_NOT_FOUND);
    match("GET", "/", NULL, ROUTE_NOT_FOUND);
    match("GET", "", NULL, ROUTE_NOT_FOUND);
    match("GET", "/v2/boxes", NULL, ROUTE_NOT_FOUND);
    match("GET", "/boxes", NULL, ROUTE_NOT_FOUND);
    match("GET", "/v1/acme", NULL, ROUTE_NOT_FOUND);
    match("get", "/v1/boxes", NULL, ROUTE_NOT_ALLOWED); /* methods are exact */
}

static void test_hostile_paths(void **state)
{
    (void)state;
    char path[2048];
    /* a segment of ROUTE_SEG_MAX - 1 bytes fits; one more does not */
    int n = snprintf(path, sizeof path, "/v1/boxes/");
    memset(path + n, 'a', ROUTE_SEG_MAX - 1);
    path[n + ROUTE_SEG_MAX - 1] = '\0';
    route_params p;
    match("GET", path, &p, ROUTE_MATCHED);
    assert_int_equal(strlen(p.box_id), ROUTE_SEG_MAX - 1);
    strcat(path, "a");
    match("GET", path, NULL, ROUTE_NOT_FOUND);
    /* an image reference longer than its slot */
    n = snprintf(path, sizeof path, "/v1/images/");
    memset(path + n, 'b', sizeof p.image_id);
    path[n + sizeof p.image_id] = '\0';
    match("GET", path, NULL, ROUTE_NOT_FOUND);
    /* too many segments (a prefix of many) */
    strcpy(path, "/v1");
    for (int i = 0; i < 20; i++)
        strcat(path, "/p");
    strcat(path, "/boxes");
    match("GET", path, NULL, ROUTE_NOT_FOUND);
    /* only slashes */
    memset(path, '/', 1500);
    path[1500] = '\0';
    match("GET", path, NULL, ROUTE_NOT_FOUND);
}

static void test_print(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    route_print(f);
    fclose(f);
    assert_non_null(strstr(text, "GET /v1/config loop,open\n"));
    assert_non_null(strstr(text, "GET /v1/images/{image_id} loop\n")); /* no '*' */
    assert_non_null(strstr(text, "GET /v1/boxes/{box_id}/executions/{exec_id}/attach websocket\n"));
    free(text);
}

/* The unsupported section: its rows match (501 comes from their handler,
 * not a 404), carry the flag, and route_served says no for them, yes for
 * real rows and no for what no row has. */
static void test_unsupported_and_served(void **state)
{
    (void)state;
    route_params p;
    const route_t *row = match("POST", "/v1/boxes/b1/clone", &p, ROUTE_MATCHED);
    assert_false(row->flags & ROUTE_UNSUPPORTED);
    assert_string_equal(p.box_id, "b1");
    row = match("DELETE", "/v1/acme/volumes/vol-1", &p, ROUTE_MATCHED);
    assert_false(row->flags & ROUTE_UNSUPPORTED);
    assert_string_equal(p.volume_id, "vol-1");
    row = match("GET", "/v1/boxes/b1/snapshots/s1", &p, ROUTE_MATCHED);
    assert_string_equal(p.box_id, "b1");
    assert_string_equal(p.snapshot, "s1");
    row = match("DELETE", "/v1/api-keys/k1", &p, ROUTE_MATCHED);
    assert_false(row->flags & ROUTE_UNSUPPORTED);
    assert_string_equal(p.name, "k1");
    assert_true(route_served("POST", "/boxes"));
    assert_true(route_served("GET", "/boxes/{box_id}/executions/{exec_id}/attach"));
    assert_true(route_served("POST", "/api-keys"));
    assert_true(route_served("POST", "/boxes/{box_id}/clone"));
    assert_true(route_served("POST", "/boxes/{box_id}/snapshots"));
    assert_false(route_served("GET", "/no/such/route"));
    assert_false(route_served("PATCH", "/boxes"));
    /* POST /boxes/import is its own row, not a box named "import" */
    row = match("POST", "/v1/boxes/import", &p, ROUTE_MATCHED);
    assert_string_equal(row->pattern, "/boxes/import");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_row_by_its_pattern),
        cmocka_unit_test(test_parameters),
        cmocka_unit_test(test_not_found_and_not_allowed),
        cmocka_unit_test(test_hostile_paths),
        cmocka_unit_test(test_print),
        cmocka_unit_test(test_unsupported_and_served),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
