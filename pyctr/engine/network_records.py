"""The store's rows of networks: the networks themselves, the containers' way onto them
(netconf, endpoints), and what a running container holds (leases: an address on each of
its networks; ports: the host ports it publishes).  Leases and ports are taken in one
transaction per start, so two containers started at once never share an address or a
port; they go at the container's exit (the cleanup), or with its row."""

from .. import fastjson
from ..records import record
from .errors import Conflict, NotFound

NETWORK_COLUMNS = ("id", "name", "driver", "bridge", "subnet", "gateway", "mtu", "labels", "options", "created")


@record
class NetworkRecord:
    id: str
    name: str
    driver: str
    bridge: str
    subnet: str
    gateway: str
    mtu: int
    labels: dict = {}
    options: dict = {}
    created: float = 0.0


@record
class Endpoint:
    """A container on a network: eth<position>, the address and MAC asked for, aliases."""
    container_id: str
    network_id: str
    position: int
    ip: str | None = None
    mac: str | None = None
    aliases: list[str] = []


@record
class Lease:
    network_id: str
    address: str
    container_id: str
    mac: str | None = None


@record
class NetConf:
    """How a container is networked: "bridge" (its endpoints), "none", "host" or
    "container:<id>"; and its options (ports, dns, dns_search, dns_options, add_hosts)."""
    container_id: str
    mode: str
    options: dict = {}


def _network(row) -> NetworkRecord:
    return NetworkRecord(*row[:7], fastjson.loads(row[7]), fastjson.loads(row[8]), row[9])


def add_network(store, network: NetworkRecord, check) -> None:
    """The row, once `check(networks)` (every network of the store, inside the transaction)
    passed: two creates at once cannot both take one subnet."""
    from .store import sqlite3
    try:
        with store.transaction() as db:
            check([_network(r) for r in db.execute(f"SELECT {', '.join(NETWORK_COLUMNS)} FROM networks")])
            db.execute(f"INSERT INTO networks ({', '.join(NETWORK_COLUMNS)}) VALUES ({', '.join('?' * 10)})",
                       (network.id, network.name, network.driver, network.bridge, network.subnet, network.gateway,
                        network.mtu, fastjson.dumps(network.labels), fastjson.dumps(network.options), network.created))
    except sqlite3.IntegrityError as e:
        what = "name" if "name" in str(e) else "bridge"
        raise Conflict(f"network with {what} {getattr(network, what)} already exists") from None


def list_networks(store) -> list[NetworkRecord]:
    rows = store.db.execute(f"SELECT {', '.join(NETWORK_COLUMNS)} FROM networks ORDER BY created, name").fetchall()
    return [_network(r) for r in rows]


def get_network(store, network_id: str) -> NetworkRecord | None:
    row = store.db.execute(f"SELECT {', '.join(NETWORK_COLUMNS)} FROM networks WHERE id = ?",
                           (network_id,)).fetchone()
    return _network(row) if row else None


def find_network(store, name_or_id: str) -> NetworkRecord:
    """By name, else by id or a unique prefix of it, as docker finds them."""
    cols = ", ".join(NETWORK_COLUMNS)
    row = store.db.execute(f"SELECT {cols} FROM networks WHERE name = ?", (name_or_id,)).fetchone()
    if row:
        return _network(row)
    rows = []
    if name_or_id and all(c in "0123456789abcdef" for c in name_or_id):
        rows = store.db.execute(f"SELECT {cols} FROM networks WHERE id LIKE ? || '%'", (name_or_id,)).fetchall()
    if len(rows) == 1:
        return _network(rows[0])
    if len(rows) > 1:
        raise Conflict(f"network {name_or_id} is ambiguous: {len(rows)} networks match")
    raise NotFound(f"network {name_or_id} not found")


def remove_network(store, network_id: str) -> None:
    """The row, if no container is on the network (else Conflict, naming one)."""
    with store.transaction() as db:
        user = db.execute("SELECT c.name FROM endpoints e JOIN containers c ON c.id = e.container_id"
                          " WHERE e.network_id = ? LIMIT 1", (network_id,)).fetchone()
        if user:
            raise Conflict(f"network is in use by container {user[0]}")
        db.execute("DELETE FROM leases WHERE network_id = ?", (network_id,))
        db.execute("DELETE FROM endpoints WHERE network_id = ?", (network_id,))
        db.execute("DELETE FROM networks WHERE id = ?", (network_id,))


# a container's way onto networks

def write_netconf(db, conf: NetConf, endpoints: list[Endpoint]) -> None:
    """Inside add_container's transaction: the container's mode and endpoints."""
    from .store import sqlite3
    db.execute("INSERT OR REPLACE INTO netconf (container_id, mode, options) VALUES (?,?,?)",
               (conf.container_id, conf.mode, fastjson.dumps(conf.options)))
    for e in endpoints:
        try:
            _insert_endpoint(db, e)
        except sqlite3.IntegrityError:  # the foreign key: `network rm` since `run` looked it up
            raise NotFound(f"network {e.network_id[:12]} was removed meanwhile") from None


def _insert_endpoint(db, e: Endpoint) -> None:
    db.execute("INSERT INTO endpoints (container_id, network_id, position, ip, mac, aliases) VALUES (?,?,?,?,?,?)",
               (e.container_id, e.network_id, e.position, e.ip, e.mac, fastjson.dumps(e.aliases)))


def netconf(store, container_id: str) -> NetConf | None:
    row = store.db.execute("SELECT mode, options FROM netconf WHERE container_id = ?", (container_id,)).fetchone()
    return NetConf(container_id, row[0], fastjson.loads(row[1])) if row else None


def endpoints(store, container_id: str) -> list[Endpoint]:
    rows = store.db.execute("SELECT container_id, network_id, position, ip, mac, aliases FROM endpoints"
                            " WHERE container_id = ? ORDER BY position", (container_id,)).fetchall()
    return [Endpoint(*r[:5], fastjson.loads(r[5])) for r in rows]


def add_endpoint(store, e: Endpoint) -> Endpoint:
    """network connect: the next position (eth<N>); on the network already: Conflict."""
    from .store import sqlite3
    try:
        with store.transaction() as db:
            e.position = db.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM endpoints WHERE container_id = ?",
                                    (e.container_id,)).fetchone()[0]
            _insert_endpoint(db, e)
    except sqlite3.IntegrityError:
        raise Conflict("the container is connected to the network already") from None
    return e


def remove_endpoint(store, container_id: str, network_id: str) -> bool:
    with store.transaction() as db:
        db.execute("DELETE FROM leases WHERE container_id = ? AND network_id = ?", (container_id, network_id))
        return db.execute("DELETE FROM endpoints WHERE container_id = ? AND network_id = ?",
                          (container_id, network_id)).rowcount == 1


def joined_by(store, mode: str) -> bool:
    """Whether a container has the network mode `mode` ("container:<id>"): joined that one."""
    return store.db.execute("SELECT 1 FROM netconf WHERE mode = ? LIMIT 1", (mode,)).fetchone() is not None


def network_users(store, network_id: str) -> list[str]:
    """Ids of the containers on the network, running or not."""
    return [r[0] for r in store.db.execute("SELECT container_id FROM endpoints WHERE network_id = ?", (network_id,))]


# what a running container holds

def take(store, container_id: str, choose) -> tuple[list[Lease], list]:
    """In one transaction: the container's old leases and ports let go, then
    `choose(endpoints, leased, ports_taken)` picks its addresses (a Lease per endpoint)
    and host ports (Bindings), seeing every address leased and every port published by
    others; both are recorded."""
    with store.transaction() as db:
        db.execute("DELETE FROM leases WHERE container_id = ?", (container_id,))
        db.execute("DELETE FROM ports WHERE container_id = ?", (container_id,))
        eps = [Endpoint(*r[:5], fastjson.loads(r[5])) for r in db.execute(
            "SELECT container_id, network_id, position, ip, mac, aliases FROM endpoints WHERE container_id = ?"
            " ORDER BY position", (container_id,))]
        leased = {}
        for network_id, address in db.execute("SELECT network_id, address FROM leases"):
            leased.setdefault(network_id, set()).add(address)
        published = [tuple(r) for r in db.execute("SELECT proto, host_ip, host_port, container_port FROM ports")]
        leases, bindings = choose(eps, leased, published)
        for lease in leases:
            db.execute("INSERT INTO leases (network_id, address, container_id, mac) VALUES (?,?,?,?)",
                       (lease.network_id, lease.address, container_id, lease.mac))
        for b in bindings:
            db.execute("INSERT INTO ports (container_id, proto, host_ip, host_port, container_port) VALUES (?,?,?,?,?)",
                       (container_id, b.proto, b.host_ip, b.host_port, b.container_port))
    return leases, bindings


def add_lease(store, lease: Lease, choose_address, mac_of) -> Lease:
    """network connect on a running container: one more lease, its address chosen by
    `choose_address(leased)` inside the transaction, its MAC `mac_of(address)`."""
    with store.transaction() as db:
        leased = {r[0] for r in db.execute("SELECT address FROM leases WHERE network_id = ?", (lease.network_id,))}
        lease.address = choose_address(leased)
        lease.mac = mac_of(lease.address)
        db.execute("INSERT INTO leases (network_id, address, container_id, mac) VALUES (?,?,?,?)",
                   (lease.network_id, lease.address, lease.container_id, lease.mac))
    return lease


def release(store, container_id: str, expect: tuple | None = None) -> list[str] | None:
    """The container's leases and ports let go; the ids of the networks it held addresses
    on.  With `expect` (status, pid): only if its row still says so (the sweep's decision
    stands only while the container has not started again meanwhile), else None."""
    with store.transaction() as db:
        if expect is not None and not _row_is(db, container_id, expect):
            return None
        networks = [r[0] for r in db.execute("SELECT DISTINCT network_id FROM leases WHERE container_id = ?",
                                             (container_id,))]
        db.execute("DELETE FROM leases WHERE container_id = ?", (container_id,))
        db.execute("DELETE FROM ports WHERE container_id = ?", (container_id,))
    return networks


def _row_is(db, container_id: str, expect: tuple) -> bool:
    row = db.execute("SELECT status, pid FROM containers WHERE id = ?", (container_id,)).fetchone()
    return (tuple(row) if row else (None, None)) == tuple(expect)


def row_is(store, container_id: str, expect: tuple) -> bool:
    return _row_is(store.db, container_id, expect)


def leases(store, container_id: str | None = None, network_id: str | None = None) -> list[Lease]:
    query, args = "SELECT network_id, address, container_id, mac FROM leases", ()
    if container_id is not None:
        query, args = query + " WHERE container_id = ?", (container_id,)
    elif network_id is not None:
        query, args = query + " WHERE network_id = ?", (network_id,)
    return [Lease(*r) for r in store.db.execute(query, args)]


def ports(store, container_id: str | None = None) -> list[tuple]:
    """(container_id, proto, host_ip, host_port, container_port) rows."""
    query, args = "SELECT container_id, proto, host_ip, host_port, container_port FROM ports", ()
    if container_id is not None:
        query, args = query + " WHERE container_id = ?", (container_id,)
    return [tuple(r) for r in store.db.execute(query + " ORDER BY host_port", args)]


def has_networking(store, container_id: str) -> bool:
    """Whether the container holds anything of a network (a cheap look before release)."""
    return store.db.execute("SELECT 1 FROM leases WHERE container_id = ? UNION ALL "
                            "SELECT 1 FROM ports WHERE container_id = ? LIMIT 1",
                            (container_id, container_id)).fetchone() is not None
