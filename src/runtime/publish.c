/* publish — see publish.h. */
#include "runtime/publish.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int parse_addr(const box_port *p, struct sockaddr_storage *out, socklen_t *len)
{
    memset(out, 0, sizeof *out);
    struct sockaddr_in *a4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, p->addr, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)p->host_port);
        *len = sizeof *a4;
        return 0;
    }
    if (inet_pton(AF_INET6, p->addr, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)p->host_port);
        *len = sizeof *a6;
        return 0;
    }
    return -1;
}

static const char *fmt_addr(const box_port *p, char *buf, size_t n)
{
    snprintf(buf, n, strchr(p->addr, ':') ? "[%s]:%u" : "%s:%u", p->addr, p->host_port);
    return buf;
}

int publish_listen(const box_port *p, err_t *e)
{
    struct sockaddr_storage a;
    socklen_t len;
    char what[80];
    fmt_addr(p, what, sizeof what);
    if (parse_addr(p, &a, &len) < 0)
        return err_make(e, ERR_INVAL, "publish %s: not a numeric IPv4 or IPv6 address", what);
    int fd = socket(a.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    /* SO_REUSEADDR: a restarted box takes its port back from connections
     * still in TIME_WAIT; it never shares a port another socket listens on. */
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        (a.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one)) ||
        bind(fd, (struct sockaddr *)&a, len) < 0 || listen(fd, 128) < 0) {
        int err = errno, rc;
        if (err == EADDRINUSE)
            rc =
                err_make(e, ERR_CONFLICT,
                         "publish %s: address in use (another program or box listens there)", what);
        else if (err == EADDRNOTAVAIL)
            rc = err_make(e, ERR_INVAL, "publish %s: no such address on this host", what);
        else
            rc = err_sys(e, err, "publish %s", what);
        if (fd >= 0) close(fd);
        return rc;
    }
    return fd;
}

int publish_check(const box_port *ports, size_t n, err_t *e)
{
    int fds[BOX_MAX_PORTS], rc = 0;
    size_t k = 0;
    /* All open at once: two entries of one box that collide are found too. */
    for (; k < n && k < BOX_MAX_PORTS && rc == 0; k++)
        if ((fds[k] = publish_listen(&ports[k], e)) < 0) rc = fds[k];
    for (size_t i = 0; i < k; i++)
        if (fds[i] >= 0) close(fds[i]);
    return rc;
}

int publish_validate(const box_port *ports, size_t n, err_t *e)
{
    if (n > BOX_MAX_PORTS)
        return err_make(e, ERR_INVAL, "published ports: %zu given, at most %d", n, BOX_MAX_PORTS);
    for (size_t i = 0; i < n; i++) {
        const box_port *p = &ports[i];
        struct sockaddr_storage a;
        socklen_t len;
        if (p->host_port < 1 || p->host_port > 65535 || p->box_port < 1 || p->box_port > 65535)
            return err_make(e, ERR_INVAL, "published port %s:%u:%u: ports are 1..65535", p->addr,
                            p->host_port, p->box_port);
        if (parse_addr(p, &a, &len) < 0)
            return err_make(e, ERR_INVAL,
                            "published port %s:%u:%u: \"%s\" is not a numeric IPv4 or IPv6 "
                            "address",
                            p->addr, p->host_port, p->box_port, p->addr);
    }
    return 0;
}
