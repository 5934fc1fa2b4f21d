/* What box code can touch of the kernel and of its own agent. Each test
 * attacks a real box (python3 from the `host` image's /usr, ctypes for raw
 * system calls): the system calls Docker's default profile refuses
 * (io_uring, AF_VSOCK sockets — on a VM host the hypervisor listens there —,
 * kcmp, modify_ldt, personality beyond the harmless values); the /proc and
 * /sys files runc masks or makes read-only; core dumps; raw sockets; the
 * agent (PID 1) through ptrace and /proc/1; host paths in mountinfo. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static box_env env;
static boxlet_box *box;

static int setup(void **state)
{
    (void)state;
    if (!running_as_root()) return 0;
    box_env_open(&env);
    box = box_up(&env, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (!running_as_root()) return 0;
    boxlet_box_free(box);
    box_env_close(&env);
    return 0;
}

/* Runs python3 code in the box as user (NULL: root); returns its stdout. */
static char *py(const char *code, const char *user)
{
    boxlet_cmd *c = boxlet_cmd_new("python3", "-c", code, NULL);
    if (user) boxlet_cmd_setuser(c, user);
    boxlet_exit st;
    char *out = NULL, *err = NULL;
    assert_int_equal(boxlet_run(box, c, 1u << 20, &st, &out, NULL, &err, NULL), BOXLET_OK);
    boxlet_cmd_free(c);
    printf("%s%s", out, err);
    free(err);
    return out;
}

static void expect(const char *out, const char *line)
{
    if (!strstr(out, line)) fail_msg("want \"%s\" in the box's answer", line);
}

/* "NAME errno N" or "NAME ok", for a raw syscall. */
static const char syscall_prelude[] =
    "import ctypes, os\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "libc.syscall.restype = ctypes.c_long\n"
    "def sc(name, nr, *args):\n"
    "    r = libc.syscall(nr, *[ctypes.c_ulong(a) for a in args])\n"
    "    print(name, 'errno %d' % ctypes.get_errno() if r < 0 else 'ok')\n";

static void refused_syscalls(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    char code[4096];
    snprintf(code, sizeof code,
             "%s"
             "params = ctypes.create_string_buffer(120)\n"
             "sc('io_uring_setup', 425, 4, ctypes.addressof(params))\n"
             "sc('io_uring_enter', 426, 0, 0, 0, 0, 0, 0)\n"
             "sc('io_uring_register', 427, 0, 0, 0, 0)\n"
             "sc('vsock', 41, 40, 1, 0)\n" /* socket(AF_VSOCK, SOCK_STREAM, 0) */
             "sc('kcmp', 312, os.getpid(), os.getpid(), 0, 0, 0)\n"
             "buf = ctypes.create_string_buffer(64)\n"
             "sc('modify_ldt', 154, 0, ctypes.addressof(buf), 64)\n"
             "sc('personality-addr-no-randomize', 135, 0x0040000)\n"
             "sc('personality-read-implies-exec', 135, 0x0400000)\n"
             "sc('personality-query', 135, 0xffffffff)\n"
             "sc('personality-linux32', 135, 8)\n"
             "sc('personality-linux', 135, 0)\n",
             syscall_prelude);
    char *out = py(code, NULL);
    expect(out, "io_uring_setup errno 1\n");
    expect(out, "io_uring_enter errno 1\n");
    expect(out, "io_uring_register errno 1\n");
    expect(out, "vsock errno 1\n");
    expect(out, "kcmp errno 1\n");
    expect(out, "modify_ldt errno 1\n");
    expect(out, "personality-addr-no-randomize errno 1\n");
    expect(out, "personality-read-implies-exec errno 1\n");
    expect(out, "personality-query ok\n");
    expect(out, "personality-linux32 ok\n");
    expect(out, "personality-linux ok\n");
    free(out);
}

/* Masked: a file reads empty (or cannot be opened), a directory lists
 * empty. Read-only: the mount says so. Only paths this kernel has. */
static void proc_and_sys_masked(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    static const char code[] =
        "import os\n"
        "files = ['/proc/kcore', '/proc/keys', '/proc/kallsyms', '/proc/timer_list',\n"
        "         '/proc/sched_debug', '/proc/latency_stats', '/proc/timer_stats']\n"
        "dirs = ['/proc/acpi', '/proc/asound', '/proc/scsi', '/sys/firmware',\n"
        "        '/sys/devices/virtual/powercap']\n"
        "ro = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']\n"
        "for f in files:\n"
        "    if not os.path.exists(f): continue\n"
        "    try:\n"
        "        with open(f, 'rb') as h: n = len(h.read(4096))\n"
        "        print(f, 'read', n)\n"
        "    except OSError as e: print(f, 'read', 0, e)\n"
        "for d in dirs:\n"
        "    if os.path.exists(d): print(d, 'entries', len(os.listdir(d)))\n"
        "for p in ro:\n"
        "    if os.path.exists(p): print(p, 'readonly', bool(os.statvfs(p).f_flag & 1))\n"
        "try:\n"
        "    open('/proc/sys/kernel/hostname', 'w').write('x')\n"
        "    print('sysctl write ok')\n"
        "except OSError as e: print('sysctl write refused', e.errno)\n"
        "print('done')\n";
    char *out = py(code, NULL);
    expect(out, "sysctl write refused 30\n"); /* EROFS */
    expect(out, "done\n");
    for (char *l = out; *l;) {
        char *nl = strchr(l, '\n');
        if (!nl) break;
        *nl = '\0';
        if (strstr(l, " read ")) assert_non_null(strstr(l, " read 0"));
        if (strstr(l, " entries ")) assert_non_null(strstr(l, " entries 0"));
        if (strstr(l, " readonly ")) assert_non_null(strstr(l, " readonly True"));
        l = nl + 1;
    }
    free(out);
}

static void no_core_dumps_no_raw_sockets(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    static const char code[] =
        "import resource, socket, os, struct\n"
        "print('core', resource.getrlimit(resource.RLIMIT_CORE))\n"
        "try:\n"
        "    resource.setrlimit(resource.RLIMIT_CORE, (1 << 20, 1 << 20)); print('core raised')\n"
        "except (ValueError, OSError): print('core stays 0')\n"
        "try:\n"
        "    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); print('raw ok')\n"
        "except OSError as e: print('raw refused', e.errno)\n";
    char *out = py(code, NULL);
    expect(out, "core (0, 0)\n");
    expect(out, "core stays 0\n");
    expect(out, "raw refused 1\n");
    free(out);
    /* Unprivileged ping (ICMP datagram sockets) still works, for any user. */
    static const char ping[] =
        "import socket, struct\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)\n"
        "s.settimeout(5)\n"
        "s.sendto(struct.pack('!BBHHH', 8, 0, 0, 0, 1) + b'boxlet', ('127.0.0.1', 0))\n"
        "d = s.recv(100)\n"
        "print('echo reply' if d[0] == 0 and d.endswith(b'boxlet') else 'bad reply')\n";
    out = py(ping, "1000");
    expect(out, "echo reply\n");
    free(out);
}

/* Box root against the agent: its descriptors (its log is a host file),
 * its memory, ptrace. Commands the agent starts stay dumpable. */
static void agent_is_out_of_reach(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    char code[4096];
    snprintf(code, sizeof code,
             "%s"
             "for p in ['/proc/1/fd/1', '/proc/1/fd/2', '/proc/1/mem', '/proc/1/environ']:\n"
             "    try:\n"
             "        open(p, 'rb').close(); print(p, 'opened')\n"
             "    except OSError as e: print(p, 'refused', e.errno)\n"
             "sc('ptrace-seize', 101, 0x4206, 1, 0, 0)\n" /* PTRACE_SEIZE: does not stop it */
             "print('dumpable', libc.prctl(3, 0, 0, 0, 0))\n",
             syscall_prelude);
    char *out = py(code, NULL);
    expect(out, "/proc/1/fd/1 refused 13\n");
    expect(out, "/proc/1/fd/2 refused 13\n");
    expect(out, "/proc/1/mem refused 13\n");
    expect(out, "/proc/1/environ refused 13\n");
    expect(out, "ptrace-seize errno 1\n");
    expect(out, "dumpable 1\n");
    free(out);
    out = py("import ctypes; print('dumpable', ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))", "1000");
    expect(out, "dumpable 1\n");
    free(out);
}

/* The overlay's options, the generated /etc files and the agent's socket
 * directory used to name their host paths under $BOXLET_HOME. */
static void mountinfo_shows_no_host_path(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    char *out = py("print(open('/proc/self/mountinfo').read())", NULL);
    for (char *l = out; *l;) {
        char *nl = strchr(l, '\n');
        if (nl) *nl = '\0';
        if (strstr(l, env.home))
            fail_msg("the box's mountinfo names the host's \"%s\": %s", env.home, l);
        if (!nl) break;
        l = nl + 1;
    }
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refused_syscalls),
        cmocka_unit_test(proc_and_sys_masked),
        cmocka_unit_test(no_core_dumps_no_raw_sockets),
        cmocka_unit_test(agent_is_out_of_reach),
        cmocka_unit_test(mountinfo_shows_no_host_path),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
