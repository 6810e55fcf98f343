/* A container's end of a bridge network in raw rtnetlink: one veth pair, its host end on a
 * bridge, its peer made straight inside the container's network namespace with an address
 * and a default route.  The per-container path of `run`, so it cannot afford pyroute2's
 * import (160-250 ms); networks themselves (bridges, rules) are made elsewhere.
 *
 * Parent side only (it allocates nothing, but it makes a thread): called after the
 * container's first process was cloned into its new network namespace and before its
 * go-ahead, where OCI createRuntime hooks and CNI run. */
#ifndef PYCTR_NETLINK_H
#define PYCTR_NETLINK_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/types.h>

#include "pyctr.h"

struct pyctr_veth {
    pid_t pid;             /* whose network namespace the peer is made in */
    const char *host_name; /* the host end, <= 15 characters */
    const char *peer_name; /* inside: "eth0" */
    const char *bridge;    /* the host end's master */
    struct in_addr address;
    int prefix;            /* 0..32 */
    int has_gateway;
    struct in_addr gateway;
    unsigned int mtu;      /* 0: the bridge's */
    int has_mac;
    uint8_t mac[6];        /* the peer's; without has_mac the kernel picks one */
};

/* Makes the pair and configures both ends (hairpin on the bridge port, both ends up, the
 * address and the default route inside).  `mac_out` receives the peer's MAC.  On failure
 * nothing made is left (the host end is deleted, its peer goes with it) and -1 is returned,
 * `err` holding errno and a one-line message naming the step (stage "network"). */
int pyctr_veth_attach(const struct pyctr_veth *veth, uint8_t mac_out[6], struct pyctr_err *err);

/* RTM_DELLINK by name: 1 deleted, 0 there was none, -1 with `err` filled in. */
int pyctr_link_delete(const char *name, struct pyctr_err *err);

/* "02:42:0a:58:00:05" -> 6 bytes; 0, or -1 for anything else. */
int pyctr_parse_mac(const char *text, uint8_t mac[6]);

#endif
