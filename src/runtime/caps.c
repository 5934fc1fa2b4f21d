/* caps — see caps.h. Why each capability outside Docker's default set is
 * refused is written next to it: these are the ones whose reason is
 * specific to boxlet's model; the rest are refused because nothing a box
 * runs needs them and each is one more kernel surface. */
#include "runtime/caps.h"

#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct cap_name {
    int num;
    const char *name;
    const char *refusal; /* NULL: in Docker's default set, may be added */
} cap_name;

#define REFUSED "it is outside Docker's default set, which is all a box may hold"
static const cap_name names[] = {
    {CAP_CHOWN, "CHOWN", NULL},
    {CAP_DAC_OVERRIDE, "DAC_OVERRIDE", NULL},
    {CAP_DAC_READ_SEARCH, "DAC_READ_SEARCH",
     "it opens files by handle, around the box's root (open_by_handle_at)"},
    {CAP_FOWNER, "FOWNER", NULL},
    {CAP_FSETID, "FSETID", NULL},
    {CAP_KILL, "KILL", NULL},
    {CAP_SETGID, "SETGID", NULL},
    {CAP_SETUID, "SETUID", NULL},
    {CAP_SETPCAP, "SETPCAP", NULL},
    {CAP_LINUX_IMMUTABLE, "LINUX_IMMUTABLE", REFUSED},
    {CAP_NET_BIND_SERVICE, "NET_BIND_SERVICE", NULL},
    {CAP_NET_BROADCAST, "NET_BROADCAST", REFUSED},
    {CAP_NET_ADMIN, "NET_ADMIN",
     "it reconfigures the box's network: its addresses, routes and the relay address of its "
     "allowed host ports"},
    {CAP_NET_RAW, "NET_RAW", NULL},
    {CAP_IPC_LOCK, "IPC_LOCK", REFUSED},
    {CAP_IPC_OWNER, "IPC_OWNER", REFUSED},
    {CAP_SYS_MODULE, "SYS_MODULE", "it loads kernel modules: the host's kernel"},
    {CAP_SYS_RAWIO, "SYS_RAWIO", "it gives raw access to devices and I/O ports"},
    {CAP_SYS_CHROOT, "SYS_CHROOT", NULL},
    {CAP_SYS_PTRACE, "SYS_PTRACE",
     "it ptraces any process of the box, the agent included, whose memory and descriptors (the "
     "host's connections to the box) only its non-dumpable state protects"},
    {CAP_SYS_PACCT, "SYS_PACCT", REFUSED},
    {CAP_SYS_ADMIN, "SYS_ADMIN",
     "it mounts, unshares and administers namespaces: the box's whole boundary"},
    {CAP_SYS_BOOT, "SYS_BOOT", REFUSED},
    {CAP_SYS_NICE, "SYS_NICE", REFUSED},
    {CAP_SYS_RESOURCE, "SYS_RESOURCE",
     "it raises hard resource limits (core dumps are kept off with one) and overrides reserved "
     "space"},
    {CAP_SYS_TIME, "SYS_TIME", "it sets the host's clock"},
    {CAP_SYS_TTY_CONFIG, "SYS_TTY_CONFIG", REFUSED},
    {CAP_MKNOD, "MKNOD", NULL},
    {CAP_LEASE, "LEASE", REFUSED},
    {CAP_AUDIT_WRITE, "AUDIT_WRITE", NULL},
    {CAP_AUDIT_CONTROL, "AUDIT_CONTROL", "it configures the host's audit system"},
    {CAP_SETFCAP, "SETFCAP", NULL},
    {CAP_MAC_OVERRIDE, "MAC_OVERRIDE", "it overrides the host's mandatory access control"},
    {CAP_MAC_ADMIN, "MAC_ADMIN", "it configures the host's mandatory access control"},
    {CAP_SYSLOG, "SYSLOG", "it reads the host's kernel log and kernel addresses"},
    {CAP_WAKE_ALARM, "WAKE_ALARM", REFUSED},
    {CAP_BLOCK_SUSPEND, "BLOCK_SUSPEND", "it keeps the host from suspending"},
    {CAP_AUDIT_READ, "AUDIT_READ", "it reads the host's audit log"},
    {CAP_PERFMON, "PERFMON",
     "it observes the host's performance counters (other processes' behaviour)"},
    {CAP_BPF, "BPF", "it loads BPF programs into the host's kernel"},
    {CAP_CHECKPOINT_RESTORE, "CHECKPOINT_RESTORE", REFUSED},
};
#define NNAMES (sizeof names / sizeof *names)

uint64_t caps_default(void)
{
    uint64_t m = 0;
    for (size_t i = 0; i < NNAMES; i++)
        if (!names[i].refusal && names[i].num != CAP_NET_RAW) m |= 1ull << names[i].num;
    return m; /* Docker's default minus NET_RAW: ping uses ICMP datagram sockets */
}

static const cap_name *lookup(const char *name)
{
    if (!strncasecmp(name, "CAP_", 4)) name += 4;
    for (size_t i = 0; i < NNAMES; i++)
        if (!strcasecmp(names[i].name, name)) return &names[i];
    return NULL;
}

int caps_parse(const char *name, char *out, size_t n, err_t *e)
{
    const cap_name *c = lookup(name);
    if (!c)
        return err_make(e, ERR_INVAL,
                        "capability \"%.64s\": not a Linux capability (want a name such as "
                        "NET_RAW or CAP_NET_RAW)",
                        name);
    snprintf(out, n, "%s", c->name);
    return c->num;
}

static int drop_mask(char *const *drop, size_t ndrop, uint64_t *m, err_t *e)
{
    for (size_t i = 0; i < ndrop; i++) {
        if (!strcasecmp(drop[i], "ALL")) {
            *m = 0;
            continue;
        }
        char canon[32];
        int num = caps_parse(drop[i], canon, sizeof canon, e);
        if (num < 0) return num;
        *m &= ~(1ull << num);
    }
    return 0;
}

int caps_resolve(char *const *add, size_t nadd, char *const *drop, size_t ndrop, uint64_t *out,
                 err_t *e)
{
    if (nadd > CAPS_MAX_NAMES || ndrop > CAPS_MAX_NAMES)
        return err_make(e, ERR_INVAL, "capabilities: at most %d names to add and to drop",
                        CAPS_MAX_NAMES);
    uint64_t m = caps_default();
    int rc = drop_mask(drop, ndrop, &m, e);
    for (size_t i = 0; rc == 0 && i < nadd; i++) {
        const cap_name *c = lookup(add[i]);
        if (!c)
            rc = err_make(e, ERR_INVAL, "capability \"%.64s\": not a Linux capability", add[i]);
        else if (c->refusal)
            rc = err_make(e, ERR_PERM, "capability %s cannot be added to a box: %s", c->name,
                          c->refusal);
        else
            m |= 1ull << c->num;
    }
    if (rc == 0) *out = m;
    return rc;
}
