"""Address arithmetic for networks: a subnet checked and its gateway chosen, free subnets
picked from pyctr's pools, and the lowest free address in a subnet.  Pure functions: which
addresses are taken is the store's to say (inside its transaction), so two starts at once
never get the same one.

`ipaddress` (1.4 ms to import) is loaded by the functions that check what a user typed
or pick subnets; what every start on a bridge does (its free address, its prefix, its
MAC) is plain arithmetic on the stored texts, so a start imports none of it."""

from .errors import NetworkError

# The default network's subnet, as podman's (10.88.0.0/16), and the pool `network create`
# draws /24s from when given no subnet (podman's too: 10.89.0.0/24 upwards).
DEFAULT_SUBNET = "10.88.0.0/16"
POOL = "10.89.0.0/16"
POOL_PREFIX = 24


def parse_subnet(text: str):  # -> ipaddress.IPv4Network
    """"10.88.7.0/24" -> the network; host bits set or no room for a container: an error."""
    import ipaddress
    try:
        subnet = ipaddress.IPv4Network(text, strict=True)
    except ValueError as e:
        raise NetworkError(f"invalid subnet {text!r}: {e}") from None
    if subnet.prefixlen > 30:
        raise NetworkError(f"invalid subnet {text!r}: a /{subnet.prefixlen} has no room for containers (at most /30)")
    return subnet


def parse_address(text: str, what: str = "address"):  # -> ipaddress.IPv4Address
    import ipaddress
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        raise NetworkError(f"invalid {what} {text!r}: not an IPv4 address") from None


def gateway_for(subnet, asked: str | None = None):
    """--gateway, checked to be a host address of the subnet; else its first one."""
    if asked is None:
        return subnet.network_address + 1
    gateway = parse_address(asked, "gateway")
    if not usable(subnet, gateway):
        raise NetworkError(f"gateway {gateway} is not a host address of {subnet}")
    return gateway


def usable(subnet, address) -> bool:
    """Inside the subnet, and neither its network nor its broadcast address."""
    return address in subnet and address not in (subnet.network_address, subnet.broadcast_address)


def overlapping(subnet, others):
    """The first of `others` that shares an address with `subnet`."""
    for other in others:
        if subnet.overlaps(other):
            return other
    return None


def free_subnet(taken, pool: str = POOL,
                prefix: int = POOL_PREFIX):
    """The first /`prefix` of the pool that overlaps nothing taken (networks of this root,
    the host's routes)."""
    import ipaddress
    for candidate in ipaddress.IPv4Network(pool).subnets(new_prefix=prefix):
        if overlapping(candidate, taken) is None:
            return candidate
    raise NetworkError(f"no free subnet left in {pool}: give one with --subnet")


def first_free(subnet: str, taken: set[str]) -> str:
    """The lowest host address of the subnet ("10.88.0.0/16") not in `taken` (addresses as
    text; the gateway is among them)."""
    network, prefix = subnet.split("/")
    base = _number(network)
    last = base | ((1 << (32 - int(prefix))) - 1)
    for n in range(base + 1, last):  # neither the network's address nor its broadcast
        address = _text(n)
        if address not in taken:
            return address
    raise NetworkError(f"no free address left in {subnet}")


def prefix_of(subnet: str) -> int:
    return int(subnet.split("/")[1])


def _number(address: str) -> int:
    a, b, c, d = (int(octet) for octet in address.split("."))
    return a << 24 | b << 16 | c << 8 | d


def _text(n: int) -> str:
    return f"{n >> 24 & 255}.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def mac_for(address: str) -> str:
    """docker's MAC for an address (02:42 + its four bytes): one address always has one
    MAC, so a neighbour's ARP cache is never stale when an address is used again."""
    return "02:42:" + ":".join(f"{int(octet):02x}" for octet in address.split("."))


def parse_mac(text: str) -> str:
    """--mac-address: six hex octets, unicast; lower case."""
    parts = text.split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
        raise NetworkError(f"invalid MAC address {text!r}: six hex octets, like 02:42:ac:11:00:02")
    if int(parts[0], 16) & 1:
        raise NetworkError(f"invalid MAC address {text!r}: a multicast address")
    return text.lower()
