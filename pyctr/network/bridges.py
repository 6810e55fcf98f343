"""Bridges on the host through pyroute2: a network's bridge with its gateway address made and
removed, the host's routes (for subnet overlap checks), forwarding, and the links sweeps
look for.

Management only (network create/rm/prune, a network's first use, sweeps): `import pyroute2`
costs about 200 ms whichever submodule is named (its __init__ loads asyncio, NDB, conntrack
and more), so it is imported inside the functions, and importing this module costs nothing.
Each function opens one netlink socket and closes it.
"""

import errno
import os

from .errors import NetworkError

ALIAS = "pyctr"  # IFLA_IFALIAS of every bridge pyctr makes: sweeps find them by it
VETH_PREFIX = "pv"  # the host end of a container's veth pair is named pv<...>
MAIN_TABLE = 254  # RT_TABLE_MAIN
DEFAULT_MTU = 1500
_CONF = "/proc/sys/net/ipv4/conf/{}/{}"
_CONF6 = "/proc/sys/net/ipv6/conf/{}/disable_ipv6"
_FORWARD = "/proc/sys/net/ipv4/ip_forward"


class _netlink:
    """`with _netlink(what) as ipr`: an IPRoute socket, closed after; a netlink or OS error
    that escapes becomes a one-line NetworkError saying what failed.  (A class, not
    contextlib's decorator: contextlib is 2.5 ms to import.)"""

    def __init__(self, what: str):
        self.what = what

    def _failed(self, e: BaseException) -> NetworkError | None:
        from pyroute2.netlink.exceptions import NetlinkError

        if isinstance(e, NetlinkError):
            return NetworkError(f"{self.what}: {os.strerror(e.code)}")
        if isinstance(e, OSError):
            return NetworkError(f"{self.what}: {e.strerror or e}")
        return None

    def __enter__(self):
        from pyroute2 import IPRoute

        try:
            self.ipr = IPRoute()
        except Exception as e:
            raise (self._failed(e) or e) from None
        return self.ipr

    def __exit__(self, kind, e, traceback):
        self.ipr.close()
        failure = e and self._failed(e)
        if failure:
            raise failure from None
        return False


def _code(e: Exception) -> int:
    return getattr(e, "code", 0)


def _attr(msg, name, default=None):
    value = msg.get_attr(name)
    return default if value is None else value


def _kind(link) -> str:
    info = link.get_attr("IFLA_LINKINFO")
    return (info.get_attr("IFLA_INFO_KIND") if info else None) or ""


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _default_mtu(ipr) -> int:
    """The MTU of the interface that holds the main table's IPv4 default route: a bridge
    behind it must not send bigger packets than leave the host; 1500 when there is none."""
    import socket

    for route in ipr.get_default_routes(family=socket.AF_INET, table=MAIN_TABLE):
        oif = route.get_attr("RTA_OIF")
        if oif:
            links = ipr.get_links(oif)
            if links:
                return _attr(links[0], "IFLA_MTU", DEFAULT_MTU)
    return DEFAULT_MTU


def _addresses(ipr, index: int) -> set[tuple[str, int]]:
    import socket

    return {(a.get_attr("IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr(family=socket.AF_INET, index=index)}


def create(name: str, address: str, prefix: int, mtu: int = 0) -> None:
    """A bridge `name` holding `address/prefix` (the network's gateway), up, marked ours
    (alias "pyctr"), with route_localnet=1 so that traffic to 127.0.0.1:PORT DNATed to a
    container may leave through it (the kernel otherwise drops a 127/8 source on a
    non-loopback interface; the rule that masquerades it is firewall.py's).  mtu 0: that
    of the interface holding the default route.  A bridge already there with this address
    is fine (it is brought up again); any other link of that name is a NetworkError."""
    with _netlink(f"cannot set up bridge {name} with {address}/{prefix}") as ipr:
        mtu = mtu or _default_mtu(ipr)
        try:
            ipr.link("add", ifname=name, kind="bridge", mtu=mtu)
        except Exception as e:
            if _code(e) != errno.EEXIST:
                raise
            _check_existing(ipr, name, address, prefix)
            index = ipr.link_lookup(ifname=name)[0]
        else:
            index = ipr.link_lookup(ifname=name)[0]
            try:
                ipr.link("set", index=index, ifalias=ALIAS)  # the kernel takes it only on a set
                ipr.addr("add", index=index, address=address, prefixlen=prefix)
            except Exception:
                ipr.link("del", index=index)
                raise
        _write(_CONF.format(name, "route_localnet"), "1")
        _no_ipv6(name)
        ipr.link("set", index=index, state="up")


def _no_ipv6(name: str) -> None:
    """IPv6 off on the bridge (pyctr's networks are IPv4 only): with the kernel's defaults
    (accept_ra=1, forwarding off) the host would take a container's router advertisements
    (CAP_NET_RAW, a default capability, sends them) and route its IPv6 through it
    (CVE-2020-13401 in docker); nor does a link-local address of the host's face them.
    The bridge still carries the containers' own IPv6 frames between its ports."""
    path = _CONF6.format(name)
    if os.path.exists(path):  # a kernel without IPv6 has none
        _write(path, "1")


def _check_existing(ipr, name: str, address: str, prefix: int) -> None:
    links = ipr.get_links(ifname=name)
    if not links or _kind(links[0]) != "bridge":
        raise NetworkError(f"a link named {name} exists and is not a bridge")
    if (address, prefix) not in _addresses(ipr, links[0]["index"]):
        raise NetworkError(f"bridge {name} exists without the address {address}/{prefix}")


def delete(name: str) -> bool:
    """Removes pyctr's bridge `name` (its address and routes go with it); False if there
    is none.  A link of that name that pyctr did not make is left alone: NetworkError."""
    with _netlink(f"cannot remove bridge {name}") as ipr:
        try:
            links = ipr.get_links(ifname=name)
            if not links:
                return False
            if _kind(links[0]) != "bridge" or links[0].get_attr("IFLA_IFALIAS") != ALIAS:
                raise NetworkError(f"link {name} is not a bridge pyctr made; not removing it")
            ipr.link("del", index=links[0]["index"])
        except Exception as e:
            if _code(e) == errno.ENODEV:  # none, or removed meanwhile
                return False
            raise
        return True


def exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def host_routes() -> list:
    """The destinations of the main table's IPv4 routes (ipaddress.IPv4Network: imported
    here, not at the top, for its 4 ms), for a new subnet's overlap check.
    Default routes (0.0.0.0/0) are left out: they overlap everything and take nothing."""
    import ipaddress
    import socket

    with _netlink("cannot list the host's routes") as ipr:
        routes = ipr.get_routes(family=socket.AF_INET, table=MAIN_TABLE)
    found = []
    for route in routes:
        if route["dst_len"]:
            found.append(ipaddress.IPv4Network(f"{route.get_attr('RTA_DST')}/{route['dst_len']}", strict=False))
    return found


def ensure_forwarding() -> bool:
    """Sets net.ipv4.ip_forward to 1 if it was 0 (a bridge's containers reach nothing
    beyond the host without it); returns whether it changed it.  It is host-wide and left
    on, as docker and podman leave it."""
    with open(_FORWARD) as f:
        if f.read().strip() != "0":
            return False
    _write(_FORWARD, "1")
    return True


def our_links() -> list[str]:
    """The links a sweep may remove: bridges with pyctr's alias, and veths named pv*
    (the host ends of containers' pairs)."""
    with _netlink("cannot list the host's links") as ipr:
        links = ipr.get_links()
    found = []
    for link in links:
        name, kind = link.get_attr("IFLA_IFNAME"), _kind(link)
        if (kind == "bridge" and link.get_attr("IFLA_IFALIAS") == ALIAS) or (
                kind == "veth" and name.startswith(VETH_PREFIX)):
            found.append(name)
    return found
