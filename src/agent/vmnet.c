/* vmnet — the guest's network (docs/vm.md "Network"): lo up always; with
 * networking on, eth0 (the virtio-net card on QEMU's user networking) gets
 * QEMU's slirp defaults statically: 10.0.2.15/24, the default route via
 * 10.0.2.2, DNS at 10.0.2.3. No DHCP client: the addresses are QEMU's. */
#include "agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define GUEST_ADDR "10.0.2.15"
#define GUEST_MASK "255.255.255.0"
#define GATEWAY "10.0.2.2"
#define RESOLV "nameserver 10.0.2.3\n"

static void say(const char *what, const char *arg)
{
    fprintf(stderr, "boxlet-agent (vm init): %s %s: %s\n", what, arg, strerror(errno));
}

static void set_in(struct sockaddr *sa, const char *addr)
{
    struct sockaddr_in *in = (struct sockaddr_in *)sa;
    memset(in, 0, sizeof *in);
    in->sin_family = AF_INET;
    inet_pton(AF_INET, addr, &in->sin_addr);
}

static int link_up(int fd, const char *ifname)
{
    struct ifreq r = {0};
    snprintf(r.ifr_name, sizeof r.ifr_name, "%s", ifname);
    if (ioctl(fd, SIOCGIFFLAGS, &r) < 0) return -1;
    r.ifr_flags |= IFF_UP;
    return ioctl(fd, SIOCSIFFLAGS, &r);
}

static int eth_up(int fd, const char *ifname)
{
    struct ifreq r = {0};
    snprintf(r.ifr_name, sizeof r.ifr_name, "%s", ifname);
    set_in(&r.ifr_addr, GUEST_ADDR);
    if (ioctl(fd, SIOCSIFADDR, &r) < 0) return -1;
    set_in(&r.ifr_netmask, GUEST_MASK);
    if (ioctl(fd, SIOCSIFNETMASK, &r) < 0 || link_up(fd, ifname) < 0) return -1;
    struct rtentry rt = {0};
    set_in(&rt.rt_dst, "0.0.0.0");
    set_in(&rt.rt_genmask, "0.0.0.0");
    set_in(&rt.rt_gateway, GATEWAY);
    rt.rt_flags = RTF_UP | RTF_GATEWAY;
    rt.rt_dev = (char *)ifname;
    return ioctl(fd, SIOCADDRT, &rt);
}

int vmnet_up(const char *ifname)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        say("socket for", "the network's setup");
        return -1;
    }
    int rc = 0;
    if (link_up(fd, "lo") < 0) say("bring up", "lo");
    if (ifname && eth_up(fd, ifname) < 0) {
        say("configure", ifname);
        rc = -1;
    }
    close(fd);
    return rc;
}

void vmnet_resolv(void)
{
    int fd = open("/etc/resolv.conf", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, RESOLV, strlen(RESOLV)) < 0) say("write", "/etc/resolv.conf");
    if (fd >= 0) close(fd);
}
