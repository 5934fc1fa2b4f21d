/* serve — a `boxlet serve` child on a free loopback port, over the run's
 * home, and one running box made through its REST API; exec round
 * trips over REST + WebSocket the way a BoxLite client does them: POST
 * .../exec, attach, read to the exit frame. Not for serving anything else. */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) < 0)
        die("find a free port: %s", strerror(errno));
    close(fd);
    return ntohs(a.sin_port);
}

static serve_t *live[8]; /* started and not stopped: torn down at exit */

void serve_cleanup(void)
{
    for (size_t i = 0; i < sizeof live / sizeof *live; i++)
        if (live[i]) serve_stop(live[i]);
}

void serve_start(bench_t *b, serve_t *s, const char *image)
{
    memset(s, 0, sizeof *s);
    s->port = free_port();
    char port[16], log[700];
    snprintf(port, sizeof port, "%d", s->port);
    snprintf(log, sizeof log, "%s/serve.log", b->work);
    int lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    s->pid = fork();
    if (s->pid == 0) {
        if (lfd >= 0) {
            dup2(lfd, 1);
            dup2(lfd, 2);
        }
        /* Loopback, measured raw: the credential is not what is benchmarked.
         * The scratch dir is the import dir: boxes are made of its rootfs. */
        execl(b->cli, "boxlet", "serve", "--port", port, "--insecure-no-auth", "--import-dir",
              b->work, (char *)NULL);
        _exit(127);
    }
    if (lfd >= 0) close(lfd);
    if (s->pid < 0) die("fork: %s", strerror(errno));
    for (size_t i = 0; i < sizeof live / sizeof *live; i++)
        if (!live[i]) {
            live[i] = s;
            break;
        }
    char *body = NULL;
    for (double t0 = clock_ms(); clock_ms() - t0 < 10000; usleep(20000)) {
        if (http_request(s->port, "GET", "/v1/config", NULL, &body) == 200) break;
        free(body);
        body = NULL;
    }
    if (!body) die("boxlet serve did not answer on port %d (log: %s)", s->port, log);
    free(body);
    char req[256];
    snprintf(req, sizeof req, "{\"image\":\"%s\"}", image);
    int st = http_request(s->port, "POST", "/v1/boxes", req, &body);
    if ((st != 200 && st != 201) || !json_str(body, "id", s->box, sizeof s->box))
        die("POST /v1/boxes: HTTP %d %s", st, body ? body : "");
    free(body);
}

int serve_exec(serve_t *s, const char *json_cmd, const char *go, unsigned long long *bytes)
{
    char path[256], eid[160], *body = NULL;
    snprintf(path, sizeof path, "/v1/boxes/%s/exec", s->box);
    int st = http_request(s->port, "POST", path, json_cmd, &body);
    if (st != 201 || !json_str(body, "execution_id", eid, sizeof eid))
        die("POST %s: HTTP %d %s", path, st, body ? body : "");
    free(body);
    ws_t w;
    if (ws_attach(&w, s->port, s->box, eid, false) < 0) die("attach %s: refused", eid);
    if (go && !ws_send_stdin(&w, go, strlen(go))) die("attach %s: cannot send stdin", eid);
    int code = ws_wait_exit(&w, bytes);
    ws_close(&w);
    return code;
}

void serve_stop(serve_t *s)
{
    for (size_t i = 0; i < sizeof live / sizeof *live; i++)
        if (live[i] == s) live[i] = NULL;
    if (s->pid <= 0) return;
    if (s->box[0]) {
        char path[256], *body = NULL;
        snprintf(path, sizeof path, "/v1/boxes/%s?force=true", s->box);
        http_request(s->port, "DELETE", path, NULL, &body);
        free(body);
    }
    kill(s->pid, SIGTERM);
    for (int i = 0; i < 100 && waitpid(s->pid, NULL, WNOHANG) == 0; i++)
        usleep(20000);
    if (waitpid(s->pid, NULL, WNOHANG) == 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
    }
    s->pid = 0;
}
