/* A UDP datagram sent as a hand-made Ethernet frame (AF_PACKET, which CAP_NET_RAW allows,
 * one of docker's default capabilities): to any IPv4 address through a given next hop's
 * MAC, whatever the sender's own routes say.  The red-team tests use it to send to
 * 127.0.0.1 through the gateway, as an attacker in a container would.
 *
 *   raw_udp IFNAME NEXTHOP_MAC DST_IP DST_PORT PAYLOAD */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned short checksum(const void *data, size_t len)
{
    const unsigned short *p = data;
    unsigned long sum = 0;
    for (; len > 1; len -= 2)
        sum += *p++;
    if (len)
        sum += *(const unsigned char *)p;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (unsigned short)~sum;
}

int main(int argc, char **argv)
{
    if (argc != 6)
        return 2;
    int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_IP));
    if (fd < 0) {
        perror("socket");
        return 1;
    }
    struct ifreq ifr = {0};
    strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
    if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0)
        return perror("SIOCGIFINDEX"), 1;
    int index = ifr.ifr_ifindex;
    if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
        return perror("SIOCGIFHWADDR"), 1;
    unsigned char own_mac[6];
    memcpy(own_mac, ifr.ifr_hwaddr.sa_data, 6);
    ifr.ifr_addr.sa_family = AF_INET;
    if (ioctl(fd, SIOCGIFADDR, &ifr) < 0)
        return perror("SIOCGIFADDR"), 1;
    struct in_addr own_ip = ((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr;
    unsigned char next_mac[6];
    if (sscanf(argv[2], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &next_mac[0], &next_mac[1], &next_mac[2], &next_mac[3],
               &next_mac[4], &next_mac[5]) != 6)
        return 2;

    unsigned char frame[1514] = {0};
    size_t payload = strlen(argv[5]);
    if (payload > 1400)
        return 2;
    struct ether_header *eth = (struct ether_header *)frame;
    memcpy(eth->ether_dhost, next_mac, 6);
    memcpy(eth->ether_shost, own_mac, 6);
    eth->ether_type = htons(ETHERTYPE_IP);
    struct iphdr *ip = (struct iphdr *)(frame + sizeof *eth);
    ip->version = 4;
    ip->ihl = 5;
    ip->ttl = 64;
    ip->protocol = IPPROTO_UDP;
    ip->saddr = own_ip.s_addr;
    if (inet_pton(AF_INET, argv[3], &ip->daddr) != 1)
        return 2;
    ip->tot_len = htons((unsigned short)(sizeof *ip + sizeof(struct udphdr) + payload));
    ip->check = checksum(ip, sizeof *ip);
    struct udphdr *udp = (struct udphdr *)(ip + 1);
    udp->source = htons(40000);
    udp->dest = htons((unsigned short)atoi(argv[4]));
    udp->len = htons((unsigned short)(sizeof *udp + payload));
    udp->check = 0; /* none: allowed over IPv4 */
    memcpy(udp + 1, argv[5], payload);

    struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_ifindex = index, .sll_halen = 6};
    memcpy(to.sll_addr, next_mac, 6);
    size_t len = sizeof *eth + sizeof *ip + sizeof *udp + payload;
    for (int i = 0; i < 5; i++) {
        if (sendto(fd, frame, len, 0, (struct sockaddr *)&to, sizeof to) < 0)
            return perror("sendto"), 1;
        usleep(100000);
    }
    return 0;
}
