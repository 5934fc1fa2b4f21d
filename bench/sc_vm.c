/* sc_vm — the micro-VM rows (docs/vm.md): a QEMU microvm's cold start to a
 * finished first execution, the exec round trip and the stdout throughput
 * over its multiplexed virtio-serial link, each row named vm-tcg (or
 * vm-kvm). Under TCG (this machine) the numbers are recorded, not targets.
 * Needs qemu-system-x86_64 and $BOXLET_VM_DIR (scripts/vm-setup.sh's
 * output, with a busybox as the tests make it); without them the scenario
 * is skipped with a note. */
#include "bench.h"

#include "runtime/agent_client.h"
#include "runtime/vmlaunch.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VM_BOOT_TIMEOUT_MS 300000

typedef struct vm_ctx {
    const char *images, *agent;
    char dir[64], sock[96];
    vm_proc proc;
    unsigned long long bytes;
} vm_ctx;

/* Runs /bin/sh -c script in the VM on a new connection; the stdout bytes,
 * or -1. */
static long long vm_run(const char *sock, const char *script)
{
    agent_client *c;
    err_t e;
    if (agent_client_connect(sock, 60000, &c, &e) < 0) return -1;
    char *args[] = {(char *)"-c", (char *)script};
    proto_msg m = {.type = PROTO_EXEC_START,
                   .u.start = {.req = agent_client_next_req(c),
                               .command = (char *)"/bin/sh",
                               .argc = 2,
                               .args = args,
                               .reconnect_grace_ms = -1,
                               .attach_chan = 1}};
    long long out = agent_client_send(c, &m, 60000, &e) < 0 ? -1 : 0;
    int rc;
    while (out >= 0 && (rc = agent_client_recv(c, &m, 120000, &e)) > 0) {
        int type = m.type;
        if (type == PROTO_OUTPUT && m.u.output.stream == PROTO_STDOUT) out += m.u.output.data.len;
        bool bad = type == PROTO_ERROR || (type == PROTO_EXIT && m.u.exit.exit.exit_code != 0);
        proto_msg_free(&m);
        if (bad) out = -1;
        if (type == PROTO_EXIT || bad) break;
    }
    if (out >= 0 && rc <= 0) out = -1;
    agent_client_free(c);
    return out;
}

static int vm_up(vm_ctx *x)
{
    snprintf(x->dir, sizeof x->dir, "/tmp/boxlet-bench-vm.XXXXXX");
    if (!mkdtemp(x->dir)) return -1;
    snprintf(x->sock, sizeof x->sock, "%s/agent.sock", x->dir);
    vm_launch l = {.images = x->images,
                   .dir = x->dir,
                   .agent = x->agent,
                   .die_with_us = true,
                   .timeout_ms = VM_BOOT_TIMEOUT_MS};
    err_t e;
    if (vm_start(&l, &x->proc, &e) < 0) {
        note("vm: %s", e.msg);
        return -1;
    }
    return 0;
}

static void vm_down(vm_ctx *x)
{
    vm_kill(&x->proc);
    shell("rm -rf %s", x->dir);
}

static double cold(bench_t *b, void *ctx, int i)
{
    (void)b;
    (void)i;
    vm_ctx *x = ctx;
    double t0 = clock_ms();
    if (vm_up(x) < 0) return -1;
    long long r = vm_run(x->sock, "true");
    double ms = clock_ms() - t0;
    vm_down(x);
    return r < 0 ? -1 : ms;
}

static double roundtrip(bench_t *b, void *ctx, int i)
{
    (void)b;
    (void)i;
    vm_ctx *x = ctx;
    double t0 = clock_ms();
    return vm_run(x->sock, "true") < 0 ? -1 : clock_ms() - t0;
}

static double throughput(bench_t *b, void *ctx, int i)
{
    (void)i;
    vm_ctx *x = ctx;
    char script[64];
    snprintf(script, sizeof script, "head -c %llu /dev/zero", x->bytes);
    double t0 = clock_ms();
    long long got = vm_run(x->sock, script);
    double s = (clock_ms() - t0) / 1e3;
    (void)b;
    return got != (long long)x->bytes ? -1 : (double)got / 1e6 / s;
}

void scenario_vm(bench_t *b)
{
    vm_ctx x = {.images = getenv("BOXLET_VM_DIR"), .agent = getenv("BOXLET_AGENT")};
    if (!x.images || !x.agent || shell("command -v qemu-system-x86_64 >/dev/null") != 0) {
        note("vm: skipped (needs qemu-system-x86_64 and BOXLET_VM_DIR from scripts/vm-setup.sh)");
        return;
    }
    /* A boot takes seconds under TCG: few cold runs, and a throughput of
     * tens of MB, not the namespaces rows' GiB. */
    variant_t c = {"vm-tcg", cold};
    alternate(b, "cold", "ms", &c, 1, &x, b->smoke ? 1 : 5, 0);
    if (vm_up(&x) < 0) return;
    variant_t r = {"vm-tcg", roundtrip};
    alternate(b, "exec", "ms", &r, 1, &x, b->smoke ? 3 : b->runs, b->smoke ? 1 : b->warmup);
    x.bytes = b->smoke ? 1u << 20 : 64u << 20;
    variant_t t = {"vm-tcg", throughput};
    alternate(b, "tput", "MB/s", &t, 1, &x, b->smoke ? 1 : 5, 1);
    vm_down(&x);
}
