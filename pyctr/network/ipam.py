"""Address arithmetic for networks: a subnet checked and its gateway chosen, free subnets
picked from pyctr's pools, and the lowest free address in a subnet.  Pure functions: which
addresses are taken is the store's to say (inside its transaction), so two starts at once
never get the same one."""

import ipaddress

from .errors import NetworkError

# The default network's subnet, as podman's (10.88.0.0/16), and the pool `network create`
# draws /24s from when given no subnet (podman's too: 10.89.0.0/24 upwards).
DEFAULT_SUBNET = "10.88.0.0/16"
POOL = ipaddress.IPv4Network("10.89.0.0/16")
POOL_PREFIX = 24


def parse_subnet(text: str) -> ipaddress.IPv4Network:
    """"10.88.7.0/24" -> the network; host bits set or no room for a container: an error."""
    try:
        subnet = ipaddress.IPv4Network(text, strict=True)
    except ValueError as e:
        raise NetworkError(f"invalid subnet {text!r}: {e}") from None
    if subnet.prefixlen > 30:
        raise NetworkError(f"invalid subnet {text!r}: a /{subnet.prefixlen} has no room for containers (at most /30)")
    return subnet


def parse_address(text: str, what: str = "address") -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        raise NetworkError(f"invalid {what} {text!r}: not an IPv4 address") from None


def gateway_for(subnet: ipaddress.IPv4Network, asked: str | None = None) -> ipaddress.IPv4Address:
    """--gateway, checked to be a host address of the subnet; else its first one."""
    if asked is None:
        return subnet.network_address + 1
    gateway = parse_address(asked, "gateway")
    if not usable(subnet, gateway):
        raise NetworkError(f"gateway {gateway} is not a host address of {subnet}")
    return gateway


def usable(subnet: ipaddress.IPv4Network, address: ipaddress.IPv4Address) -> bool:
    """Inside the subnet, and neither its network nor its broadcast address."""
    return address in subnet and address not in (subnet.network_address, subnet.broadcast_address)


def overlapping(subnet: ipaddress.IPv4Network, others) -> ipaddress.IPv4Network | None:
    """The first of `others` that shares an address with `subnet`."""
    for other in others:
        if subnet.overlaps(other):
            return other
    return None


def free_subnet(taken: list[ipaddress.IPv4Network], pool: ipaddress.IPv4Network = POOL,
                prefix: int = POOL_PREFIX) -> ipaddress.IPv4Network:
    """The first /`prefix` of the pool that overlaps nothing taken (networks of this root,
    the host's routes)."""
    for candidate in pool.subnets(new_prefix=prefix):
        if overlapping(candidate, taken) is None:
            return candidate
    raise NetworkError(f"no free subnet left in {pool}: give one with --subnet")


def first_free(subnet: ipaddress.IPv4Network, taken: set[str]) -> ipaddress.IPv4Address:
    """The lowest host address of the subnet not in `taken` (addresses as text; the
    gateway is among them)."""
    first, last = int(subnet.network_address) + 1, int(subnet.broadcast_address) - 1
    for n in range(first, last + 1):
        address = ipaddress.IPv4Address(n)
        if str(address) not in taken:
            return address
    raise NetworkError(f"no free address left in {subnet}")


def parse_mac(text: str) -> str:
    """--mac-address: six hex octets, unicast; lower case."""
    parts = text.split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
        raise NetworkError(f"invalid MAC address {text!r}: six hex octets, like 02:42:ac:11:00:02")
    if int(parts[0], 16) & 1:
        raise NetworkError(f"invalid MAC address {text!r}: a multicast address")
    return text.lower()
