# cython: language_level=3
"""A container's veth pair in raw rtnetlink (csrc/netlink.c): the per-container part of a
bridge network, in C because `import pyroute2` alone costs 160-250 ms of every `run`.

A leaf: it imports nothing of pyctr, and every failure is an OSError with the errno and a
one-line message naming the step.
"""
from libc.stdint cimport uint8_t
from libc.string cimport memset

import os

cdef extern from "<netinet/in.h>" nogil:
    struct in_addr:
        unsigned int s_addr

cdef extern from "<arpa/inet.h>" nogil:
    int inet_pton(int af, const char *src, void *dst)
    int AF_INET

cdef extern from "<net/if.h>" nogil:
    unsigned int if_nametoindex(const char *name)

cdef extern from "pyctr.h" nogil:
    struct pyctr_err:
        int stage
        int errnum
        char message[240]

cdef extern from "netlink.h" nogil:
    struct pyctr_veth:
        int pid
        const char *host_name
        const char *peer_name
        const char *bridge
        in_addr address
        int prefix
        int has_gateway
        in_addr gateway
        unsigned int mtu
        int has_mac
        uint8_t mac[6]
    int pyctr_veth_attach(const pyctr_veth *veth, uint8_t *mac_out, pyctr_err *err)
    int pyctr_link_delete(const char *name, pyctr_err *err)
    int pyctr_parse_mac(const char *text, uint8_t *mac)


cdef object _os_error(pyctr_err *err):
    return OSError(err.errnum, err.message.decode("utf-8", "replace"))


cdef bytes _name(str name):
    b = os.fsencode(name)
    if b"\0" in b:
        raise OSError(22, f"bad interface name {name!r}")
    return b


cdef void _ipv4(str text, in_addr *out) except *:
    b = text.encode("ascii", "replace")
    if inet_pton(AF_INET, b, out) != 1:
        raise OSError(22, f"bad IPv4 address {text!r}")


def attach(int pid, str host_name, str peer_name, str bridge, str address, int prefix, gateway=None,
           unsigned int mtu=0, mac=None) -> str:
    """One veth pair: `host_name` on `bridge` (hairpin, up), its peer `peer_name` made in
    the network namespace of `pid` with `mac` (None: the kernel's), MTU `mtu` (0: the
    bridge's), `address/prefix`, up, and a default route via `gateway` (if any).  Returns
    the peer's MAC ("02:42:0a:58:00:05").  On failure nothing is left and OSError is raised."""
    cdef pyctr_veth v
    cdef pyctr_err err
    cdef uint8_t out[6]
    cdef int rc
    cdef bytes host, peer, br
    memset(&v, 0, sizeof(v))
    v.pid = pid
    host, peer, br = _name(host_name), _name(peer_name), _name(bridge)
    v.host_name, v.peer_name, v.bridge = host, peer, br
    _ipv4(address, &v.address)
    v.prefix = prefix
    if gateway is not None:
        _ipv4(gateway, &v.gateway)
        v.has_gateway = 1
    v.mtu = mtu
    if mac is not None:
        if pyctr_parse_mac(str(mac).encode("ascii", "replace"), v.mac) < 0:
            raise OSError(22, f"bad MAC address {mac!r}")
        v.has_mac = 1
    with nogil:
        rc = pyctr_veth_attach(&v, out, &err)
    if rc < 0:
        raise _os_error(&err)
    return ":".join(f"{out[i]:02x}" for i in range(6))


def delete_link(str name) -> bool:
    """Deletes the link `name` (a veth's peer goes with it); False if there was none."""
    cdef pyctr_err err
    cdef bytes b = _name(name)
    cdef const char *c = b
    cdef int rc
    with nogil:
        rc = pyctr_link_delete(c, &err)
    if rc < 0:
        raise _os_error(&err)
    return rc == 1


def link_exists(str name) -> bool:
    """Whether this network namespace has a link `name`."""
    cdef bytes b = _name(name)
    return if_nametoindex(b) != 0
