"""network._netlink on the real kernel: a veth pair between a bridge the test makes and a
process in a network namespace of its own (`unshare -n sleep`), checked with iproute2 from
both sides and with a TCP connection over the bridge; a failure at any step leaves no link."""

import errno
import ipaddress
import json
import os
import socket
import subprocess
import time

import pytest

from pyctr.network import _netlink

PREFIX = "pn" + os.urandom(2).hex()  # kernel objects are host-global: ours carry this
BRIDGE = f"{PREFIX}br"


def ip(*args, netns_pid=None):
    """`ip -j ...` (in the network namespace of netns_pid), its JSON."""
    argv = ["ip", "-j", *args]
    if netns_pid:
        argv = ["nsenter", "-t", str(netns_pid), "-n", *argv]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return json.loads(out) if out.strip() else []


def our_links() -> list[str]:
    """The links of this test module but its bridge."""
    return [link["ifname"] for link in ip("link") if link["ifname"].startswith(PREFIX) and link["ifname"] != BRIDGE]


def free_subnet() -> ipaddress.IPv4Network:
    """A /24 of 100.64.0.0/10 that no route of this host touches."""
    routes = [r["dst"] for r in ip("route") if r["dst"] != "default"]
    used = [ipaddress.ip_network(r if "/" in r else f"{r}/32", strict=False) for r in routes]
    while True:
        net = ipaddress.ip_network(f"100.{64 + os.urandom(1)[0] % 64}.{os.urandom(1)[0]}.0/24")
        if not any(net.overlaps(u) for u in used):
            return net


@pytest.fixture
def bridge():
    """(name, subnet): a bridge with the subnet's first address, up; removed after."""
    name, net = BRIDGE, free_subnet()
    subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", f"{net[1]}/24", "dev", name], check=True)
        subprocess.run(["ip", "link", "set", name, "up"], check=True)
        yield name, net
    finally:
        subprocess.run(["ip", "link", "del", name], check=True)
    assert our_links() == [] and not _netlink.link_exists(name)


@pytest.fixture
def netns_pid(request):
    """A process in a network namespace of its own (killed after); with the parameter
    "userns", one owned by a user namespace of its own, as `run --userns` makes."""
    userns = ["-U", "-r"] if getattr(request, "param", None) == "userns" else []
    proc = subprocess.Popen(["unshare", *userns, "-n", "sleep", "60"])
    try:
        own = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + 5
        while os.readlink(f"/proc/{proc.pid}/ns/net") == own or not _execd(proc.pid):
            assert time.monotonic() < deadline
            time.sleep(0.005)
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def _execd(pid: int) -> bool:
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip() == "sleep"


def test_attach_makes_a_pair_that_carries_traffic(bridge, netns_pid):
    br, net = bridge
    host = f"{PREFIX}h0"
    mac = _netlink.attach(netns_pid, host, "eth0", br, str(net[5]), 24, str(net[1]), mac="02:42:0a:58:00:05")
    assert mac == "02:42:0a:58:00:05"
    [eth0] = ip("addr", "show", "eth0", netns_pid=netns_pid)
    assert eth0["address"] == mac and "UP" in eth0["flags"] and eth0["mtu"] == 1500
    assert [(a["local"], a["prefixlen"], a.get("broadcast")) for a in eth0["addr_info"] if a["family"] == "inet"] \
        == [(str(net[5]), 24, str(net.broadcast_address))]
    routes = ip("route", netns_pid=netns_pid)
    assert {"dst": "default", "gateway": str(net[1]), "dev": "eth0"}.items() <= routes[0].items()
    [link] = ip("link", "show", host)
    assert link["master"] == br and "UP" in link["flags"]
    [port] = json.loads(subprocess.run(["bridge", "-j", "-d", "link", "show", "dev", host], check=True,
                                       capture_output=True, text=True).stdout)
    assert port["hairpin"] is True
    _connect_over_the_bridge(netns_pid, str(net[5]))
    assert _netlink.link_exists(host)
    assert _netlink.delete_link(host) is True
    assert not _netlink.link_exists(host)
    assert "eth0" not in [x["ifname"] for x in ip("link", netns_pid=netns_pid)]  # the peer went with it
    assert _netlink.delete_link(host) is False


def _connect_over_the_bridge(pid: int, address: str) -> None:
    """A TCP server inside (busybox's nc from the host's /usr/bin) answers the host."""
    server = subprocess.Popen(["nsenter", "-t", str(pid), "-n", "python3", "-c",
                               "import socket; s = socket.create_server((%r, 7777)); print('ready', flush=True);"
                               "c, _ = s.accept(); c.sendall(b'hello from inside')" % address],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline() == "ready\n"
        with socket.create_connection((address, 7777), timeout=5) as c:
            assert c.recv(100) == b"hello from inside"
    finally:
        server.kill()
        server.wait()


@pytest.mark.parametrize("netns_pid", ["userns"], indirect=True)
def test_a_network_namespace_of_a_user_namespace(bridge, netns_pid):
    br, net = bridge
    host = f"{PREFIX}u"
    assert os.readlink(f"/proc/{netns_pid}/ns/user") != os.readlink("/proc/self/ns/user")
    try:
        _netlink.attach(netns_pid, host, "eth0", br, str(net[6]), 24, str(net[1]))
        _connect_over_the_bridge(netns_pid, str(net[6]))
    finally:
        _netlink.delete_link(host)


def test_the_kernels_mac_and_the_bridges_mtu_without_a_gateway(bridge, netns_pid):
    br, net = bridge
    subprocess.run(["ip", "link", "set", br, "mtu", "1400"], check=True)
    host = f"{PREFIX}h1"
    try:
        mac = _netlink.attach(netns_pid, host, "eth0", br, str(net[9]), 24, None)
        [eth0] = ip("link", "show", "eth0", netns_pid=netns_pid)
        assert eth0["address"] == mac and eth0["mtu"] == 1400
        assert ip("link", "show", host)[0]["mtu"] == 1400
        assert [r["dst"] for r in ip("route", netns_pid=netns_pid)] == [str(net)]  # no default route
        _netlink.delete_link(host)
        mac = _netlink.attach(netns_pid, host, "eth1", br, str(net[9]), 24, str(net[1]), mtu=1300)
        assert ip("link", "show", "eth1", netns_pid=netns_pid)[0]["mtu"] == 1300
    finally:
        _netlink.delete_link(host)


def _link(name: str, netns_pid=None):
    """A link that is someone else's (a bridge: this kernel has no dummy module)."""
    argv = ["ip", "link", "add", name, "type", "bridge"]
    if netns_pid:
        argv = ["nsenter", "-t", str(netns_pid), "-n", *argv]
    subprocess.run(argv, check=True)


@pytest.mark.parametrize("case", ["no bridge", "host name taken", "dead pid", "the host's netns", "bad address", "bad mac",
                                  "gateway unreachable", "peer name taken", "name too long"])
def test_a_failure_leaves_no_link(bridge, netns_pid, case):
    br, net = bridge
    host = f"{PREFIX}h2"
    args = dict(pid=netns_pid, host_name=host, peer_name="eth0", bridge=br, address=str(net[7]), prefix=24,
                gateway=str(net[1]))
    expected = {
        "no bridge": (errno.ENODEV, f"no bridge {PREFIX}nobr", dict(bridge=f"{PREFIX}nobr")),
        "host name taken": (errno.EEXIST, f"link {host} exists", {}),
        "dead pid": (errno.ESRCH, "no process", dict(pid=_dead_pid())),
        "the host's netns": (errno.EINVAL, "is in this network namespace", dict(pid=os.getpid())),
        "bad address": (errno.EINVAL, "bad IPv4 address '10.0.0.300'", dict(address="10.0.0.300")),
        "bad mac": (errno.EINVAL, "bad MAC address", dict(mac="01:00:5e:00:00:01")),
        "gateway unreachable": (errno.ENETUNREACH, "add default route via 192.0.2.1", dict(gateway="192.0.2.1")),
        "peer name taken": (errno.EEXIST, "link eth0 exists in the container's network namespace", {}),
        "name too long": (errno.EINVAL, "bad interface name", dict(host_name=PREFIX + "x" * 12)),
    }
    code, message, changes = expected[case]
    if case == "host name taken":
        _link(host)
    if case == "peer name taken":
        _link("eth0", netns_pid)
    try:
        with pytest.raises(OSError) as e:
            _netlink.attach(**{**args, **changes})
        assert e.value.errno == code and message in e.value.strerror
        assert "\n" not in e.value.strerror
        assert our_links() == ([host] if case == "host name taken" else [])  # someone else's stays
        inside = [x["ifname"] for x in ip("link", netns_pid=netns_pid)]
        assert inside == (["lo", "eth0"] if case == "peer name taken" else ["lo"])
    finally:
        if case == "host name taken":
            _netlink.delete_link(host)


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_attach_time(bridge, netns_pid, capsys):
    """Not an assertion on time: the figure, for the record (pytest -s shows it)."""
    br, net = bridge
    host = f"{PREFIX}t"
    times = []
    for i in range(50):
        start = time.perf_counter()
        _netlink.attach(netns_pid, host, "eth0", br, str(net[20]), 24, str(net[1]))
        times.append(time.perf_counter() - start)
        _netlink.delete_link(host)
    times.sort()
    with capsys.disabled():
        print(f"\nattach: median {times[25] * 1000:.2f} ms, min {times[0] * 1000:.2f}, max {times[-1] * 1000:.2f}")
