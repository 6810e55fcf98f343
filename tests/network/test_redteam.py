"""Red-team tests of networks (issue 13): what an attacker in a container or a careless
user could do, each a test of what must not happen.  Traffic stays on this machine:
loopback, the bridges made here, namespaces the tests make."""

import os
import socket
import subprocess
import time

import pytest

from nethelpers import free_port
from helpers import state_of, wait_for

from .test_networks import _inspect, _net, _ok

PROBES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "probes")


def _network(pyctr, name="appnet"):
    from pyctr.engine import network_records
    return network_records.find_network(pyctr.store(), name)


def _links(prefix: str) -> list[str]:
    return [n for n in os.listdir("/sys/class/net") if n.startswith(prefix)]


def _addresses_inside(pyctr, name) -> str:
    return _ok(pyctr("exec", name, "ip", "-4", "-o", "addr"))


@pytest.fixture(scope="session")
def raw_udp(tmp_path_factory) -> str:
    """tests/probes/raw_udp.c, static: a UDP datagram in a hand-made frame (CAP_NET_RAW)."""
    out = tmp_path_factory.mktemp("probe") / "raw_udp"
    subprocess.run(["gcc", "-static", "-O2", "-o", str(out), os.path.join(PROBES, "raw_udp.c")], check=True)
    return str(out)


def _received(sock: socket.socket, timeout: float) -> bytes | None:
    sock.settimeout(timeout)
    try:
        return sock.recv(2048)
    except socket.timeout:
        return None


# 1. route_localnet=1 on a bridge lets its containers reach the host's 127.0.0.1

def test_a_container_cannot_reach_what_the_host_binds_to_127_0_0_1(pyctr, raw_udp):
    """route_localnet=1 (set on pyctr's bridges for -p to 127.0.0.1) makes the kernel take
    a packet for 127.0.0.1 that arrives on the bridge: a container that sends one (a raw
    frame to the gateway's MAC; CAP_NET_RAW is a default capability) reaches services the
    host offers on loopback only (CVE-2020-8558 in kube-proxy)."""
    _net(pyctr)
    network = _network(pyctr)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as loopback, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as control:
        loopback.bind(("127.0.0.1", 0))
        control.bind((network.gateway, 0))  # the probe works: this one is the container's to reach
        gw = network.gateway
        # the gateway's MAC (the bridge takes its first port's): from the container's ARP cache
        script = (f"ping -c1 -W2 {gw} >/dev/null; mac=$(awk '$1 == \"{gw}\" {{print $4}}' /proc/net/arp); "
                  f"/raw_udp eth0 $mac {gw} {control.getsockname()[1]} control && "
                  f"/raw_udp eth0 $mac 127.0.0.1 {loopback.getsockname()[1]} loopback")
        argv = ["run", "--rm", "--net", "appnet", "-v", f"{raw_udp}:/raw_udp:ro", "busybox", "sh", "-c", script]
        _ok(pyctr(*argv))
        assert _received(control, 3) == b"control"
        assert _received(loopback, 1) is None, "a container reached a socket bound to the host's 127.0.0.1"
    _ok(pyctr("network", "rm", "appnet"))


@pytest.fixture(scope="session")
def router_advert(tmp_path_factory) -> str:
    """tests/probes/router_advert.c, static: an IPv6 router advertisement (CAP_NET_RAW)."""
    out = tmp_path_factory.mktemp("probe") / "router_advert"
    subprocess.run(["gcc", "-static", "-O2", "-o", str(out), os.path.join(PROBES, "router_advert.c")], check=True)
    return str(out)


def test_the_host_takes_no_router_advertisement_from_a_container(pyctr, router_advert):
    """A bridge is a link of the host's with IPv6 on, forwarding off and accept_ra=1 (the
    kernel's defaults): a container that sends router advertisements (CAP_NET_RAW)
    reconfigures the host's IPv6 (CVE-2020-13401 in docker), a default route through
    itself included.  This one asks only for an address of a documentation prefix on the
    bridge, with no default route.  Two guards: the container's eth0 has no IPv6 (the
    probe's socket cannot send), and the bridge has none either (a frame made by hand,
    AF_PACKET, finds no IPv6 on the host's side)."""
    _net(pyctr)
    bridge = _network(pyctr).bridge
    r = pyctr("run", "--rm", "--net", "appnet", "-v", f"{router_advert}:/router_advert:ro", "busybox",
              "/router_advert", "eth0", "2001:db8:5:1::")
    assert r.returncode == 0 or "Network is unreachable" in r.stderr, r.stderr
    with open(f"/proc/sys/net/ipv6/conf/{bridge}/disable_ipv6") as f:
        assert f.read().strip() == "1"
    time.sleep(0.5)
    addresses = subprocess.run(["ip", "-6", "addr", "show", "dev", bridge], capture_output=True, text=True).stdout
    routes = subprocess.run(["ip", "-6", "route", "show", "dev", bridge], capture_output=True, text=True).stdout
    _ok(pyctr("network", "rm", "appnet"))
    assert "2001:db8:5:1:" not in addresses + routes, "the host took a container's router advertisement"


# 2. a joined container (--net container:X) keeps X's address after X's lease is freed

def test_an_address_is_never_on_two_containers_after_the_one_joined_stops(pyctr):
    """y joins x's network namespace; x stops and its lease is freed; z gets the address
    next.  y must not still hold it (x's veth lives as long as the namespace, which y
    keeps): two links with one address and one MAC on the bridge."""
    _net(pyctr)
    _ok(pyctr("run", "-d", "--name", "x", "--net", "appnet", "busybox", "sleep", "120"))
    ip = _inspect(pyctr, "x")["NetworkSettings"]["IPAddress"]
    x_veth = "pv" + _id(pyctr, "x")[:10]  # read now: after rm the row, and so the id, is gone
    _ok(pyctr("run", "-d", "--name", "y", "--net", "container:x", "busybox", "sleep", "120"))
    _ok(pyctr("stop", "-t", "0", "x"))
    _ok(pyctr("run", "-d", "--name", "z", "--net", "appnet", "busybox", "sleep", "120"))
    z_ip = _inspect(pyctr, "z")["NetworkSettings"]["IPAddress"]
    try:
        assert not (z_ip == ip and f"inet {ip}/" in _addresses_inside(pyctr, "y")), \
            f"{ip} is both z's and still on y's (x's) eth0"
    finally:
        _ok(pyctr("rm", "-f", "y", "z", "x"))
    assert _links(x_veth) == []
    _ok(pyctr("network", "rm", "appnet"))


def _id(pyctr, name) -> str:
    rows = pyctr.store().db.execute("SELECT id FROM containers WHERE name = ?", (name,)).fetchall()
    assert rows, f"no container {name}"  # an empty id would make "pv" match every veth
    return rows[0][0]


# 3. published ports follow the first lease's address, which disconnect frees

WEB = "mkdir -p /www && echo {} > /www/index.html && exec httpd -f -p 80 -h /www"


def test_after_disconnect_a_published_port_reaches_no_one_who_did_not_publish_it(pyctr):
    from nethelpers import http_get, wait_http
    port = free_port()
    _net(pyctr, "net1", "10.213.7.0/24")
    _net(pyctr, "net2", "10.213.8.0/24")
    _ok(pyctr("run", "-d", "--name", "web", "--net", "net1", "-p", f"{port}:80", "busybox", "sh", "-c",
              WEB.format("web")))
    wait_http(f"http://127.0.0.1:{port}/")
    _ok(pyctr("network", "connect", "net2", "web"))
    r = pyctr("network", "disconnect", "net1", "web")
    try:
        # the address web had on net1 goes to the next container there
        _ok(pyctr("run", "-d", "--name", "victim", "--net", "net1", "busybox", "sh", "-c", WEB.format("victim")))
        time.sleep(1)
        try:
            page = http_get(f"http://127.0.0.1:{port}/", 2)
        except OSError:
            page = ""
        assert "victim" not in page, "web's published port now reaches another container"
        if r.returncode == 0:  # allowed: then its ports must be gone with the address
            assert _ok(pyctr("port", "web")).strip() == ""
    finally:
        _ok(pyctr("rm", "-f", "web", "victim"))
    _ok(pyctr("network", "rm", "net1", "net2"))


# 4. bad input that leaves something half made

@pytest.mark.parametrize("lead", ["_", "-"])
def test_a_bridge_name_nftables_refuses_leaves_no_bridge_and_no_network(pyctr, lead):
    """com.docker.network.bridge.name allows a leading _ or -, firewall.py's pattern does
    not: the bridge is made, the rules refused, and the undo stops at the same check."""
    bridge = f"{lead}rt{os.urandom(3).hex()}"
    try:
        r = pyctr("network", "create", "--subnet", "10.213.7.0/24", "-o",
                  f"com.docker.network.bridge.name={bridge}", "odd")
        assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not os.path.exists(f"/sys/class/net/{bridge}")
        assert "odd" not in _ok(pyctr("network", "ls"))
    finally:
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)


def test_a_failed_network_create_leaves_another_roots_bridge_alone(pyctr, tmp_path):
    """Bridge names are unique in one store only: naming another root's bridge makes
    create fail (its address is not there), and the undo deletes that bridge, which
    carries pyctr's alias like every bridge pyctr makes."""
    from conftest import take_networks_down
    other = str(tmp_path / "other")
    os.makedirs(other, mode=0o700)
    _ok(pyctr("network", "create", "--subnet", "10.213.9.0/24", "theirs", env={"PYCTR_ROOT": other}))
    try:
        from pyctr.engine import network_records
        from pyctr.engine.store import Store
        store = Store(os.path.join(other, "pyctr.db"))
        bridge = network_records.find_network(store, "theirs").bridge
        store.close()
        r = pyctr("network", "create", "--subnet", "10.213.7.0/24", "-o",
                  f"com.docker.network.bridge.name={bridge}", "mine")
        assert r.returncode == 1
        assert os.path.exists(f"/sys/class/net/{bridge}"), "another root's bridge was deleted"
        assert "mine" not in _ok(pyctr("network", "ls"))
    finally:
        take_networks_down(other)


def test_network_rm_while_a_run_is_about_to_use_it_is_a_one_line_error(pyctr):
    """run looks the network up, network rm removes it, run writes its endpoint row: the
    foreign key fails, and sqlite3.IntegrityError reaches the user as an internal error."""
    import signal
    _net(pyctr)
    proc = pyctr.popen("run", "-d", "--name", "r", "--net", "appnet", "busybox", "sleep", "60",
                       env={"PYCTR_PAUSE_AT": "resolved"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: proc.poll() is None and state_of(proc.pid) == "T")
        _ok(pyctr("network", "rm", "appnet"))
        os.kill(proc.pid, signal.SIGCONT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 125 and "internal error" not in err and len(err.strip().splitlines()) == 1, err
    assert pyctr.store().list_containers() == [] and pyctr.container_dirs() == []


# 5. a careless user

def test_the_default_subnet_from_the_environment_is_checked_against_the_hosts_routes(pyctr):
    """PYCTR_DEFAULT_SUBNET skips the host-route check every other subnet gets: a subnet
    the host reaches through a link of its own would get a second route and the
    gateway's address (perhaps the LAN's router's) on pyctr's bridge."""
    link = f"pvrt{os.urandom(2).hex()}"
    subprocess.run(["ip", "link", "add", link, "type", "veth", "peer", "name", link + "p"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", "10.213.66.7/24", "dev", link], check=True)
        subprocess.run(["ip", "link", "set", link, "up"], check=True)
        r = pyctr("run", "--rm", "busybox", "true", env={"PYCTR_DEFAULT_SUBNET": "10.213.66.0/24"})
        assert r.returncode == 125 and "overlaps" in r.stderr, r.stderr
    finally:
        subprocess.run(["ip", "link", "del", link], capture_output=True)


@pytest.mark.parametrize("name", ["host", "none", "bridge"])
def test_a_network_cannot_take_a_name_that_means_a_mode(pyctr, name):
    """--network host|none|bridge mean the modes: a network named so could never be used
    by name (docker refuses these names too)."""
    r = pyctr("network", "create", "--subnet", "10.213.7.0/24", name)
    if r.returncode == 0:
        _ok(pyctr("network", "rm", name))
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, "a network named like a mode"


def test_runs_at_once_all_start_on_a_default_network_made_by_one_of_them(pyctr):
    """pyctr0 made on first use by one of several runs at once: the others find it (its
    name), rather than its subnet routed already (PYCTR_DEFAULT_SUBNET)."""
    env = {"PYCTR_DEFAULT_SUBNET": "10.213.41.0/24"}
    procs = [pyctr.popen("run", "--rm", "busybox", "true", env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True) for _ in range(8)]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, errors


def test_joining_a_container_that_joined_another_one(pyctr):
    """--network container:x where x runs with --network container:z: x has no hosts file
    of its own (it uses z's), so the start failed on the bind of x's."""
    _net(pyctr)
    _ok(pyctr("run", "-d", "--name", "z", "--net", "appnet", "busybox", "sleep", "120"))
    _ok(pyctr("run", "-d", "--name", "x", "--net", "container:z", "busybox", "sleep", "120"))
    try:
        ip = _inspect(pyctr, "z")["NetworkSettings"]["IPAddress"]
        assert f"inet {ip}/" in _ok(pyctr("run", "--rm", "--net", "container:x", "busybox", "ip", "-4", "-o", "addr"))
    finally:
        _ok(pyctr("rm", "-f", "x", "z"))
    _ok(pyctr("network", "rm", "appnet"))


def test_a_containers_name_is_not_taken_by_anothers_alias(pyctr):
    """--network-alias web on other containers: each peer's hosts file listed them in id
    order, name and aliases on one line, and a lookup takes the first line that matches:
    any container could take another's name.  (Five of them: by chance all after web
    one time in six.)"""
    _net(pyctr)
    _ok(pyctr("run", "-d", "--name", "web", "--net", "appnet", "busybox", "sleep", "120"))
    names = [f"f{i}" for i in range(5)]
    for name in names:
        _ok(pyctr("run", "-d", "--name", name, "--net", "appnet", "--network-alias", "web", "busybox", "sleep", "120"))
    try:
        ip = _inspect(pyctr, "web")["NetworkSettings"]["IPAddress"]
        out = _ok(pyctr("run", "--rm", "--net", "appnet", "busybox", "sh", "-c", "ping -c1 -W1 web || true"))
        assert f"({ip})" in out, out
    finally:
        _ok(pyctr("rm", "-f", "web", *names))
    _ok(pyctr("network", "rm", "appnet"))
