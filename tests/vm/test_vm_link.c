/* The micro-VM's link (docs/vm.md): one QEMU microvm (TCG unless KVM is
 * asked for) is booted once from what scripts/vm-setup.sh made
 * ($BOXLET_VM_DIR), its init being boxlet-agent --vm-init, and the host end
 * of the multiplexed virtio-serial link (boxlet-agent --vmux-host) serves a
 * unix socket every check connects to: the agent protocol's exec contract
 * (output per stream, exit codes, a missing program), several connections at
 * once, a stalled reader that must not stop the others, and a clean stop. Boot time is
 * printed, never asserted. Skips only when qemu-system-x86_64 is missing. */
#include "harness.h"

#include "core/util.h"
#include "runtime/vmlaunch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define BOOT_TIMEOUT_MS 300000 /* TCG on a loaded machine: generous */
#define RUN_TIMEOUT_MS 120000

static struct vm {
    char dir[64];
    vm_proc proc;
    bool kvm;      /* what the probe found: the boots use it */
    agent_proc ap; /* only its sock: where hc_open connects */
} vm;

static bool have_qemu(void)
{
    return system("command -v qemu-system-x86_64 >/dev/null 2>&1") == 0;
}

static void vm_down(void)
{
    vm_kill(&vm.proc);
    if (vm.dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", vm.dir);
        if (system(cmd) != 0) fprintf(stderr, "test_vm_link: could not remove %s\n", vm.dir);
        vm.dir[0] = 0;
    }
}

/* The box's disks: a busybox image as EROFS (the root, read-only) and an
 * empty sparse ext4 file (its writable layer). */
static int make_disks(void)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "set -e; d=%s; mkdir -p $d/img/bin $d/img/etc $d/img/root $d/img/dev $d/img/proc "
             "$d/img/sys $d/img/run $d/img/tmp; cp /bin/busybox $d/img/bin/; "
             "for a in sh cat head uname tr sleep echo; do ln -s busybox $d/img/bin/$a; done; "
             "echo from-the-image > $d/img/etc/marker; "
             "mkfs.erofs $d/root.erofs $d/img >/dev/null 2>&1; truncate -s 64M $d/upper.ext4; "
             "mkfs.ext4 -q -F $d/upper.ext4 >/dev/null 2>&1",
             vm.dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int boot(void)
{
    char root[96], upper[96];
    snprintf(root, sizeof root, "%s/root.erofs", vm.dir);
    snprintf(upper, sizeof upper, "%s/upper.ext4", vm.dir);
    vm_launch l = {.images = getenv("BOXLET_VM_DIR"),
                   .dir = vm.dir,
                   .agent = getenv("BOXLET_AGENT"),
                   .root_image = root,
                   .upper_image = upper,
                   .kvm = vm.kvm,
                   .die_with_us = true,
                   .timeout_ms = BOOT_TIMEOUT_MS};
    err_t e = {0};
    if (vm_start(&l, &vm.proc, &e) < 0) {
        fprintf(stderr, "test_vm_link: %s\n", e.msg);
        return -1;
    }
    fprintf(stderr, "test_vm_link: booted to the agent in %lld ms (%s)\n",
            (long long)vm.proc.boot_ms, vm.kvm ? "KVM" : "TCG");
    return 0;
}

static int vm_up(void **state)
{
    (void)state;
    if (!have_qemu() || !getenv("BOXLET_VM_DIR"))
        return 0; /* each test skips or fails, saying why */
    snprintf(vm.dir, sizeof vm.dir, "/tmp/boxlet-vm.XXXXXX");
    if (!mkdtemp(vm.dir)) return -1;
    snprintf(vm.ap.sock, sizeof vm.ap.sock, "%s/agent.sock", vm.dir);
    /* Whatever the probe says, the VM must boot with it (KVM answers in
     * well under a second where it works; 10 s is the cost where not). */
    vm_launch probe = {.images = getenv("BOXLET_VM_DIR"),
                       .dir = vm.dir,
                       .agent = getenv("BOXLET_AGENT"),
                       .die_with_us = true};
    vm.kvm = vm_kvm_works(&probe, 10000);
    fprintf(stderr, "test_vm_link: KVM %s here (probed)\n", vm.kvm ? "works" : "does not work");
    if (make_disks() < 0 || boot() < 0) {
        vm_down();
        return -1;
    }
    return 0;
}

static int vm_teardown(void **state)
{
    (void)state;
    vm_down();
    return 0;
}

static void need_vm(void)
{
    if (!have_qemu())
        fail_msg("qemu-system-x86_64 is not installed (make test installs it: sh scripts/deps.sh)");
    if (!vm.dir[0]) fail_msg("no VM: BOXLET_VM_DIR is not set (ctest's vm/setup makes it)");
}

static char *out_of(run_result *r)
{
    char *s = xcalloc(1, r->out.len + 1);
    memcpy(s, buf_data(&r->out), r->out.len);
    return s;
}

static void run_ok(hconn *h, const char *script, run_result *r)
{
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    proto_exec_start s = hc_cmd(argv);
    run_result_init(r);
    assert_int_equal(hc_run(h, &s, r, RUN_TIMEOUT_MS), 0);
}

/* Output per stream and the exit code come back as from a namespaces box;
 * the kernel is the guest's own. */
static void exec_contract(void **state)
{
    (void)state;
    need_vm();
    hconn *h = hc_open(&vm.ap);
    run_result r;
    run_ok(h, "echo out; echo err >&2; exit 3", &r);
    assert_int_equal(r.exit.exit_code, 3);
    assert_int_equal(r.out.len, 4);
    assert_memory_equal(buf_data(&r.out), "out\n", 4);
    assert_int_equal(r.err.len, 4);
    assert_memory_equal(buf_data(&r.err), "err\n", 4);
    run_result_free(&r);

    run_ok(h, "uname -r; cat /proc/1/cmdline | tr '\\0' ' '; cat /etc/marker", &r);
    char *out = out_of(&r);
    assert_non_null(strstr(out, "from-the-image\n")); /* the image is the root */
    assert_non_null(strstr(out, "cloud-amd64\n"));    /* Debian's cloud kernel, booted */
    assert_non_null(strstr(out, "--vm-init"));        /* PID 1 is the agent as init */
    free(out);
    run_result_free(&r);

    const char *missing[] = {"/no/such/program", NULL};
    proto_exec_start s = hc_cmd(missing);
    run_result_init(&r);
    hreply rep;
    char *id = hc_start(h, &s, &rep);
    /* The exec contract: refused at start, or started and exits 127. */
    if (id) {
        assert_int_equal(hc_attach(h, id, 1, 0, 0, true, &r), 0);
        assert_int_equal(hc_wait_exit(h, &r, RUN_TIMEOUT_MS), 0);
        assert_int_equal(r.exit.exit_code, 127);
    } else {
        assert_int_equal(rep.type, PROTO_ERROR);
    }
    free(id);
    hreply_free(&rep);
    run_result_free(&r);
    hc_close(h);
}

/* Several connections at once, each its own stream over the one port: a
 * long execution on one does not hold up a short one on another. */
static void connections_are_independent(void **state)
{
    (void)state;
    need_vm();
    hconn *a = hc_open(&vm.ap), *b = hc_open(&vm.ap);
    const char *slow[] = {"/bin/sh", "-c", "read line; echo got $line", NULL};
    proto_exec_start s = hc_cmd(slow);
    run_result ra, rb;
    run_result_init(&ra);
    char *id = hc_start(a, &s, NULL);
    assert_non_null(id);
    assert_int_equal(hc_attach(a, id, 1, 0, 0, true, &ra), 0);
    run_ok(b, "echo quick", &rb); /* while a's execution waits for its stdin */
    assert_int_equal(rb.out.len, 6);
    assert_false(ra.got_exit);
    assert_int_equal(hc_stdin(a, 1, 0, "x\n", 2), 0);
    assert_int_equal(hc_wait_exit(a, &ra, RUN_TIMEOUT_MS), 0);
    char *out = out_of(&ra);
    assert_string_equal(out, "got x\n");
    free(out);
    free(id);
    run_result_free(&ra);
    run_result_free(&rb);
    hc_close(a);
    hc_close(b);
}

/* A connection whose reader stalls with far more than every window in
 * flight toward it: the others go on. Were the link one shared pipe, the
 * stalled stream would fill it and the quick run would never finish. */
static void stalled_reader_stops_only_itself(void **state)
{
    (void)state;
    need_vm();
    hconn *a = hc_open(&vm.ap);
    const char *flood[] = {"/bin/sh", "-c", "head -c 64000000 /dev/zero", NULL};
    proto_exec_start s = hc_cmd(flood);
    s.attach_chan = 1;
    run_result ra;
    run_result_init(&ra);
    char *id = hc_start(a, &s, NULL); /* attached from byte 0; never read again */
    assert_non_null(id);
    hconn *b = hc_open(&vm.ap);
    for (int i = 0; i < 3; i++) {
        run_result rb;
        run_ok(b, "echo still here", &rb);
        assert_int_equal(rb.out.len, 11);
        run_result_free(&rb);
    }
    hc_close(b);
    free(id);
    run_result_free(&ra);
    hc_close(a); /* its stream is closed on both ends; the VM serves on */
    hconn *c = hc_open(&vm.ap);
    run_result rc;
    run_ok(c, "echo after", &rc);
    assert_int_equal(rc.out.len, 6);
    run_result_free(&rc);
    hc_close(c);
}

/* Last: the host asks the guest to stop; its init stops the agent, syncs
 * and powers off, and QEMU exits by itself (status 0), not killed. */
static void stop_powers_off(void **state)
{
    (void)state;
    need_vm();
    hconn *h = hc_open(&vm.ap);
    run_result r;
    run_ok(h, "echo kept > /root/note; echo changed > /etc/marker", &r);
    run_result_free(&r);
    hc_close(h);
    assert_int_equal(vm_stop(&vm.proc, RUN_TIMEOUT_MS), 0);
    assert_int_equal(vm.proc.qemu, 0);
}

/* After the stop: booted again on the same disks, the box's writes are
 * there (its writable layer) over the unchanged image. */
static void restart_keeps_the_writable_layer(void **state)
{
    (void)state;
    need_vm();
    assert_int_equal(boot(), 0);
    hconn *h = hc_open(&vm.ap);
    run_result r;
    run_ok(h, "cat /root/note /etc/marker", &r);
    char *out = out_of(&r);
    assert_string_equal(out, "kept\nchanged\n");
    free(out);
    run_result_free(&r);
    hc_close(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exec_contract),
        cmocka_unit_test(connections_are_independent),
        cmocka_unit_test(stalled_reader_stops_only_itself),
        cmocka_unit_test(stop_powers_off),
        cmocka_unit_test(restart_keeps_the_writable_layer),
    };
    atexit(vm_down);
    return cmocka_run_group_tests(tests, vm_up, vm_teardown);
}
