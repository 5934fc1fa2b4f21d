/* sdk — the structs behind boxlet.h's handles, shared by the SDK's files.
 * Private to src/sdk. */
#ifndef BOXLET_SDK_H
#define BOXLET_SDK_H

#include "boxlet.h"
#include "core/buf.h"
#include "core/err.h"
#include "runtime/runtime.h"

struct boxlet_runtime {
    rt_t *rt;
    err_t err;
};

struct boxlet_box {
    boxlet_runtime *rt;
    box_rec rec;
    bool removed;
    box_config cfg; /* parsed from rec.config, for boxlet_box_default_cmd */
    err_t err;
};

struct boxlet_cmd {
    char **argv; /* NULL-terminated */
    size_t argc;
    char **env; /* KEY=VALUE */
    size_t nenv;
    char *dir, *user;
    uint64_t timeout_ms;
    bool tty;
    uint16_t rows, cols;
    bool has_stdin;
    buf_t stdin_data;
    uint64_t retain;
    int64_t grace_ms; /* -1 = agent default */
    int error;        /* first failed setter (reported by exec_start) */
};

/* The public exit result of an agent's exit result. */
void sdk_exit_from(boxlet_exit *out, const proto_exit *x);

/* Records code/message in e and returns the public code (>= 0). */
int sdk_fail(err_t *dst, const err_t *src, int rc);

#endif
