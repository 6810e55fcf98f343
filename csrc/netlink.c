/* Raw rtnetlink for a container's veth pair (netlink.h says what and when).
 *
 *   host netns (calling thread)                 container netns (a socket opened there)
 *   RTM_NEWLINK veth host_name, master bridge,
 *     up; peer: peer_name, IFLA_NET_NS_FD, mtu,
 *     mac  -------------------------------------> peer_name appears (down)
 *   RTM_SETLINK AF_BRIDGE host_name: hairpin
 *                                               RTM_GETLINK peer_name -> ifindex, mac
 *                                               RTM_NEWADDR address/prefix
 *                                               RTM_NEWLINK peer up
 *                                               RTM_NEWROUTE default via gateway
 *   on any failure: RTM_DELLINK host_name (its peer goes with it)
 *
 * A netlink socket belongs to the network namespace it was made in, so a short-lived
 * thread setns()es into the container's and makes one; the calling thread never changes
 * namespace, and every request goes out from it. */
#define _GNU_SOURCE
#include "netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

#define REQUEST_SIZE 1024
#define REPLY_SIZE 16384

struct request {
    struct nlmsghdr *h;
    int overflow;
    _Alignas(struct nlmsghdr) char buf[REQUEST_SIZE];
};

/* One socket's conversation: its fd and the last sequence number used. */
struct channel {
    int fd;
    uint32_t seq;
};

static int fail(struct pyctr_err *err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct pyctr_err *err, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    err->stage = PYCTR_STAGE_NETWORK;
    err->errnum = errnum;
    errno = errnum;
    return -1;
}

/* A request of `type` whose fixed header (ifinfomsg, ifaddrmsg ...) is `hdrlen` zeroed bytes. */
static void *request_init(struct request *r, uint16_t type, uint16_t flags, size_t hdrlen)
{
    memset(r->buf, 0, sizeof r->buf);
    r->overflow = 0;
    r->h = (struct nlmsghdr *)r->buf;
    r->h->nlmsg_len = NLMSG_LENGTH(hdrlen);
    r->h->nlmsg_type = type;
    r->h->nlmsg_flags = NLM_F_REQUEST | flags;
    return NLMSG_DATA(r->h);
}

/* `len` bytes at the end of the request (aligned), or NULL when they do not fit. */
static void *request_room(struct request *r, size_t len)
{
    size_t off = NLMSG_ALIGN(r->h->nlmsg_len);
    if (off + RTA_ALIGN(len) > sizeof r->buf) {
        r->overflow = 1;
        return NULL;
    }
    r->h->nlmsg_len = (uint32_t)(off + RTA_ALIGN(len));
    return r->buf + off;
}

static struct rtattr *put(struct request *r, unsigned short type, const void *data, size_t len)
{
    struct rtattr *a = request_room(r, RTA_LENGTH(len));
    if (!a)
        return NULL;
    a->rta_type = type;
    a->rta_len = (unsigned short)RTA_LENGTH(len);
    if (len)
        memcpy(RTA_DATA(a), data, len);
    return a;
}

static void put_str(struct request *r, unsigned short type, const char *s)
{
    put(r, type, s, strlen(s) + 1);
}

static void put_u32(struct request *r, unsigned short type, uint32_t v)
{
    put(r, type, &v, sizeof v);
}

/* A nested attribute: opened here, its length set by nest_end once its content is in. */
static struct rtattr *nest(struct request *r, unsigned short type)
{
    return put(r, type, NULL, 0);
}

static void nest_end(struct request *r, struct rtattr *a)
{
    if (a)
        a->rta_len = (unsigned short)(r->buf + r->h->nlmsg_len - (char *)a);
}

/* The kernel's own words on a failure (extended ack), if it gave any. */
static const char *ack_text(const struct nlmsghdr *h)
{
    if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
        return NULL;
    const struct nlmsgerr *e = NLMSG_DATA(h);
    size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof *e); /* NETLINK_CAP_ACK: no request echoed */
    if (!(h->nlmsg_flags & NLM_F_CAPPED))
        off += NLMSG_ALIGN(e->msg.nlmsg_len) - NLMSG_HDRLEN;
    int left = (int)h->nlmsg_len - (int)off;
    for (const struct rtattr *a = (const void *)((const char *)h + off); RTA_OK(a, left); a = RTA_NEXT(a, left)) {
        if (a->rta_type == NLMSGERR_ATTR_MSG && RTA_PAYLOAD(a) > 1)
            return RTA_DATA(a);
    }
    return NULL;
}

/* Sends the request and waits for its answer: 0 (an ack, or with `reply` the message
 * answering a get, copied there), or -1 with errno and, if the kernel said why, *why. */
static int talk(struct channel *c, struct request *r, char *reply, size_t reply_size, const char **why,
                char *scratch)
{
    *why = NULL;
    if (r->overflow) {
        errno = EMSGSIZE;
        return -1;
    }
    r->h->nlmsg_seq = ++c->seq;
    if (!reply)
        r->h->nlmsg_flags |= NLM_F_ACK;
    if (send(c->fd, r->h, r->h->nlmsg_len, 0) < 0)
        return -1;
    for (;;) {
        ssize_t n = recv(c->fd, scratch, REPLY_SIZE, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        int left = (int)n;
        for (struct nlmsghdr *h = (void *)scratch; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
            if (h->nlmsg_seq != c->seq)
                continue; /* a late answer to an earlier request */
            if (h->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = NLMSG_DATA(h);
                if (e->error == 0)
                    return 0;
                *why = ack_text(h);
                errno = -e->error;
                return -1;
            }
            if (reply) {
                if (h->nlmsg_len > reply_size) {
                    errno = EMSGSIZE;
                    return -1;
                }
                memcpy(reply, h, h->nlmsg_len);
                return 0;
            }
        }
    }
}

/* talk() for a request answered by an ack; on failure `err` reads "<step>: <the kernel's
 * reason, or strerror>". */
static int ask(struct channel *c, struct request *r, const char *step, char *scratch, struct pyctr_err *err)
{
    const char *why;
    if (talk(c, r, NULL, 0, &why, scratch) == 0)
        return 0;
    int e = errno;
    return fail(err, e, "%s: %s", step, why ? why : strerror(e));
}

static int open_channel(struct channel *c)
{
    c->seq = 0;
    c->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (c->fd < 0)
        return -1;
    /* connected to the kernel (port 0): no other process can slip an answer in */
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (connect(c->fd, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
        pyctr_closep(&c->fd);
        c->fd = -1;
        return -1;
    }
    int on = 1;
    /* the kernel's reason in its acks; not our request echoed back */
    setsockopt(c->fd, SOL_NETLINK, NETLINK_EXT_ACK, &on, sizeof on);
    setsockopt(c->fd, SOL_NETLINK, NETLINK_CAP_ACK, &on, sizeof on);
    return 0;
}

/* ---- the container's network namespace: a socket made there by a thread ---- */

struct netns_socket {
    int netns_fd;
    struct channel channel;
    int errnum;
    const char *peer;
    int ipv6_fd; /* the peer's disable_ipv6 sysctl there, or -1 (a kernel without IPv6) */
};

static void *open_in_netns(void *arg)
{
    struct netns_socket *s = arg;
    /* this thread alone moves; it exits right after, taking the namespace with it */
    if (setns(s->netns_fd, CLONE_NEWNET) < 0 || open_channel(&s->channel) < 0) {
        s->errnum = errno;
        return NULL;
    }
    /* /proc/sys/net is the namespace of whoever opens it: this thread's, now */
    char path[96];
    snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/disable_ipv6", s->peer);
    s->ipv6_fd = open(path, O_WRONLY | O_CLOEXEC);
    if (s->ipv6_fd < 0 && errno != ENOENT)
        s->errnum = errno;
    return NULL;
}

static int channel_in_netns(int netns_fd, const char *peer, struct channel *c, int *ipv6_fd)
{
    struct netns_socket s = {.netns_fd = netns_fd, .channel = {.fd = -1}, .errnum = 0, .peer = peer, .ipv6_fd = -1};
    pthread_t thread;
    int rc = pthread_create(&thread, NULL, open_in_netns, &s);
    if (rc) {
        errno = rc;
        return -1;
    }
    pthread_join(thread, NULL);
    *c = s.channel;
    *ipv6_fd = s.ipv6_fd;
    if (s.errnum) {
        errno = s.errnum;
        return -1;
    }
    return 0;
}

/* ---- the steps ---- */

/* The bridge's index and MTU (through one ioctl socket; the netlink one would do as well). */
static int bridge_info(const char *bridge, int *index, unsigned int *mtu, struct pyctr_err *err)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    if (strlen(bridge) >= IFNAMSIZ)
        return fail(err, EINVAL, "bad bridge name %s", bridge);
    strcpy(ifr.ifr_name, bridge);
    _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return fail(err, errno, "socket");
    if (ioctl(s, SIOCGIFINDEX, &ifr) < 0)
        return fail(err, errno == ENODEV ? ENODEV : errno, "no bridge %s", bridge);
    *index = ifr.ifr_ifindex;
    if (ioctl(s, SIOCGIFMTU, &ifr) < 0)
        return fail(err, errno, "MTU of bridge %s", bridge);
    if (!*mtu)
        *mtu = (unsigned int)ifr.ifr_mtu;
    return 0;
}

static int open_netns(pid_t pid, struct pyctr_err *err)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
    int fd = pid > 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0)
        return fail(err, pid <= 0 || errno == ENOENT ? ESRCH : errno, "no process %d", (int)pid);
    /* a process of the host's own (--net host) would get the address and default route on
     * the host itself */
    struct stat theirs, ours;
    if (fstat(fd, &theirs) < 0 || stat("/proc/self/ns/net", &ours) < 0) {
        int e = errno;
        close(fd);
        return fail(err, e, "network namespace of process %d", (int)pid);
    }
    if (theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev) {
        close(fd);
        return fail(err, EINVAL, "process %d is in this network namespace, not one of its own", (int)pid);
    }
    return fd;
}

static int create_pair(struct channel *host, const struct pyctr_veth *v, int bridge_index, unsigned int mtu,
                       int netns_fd, char *scratch, struct pyctr_err *err)
{
    struct request r;
    struct ifinfomsg *ifi = request_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof *ifi);
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_flags = ifi->ifi_change = IFF_UP;
    put_str(&r, IFLA_IFNAME, v->host_name);
    put_u32(&r, IFLA_MTU, mtu);
    put_u32(&r, IFLA_MASTER, (uint32_t)bridge_index);
    struct rtattr *linkinfo = nest(&r, IFLA_LINKINFO);
    put_str(&r, IFLA_INFO_KIND, "veth");
    struct rtattr *data = nest(&r, IFLA_INFO_DATA);
    struct rtattr *peer = nest(&r, VETH_INFO_PEER);
    struct ifinfomsg *peer_ifi = request_room(&r, sizeof *peer_ifi);
    if (peer_ifi) /* not up yet: veth_open refuses (ENOTCONN) while its peer is being made */
        peer_ifi->ifi_family = AF_UNSPEC;
    put_str(&r, IFLA_IFNAME, v->peer_name);
    put_u32(&r, IFLA_NET_NS_FD, (uint32_t)netns_fd);
    put_u32(&r, IFLA_MTU, mtu);
    if (v->has_mac)
        put(&r, IFLA_ADDRESS, v->mac, 6);
    nest_end(&r, peer);
    nest_end(&r, data);
    nest_end(&r, linkinfo);
    const char *why;
    if (talk(host, &r, NULL, 0, &why, scratch) == 0)
        return 0;
    int e = errno;
    if (e == EEXIST && if_nametoindex(v->host_name))
        return fail(err, e, "link %s exists", v->host_name);
    if (e == EEXIST)
        return fail(err, e, "link %s exists in the container's network namespace", v->peer_name);
    return fail(err, e, "create veth %s: %s", v->host_name, why ? why : strerror(e));
}

/* The port may send a frame back where it came from: one container reaches another's
 * published port through the host (DNAT to a peer on the same bridge). */
static int set_hairpin(struct channel *host, const char *name, char *scratch, struct pyctr_err *err)
{
    struct request r;
    struct ifinfomsg *ifi = request_init(&r, RTM_SETLINK, 0, sizeof *ifi);
    ifi->ifi_family = AF_BRIDGE;
    ifi->ifi_index = (int)if_nametoindex(name); /* the bridge's setlink goes by index only */
    if (!ifi->ifi_index)
        return fail(err, errno, "hairpin on %s: %s", name, strerror(errno));
    /* NLA_F_NESTED: without it the bridge reads IFLA_PROTINFO as an old bare port state */
    struct rtattr *protinfo = nest(&r, IFLA_PROTINFO | NLA_F_NESTED);
    uint8_t on = 1;
    put(&r, IFLA_BRPORT_MODE, &on, 1);
    nest_end(&r, protinfo);
    char step[64];
    snprintf(step, sizeof step, "hairpin on %s", name);
    return ask(host, &r, step, scratch, err);
}

/* The peer's index (for the address and route) and its MAC, as the container sees it. */
static int peer_link(struct channel *inside, const char *name, int *index, uint8_t mac[6], char *scratch,
                     struct pyctr_err *err)
{
    struct request r;
    struct ifinfomsg *ifi = request_init(&r, RTM_GETLINK, 0, sizeof *ifi);
    ifi->ifi_family = AF_UNSPEC;
    put_str(&r, IFLA_IFNAME, name);
    put_u32(&r, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
    char reply[REPLY_SIZE] __attribute__((aligned(8)));
    const char *why;
    if (talk(inside, &r, reply, sizeof reply, &why, scratch) < 0)
        return fail(err, errno, "find %s in the container: %s", name, why ? why : strerror(errno));
    struct nlmsghdr *h = (void *)reply;
    struct ifinfomsg *got = NLMSG_DATA(h);
    *index = got->ifi_index;
    int left = (int)IFLA_PAYLOAD(h), found = 0;
    for (struct rtattr *a = IFLA_RTA(got); RTA_OK(a, left); a = RTA_NEXT(a, left)) {
        if (a->rta_type == IFLA_ADDRESS && RTA_PAYLOAD(a) == 6) {
            memcpy(mac, RTA_DATA(a), 6);
            found = 1;
        }
    }
    if (!found)
        return fail(err, EPROTO, "no MAC address on %s", name);
    return 0;
}

static int bring_up(struct channel *c, const char *name, int index, char *scratch, struct pyctr_err *err)
{
    struct request r;
    struct ifinfomsg *ifi = request_init(&r, RTM_NEWLINK, 0, sizeof *ifi);
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = index;
    ifi->ifi_flags = ifi->ifi_change = IFF_UP;
    char step[64];
    snprintf(step, sizeof step, "bring up %s", name);
    return ask(c, &r, step, scratch, err);
}

static int add_address(struct channel *inside, const struct pyctr_veth *v, int index, char *scratch,
                       struct pyctr_err *err)
{
    struct request r;
    struct ifaddrmsg *ifa = request_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof *ifa);
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = (unsigned char)v->prefix;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = (unsigned int)index;
    put(&r, IFA_LOCAL, &v->address, 4);
    put(&r, IFA_ADDRESS, &v->address, 4);
    if (v->prefix < 31) { /* `brd +`, as docker's addresses have */
        uint32_t host_bits = v->prefix ? ~0U >> v->prefix : ~0U;
        struct in_addr brd = {.s_addr = v->address.s_addr | htonl(host_bits)};
        put(&r, IFA_BROADCAST, &brd, 4);
    }
    char text[INET_ADDRSTRLEN], step[64];
    inet_ntop(AF_INET, &v->address, text, sizeof text);
    snprintf(step, sizeof step, "add address %s/%d", text, v->prefix);
    return ask(inside, &r, step, scratch, err);
}

static int add_default_route(struct channel *inside, const struct pyctr_veth *v, int index, char *scratch,
                             struct pyctr_err *err)
{
    struct request r;
    struct rtmsg *rt = request_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof *rt);
    rt->rtm_family = AF_INET;
    rt->rtm_table = RT_TABLE_MAIN;
    rt->rtm_protocol = RTPROT_BOOT;
    rt->rtm_scope = RT_SCOPE_UNIVERSE;
    rt->rtm_type = RTN_UNICAST;
    put(&r, RTA_GATEWAY, &v->gateway, 4);
    put_u32(&r, RTA_OIF, (uint32_t)index);
    char text[INET_ADDRSTRLEN], step[64];
    inet_ntop(AF_INET, &v->gateway, text, sizeof text);
    snprintf(step, sizeof step, "add default route via %s", text);
    return ask(inside, &r, step, scratch, err);
}

static int delete_by_name(struct channel *c, const char *name, char *scratch, const char **why)
{
    struct request r;
    struct ifinfomsg *ifi = request_init(&r, RTM_DELLINK, 0, sizeof *ifi);
    ifi->ifi_family = AF_UNSPEC;
    put_str(&r, IFLA_IFNAME, name);
    return talk(c, &r, NULL, 0, why, scratch);
}

/* Everything after the pair exists; a failure here leaves the caller to delete it. */
static int configure(struct channel *host, const struct pyctr_veth *v, int netns_fd, uint8_t mac_out[6],
                     char *scratch, struct pyctr_err *err)
{
    if (set_hairpin(host, v->host_name, scratch, err) < 0)
        return -1;
    struct channel inside = {.fd = -1};
    int ipv6 = -1;
    int opened = channel_in_netns(netns_fd, v->peer_name, &inside, &ipv6);
    _cleanup_close_ int inside_fd = inside.fd;
    _cleanup_close_ int ipv6_fd = ipv6;
    if (opened < 0)
        return fail(err, errno, "netlink socket in the container's network namespace");
    /* pyctr's networks are IPv4: without IPv6 on it, the container's link takes no
     * router advertisement from a neighbour (a route through it) and waits for no DAD */
    if (ipv6_fd >= 0 && write(ipv6_fd, "1", 1) != 1)
        return fail(err, errno, "disable IPv6 on %s", v->peer_name);
    int index = 0;
    if (peer_link(&inside, v->peer_name, &index, mac_out, scratch, err) < 0)
        return -1;
    if (add_address(&inside, v, index, scratch, err) < 0)
        return -1;
    /* up before the route: the kernel adds the subnet's route (which makes the gateway
     * reachable) only for an address on a link that is up */
    if (bring_up(&inside, v->peer_name, index, scratch, err) < 0)
        return -1;
    if (v->has_gateway && add_default_route(&inside, v, index, scratch, err) < 0)
        return -1;
    return 0;
}

static int check_name(const char *name, struct pyctr_err *err)
{
    size_t n = strlen(name);
    if (n == 0 || n >= IFNAMSIZ || strchr(name, '/') || strchr(name, ' '))
        return fail(err, EINVAL, "bad interface name '%s'", name);
    return 0;
}

int pyctr_veth_attach(const struct pyctr_veth *v, uint8_t mac_out[6], struct pyctr_err *err)
{
    if (check_name(v->host_name, err) < 0 || check_name(v->peer_name, err) < 0)
        return -1;
    if (v->prefix < 0 || v->prefix > 32)
        return fail(err, EINVAL, "bad prefix length %d", v->prefix);
    int bridge_index = 0;
    unsigned int mtu = v->mtu;
    if (bridge_info(v->bridge, &bridge_index, &mtu, err) < 0)
        return -1;
    _cleanup_close_ int netns_fd = open_netns(v->pid, err);
    if (netns_fd < 0)
        return -1;
    char scratch[REPLY_SIZE] __attribute__((aligned(8)));
    struct channel host;
    if (open_channel(&host) < 0)
        return fail(err, errno, "netlink socket");
    _cleanup_close_ int host_fd = host.fd;
    if (create_pair(&host, v, bridge_index, mtu, netns_fd, scratch, err) < 0)
        return -1;
    if (configure(&host, v, netns_fd, mac_out, scratch, err) == 0)
        return 0;
    const char *why;
    delete_by_name(&host, v->host_name, scratch, &why); /* its peer goes with it */
    errno = err->errnum;
    return -1;
}

int pyctr_link_delete(const char *name, struct pyctr_err *err)
{
    if (check_name(name, err) < 0)
        return -1;
    char scratch[REPLY_SIZE] __attribute__((aligned(8)));
    struct channel c;
    if (open_channel(&c) < 0)
        return fail(err, errno, "netlink socket");
    _cleanup_close_ int fd = c.fd;
    const char *why;
    if (delete_by_name(&c, name, scratch, &why) == 0)
        return 1;
    if (errno == ENODEV)
        return 0;
    return fail(err, errno, "delete link %s: %s", name, why ? why : strerror(errno));
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int pyctr_parse_mac(const char *text, uint8_t mac[6])
{
    uint8_t any = 0;
    for (int i = 0; i < 6; i++) {
        const char *p = text + 3 * i;
        int hi = hex_digit(p[0]), lo = hi < 0 ? -1 : hex_digit(p[1]);
        if (lo < 0 || p[2] != (i == 5 ? '\0' : ':'))
            return -1;
        mac[i] = (uint8_t)(hi << 4 | lo);
        any |= mac[i];
    }
    /* a multicast (or all-zero) address is no interface's */
    return (mac[0] & 1) || !any ? -1 : 0;
}
