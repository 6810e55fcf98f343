"""Networks as `pyctr network` manages them: create, ls, inspect, rm, prune, connect,
disconnect; the default network (pyctr0), made on first use; and each network's host
side (its bridge, its nftables rules) brought up when needed.

The store is the truth; the kernel follows it.  A network's row is written first and its
bridge and rules made after (a crash leaves a row whose bridge `ensure_up` makes on
first use); removing takes the bridge and rules first and the row last (a crash leaves a
row `network rm` finds again).  Kernel objects are host-wide while roots are not: every
root has its own nftables table, and bridges are named after network ids.
"""

import os
import time

from . import events
from . import network_records as records
from .endpoints import BRIDGE, HOST, NONE
from .errors import Conflict, NotFound, PyctrError
from .names import new_id
from .network_records import NetworkRecord
from .paths import DEFAULT_ROOT, Paths

DEFAULT_NETWORK = "pyctr0"
# what a bridge's marker says: a marker of an older setup makes ensure_up set the network
# up again (2: the input chain's guard of 127.0.0.1, IPv6 off on the bridge)
SETUP_VERSION = "2"
DEFAULT_SUBNET_ENV = "PYCTR_DEFAULT_SUBNET"  # the default network's subnet, when it is made
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
MTU_OPTIONS = ("com.docker.network.driver.mtu", "mtu")
DRIVERS = ("bridge",)
RESERVED = (BRIDGE, HOST, NONE)  # --network's modes, never a network's name


def table_name(paths: Paths) -> str:
    """This root's nftables table: "pyctr" for the default root, else one named after the
    root, so test roots and a user's never touch each other's rules."""
    if paths.root == DEFAULT_ROOT:
        return "pyctr"
    import hashlib  # here: 4 ms (OpenSSL's _hashlib) that a start without -p would pay
    return "pyctr-" + hashlib.sha256(paths.root.encode()).hexdigest()[:8]


def _bridge_name(paths: Paths, network_id: str, name: str, options: dict) -> str:
    asked = options.get(BRIDGE_NAME_OPTION)
    if asked:
        # firewall.py's pattern for link names: one that nftables refuses could be made
        # but neither used nor undone
        if len(asked) > 15 or not asked[0].isalnum() or not all(c.isalnum() or c in "_.-" for c in asked):
            raise PyctrError(f"invalid bridge name {asked!r}: at most 15 of [a-zA-Z0-9_.-], the first alphanumeric")
        # a link there already cannot be the new network's (its subnet would be routed):
        # another root's bridge, say, which a failed create's undo would delete
        if os.path.exists(f"/sys/class/net/{asked}"):
            raise PyctrError(f"invalid bridge name {asked!r}: a link of that name exists")
        return asked
    if name == DEFAULT_NETWORK and paths.root == DEFAULT_ROOT:
        return DEFAULT_NETWORK  # as docker0 and podman0
    return "pybr" + network_id[:11]


def lookup(store, name_or_id: str) -> NetworkRecord:
    return records.find_network(store, name_or_id)


def create(paths: Paths, store, name: str, subnet: str | None = None, gateway: str | None = None,
           driver: str = "bridge", labels: dict | None = None, options: dict | None = None) -> NetworkRecord:
    """A bridge network: its row (subnet checked against this root's networks, or chosen
    free of them and of the host's routes), then its bridge and rules."""
    import ipaddress

    from ..network import ipam
    from ..network.errors import NetworkError
    from .names import valid_name
    if not valid_name(name):
        raise PyctrError(f"invalid network name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    if name in RESERVED:
        raise PyctrError(f"network name {name!r} is reserved: --network {name} means a mode")
    if driver not in DRIVERS:
        raise PyctrError(f"network driver {driver!r} is not supported: only bridge")
    options = dict(options or {})
    try:
        network_id = new_id()
        chosen = ipam.parse_subnet(subnet) if subnet else None
        if chosen is not None:
            _off_the_hosts_routes(chosen)

        def check(existing: list[NetworkRecord]) -> None:
            nonlocal chosen
            if any(n.name == name for n in existing):  # before the subnet: the default
                raise Conflict(f"network with name {name} already exists")  # network's, made meanwhile, is routed
            taken = [ipaddress.IPv4Network(n.subnet) for n in existing]
            if chosen is None:
                chosen = _free_subnet(name, taken)
            clash = ipam.overlapping(chosen, taken)
            if clash is not None:
                other = next(n.name for n in existing if ipaddress.IPv4Network(n.subnet) == clash)
                raise NetworkError(f"subnet {chosen} overlaps {clash} of network {other}")
            record.subnet = str(chosen)
            record.gateway = str(ipam.gateway_for(chosen, gateway))

        record = NetworkRecord(network_id, name, driver, _bridge_name(paths, network_id, name, options), "", "",
                               _mtu(options), labels or {}, options, time.time())
        records.add_network(store, record, check)
    except NetworkError as e:
        raise PyctrError(str(e)) from None
    try:
        ensure_up(paths, record, force=True)
    except BaseException:
        _take_down(paths, store, record)
        records.remove_network(store, record.id)
        raise
    event(store, record, "create")
    return record


def event(store, network: NetworkRecord, action: str, now: bool = True, **extra) -> None:
    """docker's network event: its id, name and driver (and `extra`: the container of a
    connect); recorded now, or queued for the store call that follows."""
    (events.emit if now else events.queue)(store, "network", action, network.id, **extra, name=network.name,
                                           type=network.driver)


def _off_the_hosts_routes(subnet) -> None:
    """A subnet the host routes elsewhere already (its own links, another root's bridges)
    would send the containers' traffic there: refused, as an overlap."""
    from ..network import bridges, ipam
    from ..network.errors import NetworkError
    clash = ipam.overlapping(subnet, bridges.host_routes())
    if clash is not None:
        raise NetworkError(f"subnet {subnet} overlaps {clash}, a route of this host")


def _free_subnet(name: str, taken: list):
    """The default network's: PYCTR_DEFAULT_SUBNET, else 10.88.0.0/16 if free; others (and
    the default when 10.88/16 is taken): a free /24 of 10.89.0.0/16.  Free means overlapping
    no network of this root and no route of the host (another root's bridges among them)."""
    from ..network import bridges, ipam
    if name == DEFAULT_NETWORK and os.environ.get(DEFAULT_SUBNET_ENV):
        chosen = ipam.parse_subnet(os.environ[DEFAULT_SUBNET_ENV])
        _off_the_hosts_routes(chosen)
        return chosen
    taken = taken + bridges.host_routes()
    if name == DEFAULT_NETWORK:
        import ipaddress
        default = ipaddress.IPv4Network(ipam.DEFAULT_SUBNET)
        if ipam.overlapping(default, taken) is None:
            return default
    return ipam.free_subnet(taken)


def _mtu(options: dict) -> int:
    for key in MTU_OPTIONS:
        if key in options:
            try:
                mtu = int(options[key])
            except ValueError:
                mtu = -1
            if not 68 <= mtu <= 65535:
                raise PyctrError(f"invalid MTU {options[key]!r}: 68-65535")
            return mtu
    return 0  # the bridge's own: that of the host's default route (network/bridges.py)


def default_network(paths: Paths, store) -> NetworkRecord:
    """pyctr0, made on first use (two runs at once: one makes it, both use it)."""
    try:
        return lookup(store, DEFAULT_NETWORK)
    except NotFound:
        pass
    try:
        return create(paths, store, DEFAULT_NETWORK)
    except Conflict:
        return lookup(store, DEFAULT_NETWORK)


# the host side

def runtime_dir(paths: Paths) -> str:
    """<runroot>/networks: markers of the bridges made since boot, the hosts files' lock."""
    d = os.path.join(paths.runroot, "networks")
    os.makedirs(d, mode=0o700, exist_ok=True)
    return d


def _marker(paths: Paths, network: NetworkRecord) -> str:
    return os.path.join(paths.runroot, "networks", network.id)


def ensure_up(paths: Paths, network: NetworkRecord, force: bool = False, store=None) -> None:
    """The network's bridge and rules exist (a marker under the runroot, which a reboot
    clears, says they were made; the bridge is looked for too): a stat and an
    if_nametoindex on the run path, pyroute2 and libnftables only when something is
    missing.  Then, given the `store`, the sweep: the first start after a boot (or after
    someone removed the bridge) clears what a killed pyctr left."""
    from ..network import _netlink
    marker = _marker(paths, network)
    if not force and _marker_says(marker) == SETUP_VERSION and _netlink.link_exists(network.bridge):
        return
    from ..network import bridges, firewall, ipam
    from ..network.errors import NetworkError
    table = table_name(paths)
    try:
        bridges.create(network.bridge, network.gateway, ipam.prefix_of(network.subnet), network.mtu)
        firewall.ensure(table)
        firewall.add_network(table, network.bridge, network.subnet)
        bridges.ensure_forwarding()
    except NetworkError as e:
        raise PyctrError(f"cannot set up network {network.name}: {e}") from None
    runtime_dir(paths)
    with open(marker, "w") as f:
        f.write(SETUP_VERSION)
    if store is not None:
        sweep(paths, store)


def _marker_says(marker: str) -> str:
    try:
        fd = os.open(marker, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return ""
    try:
        return os.read(fd, 16).decode(errors="replace")
    finally:
        os.close(fd)


def _take_down(paths: Paths, store, network: NetworkRecord) -> None:
    """The bridge and the rules of a network; the table too once no other network of
    this root is left."""
    from ..network import bridges, firewall
    table = table_name(paths)
    firewall.remove_network(table, network.bridge)
    bridges.delete(network.bridge)
    try:
        os.unlink(_marker(paths, network))
    except FileNotFoundError:
        pass
    if all(n.id == network.id for n in records.list_networks(store)):
        firewall.drop(table)


def remove(paths: Paths, store, name: str) -> NetworkRecord:
    """`network rm`: one no container is on (running or not)."""
    network = lookup(store, name)
    users = records.network_users(store, network.id)
    if users:
        user = store.get_container(users[0])
        raise Conflict(f"network {network.name} is in use by container {user.name if user else users[0][:12]}")
    # the row first, in the transaction that checks for users again: a run joining
    # meanwhile either got on before (and rm refuses) or finds the network gone
    event(store, network, "destroy", now=False)
    records.remove_network(store, network.id)
    _take_down(paths, store, network)
    return network


def prune(paths: Paths, store) -> list[str]:
    """`network prune`: every network no container is on, but the default one; the others
    set up again (rules an nftables flush took); then the sweep (what a killed pyctr
    left, and ports the table lost)."""
    removed = []
    for network in records.list_networks(store):
        if network.name != DEFAULT_NETWORK and not records.network_users(store, network.id):
            try:
                remove(paths, store, network.id)
                removed.append(network.name)
            except Conflict:
                pass  # a container joined it meanwhile
    for network in records.list_networks(store):  # made again: an nftables flush undone
        ensure_up(paths, network, force=True)
    sweep(paths, store)
    return removed


def sweep(paths: Paths, store) -> None:
    """What a killed pyctr left: leases and ports of containers no longer running (their
    cleanup never ran), published ports nothing holds; bridges of this root's table that
    no network of its store names."""
    from . import endpoints
    from .containers import holder_alive, is_running
    held = {lease.container_id for lease in records.leases(store)} | {row[0] for row in records.ports(store)}
    for container_id in held:
        record = store.get_container(container_id)
        if record is None or not (is_running(paths, record) or
                                  (record.status == "starting" and holder_alive(record))):
            # only if the row is still what was read: a start meanwhile took new leases
            endpoints.release(paths, store, container_id, (record.status, record.pid) if record else (None, None))
    from ..network import firewall
    table = table_name(paths)
    if table in firewall.tables():
        holding = {row[0] for row in records.ports(store)}
        present = set()
        for _, container_id in firewall.published(table):
            present.add(container_id)
            if container_id not in holding:
                firewall.unpublish(table, container_id)
        for container_id in holding - present:  # the table was flushed or made again
            _publish_again(table, store, container_id)


def _publish_again(table: str, store, container_id: str) -> None:
    """A running container's ports, as the store holds them, into the table again."""
    from ..network import firewall
    endpoints = records.endpoints(store, container_id)
    leases = {lease.network_id: lease.address for lease in records.leases(store, container_id)}
    address = next((leases[e.network_id] for e in endpoints if e.network_id in leases), None)
    if address is None:
        return
    firewall.publish(table, container_id, [firewall.Port(proto, host_ip, host_port, address, container_port)
                                           for _, proto, host_ip, host_port, container_port
                                           in records.ports(store, container_id)])


def teardown(paths: Paths, store) -> None:
    """Every network's host side of this root gone (a test root's end): bridges, rules,
    the table.  The rows stay."""
    from ..network import bridges, firewall
    for network in records.list_networks(store):
        bridges.delete(network.bridge)
        try:
            os.unlink(_marker(paths, network))
        except FileNotFoundError:
            pass
    if table_name(paths) in firewall.tables():
        firewall.drop(table_name(paths))


# views

def summary(store) -> list[tuple[NetworkRecord, int]]:
    """Each network with how many containers are on it."""
    return [(n, len(records.network_users(store, n.id))) for n in records.list_networks(store)]


def inspect(store, network: NetworkRecord) -> dict:
    """docker network inspect's shape."""
    from ..timestamps import rfc3339
    containers = {}
    from ..network.ipam import prefix_of
    prefix = prefix_of(network.subnet)
    for lease in records.leases(store, network_id=network.id):
        record = store.get_container(lease.container_id)
        containers[lease.container_id] = {"Name": record.name if record else "", "EndpointID": "",
                                          "MacAddress": lease.mac or "", "IPv4Address": f"{lease.address}/{prefix}",
                                          "IPv6Address": ""}
    return {"Name": network.name, "Id": network.id, "Created": rfc3339(network.created), "Scope": "local",
            "Driver": network.driver, "EnableIPv6": False,
            "IPAM": {"Driver": "default", "Options": {},
                     "Config": [{"Subnet": network.subnet, "Gateway": network.gateway}]},
            "Internal": False, "Attachable": True, "Ingress": False, "ConfigFrom": {"Network": ""},
            "ConfigOnly": False, "Containers": containers,
            "Options": {BRIDGE_NAME_OPTION: network.bridge, **network.options}, "Labels": network.labels}
