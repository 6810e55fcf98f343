/* An IPv6 router advertisement to all nodes (ff02::1) on a link, as an attacker in a
 * container with CAP_NET_RAW (a default capability) could send: router lifetime 0 (no
 * default route: harmless to this machine), one prefix, on-link and for autoconfiguration.
 * A host that takes it configures an address of the prefix on the link it came in by.
 *
 *   router_advert IFNAME PREFIX (2001:db8:5:1::, a /64) */
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    int fd = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6); /* the kernel fills the checksum */
    if (fd < 0)
        return perror("socket"), 1;
    unsigned index = if_nametoindex(argv[1]);
    int hops = 255; /* RFC 4861: anything else is dropped */
    if (!index || setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) < 0 ||
        setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &index, sizeof index) < 0)
        return perror("setsockopt"), 1;

    struct {
        struct nd_router_advert ra;
        struct nd_opt_prefix_info pi;
    } msg;
    memset(&msg, 0, sizeof msg);
    msg.ra.nd_ra_type = ND_ROUTER_ADVERT;
    msg.ra.nd_ra_curhoplimit = 64;
    msg.ra.nd_ra_router_lifetime = 0;
    msg.pi.nd_opt_pi_type = ND_OPT_PREFIX_INFORMATION;
    msg.pi.nd_opt_pi_len = 4;
    msg.pi.nd_opt_pi_prefix_len = 64;
    msg.pi.nd_opt_pi_flags_reserved = ND_OPT_PI_FLAG_ONLINK | ND_OPT_PI_FLAG_AUTO;
    msg.pi.nd_opt_pi_valid_time = htonl(120);
    msg.pi.nd_opt_pi_preferred_time = htonl(60);
    if (inet_pton(AF_INET6, argv[2], &msg.pi.nd_opt_pi_prefix) != 1)
        return 2;

    struct sockaddr_in6 to = {.sin6_family = AF_INET6, .sin6_scope_id = index};
    inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);
    int sent = 0;
    /* the link-local source address is usable once its duplicate detection is over */
    for (int i = 0; i < 30; i++) {
        if (sendto(fd, &msg, sizeof msg, 0, (struct sockaddr *)&to, sizeof to) == (ssize_t)sizeof msg)
            sent++;
        usleep(200000);
    }
    if (!sent)
        return perror("sendto"), 1;
    printf("sent %d\n", sent);
    return 0;
}
