/* agentctl — a small client of the agent protocol, for developers and for
 * `make run` until boxes exist: start one execution on an agent, stream its
 * output to our stdout/stderr, and exit with its status (Docker's
 * conventions: the code, 128+N for signal N, 125 for our own failures). */
#include "runtime/agent_client.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: agentctl SOCKET [-e K=V]... [-w DIR] [-u USER] [-t SECONDS] -- CMD [ARG...]\n";

static int fail(const char *what, const err_t *e)
{
    fprintf(stderr, "agentctl: %s: %s\n", what, e->msg);
    return 125;
}

static int start(agent_client *c, proto_exec_start *s, char *id, size_t idlen, err_t *e)
{
    proto_msg m = {.type = PROTO_EXEC_START, .u.start = *s};
    int rc = agent_client_send(c, &m, 5000, e);
    if (rc < 0) return rc;
    if ((rc = agent_client_recv(c, &m, 5000, e)) <= 0)
        return rc ? rc : err_make(e, ERR_TIMEOUT, "no reply to EXEC_START");
    if (m.type == PROTO_ERROR) {
        rc = err_make(e, (int)m.u.error.code, "%s", m.u.error.message);
    } else {
        snprintf(id, idlen, "%s", m.u.started.info.exec_id);
    }
    proto_msg_free(&m);
    return rc;
}

static int stream(agent_client *c, const char *id, err_t *e)
{
    proto_msg m = {.type = PROTO_ATTACH,
                   .u.attach = {.req = 2, .chan = 1, .exec_id = (char *)id, .owner = 1}};
    int rc = agent_client_send(c, &m, 5000, e);
    while (rc >= 0 && (rc = agent_client_recv(c, &m, -1, e)) > 0) {
        if (m.type == PROTO_OUTPUT) {
            FILE *f = m.u.output.stream == PROTO_STDERR ? stderr : stdout;
            fwrite(m.u.output.data.data, 1, m.u.output.data.len, f);
            fflush(f);
        } else if (m.type == PROTO_ERROR) {
            rc = err_make(e, (int)m.u.error.code, "%s", m.u.error.message);
        } else if (m.type == PROTO_EXIT) {
            proto_exit *x = &m.u.exit.exit;
            if (*x->error_message) fprintf(stderr, "agentctl: %s\n", x->error_message);
            rc = x->signal ? 128 + x->signal : x->exit_code;
            proto_msg_free(&m);
            return rc;
        }
        proto_msg_free(&m);
    }
    return rc < 0 ? rc : err_make(e, ERR_DISCONNECTED, "agent went away");
}

int main(int argc, char **argv)
{
    proto_exec_start s = {.req = 1, .reconnect_grace_ms = -1};
    char *env[256];
    if (argc < 2) return fputs(usage, stderr), 125;
    const char *sock = argv[1];
    optind = 2;
    int opt;
    while ((opt = getopt(argc, argv, "+e:w:u:t:")) != -1) {
        if (opt == 'e' && s.envc < 256)
            env[s.envc++] = optarg;
        else if (opt == 'w')
            s.working_dir = optarg;
        else if (opt == 'u')
            s.user = optarg;
        else if (opt == 't')
            s.timeout_ms = (uint64_t)(atof(optarg) * 1000);
        else
            return fputs(usage, stderr), 125;
    }
    if (argc - optind < 1) return fputs(usage, stderr), 125;
    s.env = env;
    s.command = argv[optind];
    s.args = argv + optind + 1;
    s.argc = (uint32_t)(argc - optind - 1);
    err_t e;
    agent_client *c;
    if (agent_client_connect(sock, 5000, &c, &e) < 0) return fail("connect", &e);
    char id[PROTO_MAX_ID + 1];
    int rc = start(c, &s, id, sizeof id, &e);
    if (rc >= 0) rc = stream(c, id, &e);
    agent_client_free(c);
    return rc < 0 ? fail("exec", &e) : rc;
}
