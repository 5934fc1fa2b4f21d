/* regfix — a registry for the image tests (see regfix.c). Registries and
 * proxies die with the test process (PR_SET_PDEATHSIG); stop them by PID
 * in teardown with reg_stop / proc_stop. */
#ifndef BOXLET_TEST_REGFIX_H
#define BOXLET_TEST_REGFIX_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

typedef struct reg {
    pid_t pid;
    int port;
    char dir[PATH_MAX]; /* config, storage, log */
} reg;

/* Runs a shell command; fails the test if it does not exit 0. */
void sh_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool have_prog(const char *name);
void write_text(const char *path, const char *text);
long file_size(const char *path);
/* The file from byte `from` on, NUL-terminated (free it). */
char *slurp(const char *path, long from);
/* Entries of home/downloads whose names start with prefix. */
int count_downloads(const char *home, const char *prefix);
/* SIGTERM, then SIGKILL after 5 s; *pid becomes 0. No-op for pid <= 0. */
void proc_stop(pid_t *pid);

/* Starts a registry in work/NAME (htpasswd tester:s3cret when auth) and
 * waits until it accepts connections. */
void reg_start(reg *r, const char *work, const char *name, bool auth);
void reg_stop(reg *r);
/* Pushes the image tagged tag in the layout to 127.0.0.1:PORT/DEST. */
void push(const reg *r, const char *layout, const char *tag, const char *dest, const char *user);
/* A digest from the layout: the index entry tagged tag ("manifest"), or
 * from its manifest "config", "layer0", "layer1". */
void fixture_digest(const char *layout, const char *tag, const char *which, char out[72]);
/* Starts the proxy in mode ("flaky", "bearer", "slow") before upstream,
 * logging to logp; *pid is its process. Returns its port. */
int proxy_start(const char *work, int upstream, const char *mode, const char *logp, pid_t *pid);

#endif
