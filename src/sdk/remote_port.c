/* remote_port — boxlet_box_connect_port over a remote runtime: the
 * server's tunnel route (POST /v1/boxes/{id}/network/tunnel?port=N) gives
 * a loopback URI, and a CONNECT on it becomes the stream to the box's
 * port, exactly as BoxLite's SDK uses it (docs/network.md, "Tunnels").
 * The answer's head is read byte by byte, so no byte of the stream is
 * read here; the caller gets the socket itself. Not for plain HTTP
 * through a tunnel: callers that want HTTP speak it on the stream. */
#include "sdk/sdk.h"

#include "core/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TUNNEL_DEADLINE_MS 15000 /* the server's own connect to the box takes up to 10 s */

/* "http://A.B.C.D:PORT" into a socket address. */
static int parse_uri(const char *uri, struct sockaddr_in *a, err_t *e)
{
    char ip[INET_ADDRSTRLEN];
    unsigned port;
    int used = 0;
    *a = (struct sockaddr_in){.sin_family = AF_INET};
    if (!uri || sscanf(uri, "http://%15[0-9.]:%5u%n", ip, &port, &used) != 2 || uri[used] ||
        port < 1 || port > 65535 || inet_pton(AF_INET, ip, &a->sin_addr) != 1)
        return err_make(e, ERR_PROTO,
                        "remote: the server's tunnel URI \"%.80s\" is not "
                        "http://ADDRESS:PORT",
                        uri ? uri : "");
    a->sin_port = htons((uint16_t)port);
    return 0;
}

/* Waits for fd to be ready for ev until deadline. */
static int wait_fd(int fd, short ev, int64_t deadline, const char *what, err_t *e)
{
    struct pollfd p = {.fd = fd, .events = ev};
    int n;
    while ((n = poll(&p, 1, ms_until(deadline))) < 0 && errno == EINTR)
        ;
    if (n == 0) return err_make(e, ERR_TIMEOUT, "tunnel: %s: no answer in 15 s", what);
    return n < 0 ? err_make(e, ERR_IO, "tunnel: %s: %s", what, strerror(errno)) : 0;
}

/* Reads the answer's head, one byte at a time up to its blank line. */
static int read_answer(int fd, int64_t deadline, err_t *e)
{
    char head[1024];
    size_t n = 0;
    while (n < sizeof head - 1 && !(n >= 4 && memcmp(head + n - 4, "\r\n\r\n", 4) == 0)) {
        int rc = wait_fd(fd, POLLIN, deadline, "read the answer", e);
        if (rc < 0) return rc;
        ssize_t r = recv(fd, head + n, 1, 0);
        if (r == 0) return err_make(e, ERR_DISCONNECTED, "tunnel: the server closed it");
        if (r < 0 && errno != EAGAIN && errno != EINTR)
            return err_make(e, ERR_IO, "tunnel: read the answer: %s", strerror(errno));
        n += r > 0 ? (size_t)r : 0;
    }
    head[n] = '\0';
    int status = 0;
    if (sscanf(head, "HTTP/1.%*1d %3d", &status) != 1)
        return err_make(e, ERR_PROTO, "tunnel: the answer is not HTTP");
    if (status == 200) return 0;
    /* The server's body says why (the box port refused, timed out). */
    char body[300] = "";
    ssize_t r = recv(fd, body, sizeof body - 1, MSG_DONTWAIT);
    body[r > 0 ? r : 0] = '\0';
    body[strcspn(body, "\n")] = '\0';
    return err_make(e, status == 504 ? ERR_TIMEOUT : ERR_DISCONNECTED, "tunnel: %d %s", status,
                    *body ? body : "(no reason given)");
}

static int tunnel_dial(const struct sockaddr_in *a, int *out, err_t *e)
{
    int64_t deadline = deadline_of(TUNNEL_DEADLINE_MS);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return err_make(e, ERR_IO, "tunnel: socket: %s", strerror(errno));
    int rc = 0, soerr = 0;
    socklen_t sl = sizeof soerr;
    if (connect(fd, (const struct sockaddr *)a, sizeof *a) < 0 && errno != EINPROGRESS)
        rc = err_make(e, ERR_DISCONNECTED, "tunnel: connect: %s", strerror(errno));
    if (rc == 0) rc = wait_fd(fd, POLLOUT, deadline, "connect", e);
    if (rc == 0 && (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr))
        rc = err_make(e, ERR_DISCONNECTED, "tunnel: connect: %s", strerror(soerr));
    char req[128], host[64];
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    int len = snprintf(req, sizeof req, "CONNECT %s:%u HTTP/1.1\r\nHost: %s:%u\r\n\r\n", host,
                       ntohs(a->sin_port), host, ntohs(a->sin_port));
    if (rc == 0 && send(fd, req, (size_t)len, MSG_NOSIGNAL) != len) /* fits a fresh socket */
        rc = err_make(e, ERR_IO, "tunnel: send CONNECT: %s", strerror(errno));
    if (rc == 0) rc = read_answer(fd, deadline, e);
    if (rc == 0) rc = fd_set_nonblock(fd, 0) < 0 ? err_make(e, ERR_IO, "tunnel: fcntl") : 0;
    if (rc < 0) {
        close(fd);
        return rc;
    }
    *out = fd;
    return 0;
}

int sdk_remote_port_connect(boxlet_box *b, unsigned port, int *fd)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/boxes/%s/network/tunnel?port=%u", b->rec.id, port);
    json_t *v = NULL;
    struct sockaddr_in a;
    int rc = rest_call(b->rt->remote, "POST", path, NULL, &v, &b->err);
    if (rc == 0) rc = parse_uri(json_string_value(json_object_get(v, "uri")), &a, &b->err);
    json_decref(v);
    if (rc == 0) rc = tunnel_dial(&a, fd, &b->err);
    if (rc < 0) err_wrap(&b->err, "box \"%s\" port %u", b->rec.name, port);
    return rc;
}
