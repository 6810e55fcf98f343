"""pyctr's nftables rules: one `table ip <table>` per pyctr root holding the NAT, the published
ports and the isolation between networks, changed one atomic batch per call.

    map tcp_any, udp_any       host port -> container address . port, on every host address
    map tcp_at, udp_at         host address . port -> container address . port
    chain prerouting, output   nat: a packet for one of the host's own addresses (127.0.0.1,
                               eth0's, a gateway) goes through `published`: from outside and
                               from containers (prerouting), from the host itself (output)
    chain published            the DNAT: the four map lookups, one address before every address
    chain postrouting          nat, per network: masquerade (see add_network)
    chain forward              filter: DNATed connections and replies pass; then `isolate`
    chain isolate              per network: nothing else enters its bridge from elsewhere
                               (another network, the outside, the host's other links)
    chain input                filter, per network: nothing for 127.0.0.0/8 comes in by
                               its bridge but replies (see add_network)

Rules of the table itself carry the comment "pyctr"; a network's rules "pyctr:<bridge>", so
remove_network finds them, and map elements carry the container id, so unpublish does.
Commands go in nft's own language through libnftables (nft.py); names are checked against
a strict pattern first, so nothing but a name can reach a command.
"""

import ipaddress
import re

from ..records import record
from . import nft
from .errors import NetworkError, NftError, PortInUse
from .ports import PROTOCOLS, clashes

# the tables' names ("pyctr" for the default root, "pyctr-<8 hex>" for others), the comment
# on each table's own rules, and the prefix of its networks' ("pyctr:<bridge>")
TAG = "pyctr"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}")  # a link name (IFNAMSIZ - 1)
_TABLE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
_OWNER = re.compile(r"[0-9A-Za-z_.-]{1,100}")  # a container id, as an element comment
# chains whose rules are all the table's own: ensure() rewrites them whole
_BASE_RULES = {
    "prerouting": ["fib daddr type local jump published"],
    "output": ["fib daddr type local jump published"],
    "published": [f"dnat to ip daddr . {p} dport map @{p}_at" for p in PROTOCOLS]
                 + [f"dnat to {p} dport map @{p}_any" for p in PROTOCOLS],
    # a connection DNATed to a published port may come from anywhere, and replies (and
    # their ICMP errors) go back; anything else is for `isolate`
    "forward": ["ct status dnat accept", "ct state established,related accept", "jump isolate"],
}
_CHAINS = {
    "published": "",
    "isolate": "",
    "prerouting": "type nat hook prerouting priority dstnat; policy accept;",
    "output": "type nat hook output priority -100; policy accept;",
    "postrouting": "type nat hook postrouting priority srcnat; policy accept;",
    "forward": "type filter hook forward priority filter; policy accept;",
    "input": "type filter hook input priority filter; policy accept;",
}


@record
class Port:
    """One published port as the maps hold it: host_ip "" is every address of the host."""
    proto: str  # "tcp" | "udp"
    host_ip: str
    host_port: int
    container_ip: str
    container_port: int


def describe(port: Port) -> str:
    """docker's way to name a published host port: 0.0.0.0:8080/tcp."""
    return f"{port.host_ip or '0.0.0.0'}:{port.host_port}/{port.proto}"


def _check(pattern, value: str, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise NetworkError(f"invalid {what} for nftables: {value!r}")
    return value


def _table(table: str) -> str:
    return f"ip {_check(_TABLE, table, 'table name')}"


def _map(proto: str, at: bool) -> str:
    return f"{proto}_{'at' if at else 'any'}"


def ensure(table: str) -> None:
    """The table, its sets, maps and chains, and its own rules, made or made whole again
    (the chains holding only the table's rules are flushed and refilled, in the same
    batch); networks' rules and published ports are kept."""
    t = _table(table)
    lines = [f"add table {t}"]
    for proto in PROTOCOLS:
        lines.append(f"add map {t} {_map(proto, False)} {{ type inet_service : ipv4_addr . inet_service; }}")
        lines.append(f"add map {t} {_map(proto, True)} "
                     "{ type ipv4_addr . inet_service : ipv4_addr . inet_service; }")
    lines += [f"add chain {t} {name} {{ {spec} }}" for name, spec in _CHAINS.items()]
    for chain, rules in _BASE_RULES.items():
        lines.append(f"flush chain {t} {chain}")
        lines += [f'add rule {t} {chain} {rule} comment "{TAG}"' for rule in rules]
    nft.run("\n".join(lines))


def _network_rules(bridge: str, subnet: ipaddress.IPv4Network) -> dict[str, list[str]]:
    b = f'"{bridge}"'
    return {
        "postrouting": [
            # a container's traffic to anywhere but its own bridge leaves with the address
            # of the interface it leaves by (the outside, another network, the host side)
            f"ip saddr {subnet} oifname != {b} masquerade",
            # the host's 127.0.0.1:PORT DNATed into the bridge: the container cannot answer
            # 127.0.0.1 (its own lo), so it gets the gateway's address
            f"oifname {b} ip saddr 127.0.0.0/8 masquerade",
            # hairpin: a container reaching a published port of its own network (its own
            # too) via the gateway or a host address; without it the answer goes straight
            # back over the bridge from an address the client never asked
            f"oifname {b} ip saddr {subnet} ct status dnat masquerade",
        ],
        # a container is reached only by its own network, by the host itself (which does
        # not forward), and through its published ports: not by another network's
        # containers, nor by a machine that routes the subnet via this host
        "isolate": [f"oifname {b} iifname != {b} drop"],
        # route_localnet=1 on the bridge (for -p's 127.0.0.1) also makes the kernel take a
        # packet for 127.0.0.1 that a container sends to the gateway's MAC (a raw frame:
        # CAP_NET_RAW is a default capability), and deliver it to what the host serves on
        # loopback only (CVE-2020-8558); the replies of the host's own 127.0.0.1:PORT
        # connections to a container are all that may come in so
        "input": [f"iifname {b} ip daddr 127.0.0.0/8 ct state new,invalid,untracked drop"],
    }


def _listing(table: str) -> list[dict] | None:
    """The table's objects, as JSON (rules with handles); None if there is no such table."""
    _check(_TABLE, table, "table name")
    if table not in _all_tables():
        return None
    return nft.run_listing(f"list table ip {table}")


def _rules_of(objects: list[dict], comment: str) -> list[dict]:
    return [o["rule"] for o in objects if "rule" in o and o["rule"].get("comment") == comment]


def _delete_rules(table: str, rules: list[dict]) -> list[str]:
    return [f"delete rule ip {table} {r['chain']} handle {r['handle']}" for r in rules]


def add_network(table: str, bridge: str, subnet) -> None:
    """A network's rules.  Idempotent: its rules already there are replaced, in the same
    batch, so a second call leaves one copy."""
    _check(_NAME, bridge, "bridge name")
    subnet = _subnet(subnet)
    objects = _listing(table)
    if objects is None:
        raise NetworkError(f"nftables table ip {table} does not exist (ensure() first)")
    comment = f"{TAG}:{bridge}"
    lines = _delete_rules(table, _rules_of(objects, comment))
    for chain, rules in _network_rules(bridge, subnet).items():
        lines += [f'add rule ip {table} {chain} {rule} comment "{comment}"' for rule in rules]
    nft.run("\n".join(lines))


def remove_network(table: str, bridge: str) -> None:
    """Removes a network's rules; none there is fine."""
    _check(_NAME, bridge, "bridge name")
    objects = _listing(table)
    if objects is None:
        return
    lines = _delete_rules(table, _rules_of(objects, f"{TAG}:{bridge}"))
    if lines:
        nft.run("\n".join(lines))


def networks(table: str) -> list[str]:
    """The bridges the table holds rules of (for sweeps: those of networks no longer in
    the store are to be removed)."""
    objects = _listing(table)
    if objects is None:
        return []
    prefix = f"{TAG}:"
    named = [o["rule"]["comment"][len(prefix):] for o in objects
             if "rule" in o and o["rule"].get("comment", "").startswith(prefix)]
    return sorted(set(named))


def _port_of(proto: str, key, value) -> tuple[Port, str]:
    """A map element (JSON) as (Port, container id)."""
    owner = key["elem"].get("comment", "") if isinstance(key, dict) and "elem" in key else ""
    key = key["elem"]["val"] if isinstance(key, dict) and "elem" in key else key
    host_ip, host_port = key["concat"] if isinstance(key, dict) else ("", key)
    container_ip, container_port = value["concat"]
    return Port(proto, host_ip, host_port, container_ip, container_port), owner


def _published(objects: list[dict]) -> list[tuple[Port, str]]:
    found = []
    for o in objects:
        m = o.get("map")
        if m and m["name"] in {_map(p, at) for p in PROTOCOLS for at in (False, True)}:
            proto = m["name"].split("_")[0]
            found += [_port_of(proto, key, value) for key, value in m.get("elem", [])]
    return found


def published(table: str) -> list[tuple[Port, str]]:
    """What the maps hold: (Port, container id) for each published port."""
    objects = _listing(table)
    return [] if objects is None else _published(objects)


def _address(value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise NetworkError(f"invalid IPv4 address {value!r}") from None


def _subnet(value) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(value)
    except ValueError as e:
        raise NetworkError(f"invalid subnet {value!r}: {e}") from None


def _valid(port: Port) -> Port:
    if port.proto not in PROTOCOLS:
        raise NetworkError(f"invalid protocol {port.proto!r}: tcp or udp")
    for number in (port.host_port, port.container_port):
        if type(number) is not int or not 0 < number < 65536:
            raise NetworkError(f"invalid port {number!r}")
    host_ip = "" if port.host_ip in ("", "0.0.0.0") else _address(port.host_ip)
    return Port(port.proto, host_ip, port.host_port, _address(port.container_ip), port.container_port)


def _clash(port: Port, taken: list[Port]) -> Port | None:
    """The published port that `port` would shadow or be shadowed by (ports.clashes: the
    same host port and protocol on the same address, or either on every address)."""
    return next((other for other in taken if clashes([other], port.proto, port.host_ip, port.host_port)), None)


def _element(port: Port) -> str:
    """The map and the opening of the element of `port`'s key: "tcp_any { 8080"."""
    key = f"{port.host_ip} . {port.host_port}" if port.host_ip else str(port.host_port)
    return f"{_map(port.proto, bool(port.host_ip))} {{ {key}"


def publish(table: str, container_id: str, ports: list[Port]) -> None:
    """Publishes `ports` for the container, all or none: a host port already published
    (by anyone, or twice in `ports`) is a PortInUse naming it, and nothing is added."""
    _check(_OWNER, container_id, "container id")
    ports = [_valid(p) for p in ports]
    objects = _listing(table)
    if objects is None:
        raise NetworkError(f"nftables table ip {table} does not exist (ensure() first)")
    taken, lines = [p for p, _ in _published(objects)], []
    for i, port in enumerate(ports):
        if _clash(port, ports[:i]):
            raise PortInUse(f"port {describe(port)} is asked for twice")
        other = _clash(port, taken)
        if other:
            raise PortInUse(f"port {describe(port)} is already published"
                            + ("" if other.host_ip == port.host_ip else f" (as {describe(other)})"))
        # `create` fails on a key that appeared since the listing: the batch is then undone
        lines.append(f'create element ip {table} {_element(port)} comment "{container_id}" '
                     f': {port.container_ip} . {port.container_port} }}')
    if lines:
        try:
            nft.run("\n".join(lines))
        except NftError as e:
            if "File exists" in str(e):
                raise PortInUse(f"a port of {', '.join(describe(p) for p in ports)} was published meanwhile") from None
            raise


def unpublish(table: str, container_id: str) -> None:
    """Removes every port published for the container (none: fine)."""
    _check(_OWNER, container_id, "container id")
    lines = []
    for port, owner in published(table):
        if owner == container_id:
            lines.append(f"delete element ip {table} {_element(port)} }}")
    if lines:
        nft.run("\n".join(lines))


def drop(table: str) -> None:
    """Removes the table and everything in it; no table: fine.  (nft 1.0.6 has no
    `destroy`: adding the table first in the same batch makes the delete always apply.)"""
    t = _table(table)
    nft.run(f"add table {t}\ndelete table {t}")


def _all_tables() -> list[str]:
    return [o["table"]["name"] for o in nft.run_listing("list tables ip") if "table" in o]


def tables() -> list[str]:
    """The pyctr tables present (of every root): "pyctr" and "pyctr-*" in the ip family."""
    return [n for n in _all_tables() if n == TAG or n.startswith(TAG + "-")]
