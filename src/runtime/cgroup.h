/* cgroup — a box's control groups: limits through the cgroup v1 controllers
 * (memory incl. memsw, pids, cpu), tracking and kill through the v2 tree
 * (which has no controllers enabled on hosts of this kind). One directory per
 * box, `boxlet/<id>`, under each hierarchy. Missing hierarchies are skipped;
 * a limit that was asked for but cannot be set is an error. */
#ifndef BOXLET_RUNTIME_CGROUP_H
#define BOXLET_RUNTIME_CGROUP_H

#include "core/err.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct cgroup_limits {
    uint64_t memory_bytes; /* 0 = none */
    double cpus;           /* 0 = none */
    uint32_t pids_max;     /* 0 = none */
} cgroup_limits;

/* Creates the box's groups and applies the limits. */
int cgroup_create(const char *id, const cgroup_limits *l, err_t *e);
/* Delegates the box's v2 group to uid (the box's root on the host), as the
 * kernel's cgroup-v2 delegation rules ask: the directory and its
 * cgroup.procs, cgroup.subtree_control and cgroup.threads. The box's agent
 * then makes a group per execution below it. No-op without the v2 tree. */
int cgroup_delegate(const char *id, uid_t uid, err_t *e);
/* Whether the box's v2 group exists (then the init hands it to the agent). */
bool cgroup_v2_present(void);
/* Moves pid into every group of the box. */
int cgroup_attach(const char *id, pid_t pid, err_t *e);
/* The same in two steps: every group but memory, then memory alone (what
 * pid allocates in between is not charged to the box). */
int cgroup_attach_early(const char *id, pid_t pid, err_t *e);
int cgroup_attach_memory(const char *id, pid_t pid, err_t *e);
/* Kills every process of the box (v2 cgroup.kill, else SIGKILL to each pid
 * listed in the v1 pids group). 0 even if there was nothing to kill. */
int cgroup_kill(const char *id, err_t *e);
/* Number of processes in the box, -1 if unknown. */
int cgroup_count(const char *id);
/* Whether any process is in the box's groups, its executions' included
 * (v2 cgroup.events "populated"; without the v2 tree, cgroup_count > 0). */
bool cgroup_populated(const char *id);
/* Removes the groups (they must be empty; retries briefly). */
int cgroup_destroy(const char *id, err_t *e);
/* Resource use of a box; a field is -1 when its controller is missing. */
typedef struct cgroup_stats {
    int64_t memory_bytes, memory_peak_bytes; /* v1 memory */
    int64_t oom_kills;                       /* v1 memory.oom_control */
    int64_t pids;                            /* v1 pids.current */
    int64_t cpu_usec;                        /* v2 cpu.stat usage_usec */
} cgroup_stats;
void cgroup_read_stats(const char *id, cgroup_stats *out);

/* Freezes (frozen) or thaws box id's processes through the v2 tree's
 * cgroup.freeze; a freeze waits until every process is frozen (up to
 * timeout_ms, then thaws and fails with -ERR_TIMEOUT). -ERR_UNSUPPORTED
 * without the v2 tree. */
int cgroup_freeze(const char *id, bool frozen, int timeout_ms, err_t *e);

#endif
