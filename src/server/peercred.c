/* peercred — see peercred.h. The TCP lookup asks for one socket, not a
 * dump: an inet_diag request without NLM_F_DUMP names the 4-tuple, and the
 * kernel looks it up as a packet from our side to the peer's would be
 * (so src/sport are the peer's address and port, dst/dport ours), which
 * can also find a listener on the peer's address and port when the
 * peer's socket is gone: the answer's state and inode are checked. */
#include "server/peercred.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

/* The kernel's TCP states (its tcp_states enum) that are no process's
 * socket. */
enum { ST_TIME_WAIT = 6, ST_LISTEN = 10, ST_NEW_SYN_RECV = 12 };

int peercred_capture(int fd, peercred *out, err_t *e)
{
    peercred p = {0};
    socklen_t ll = sizeof p.local, rl = sizeof p.remote;
    if (getsockname(fd, (struct sockaddr *)&p.local, &ll) < 0 ||
        getpeername(fd, (struct sockaddr *)&p.remote, &rl) < 0)
        return err_sys(e, errno, "the client's connection: its addresses");
    int family = p.local.ss_family;
    if (family == AF_UNIX) {
        struct ucred uc;
        socklen_t cl = sizeof uc;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &cl) < 0)
            return err_sys(e, errno, "the client's connection: SO_PEERCRED");
        p.uid = uc.uid;
    } else if (family != AF_INET && family != AF_INET6) {
        return err_make(e, ERR_IO, "the client's connection: address family %d", family);
    }
    p.family = family;
    *out = p;
    return 0;
}

typedef struct diag_req {
    struct nlmsghdr nh;
    struct inet_diag_req_v2 r;
} diag_req;

/* Fills the request's id with the peer's socket as seen from its side. */
static void name_peer(const peercred *p, struct inet_diag_sockid *id)
{
    if (p->family == AF_INET) {
        const struct sockaddr_in *l = (const void *)&p->local, *r = (const void *)&p->remote;
        id->idiag_sport = r->sin_port;
        id->idiag_dport = l->sin_port;
        memcpy(id->idiag_src, &r->sin_addr, 4);
        memcpy(id->idiag_dst, &l->sin_addr, 4);
    } else {
        const struct sockaddr_in6 *l = (const void *)&p->local, *r = (const void *)&p->remote;
        id->idiag_sport = r->sin6_port;
        id->idiag_dport = l->sin6_port;
        memcpy(id->idiag_src, &r->sin6_addr, 16);
        memcpy(id->idiag_dst, &l->sin6_addr, 16);
    }
    id->idiag_cookie[0] = id->idiag_cookie[1] = INET_DIAG_NOCOOKIE;
}

/* Is the answer the peer's own socket, held by a process? */
static int check_answer(const struct inet_diag_msg *m, const struct inet_diag_sockid *want,
                        err_t *e)
{
    size_t alen = m->idiag_family == AF_INET ? 4 : 16;
    if (m->id.idiag_sport != want->idiag_sport || m->id.idiag_dport != want->idiag_dport ||
        memcmp(m->id.idiag_src, want->idiag_src, alen) != 0 ||
        memcmp(m->id.idiag_dst, want->idiag_dst, alen) != 0)
        return err_make(e, ERR_PERM, "the client's socket is not on this machine");
    /* A listener (the peer's socket gone, another bound there), a
     * TIME_WAIT or request socket: none is the peer's, and the kernel
     * reports them as uid 0. An orphan (closed, still sending) has no
     * inode and no owner left. */
    if (m->idiag_state == ST_LISTEN || m->idiag_state == ST_TIME_WAIT ||
        m->idiag_state == ST_NEW_SYN_RECV || m->idiag_inode == 0)
        return err_make(e, ERR_PERM, "the client's socket is closed (state %u)", m->idiag_state);
    return 0;
}

static int ask(int nl, const peercred *p, uid_t *uid, err_t *e)
{
    diag_req q = {
        .nh = {.nlmsg_len = sizeof q,
               .nlmsg_type = SOCK_DIAG_BY_FAMILY,
               .nlmsg_flags = NLM_F_REQUEST,
               .nlmsg_seq = 1},
        .r = {.sdiag_family = (__u8)p->family, .sdiag_protocol = IPPROTO_TCP, .idiag_states = ~0u}};
    name_peer(p, &q.r.id);
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(nl, &q, sizeof q, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0)
        return err_sys(e, errno, "look up the client's socket: netlink send");
    /* The kernel answers inside the send: nothing queued is a failure. */
    union {
        struct nlmsghdr nh;
        char buf[1024];
    } a;
    ssize_t n = recv(nl, &a, sizeof a, MSG_DONTWAIT);
    if (n < 0) return err_sys(e, errno, "look up the client's socket: netlink receive");
    if ((size_t)n < sizeof a.nh || a.nh.nlmsg_len > (size_t)n)
        return err_make(e, ERR_IO, "look up the client's socket: a short netlink answer");
    if (a.nh.nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *er = NLMSG_DATA(&a.nh);
        int en = a.nh.nlmsg_len >= NLMSG_LENGTH(sizeof *er) ? -er->error : EIO;
        return err_make(e, en == ENOENT ? ERR_PERM : ERR_IO,
                        "the client's socket is not on this machine: %s", strerror(en));
    }
    if (a.nh.nlmsg_type != SOCK_DIAG_BY_FAMILY ||
        a.nh.nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
        return err_make(e, ERR_IO, "look up the client's socket: netlink answer of type %u",
                        a.nh.nlmsg_type);
    const struct inet_diag_msg *m = NLMSG_DATA(&a.nh);
    int rc = check_answer(m, &q.r.id, e);
    if (rc == 0) *uid = m->idiag_uid;
    return rc;
}

int peercred_diag_open(err_t *e)
{
    int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0) return err_sys(e, errno, "look up the client's socket: netlink socket");
    return nl;
}

int peercred_uid_on(int nl, const peercred *p, uid_t *uid, err_t *e)
{
    if (p->family == AF_UNIX) {
        *uid = p->uid;
        return 0;
    }
    if (p->family != AF_INET && p->family != AF_INET6)
        return err_make(e, ERR_PERM, "the client's connection was not identified");
    return ask(nl, p, uid, e);
}

int peercred_uid(const peercred *p, uid_t *uid, err_t *e)
{
    if (p->family != AF_INET && p->family != AF_INET6) return peercred_uid_on(-1, p, uid, e);
    int nl = peercred_diag_open(e);
    if (nl < 0) return nl;
    int rc = peercred_uid_on(nl, p, uid, e);
    close(nl);
    return rc;
}
