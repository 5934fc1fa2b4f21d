/* listen — see listen.h. The listening descriptor is adopted by lws as a
 * raw file on the protocol "boxlet-listen"; each time it is readable the
 * pending connections are accepted (non-blocking) and adopted as HTTP
 * connections of the vhost, which lws then serves as its own. */
#include "server/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BACKLOG 512
#define ACCEPTS_PER_TURN 64  /* then the loop serves others before more */
#define FULL_PAUSE_US 100000 /* out of descriptors: accept again after this */

static bool addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a)) return true;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return false;
}

static void describe(const struct sockaddr *sa, int port, char *out, size_t n)
{
    char a[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, a, sizeof a);
        snprintf(out, n, "[%s]:%d", a, port);
    } else {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, a, sizeof a);
        snprintf(out, n, "%s:%d", a, port);
    }
}

static int bind_one(const struct addrinfo *ai, err_t *e, const char *host, int port)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return err_sys(e, errno, "listen on %s port %d: socket", host, port);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* "::" means IPv6 only: an IPv4 listener is asked for by its own address. */
    if (ai->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, BACKLOG) < 0) {
        int en = errno;
        char where[160];
        describe(ai->ai_addr, port, where, sizeof where);
        close(fd);
        return err_sys(e, en, "listen on %s (--host %s)%s", where, host,
                       en == EADDRNOTAVAIL ? " (the address is not on this machine)" : "");
    }
    return fd;
}

int listen_tcp(const char *host, int port, listener_t *out, err_t *e)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
    struct addrinfo *res = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int g = getaddrinfo(host, ps, &hints, &res);
    if (g == EAI_NONAME || g == EAI_FAMILY || g == EAI_ADDRFAMILY) {
        hints.ai_flags = 0; /* AI_ADDRCONFIG hides ::1 on a host without IPv6 routes */
        g = getaddrinfo(host, ps, &hints, &res);
    }
    if (g != 0)
        return err_make(e, ERR_INVAL, "listen on --host %s: cannot resolve it: %s", host,
                        gai_strerror(g));
    int fd = -1, rc = 0;
    for (const struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = bind_one(ai, e, host, port);
        if (fd < 0 && rc == 0) rc = fd; /* the first address's reason is kept */
        if (fd >= 0) out->loopback = addr_is_loopback(ai->ai_addr);
    }
    freeaddrinfo(res);
    if (fd < 0) return rc;
    out->fd = fd;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    describe((struct sockaddr *)&ss, listen_port(out), out->where, sizeof out->where);
    return 0;
}

int listen_port(const listener_t *l)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(l->fd, (struct sockaddr *)&ss, &sl) < 0) return -1;
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

bool listen_host_is_loopback(const char *host)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, "1", &hints, &res) != 0) return false;
    bool all = res != NULL;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
        all &= addr_is_loopback(ai->ai_addr);
    freeaddrinfo(res);
    return all;
}

int listen_adopt(struct lws_context *ctx, listener_t *l)
{
    struct lws_vhost *vh = lws_get_vhost_by_name(ctx, "default");
    if (!vh) return -1;
    lws_sock_file_fd_type d;
    d.filefd = l->fd;
    lws_adopt_desc_t info = {.vh = vh,
                             .type = LWS_ADOPT_RAW_FILE_DESC,
                             .fd = d,
                             .vh_prot_name = "boxlet-listen",
                             .opaque = l};
    return lws_adopt_descriptor_vhost_via_info(&info) ? 0 : -1;
}

int listen_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    (void)user;
    (void)in;
    (void)len;
    listener_t *l = lws_get_opaque_user_data(wsi);
    if (!l) return 0;
    if (reason == LWS_CALLBACK_TIMER) { /* descriptors may be free again */
        lws_rx_flow_control(wsi, 1);
        return 0;
    }
    if (reason != LWS_CALLBACK_RAW_RX_FILE) return 0;
    for (int i = 0; i < ACCEPTS_PER_TURN; i++) {
        int c = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)) {
            /* The pending connection stays queued and the socket readable:
             * stop watching it for a while rather than spin on it. */
            lws_rx_flow_control(wsi, 0);
            lws_set_timer_usecs(wsi, FULL_PAUSE_US);
            break;
        }
        if (c < 0) break; /* EAGAIN: all taken */
        /* lws closes c when it cannot adopt it. */
        lws_adopt_socket_vhost(lws_get_vhost(wsi), c);
    }
    return 0;
}
