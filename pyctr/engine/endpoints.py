"""A container on its networks: what `run` asks for (--network, -p, -P, --ip,
--mac-address, --network-alias, --dns*, --add-host) checked and put into its config and
rows, then at each start its wiring, and at its exit the wiring let go.

The wiring happens where OCI's createRuntime hooks (and CNI) run: the runtime has cloned
the container's first process, in its own network namespace, and it waits for the
go-ahead.  pyctr then takes its leases and host ports (one store transaction), makes a
veth pair per network with the peer straight in that namespace and configured there (C,
network/_netlink: no pyroute2 on this path), publishes its ports (nftables, only with -p),
and rewrites the hosts files of its network's containers; then the go-ahead.

    run: request() -> into_config() -> write_netconf (with the row) -> files()
    each start: Wiring(...).wire(pid)        each exit, rm, failed start: release()
"""

import os

from ..records import record
from . import network_records as records
from .errors import PyctrError
from .paths import Paths

NONE, HOST, BRIDGE = "none", "host", "bridge"
CONTAINER_PREFIX = "container:"
FILES = ("hosts", "hostname", "resolv.conf")  # in the container's dir, bound onto /etc/<name>


@record
class Request:
    """What `run` asked of networks, checked: the mode, and for "bridge" the networks (by
    record), with -p's specs and the rest kept in `options`."""
    mode: str
    networks: list = []  # NetworkRecord
    ip: str | None = None
    mac: str | None = None
    aliases: list[str] = []
    options: dict = {}
    joined: str | None = None  # container:<id>: whose network namespace


def request(paths: Paths, store, opts, image_config: dict) -> Request:
    """--network and the rest, checked against the store before anything is written."""
    from ..network.errors import NetworkError
    try:
        mode = (opts.network or BRIDGE).strip()
        ports = _port_specs(opts, image_config)
        if opts.add_hosts:
            from ..network.hostfiles import parse_add_host
            for host in opts.add_hosts:
                parse_add_host(host)
        for server in opts.dns:
            if not _is_ip(server):
                raise PyctrError(f"invalid --dns {server!r}: not an IP address")
        _plain_words(opts)
        mac = None
        if opts.mac_address:
            from ..network.ipam import parse_mac
            mac = parse_mac(opts.mac_address)
        options = {"ports": [p.text() for p in ports], "dns": list(opts.dns), "dns_search": list(opts.dns_search),
                   "dns_options": list(opts.dns_options), "add_hosts": list(opts.add_hosts),
                   "hostname": opts.hostname}
        req = Request(mode, options=options, mac=mac, aliases=list(opts.network_aliases), ip=opts.ip)
        if mode in (NONE, HOST) or mode.startswith(CONTAINER_PREFIX):
            _only_with_bridge(opts, mode)
            if mode.startswith(CONTAINER_PREFIX):
                req.joined = _joined(paths, store, mode[len(CONTAINER_PREFIX):])
                req.mode = CONTAINER_PREFIX + req.joined
            return req
        from . import networks
        network = networks.default_network(paths, store) if mode in (BRIDGE, networks.DEFAULT_NETWORK) \
            else networks.lookup(store, mode)
        if opts.ip:
            req.ip = _address_on(network, opts.ip)
        req.mode, req.networks = BRIDGE, [network]
        return req
    except NetworkError as e:
        raise PyctrError(str(e)) from None


def _port_specs(opts, image_config: dict) -> list:
    """-p's and -P's (ports.py only then)."""
    if not (opts.publish or opts.publish_all):
        return []
    from ..network.ports import exposed, parse
    return [parse(p) for p in opts.publish] + (exposed(image_config) if opts.publish_all else [])


def _plain_words(opts) -> None:
    """Aliases go into other containers' hosts files, search domains and options into
    resolv.conf: one word each, of a host name's characters (a newline would add lines)."""
    from .names import valid_name
    for flag, values in (("--network-alias", opts.network_aliases), ("--dns-search", opts.dns_search)):
        for value in values:
            if not valid_name(value):
                raise PyctrError(f"invalid {flag} {value!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    for value in opts.dns_options:
        if not value or any(c.isspace() for c in value) or len(value) > 256:
            raise PyctrError(f"invalid --dns-option {value!r}: one word")


def _is_ip(text: str) -> bool:
    import ipaddress
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def _address_on(network, ip: str) -> str:
    """--ip, checked to be a host address of the network's subnet and not its gateway."""
    import ipaddress

    from ..network import ipam
    from ..network.errors import NetworkError
    try:
        address = ipam.parse_address(ip, "--ip address")
    except NetworkError as e:
        raise PyctrError(str(e)) from None
    if not ipam.usable(ipaddress.IPv4Network(network.subnet), address) or str(address) == network.gateway:
        raise PyctrError(f"--ip {address} is not a host address of {network.name}'s subnet {network.subnet}")
    return str(address)


def _only_with_bridge(opts, mode: str) -> None:
    for flag, given in (("-p/-P", opts.publish or opts.publish_all), ("--ip", opts.ip),
                        ("--mac-address", opts.mac_address), ("--network-alias", opts.network_aliases)):
        if given:
            raise PyctrError(f"{flag} needs a bridge network, not --network {mode}")
    if mode not in (NONE, HOST) and (opts.dns or opts.dns_search or opts.dns_options or opts.add_hosts):
        raise PyctrError(f"--dns, --dns-search, --dns-option and --add-host do not go with --network {mode}")


def _joined(paths: Paths, store, name: str) -> str:
    from .containers import is_running, lookup
    target = lookup(store, name)
    if not is_running(paths, target):
        raise PyctrError(f"cannot join the network of container {target.name}: it is not running")
    conf = records.netconf(store, target.id)
    if conf is not None and conf.mode.startswith(CONTAINER_PREFIX):  # it joined another: that one's
        return _joined(paths, store, conf.mode[len(CONTAINER_PREFIX):])  # namespace and files
    return target.id


def into_config(paths: Paths, config: dict, container_id: str, req: Request) -> None:
    """The network namespace (none for host, a path for container:) and the files bound
    onto /etc."""
    linux = config["linux"]
    if req.mode == HOST:
        linux["namespaces"] = [ns for ns in linux["namespaces"] if ns["type"] != "network"]
    source_dir = paths.container_dir(req.joined or container_id)
    # idmap: with --userns the child reaches these through the parent's idmapped mounts
    # (its own uid cannot cross the 0700 container dir), and they are container root's
    mounts = [{"destination": f"/etc/{name}", "type": "bind", "source": os.path.join(source_dir, name),
               "options": ["rbind", "rprivate", "idmap"]} for name in FILES]
    # before the user's mounts: a -v onto /etc/hosts wins, as with docker
    at = next((i for i, m in enumerate(config["mounts"]) if m["type"] == "bind"), len(config["mounts"]))
    config["mounts"][at:at] = mounts


def joined_namespace(paths: Paths, store, config: dict, mode: str | None) -> None:
    """container:<id>: the namespace path of that container's process as it runs now
    (each start looks again: its pid changes when it restarts)."""
    if not mode or not mode.startswith(CONTAINER_PREFIX):
        return
    from .containers import runtime_state
    target = store.get_container(mode[len(CONTAINER_PREFIX):])
    state = runtime_state(paths, target) if target else None
    if state is None:
        raise PyctrError("cannot start: the container whose network it joins is not running")
    namespaces = [ns for ns in config["linux"]["namespaces"] if ns["type"] != "network"]
    config["linux"]["namespaces"] = namespaces + [{"type": "network", "path": f"/proc/{state.pid}/ns/net"}]


def rows(req: Request, container_id: str):
    """The netconf and endpoint rows, for add_container's transaction."""
    conf = records.NetConf(container_id, req.mode, req.options)
    eps = [records.Endpoint(container_id, n.id, i, req.ip if i == 0 else None, req.mac if i == 0 else None,
                            list(req.aliases)) for i, n in enumerate(req.networks)]
    return lambda db: records.write_netconf(db, conf, eps)


def write_files(paths: Paths, container_id: str, hostname: str, req: Request) -> None:
    """/etc/hostname, resolv.conf and a first hosts (the container's own address comes at
    its start) in its dir; container: mode uses the other's."""
    if req.joined:
        return
    from ..network import hostfiles
    opts = req.options
    if req.mode == HOST:
        resolv = hostfiles.read_host_resolv()
        hosts = hostfiles.read_host_resolv("/etc/hosts")
    else:
        resolv = hostfiles.resolv_conf(hostfiles.read_host_resolv(), opts["dns"], opts["dns_search"],
                                       opts["dns_options"])
        hosts = hostfiles.hosts([], [hostfiles.parse_add_host(h) for h in opts["add_hosts"]], [])
    for name, text in (("hostname", hostname + "\n"), ("resolv.conf", resolv), ("hosts", hosts)):
        _write_new(os.path.join(paths.container_dir(container_id), name), text)


def _write_new(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    with os.fdopen(fd, "w") as f:
        f.write(text)


# each start

def veth_name(container_id: str, position: int) -> str:
    """The host end of a container's veth: "pv" + its id's first 10 digits + the position
    (at most 15 characters, the kernel's limit); "pv" is how sweeps know ours."""
    return f"pv{container_id[:10]}{position:x}"


def wiring(paths: Paths, store, container_id: str, name: str, config: dict, mode: str | None):
    """What a start does between clone and go-ahead for the container's networks (None:
    nothing), its config made ready for the start first (container: mode's path)."""
    joined_namespace(paths, store, config, mode)
    if mode != BRIDGE:
        return None
    return Wiring(paths, store, container_id, name, config.get("hostname") or container_id[:12]).wire


class Wiring:
    """A bridge container's start, between its clone and its go-ahead: `wire(pid)`."""

    def __init__(self, paths: Paths, store, container_id: str, name: str, hostname: str):
        self.paths, self.store, self.id, self.name, self.hostname = paths, store, container_id, name, hostname

    def wire(self, pid: int) -> None:
        try:
            leases, bindings = self._take()
            self._attach(pid, leases)
            if bindings:
                self._publish(leases[0].address, bindings)
            refresh_hosts(self.paths, self.store, [lease.network_id for lease in leases])
        except BaseException:
            release(self.paths, self.store, self.id)
            raise

    def _take(self):
        from ..network import ipam
        from ..network.errors import NetworkError
        from . import networks as networks_
        conf = records.netconf(self.store, self.id)
        texts = (conf.options.get("ports") or []) if conf else []
        networks = {}

        def choose(endpoints, leased, published):
            chosen = []
            self.positions = [e.position for e in endpoints]
            for e in endpoints:
                network = networks[e.network_id] = records.get_network(self.store, e.network_id)
                taken = leased.get(e.network_id, set()) | {network.gateway}
                if e.ip and e.ip in taken:
                    raise NetworkError(f"address {e.ip} is in use on network {network.name}")
                address = e.ip or ipam.first_free(network.subnet, taken)
                chosen.append(records.Lease(e.network_id, address, self.id, e.mac or ipam.mac_for(address)))
                networks_.event(self.store, network, "connect", container=self.id)  # in the leases' transaction
            if not texts:
                return chosen, []
            from ..network.ports import Binding, bindings, clashes, parse
            bound = [Binding(*row) for row in published]
            return chosen, bindings([parse(t) for t in texts], lambda proto, ip, port: clashes(bound, proto, ip, port))
        try:
            leases, taken_ports = records.take(self.store, self.id, choose)
        except NetworkError as e:
            raise PyctrError(str(e)) from None
        self.networks = networks
        return leases, taken_ports

    def _attach(self, pid: int, leases) -> None:
        from ..network import _netlink, ipam
        from . import networks
        # inside, eth0, eth1, ... in the endpoints' order, the default route on eth0; the
        # host end is named after the endpoint's position, which disconnect finds it by
        for index, (position, lease) in enumerate(zip(self.positions, leases)):
            network = self.networks[lease.network_id]
            networks.ensure_up(self.paths, network, store=self.store)
            try:
                _netlink.attach(pid, veth_name(self.id, position), f"eth{index}", network.bridge, lease.address,
                                ipam.prefix_of(network.subnet), network.gateway if index == 0 else None, network.mtu, lease.mac)
            except OSError as e:
                raise PyctrError(f"cannot connect to network {network.name}: {e.strerror or e}") from None

    def _publish(self, address: str, bindings) -> None:
        from ..network import firewall
        from ..network.errors import NetworkError
        from . import networks
        try:
            firewall.publish(networks.table_name(self.paths), self.id,
                             [firewall.Port(b.proto, b.host_ip, b.host_port, address, b.container_port)
                              for b in bindings])
        except NetworkError as e:
            raise PyctrError(str(e)) from None


def release(paths: Paths, store, container_id: str, expect: tuple | None = None) -> None:
    """What the container held of its networks let go: its host ports (nftables), its
    leases, and its name in its peers' hosts files.  Nothing held: nothing imported.
    `expect` (status, pid): the sweep's, only while the row still says what it read."""
    if not records.has_networking(store, container_id):
        return
    if expect is not None and not records.row_is(store, container_id, expect):
        return
    published = records.ports(store, container_id)
    leases = records.leases(store, container_id)
    addresses = [lease.address for lease in leases]
    _unplug(store, container_id)
    if expect is None:  # (the sweep's: a container whose exit nobody saw)
        _disconnected(store, container_id, [lease.network_id for lease in leases])
    network_ids = records.release(store, container_id, expect)
    if network_ids is None:
        return
    if published:
        from ..network import firewall
        from . import networks
        firewall.unpublish(networks.table_name(paths), container_id)
        if any(row[1] == "udp" for row in published):
            # a UDP flow keeps its translation while packets come: without this, a client
            # sending on would reach whoever gets the address next (flows.py; pyroute2,
            # so only for containers that published udp)
            from ..network import flows
            for address in addresses[:1]:
                flows.forget(address)
    refresh_hosts(paths, store, network_ids)


def _disconnected(store, container_id: str, network_ids: list[str]) -> None:
    """docker's disconnect events of a container that stopped, queued for the release of
    its leases."""
    from . import networks
    for network_id in network_ids:
        network = records.get_network(store, network_id)
        if network is not None:
            networks.event(store, network, "disconnect", now=False, container=container_id)


def _unplug(store, container_id: str) -> None:
    """The container's veths deleted before their addresses are free, if another
    container joined its network namespace (--network container:): that one keeps the
    namespace alive, and with it the veths, the address and the MAC that the next lease
    hands to another container.  Otherwise they die with the namespace: deleting them
    here would cost every exit about 20 ms (a veth's deletion waits for the kernel's RCU)."""
    if not records.joined_by(store, CONTAINER_PREFIX + container_id):
        return
    from ..network import _netlink
    for e in records.endpoints(store, container_id):
        try:
            _netlink.delete_link(veth_name(container_id, e.position))
        except OSError:
            pass  # the lease goes all the same: its removal must not stop here


# hosts files, kept current

def refresh_hosts(paths: Paths, store, network_ids: list[str]) -> None:
    """Every container with an address on these networks gets its hosts file rewritten:
    its own names, --add-host's, and its peers on each network it shares (names, aliases,
    short id).  Under a lock, reading the store inside it: the last writer saw the newest
    state."""
    if not network_ids:
        return
    import fcntl
    from .networks import runtime_dir
    lock = os.open(os.path.join(runtime_dir(paths), "hosts.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        members = _members(store)
        affected = {c for c, by_net in members.items() if set(by_net) & set(network_ids)}
        for container_id in affected:
            _rewrite_hosts(paths, store, container_id, members)
    finally:
        os.close(lock)


def _members(store) -> dict:
    """container id -> {network id: (address, names, aliases)} for every lease."""
    names = {}
    for cid, name, net, aliases in store.db.execute(
            "SELECT c.id, c.name, e.network_id, e.aliases FROM endpoints e JOIN containers c ON c.id = e.container_id"):
        from .. import fastjson
        names[(cid, net)] = ([name, cid[:12]], fastjson.loads(aliases))
    members: dict = {}
    for lease in records.leases(store):
        members.setdefault(lease.container_id, {})[lease.network_id] = \
            (lease.address, *names.get((lease.container_id, lease.network_id), ([lease.container_id[:12]], [])))
    return members


def _rewrite_hosts(paths: Paths, store, container_id: str, members: dict) -> None:
    from ..network import hostfiles
    record = store.get_container(container_id)
    conf = records.netconf(store, container_id)
    if record is None or conf is None:
        return
    mine = members[container_id]
    # the store's word, not the container's /etc/hostname, which it may write
    hostname = conf.options.get("hostname") or container_id[:12]
    own_names = [hostname] + ([record.name] if record.name != hostname else [])
    own = [hostfiles.Entry(address, own_names) for address, _, _ in mine.values()][:1]
    extra = [hostfiles.parse_add_host(h) for h in conf.options.get("add_hosts") or []]
    peers, aliases = [], []
    for other, by_net in sorted(members.items()):
        if other == container_id:
            continue
        for net, (address, names, also) in by_net.items():
            if net in mine:
                peers.append(hostfiles.Entry(address, names))
                aliases += [hostfiles.Entry(address, also)] if also else []
    # names before every alias: a lookup takes the first line that matches, and an alias
    # (anyone's to give) must not take a container's name
    peers += aliases
    _write_in_place(os.path.join(paths.container_dir(container_id), "hosts"), hostfiles.hosts(own, extra, peers))


def _write_in_place(path: str, text: str) -> None:
    """The file is bound into running containers: its inode must stay, so it is
    rewritten, not replaced (one write, then cut to length)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return  # removed meanwhile (rm), or not a file of ours
    try:
        data = text.encode()
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)




# network connect / disconnect

def connect(paths: Paths, store, network, container, ip: str | None = None, aliases: list[str] = ()) -> None:
    """Another network for a bridge container: its endpoint row, and if it runs, an
    address, a veth (eth<N>, no default route: that stays on eth0) and its name in the
    network's hosts files at once."""
    from .containers import runtime_state
    conf = records.netconf(store, container.id)
    if conf is None or conf.mode != BRIDGE:
        raise PyctrError(f"container {container.name} is on --network {conf.mode if conf else NONE}: "
                         "only a bridge container can join networks")
    from .names import valid_name
    for alias in aliases:  # into other containers' hosts files: one word
        if not valid_name(alias):
            raise PyctrError(f"invalid --alias {alias!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    if ip is not None:
        ip = _address_on(network, ip)
    endpoint = records.add_endpoint(store, records.Endpoint(container.id, network.id, 0, ip, None, list(aliases)))
    state = runtime_state(paths, container)
    if state is not None:
        try:
            _connect_running(paths, store, network, container, endpoint, state.pid)
        except BaseException:
            records.remove_endpoint(store, container.id, network.id)
            raise
    from . import networks
    networks.event(store, network, "connect", container=container.id)


def _connect_running(paths: Paths, store, network, container, endpoint, pid: int) -> None:
    from ..network import _netlink, ipam
    from ..network.errors import NetworkError
    from . import networks

    def choose(leased: set) -> str:
        taken = leased | {network.gateway}
        if endpoint.ip and endpoint.ip in taken:
            raise NetworkError(f"address {endpoint.ip} is in use on network {network.name}")
        return endpoint.ip or ipam.first_free(network.subnet, taken)
    try:
        lease = records.add_lease(store, records.Lease(network.id, "", container.id), choose, ipam.mac_for)
    except NetworkError as e:
        raise PyctrError(str(e)) from None
    try:
        networks.ensure_up(paths, network)
        _netlink.attach(pid, veth_name(container.id, endpoint.position), f"eth{endpoint.position}", network.bridge,
                        lease.address, ipam.prefix_of(network.subnet), None, network.mtu, lease.mac)
    except OSError as e:
        records.remove_endpoint(store, container.id, network.id)
        raise PyctrError(f"cannot connect to network {network.name}: {e.strerror or e}") from None
    refresh_hosts(paths, store, [network.id])


def disconnect(paths: Paths, store, network, container) -> None:
    """Off a network: the row, and if it runs, its veth there and its lease."""
    from ..network import _netlink
    position = next((e.position for e in records.endpoints(store, container.id) if e.network_id == network.id), None)
    if position is None:
        raise PyctrError(f"container {container.name} is not connected to network {network.name}")
    _ports_elsewhere(paths, store, network, container)
    _netlink.delete_link(veth_name(container.id, position))
    from . import networks
    networks.event(store, network, "disconnect", now=False, container=container.id)
    records.remove_endpoint(store, container.id, network.id)
    refresh_hosts(paths, store, [network.id])


def _ports_elsewhere(paths: Paths, store, network, container) -> None:
    """A running container's published ports lead to its address on one network: off that
    one, they would lead to whoever is given the address next.  Refused."""
    lease = next((lease for lease in records.leases(store, container.id) if lease.network_id == network.id), None)
    if lease is None or not records.ports(store, container.id):
        return
    from ..network import firewall
    from . import networks
    if any(owner == container.id and port.container_ip == lease.address
           for port, owner in firewall.published(networks.table_name(paths))):
        raise PyctrError(f"container {container.name} publishes ports through network {network.name}: "
                         "stop it before disconnecting it")
