/* cgroup — see cgroup.h. Paths are /sys/fs/cgroup/<hierarchy>/boxlet/<id>. */
#include "runtime/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CG_ROOT "/sys/fs/cgroup"

static const char *const hierarchies[] = {"memory", "pids", "cpu", "unified"};

static int64_t read_num(const char *h, const char *id, const char *file, const char *key);

#define DELEGATED_MAX_DEPTH "4"
#define DELEGATED_MAX_GROUPS "4096" /* the agent keeps at most 1024 executions */

static void group_path(char *out, size_t n, const char *h, const char *id)
{
    snprintf(out, n, CG_ROOT "/%s/boxlet/%s", h, id);
}

static int hierarchy_present(const char *h)
{
    char p[256];
    snprintf(p, sizeof p, CG_ROOT "/%s/cgroup.procs", h);
    return access(p, F_OK) == 0;
}

static int write_file(const char *dir, const char *file, const char *val, err_t *e)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return err_sys(e, errno, "open \"%s\"", p);
    ssize_t w = write(fd, val, strlen(val));
    int saved = errno;
    close(fd);
    if (w < 0) return err_sys(e, saved, "write \"%s\" to \"%s\"", val, p);
    return 0;
}

static int mkdir_p2(const char *h, const char *id, err_t *e)
{
    char p[512];
    snprintf(p, sizeof p, CG_ROOT "/%s/boxlet", h);
    if (mkdir(p, 0755) < 0 && errno != EEXIST) return err_sys(e, errno, "create cgroup \"%s\"", p);
    group_path(p, sizeof p, h, id);
    if (mkdir(p, 0755) < 0 && errno != EEXIST) return err_sys(e, errno, "create cgroup \"%s\"", p);
    return 0;
}

static int apply_limits(const char *id, const cgroup_limits *l, err_t *e)
{
    char dir[512], v[64];
    int rc = 0;
    if (l->memory_bytes) {
        group_path(dir, sizeof dir, "memory", id);
        snprintf(v, sizeof v, "%llu", (unsigned long long)l->memory_bytes);
        rc = write_file(dir, "memory.limit_in_bytes", v, e);
        /* Without swap accounting a box could swap past its limit. */
        if (rc == 0 && access("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) == 0)
            rc = write_file(dir, "memory.memsw.limit_in_bytes", v, e);
    }
    if (rc == 0 && l->pids_max) {
        group_path(dir, sizeof dir, "pids", id);
        snprintf(v, sizeof v, "%u", l->pids_max);
        rc = write_file(dir, "pids.max", v, e);
    }
    if (rc == 0 && l->cpus > 0) {
        group_path(dir, sizeof dir, "cpu", id);
        snprintf(v, sizeof v, "%lld", (long long)(l->cpus * 100000));
        rc = write_file(dir, "cpu.cfs_period_us", "100000", e);
        if (rc == 0) rc = write_file(dir, "cpu.cfs_quota_us", v, e);
    }
    return rc;
}

int cgroup_create(const char *id, const cgroup_limits *l, err_t *e)
{
    for (size_t i = 0; i < sizeof hierarchies / sizeof *hierarchies; i++) {
        if (!hierarchy_present(hierarchies[i])) continue;
        int rc = mkdir_p2(hierarchies[i], id, e);
        if (rc < 0) return rc;
    }
    if ((l->memory_bytes && !hierarchy_present("memory")) ||
        (l->pids_max && !hierarchy_present("pids")) || (l->cpus > 0 && !hierarchy_present("cpu")))
        return err_make(e, ERR_UNSUPPORTED,
                        "a limit was asked for but its cgroup controller "
                        "is not mounted under " CG_ROOT);
    return apply_limits(id, l, e);
}

bool cgroup_v2_present(void)
{
    return hierarchy_present("unified");
}

int cgroup_delegate(const char *id, uid_t uid, err_t *e)
{
    static const char *const files[] = {"", "/cgroup.procs", "/cgroup.subtree_control",
                                        "/cgroup.threads"};
    if (!hierarchy_present("unified")) return 0;
    char dir[512], p[600];
    group_path(dir, sizeof dir, "unified", id);
    /* The box makes groups below its own (one per execution): bounded, as
     * each costs kernel memory; these files stay the host's. */
    int rc = write_file(dir, "cgroup.max.depth", DELEGATED_MAX_DEPTH, e);
    if (rc == 0) rc = write_file(dir, "cgroup.max.descendants", DELEGATED_MAX_GROUPS, e);
    if (rc < 0) return rc;
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(p, sizeof p, "%s%s", dir, files[i]);
        if (chown(p, uid, uid) < 0) return err_sys(e, errno, "delegate cgroup \"%s\"", p);
    }
    return 0;
}

/* Moves pid into the box's group of every hierarchy, or of all but memory
 * (memory < 0), or of memory alone (memory > 0). */
static int attach_to(const char *id, pid_t pid, int memory, err_t *e)
{
    char dir[512], v[32];
    snprintf(v, sizeof v, "%d", (int)pid);
    for (size_t i = 0; i < sizeof hierarchies / sizeof *hierarchies; i++) {
        if (!hierarchy_present(hierarchies[i])) continue;
        bool is_memory = strcmp(hierarchies[i], "memory") == 0;
        if ((memory < 0 && is_memory) || (memory > 0 && !is_memory)) continue;
        group_path(dir, sizeof dir, hierarchies[i], id);
        int rc = write_file(dir, "cgroup.procs", v, e);
        if (rc < 0) return rc;
    }
    return 0;
}

int cgroup_attach(const char *id, pid_t pid, err_t *e)
{
    return attach_to(id, pid, 0, e);
}

int cgroup_attach_early(const char *id, pid_t pid, err_t *e)
{
    return attach_to(id, pid, -1, e);
}

int cgroup_attach_memory(const char *id, pid_t pid, err_t *e)
{
    return attach_to(id, pid, 1, e);
}

static int kill_listed(const char *procs)
{
    FILE *f = fopen(procs, "re");
    if (!f) return 0;
    int n = 0, pid;
    while (fscanf(f, "%d", &pid) == 1) {
        kill(pid, SIGKILL);
        n++;
    }
    fclose(f);
    return n;
}

int cgroup_kill(const char *id, err_t *e)
{
    char dir[512];
    group_path(dir, sizeof dir, "unified", id);
    if (access(dir, F_OK) == 0) {
        char p[600];
        snprintf(p, sizeof p, "%s/cgroup.kill", dir);
        if (access(p, F_OK) == 0) return write_file(dir, "cgroup.kill", "1", e);
    }
    group_path(dir, sizeof dir, "pids", id);
    strcat(dir, "/cgroup.procs");
    kill_listed(dir);
    return 0;
}

int cgroup_count(const char *id)
{
    char p[600];
    const char *h = hierarchy_present("unified") ? "unified" : "pids";
    group_path(p, sizeof p, h, id);
    strcat(p, "/cgroup.procs");
    FILE *f = fopen(p, "re");
    if (!f) return -1;
    int n = 0, pid;
    while (fscanf(f, "%d", &pid) == 1)
        n++;
    fclose(f);
    return n;
}

/* Removes the groups below dir (the box's delegated v2 group may hold
 * some its agent had no chance to remove), depth first, by descriptor.
 * Only directories and the kernel's files live in a cgroup file system;
 * the depth is bounded by cgroup.max.depth. */
static void remove_below(int dir, int depth)
{
    int fd = dup(dir);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) close(fd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_type != DT_DIR || de->d_name[0] == '.') continue;
        int sub = openat(dir, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub >= 0 && depth < 16) remove_below(sub, depth + 1);
        if (sub >= 0) close(sub);
        unlinkat(dir, de->d_name, AT_REMOVEDIR);
    }
    closedir(d);
}

static int remove_group(const char *p)
{
    int dir = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir >= 0) {
        remove_below(dir, 0);
        close(dir);
    }
    return rmdir(p);
}

bool cgroup_populated(const char *id)
{
    if (!hierarchy_present("unified")) return cgroup_count(id) > 0;
    int64_t v = read_num("unified", id, "cgroup.events", "populated");
    return v > 0;
}

int cgroup_destroy(const char *id, err_t *e)
{
    int rc = 0;
    for (size_t i = 0; i < sizeof hierarchies / sizeof *hierarchies; i++) {
        char p[512];
        group_path(p, sizeof p, hierarchies[i], id);
        int tries = 0;
        while (remove_group(p) < 0 && errno == EBUSY && tries++ < 200) {
            struct timespec ts = {0, 10 * 1000 * 1000}; /* processes are still exiting */
            nanosleep(&ts, NULL);
        }
        if (access(p, F_OK) == 0 && rc == 0) rc = err_sys(e, errno, "remove cgroup \"%s\"", p);
    }
    return rc;
}

/* The value after `key ` in a "key value" file, or the file's single
 * number when key is NULL; -1 if absent. */
static int64_t read_num(const char *h, const char *id, const char *file, const char *key)
{
    char p[600], line[256];
    group_path(p, sizeof p, h, id);
    strcat(p, "/");
    strcat(p, file);
    FILE *f = fopen(p, "re");
    if (!f) return -1;
    int64_t v = -1;
    size_t klen = key ? strlen(key) : 0;
    while (fgets(line, sizeof line, f)) {
        if (!key) {
            v = strtoll(line, NULL, 10);
            break;
        }
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
            v = strtoll(line + klen + 1, NULL, 10);
    }
    fclose(f);
    return v;
}

void cgroup_read_stats(const char *id, cgroup_stats *out)
{
    out->memory_bytes = read_num("memory", id, "memory.usage_in_bytes", NULL);
    out->memory_peak_bytes = read_num("memory", id, "memory.max_usage_in_bytes", NULL);
    out->oom_kills = read_num("memory", id, "memory.oom_control", "oom_kill");
    out->pids = read_num("pids", id, "pids.current", NULL);
    out->cpu_usec = read_num("unified", id, "cpu.stat", "usage_usec");
}

int cgroup_freeze(const char *id, bool frozen, int timeout_ms, err_t *e)
{
    if (!hierarchy_present("unified"))
        return err_make(e, ERR_UNSUPPORTED, "freeze box %s: no cgroup v2 tree", id);
    char dir[512];
    group_path(dir, sizeof dir, "unified", id);
    int rc = write_file(dir, "cgroup.freeze", frozen ? "1" : "0", e);
    if (rc < 0 || !frozen) return rc;
    for (int waited = 0; read_num("unified", id, "cgroup.events", "frozen") != 1; waited++) {
        if (waited >= timeout_ms) {
            write_file(dir, "cgroup.freeze", "0", NULL);
            return err_make(e, ERR_TIMEOUT, "freeze box %s: not frozen after %d ms", id,
                            timeout_ms);
        }
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}
