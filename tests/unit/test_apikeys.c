/* test_apikeys — issued API keys (src/server/apikeys.c): a grant bounded
 * by its issuer's permissions and expiry, the store holding hashes only
 * and surviving a reopen, expiry and revocation refusing a key, who may
 * revoke what, and the permission each kind of request needs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/apikeys.h"

static char dir[] = "/tmp/boxlet-apikeys.XXXXXX";

static void test_grants(void **state)
{
    (void)state;
    err_t e;
    apikeys_t *k = apikeys_open(dir, &e);
    assert_non_null(k);
    principal_t root = {.perms = PERM_ALL}, who;
    char v1[64], v2[64], v3[64];
    assert_int_equal(apikeys_issue(k, &root, "w", PERM_WRITE_BOXES, 0, 1000, v1, sizeof v1, &e), 0);
    assert_true(apikeys_check(k, v1, strlen(v1), 2000, &who));
    assert_true(who.issued && who.perms == PERM_WRITE_BOXES);
    assert_string_equal(who.name, "w");
    assert_false(apikeys_check(k, v1, strlen(v1) - 1, 2000, &who));
    /* more than it holds */
    assert_true(apikeys_issue(k, &who, "d", PERM_DELETE_BOXES, 0, 2000, v2, sizeof v2, &e) < 0);
    assert_non_null(strstr(e.msg, "delete:boxes"));
    assert_int_equal(apikeys_issue(k, &root, "w", PERM_WRITE_BOXES, 0, 1000, v2, sizeof v2, &e) < 0,
                     1); /* name taken */
    assert_int_equal(
        apikeys_issue(k, &root, "a/b", PERM_WRITE_BOXES, 0, 1000, v2, sizeof v2, &e) < 0, 1);
    /* an expiring issuer bounds its children */
    assert_int_equal(apikeys_issue(k, &root, "e", PERM_WRITE_BOXES, 5000, 1000, v2, sizeof v2, &e),
                     0);
    principal_t exp;
    assert_true(apikeys_check(k, v2, strlen(v2), 1000, &exp));
    assert_int_equal(exp.expires_ms, 5000);
    assert_true(apikeys_issue(k, &exp, "later", PERM_WRITE_BOXES, 9000, 1000, v3, sizeof v3, &e) <
                0);
    assert_int_equal(apikeys_issue(k, &exp, "child", PERM_WRITE_BOXES, 0, 1000, v3, sizeof v3, &e),
                     0);
    principal_t child;
    assert_true(apikeys_check(k, v3, strlen(v3), 1000, &child));
    assert_int_equal(child.expires_ms, 5000);                   /* inherited */
    assert_false(apikeys_check(k, v2, strlen(v2), 5000, &exp)); /* expired */
    /* revocation: only the issuer (or the server's key) */
    assert_true(apikeys_revoke(k, &who, "child", &e) < 0);
    assert_int_equal(apikeys_revoke(k, &exp, "child", &e), 0);
    assert_false(apikeys_check(k, v3, strlen(v3), 1000, &child));
    apikeys_free(k);
    /* the store: hashes only, and it survives a reopen */
    char path[256], text[4096] = "";
    snprintf(path, sizeof path, "%s/api-keys.json", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t got = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[got] = '\0';
    assert_null(strstr(text, v1));
    k = apikeys_open(dir, &e);
    assert_non_null(k);
    assert_true(apikeys_check(k, v1, strlen(v1), 2000, &who));
    apikeys_free(k);
    unlink(path);
}

static void test_needed(void **state)
{
    (void)state;
    assert_int_equal(apikeys_needed("GET", "/boxes", false), 0);
    assert_int_equal(apikeys_needed("HEAD", "/boxes/{box_id}", false), 0);
    assert_int_equal(apikeys_needed("POST", "/boxes", false), PERM_WRITE_BOXES);
    assert_int_equal(apikeys_needed("PUT", "/boxes/{box_id}/files", false), PERM_WRITE_BOXES);
    assert_int_equal(apikeys_needed("DELETE", "/boxes/{box_id}", false), PERM_DELETE_BOXES);
    assert_int_equal(apikeys_needed("DELETE", "/boxes/{box_id}/executions/{exec_id}", false),
                     PERM_WRITE_BOXES);
    assert_int_equal(apikeys_needed("GET", "/boxes/{box_id}/executions/{exec_id}/attach", true),
                     PERM_WRITE_BOXES);
    assert_int_equal(apikeys_needed("GET", "/volumes", false), PERM_READ_VOLUMES);
    assert_int_equal(apikeys_needed("DELETE", "/volumes/{volume_id}", false), PERM_DELETE_VOLUMES);
    assert_int_equal(apikeys_needed("POST", "/api-keys", false), 0);
    assert_int_equal(apikeys_perm_of("write:boxes"), PERM_WRITE_BOXES);
    assert_int_equal(apikeys_perm_of("root"), 0);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grants),
        cmocka_unit_test(test_needed),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(dir);
    return rc;
}
