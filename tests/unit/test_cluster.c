/* test_cluster — a cluster's pieces that need no network: merging the
 * nodes' list answers (src/server/cluster.c: each item once, the same node
 * reached twice counted once, missing and malformed answers named, an
 * order that does not depend on which node answered first, metrics
 * summed), node tags (src/server/node.c: names, what is a tagged key and
 * what is not, the node's own tag taken off, a foreign one kept) and
 * --peers lists (src/server/peers.c: what is refused). The cluster over
 * real nodes and a real proxy is tests/integration/test_cluster.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/strv.h"
#include "server/cluster.h"
#include "server/node.h"
#include "server/peers.h"

#define ULID "01M8Y7YNK4N26F4BZ3KANAV1K5"

static json_t *body(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    if (!v) fail_msg("bad fixture: %s", je.text);
    return v;
}

static const char *id_at(json_t *merged, const char *key, size_t i)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(merged, key), i), "id"));
}

static void merge_sorts_and_dedupes(void **state)
{
    (void)state;
    json_t *a = body(
        "{\"node\":\"n1\",\"boxes\":[{\"id\":\"n1_B\",\"created_at\":\"2026-01-02T00:00:00Z\"},"
        "{\"id\":\"n1_A\",\"created_at\":\"2026-01-01T00:00:00Z\"}]}");
    json_t *b = body(
        "{\"node\":\"n2\",\"boxes\":[{\"id\":\"n2_C\",\"created_at\":\"2026-01-01T12:00:00Z\"}]}");
    json_t *a_again = body(
        "{\"node\":\"n1\",\"boxes\":[{\"id\":\"n1_B\",\"created_at\":\"2026-01-02T00:00:00Z\"},"
        "{\"id\":\"n1_A\",\"created_at\":\"2026-01-01T00:00:00Z\"}]}");
    cluster_part parts[] = {{"local", a, NULL}, {"p2", b, NULL}, {"p1-by-dns", a_again, NULL}};
    json_t *m = cluster_merge_list(parts, 3, "boxes", "id", "created_at");
    assert_int_equal(json_array_size(json_object_get(m, "boxes")), 3);
    assert_string_equal(id_at(m, "boxes", 0), "n1_A");
    assert_string_equal(id_at(m, "boxes", 1), "n2_C");
    assert_string_equal(id_at(m, "boxes", 2), "n1_B");
    assert_int_equal(json_array_size(json_object_get(m, "nodes")), 2);
    assert_int_equal(json_array_size(json_object_get(m, "missing_nodes")), 0);
    /* The same answers in another order: the same list. */
    cluster_part swapped[] = {{"p2", b, NULL}, {"local", a, NULL}};
    json_t *m2 = cluster_merge_list(swapped, 2, "boxes", "id", "created_at");
    assert_true(json_equal(json_object_get(m, "boxes"), json_object_get(m2, "boxes")));
    json_decref(m);
    json_decref(m2);
    json_decref(a);
    json_decref(b);
    json_decref(a_again);
}

static void merge_names_missing_nodes(void **state)
{
    (void)state;
    json_t *a = body("{\"node\":\"n1\",\"boxes\":[{\"id\":\"n1_A\"}]}");
    json_t *bad = body("{\"node\":\"n3\",\"boxes\":{\"not\":\"a list\"}}");
    cluster_part parts[] = {{"local", a, NULL},
                            {"10.0.0.2:8100", NULL, "Couldn't connect to server"},
                            {"10.0.0.3:8100", bad, NULL}};
    json_t *m = cluster_merge_list(parts, 3, "boxes", "id", NULL);
    json_t *missing = json_object_get(m, "missing_nodes");
    assert_int_equal(json_array_size(json_object_get(m, "boxes")), 1);
    assert_int_equal(json_array_size(missing), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(missing, 0), "peer")),
                        "10.0.0.2:8100");
    assert_string_equal(json_string_value(json_object_get(json_array_get(missing, 0), "error")),
                        "Couldn't connect to server");
    assert_string_equal(json_string_value(json_object_get(json_array_get(missing, 1), "error")),
                        "malformed answer");
    json_decref(m);
    json_decref(a);
    json_decref(bad);
}

static void merge_unnamed_nodes_are_not_one(void **state)
{
    (void)state; /* nodes without --node say no name: each still counts */
    json_t *a = body("{\"images\":[{\"id\":\"host\"},{\"id\":\"sha256:1\"}]}");
    json_t *b = body("{\"images\":[{\"id\":\"host\"},{\"id\":\"sha256:2\"}]}");
    cluster_part parts[] = {{"local", a, NULL}, {"p", b, NULL}};
    json_t *m = cluster_merge_list(parts, 2, "images", "id", NULL);
    assert_int_equal(json_array_size(json_object_get(m, "images")), 3); /* host once */
    json_decref(m);
    json_decref(a);
    json_decref(b);
}

static void merge_metrics(void **state)
{
    (void)state;
    json_t *a = body("{\"node\":\"n1\",\"requests\":5,\"errors\":1,\"uptime_ms\":100}");
    json_t *b = body("{\"node\":\"n2\",\"requests\":7,\"errors\":2,\"uptime_ms\":300}");
    cluster_part parts[] = {{"local", a, NULL}, {"p", b, NULL}, {"q", NULL, "timed out"}};
    json_t *m = cluster_merge_metrics(parts, 3);
    assert_int_equal(json_integer_value(json_object_get(m, "requests")), 12);
    assert_int_equal(json_integer_value(json_object_get(m, "errors")), 3);
    assert_int_equal(json_integer_value(json_object_get(m, "uptime_ms")), 300);
    assert_non_null(json_object_get(json_object_get(m, "per_node"), "n2"));
    assert_int_equal(json_array_size(json_object_get(m, "missing_nodes")), 1);
    json_decref(m);
    json_decref(a);
    json_decref(b);
}

static void node_names(void **state)
{
    (void)state;
    assert_true(node_name_ok("n1"));
    assert_true(node_name_ok("rack-7-node-12"));
    assert_true(node_name_ok("abcdefghijklmnopqrstuvwxyz01234")); /* 31 */
    assert_false(node_name_ok("abcdefghijklmnopqrstuvwxyz012345"));
    assert_false(node_name_ok(""));
    assert_false(node_name_ok("-n1"));
    assert_false(node_name_ok("n1-"));
    assert_false(node_name_ok("N1"));
    assert_false(node_name_ok("n_1"));
    assert_false(node_name_ok("n1/x"));
    assert_false(node_name_ok("n1 x"));
}

static void node_tags(void **state)
{
    (void)state;
    char tag[NODE_NAME_MAX + 1];
    assert_true(node_tag_of("n1_" ULID, tag, sizeof tag));
    assert_string_equal(tag, "n1");
    assert_false(node_tag_of(ULID, tag, sizeof tag));           /* an untagged id */
    assert_false(node_tag_of("web_server", tag, sizeof tag));   /* a name with '_' */
    assert_false(node_tag_of("n1_01M8Y7", tag, sizeof tag));    /* a prefix */
    assert_false(node_tag_of("n1_" ULID "X", tag, sizeof tag)); /* too long */
    assert_false(node_tag_of("n1_01m8y7ynk4n26f4bz3kanav1k5", tag, sizeof tag)); /* lowercase */
    assert_false(node_tag_of("N1_" ULID, tag, sizeof tag)); /* not a node name */
    assert_false(node_tag_of("_" ULID, tag, sizeof tag));
    assert_string_equal(tag, "");
}

static void node_localizes_its_own_tag_only(void **state)
{
    (void)state;
    server_t s = {0};
    route_params p;
    snprintf(s.node, sizeof s.node, "n1");
    snprintf(p.box_id, sizeof p.box_id, "n1_" ULID);
    node_localize(&s, &p);
    assert_string_equal(p.box_id, ULID);
    snprintf(p.box_id, sizeof p.box_id, "n2_" ULID);
    node_localize(&s, &p);
    assert_string_equal(p.box_id, "n2_" ULID); /* another node's: left for a 404 */
    snprintf(p.box_id, sizeof p.box_id, "web");
    node_localize(&s, &p);
    assert_string_equal(p.box_id, "web");
    char out[64];
    assert_string_equal(node_tag_id(&s, ULID, out, sizeof out), "n1_" ULID);
    s.node[0] = '\0'; /* no --node: ids as they are, tags left alone */
    assert_string_equal(node_tag_id(&s, ULID, out, sizeof out), ULID);
    snprintf(p.box_id, sizeof p.box_id, "n1_" ULID);
    node_localize(&s, &p);
    assert_string_equal(p.box_id, "n1_" ULID);
}

static void peers_lists(void **state)
{
    (void)state;
    char **v = NULL;
    size_t n = 0;
    err_t e;
    assert_int_equal(peers_parse("127.0.0.2:8100,[::1]:9000,boxlet.default.svc:8100", &v, &n, &e),
                     0);
    assert_int_equal(n, 3);
    assert_string_equal(v[1], "[::1]:9000");
    strv_free_n(v, n);
    static const char *const bad[] = {"",          "host",         "host:",     ":8100",
                                      "host:0",    "host:65536",   "host:80x",  "a:1,,b:2",
                                      "[::1:8100", "user@host:80", "host/x:80", "h:1,"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (peers_parse(bad[i], &v, &n, &e) == 0) fail_msg("--peers \"%s\" was taken", bad[i]);
        assert_null(v);
        assert_int_equal(n, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(merge_sorts_and_dedupes),
        cmocka_unit_test(merge_names_missing_nodes),
        cmocka_unit_test(merge_unnamed_nodes_are_not_one),
        cmocka_unit_test(merge_metrics),
        cmocka_unit_test(node_names),
        cmocka_unit_test(node_tags),
        cmocka_unit_test(node_localizes_its_own_tag_only),
        cmocka_unit_test(peers_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
