/* What a box's cgroups hold right after its start: its init in each of the
 * box's groups (also when the launcher was moved into them early, see
 * premove in src/runtime/ns.c), and no more than 1 MiB charged to its
 * memory group — the host's work to start it (the disk image's mount:
 * page cache and kernel memory, ~1 MiB) is not the box's. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* The pids in hierarchy h's group of the box, as one line; "" if none. */
static void procs(boxlet_box *b, const char *h, char *out, size_t n)
{
    char p[256];
    snprintf(p, sizeof p, "/sys/fs/cgroup/%s/boxlet/%s/cgroup.procs", h, boxlet_box_id(b));
    out[0] = '\0';
    FILE *f = fopen(p, "r");
    if (!f) return;
    int pid;
    size_t len = 0;
    while (fscanf(f, "%d", &pid) == 1 && len < n - 16)
        len += (size_t)snprintf(out + len, n - len, "%d ", pid);
    fclose(f);
}

static long long memory_usage(boxlet_box *b)
{
    char p[256];
    snprintf(p, sizeof p, "/sys/fs/cgroup/memory/boxlet/%s/memory.usage_in_bytes",
             boxlet_box_id(b));
    FILE *f = fopen(p, "r");
    if (!f) return -1;
    long long v = -1;
    if (fscanf(f, "%lld", &v) != 1) v = -1;
    fclose(f);
    return v;
}

static void a_started_box_is_charged_for_itself_alone(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    if (access("/sys/fs/cgroup/memory/cgroup.procs", F_OK) != 0) skip();
    box_env env;
    box_env_open(&env);
    boxlet_box *b = box_up(&env, NULL); /* with its disk quota: a loop mount */
    char mem[256], other[256];
    procs(b, "memory", mem, sizeof mem);
    printf("memory group: %s\n", mem);
    assert_int_not_equal(mem[0], '\0'); /* the init is in it */
    static const char *const hs[] = {"pids", "cpu", "unified"};
    for (size_t i = 0; i < 3; i++) {
        procs(b, hs[i], other, sizeof other);
        if (other[0]) assert_string_equal(other, mem); /* the same processes everywhere */
    }
    long long used = memory_usage(b);
    printf("charged to the box: %lld KiB\n", used >> 10);
    assert_true(used > 0);
    assert_true(used < (1ll << 20));
    boxlet_box_free(b);
    box_env_close(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_started_box_is_charged_for_itself_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
