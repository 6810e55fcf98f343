"""Networks end to end, through the `pyctr` command on the real kernel: a bridge network
with IPAM, published ports reached from the host (127.0.0.1 and its own address), from
other containers (hairpin) and over udp, names between containers, outbound NAT to a
namespace on the host side, isolation between networks, the default network, none, host
and container: modes, connect/disconnect, and the errors.  Traffic stays on this machine:
loopback, the bridges made here and the namespaces the tests make.  The leak check
(conftest.py) sees every veth, bridge and nftables table left behind."""

import json
import os
import socket
import subprocess
import time

import pytest

from nethelpers import free_port, http_get, wait_http
from helpers import state_of, wait_for

UDP_SINK_SOURCE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "probes", "udp_sink.c")
WEB = "mkdir -p /www && echo hello from $(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"


def _ok(result):
    assert result.returncode == 0, result.stderr
    return result.stdout


def _inspect(pyctr, name) -> dict:
    return json.loads(_ok(pyctr("inspect", name)))[0]


def _net(pyctr, name="appnet", subnet="10.213.7.0/24"):
    _ok(pyctr("network", "create", "--subnet", subnet, name))


def _leases(pyctr) -> list:
    return pyctr.store().db.execute("SELECT * FROM leases").fetchall()


def test_the_issue_story(pyctr, host_address):
    port = free_port()
    _net(pyctr)
    ls = _ok(pyctr("network", "ls"))
    assert "appnet" in ls and "10.213.7.0/24" in ls and "10.213.7.1" in ls
    _ok(pyctr("run", "-d", "--name", "web", "--net", "appnet", "-p", f"{port}:80", "busybox", "sh", "-c", WEB))
    assert wait_http(f"http://127.0.0.1:{port}/").startswith("hello from")
    assert http_get(f"http://{host_address}:{port}/").startswith("hello from")
    # by name and by address, from another container on the network
    assert "hello from" in _ok(pyctr("run", "--rm", "--net", "appnet", "busybox", "wget", "-qO-", "http://web/"))
    web_ip = _inspect(pyctr, "web")["NetworkSettings"]["Networks"]["appnet"]["IPAddress"]
    assert web_ip.startswith("10.213.7.")
    assert "hello from" in _ok(pyctr("run", "--rm", "--net", "appnet", "busybox", "wget", "-qO-", f"http://{web_ip}/"))
    assert _ok(pyctr("port", "web")).strip() == f"80/tcp -> 0.0.0.0:{port}"
    assert f"0.0.0.0:{port}->80/tcp" in _ok(pyctr("ps"))
    _ok(pyctr("rm", "-f", "web"))
    _ok(pyctr("network", "rm", "appnet"))
    assert _leases(pyctr) == []
    assert "appnet" not in _ok(pyctr("network", "ls"))


def test_the_default_network_gives_eth0_and_a_default_route(pyctr):
    out = _ok(pyctr("run", "--rm", "busybox", "sh", "-c",
                    "ip route; ip -4 addr show eth0; cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6"))
    assert "default via" in out and "dev eth0" in out and "inet " in out
    assert out.split()[-1] == "1"  # IPv4 networks: no IPv6 (router advertisements, DAD) on eth0
    ls = _ok(pyctr("network", "ls"))
    assert "pyctr0" in ls
    # the container's address is free again once it is gone
    assert _leases(pyctr) == []


def test_hairpin_a_container_reaches_published_ports_through_the_gateway(pyctr, host_address):
    port = free_port()
    _net(pyctr)
    _ok(pyctr("run", "-d", "--name", "web", "--net", "appnet", "-p", f"{port}:80", "busybox", "sh", "-c", WEB))
    wait_http(f"http://127.0.0.1:{port}/")
    for target in ("10.213.7.1", host_address):
        out = _ok(pyctr("run", "--rm", "--net", "appnet", "busybox", "wget", "-qO-", f"http://{target}:{port}/"))
        assert "hello from" in out
    # the container itself, through its own published port
    assert "hello from" in _ok(pyctr("exec", "web", "wget", "-qO-", f"http://10.213.7.1:{port}/"))
    _ok(pyctr("rm", "-f", "web"))
    _ok(pyctr("network", "rm", "appnet"))


def test_outbound_traffic_is_masqueraded_to_the_host_side(pyctr, host_side, tmp_path):
    log = tmp_path / "server.log"
    server = host_side.serve(8000, str(log))
    try:
        _net(pyctr)
        url = f"http://{host_side.ns_ip}:8000/"
        deadline = time.monotonic() + 10
        while True:
            r = pyctr("run", "--rm", "--net", "appnet", "busybox", "wget", "-qO-", url)
            if r.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert r.returncode == 0, r.stderr
        wait_for(lambda: "GET /" in log.read_text())
        clients = [line.split()[0] for line in log.read_text().splitlines() if "GET /" in line]
        assert clients and all(c == host_side.host_ip for c in clients)  # not 10.213.7.x
    finally:
        server.kill()
        server.wait()
    _ok(pyctr("network", "rm", "appnet"))


@pytest.fixture(scope="session")
def udp_sink(tmp_path_factory) -> str:
    """tests/probes/udp_sink.c, static: busybox's nc has no udp."""
    out = tmp_path_factory.mktemp("probe") / "udp_sink"
    subprocess.run(["gcc", "-static", "-O2", "-o", str(out), UDP_SINK_SOURCE], check=True)
    return str(out)


def test_udp_publishing(pyctr, udp_sink):
    port = free_port(socket.SOCK_DGRAM)
    _net(pyctr)
    _ok(pyctr("run", "-d", "--name", "u", "--net", "appnet", "-p", f"127.0.0.1:{port}:5353/udp",
              "-v", f"{udp_sink}:/udp_sink:ro", "busybox", "/udp_sink", "5353"))
    deadline = time.monotonic() + 10
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        while "ping over udp" not in _ok(pyctr("logs", "u")):
            assert time.monotonic() < deadline, "no datagram arrived"
            s.sendto(b"ping over udp\n", ("127.0.0.1", port))
            time.sleep(0.2)
    assert _ok(pyctr("port", "u", "5353/udp")).strip() == f"127.0.0.1:{port}"
    _ok(pyctr("rm", "-f", "u"))
    _ok(pyctr("network", "rm", "appnet"))


def test_thirty_containers_at_once_get_distinct_addresses_and_reach_the_gateway(pyctr):
    _net(pyctr, subnet="10.213.8.0/24")
    names = [f"c{i}" for i in range(30)]
    procs = [pyctr.popen("run", "-d", "--name", n, "--net", "appnet", "busybox", "sleep", "120",
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in names]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    addresses = [_inspect(pyctr, n)["NetworkSettings"]["IPAddress"] for n in names]
    assert len(set(addresses)) == 30 and all(a.startswith("10.213.8.") for a in addresses)
    pings = [pyctr.popen("exec", n, "ping", "-c", "1", "-W", "5", "10.213.8.1", stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True) for n in names]
    for p in pings:
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0, out
    _ok(pyctr("rm", "-f", *names))
    _ok(pyctr("network", "rm", "appnet"))
    assert _leases(pyctr) == []


def test_kill_9_during_network_set_up_leaves_nothing_after_rm(pyctr):
    port = free_port()
    _net(pyctr)
    proc = pyctr.popen("run", "-d", "--name", "k", "--net", "appnet", "-p", f"{port}:80", "busybox", "sleep", "600",
                       env={"PYCTR_PAUSE_AT": "networked"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: proc.poll() is None and state_of(proc.pid) == "T")
        assert _leases(pyctr)  # it got as far as its address and port
    finally:
        proc.kill()
        proc.wait()
    _ok(pyctr("rm", "-f", "k"))
    _ok(pyctr("network", "rm", "appnet"))
    assert _leases(pyctr) == [] and pyctr.store().db.execute("SELECT * FROM ports").fetchall() == []


def test_names_hosts_hostname_and_resolv_conf(pyctr):
    _net(pyctr)
    _ok(pyctr("run", "-d", "--name", "first", "--net", "appnet", "--network-alias", "db", "busybox", "sleep", "120"))
    out = _ok(pyctr("run", "--rm", "--name", "second", "-h", "box", "--net", "appnet", "--dns", "10.213.7.53",
                    "--dns-search", "example.test", "--add-host", "extra.test:10.213.7.99", "busybox", "sh", "-c",
                    "cat /etc/hosts /etc/hostname /etc/resolv.conf; ping -c1 -W2 db >/dev/null && echo alias-ok"))
    assert "localhost" in out and "box" in out and "second" in out
    assert "10.213.7.99\textra.test" in out
    assert "nameserver 10.213.7.53" in out and "search example.test" in out
    assert "alias-ok" in out
    first = _inspect(pyctr, "first")
    # a container started later is known to the earlier one, and forgotten once it goes
    _ok(pyctr("run", "-d", "--name", "later", "--net", "appnet", "busybox", "sleep", "120"))
    later_ip = _inspect(pyctr, "later")["NetworkSettings"]["IPAddress"]
    hosts = _ok(pyctr("exec", "first", "cat", "/etc/hosts"))
    assert f"{later_ip}\tlater" in hosts
    assert _ok(pyctr("exec", "first", "ping", "-c1", "-W2", "later"))
    _ok(pyctr("rm", "-f", "later"))
    assert "later" not in _ok(pyctr("exec", "first", "cat", "/etc/hosts"))
    assert first["Id"][:12] in _ok(pyctr("exec", "first", "cat", "/etc/hosts"))
    _ok(pyctr("rm", "-f", "first"))
    _ok(pyctr("network", "rm", "appnet"))


def test_resolv_conf_drops_loopback_nameservers(pyctr):
    out = _ok(pyctr("run", "--rm", "--net", "none", "busybox", "cat", "/etc/resolv.conf"))
    assert "nameserver 127." not in out and "nameserver ::1" not in out and "nameserver" in out


def test_none_host_and_container_modes(pyctr):
    assert _ok(pyctr("run", "--rm", "--net", "none", "busybox", "ls", "/sys/class/net")).split() == ["lo"]
    host_links = set(subprocess.run(["ls", "/sys/class/net"], capture_output=True, text=True).stdout.split())
    inside = set(_ok(pyctr("run", "--rm", "--net", "host", "busybox", "ls", "/sys/class/net")).split())
    assert "lo" in inside and inside & (host_links - {"lo"})
    _net(pyctr)
    _ok(pyctr("run", "-d", "--name", "a", "--net", "appnet", "busybox", "sleep", "120"))
    ip = _inspect(pyctr, "a")["NetworkSettings"]["IPAddress"]
    out = _ok(pyctr("run", "--rm", "--net", "container:a", "busybox", "ip", "-4", "addr", "show", "eth0"))
    assert f"inet {ip}/" in out
    _ok(pyctr("rm", "-f", "a"))
    _ok(pyctr("network", "rm", "appnet"))


def test_networks_are_isolated_but_published_ports_are_reachable(pyctr, host_address):
    port = free_port()
    _net(pyctr, "net1", "10.213.7.0/24")
    _net(pyctr, "net2", "10.213.8.0/24")
    _ok(pyctr("run", "-d", "--name", "web", "--net", "net2", "-p", f"{port}:80", "busybox", "sh", "-c", WEB))
    wait_http(f"http://127.0.0.1:{port}/")
    web_ip = _inspect(pyctr, "web")["NetworkSettings"]["IPAddress"]
    blocked = pyctr("run", "--rm", "--net", "net1", "busybox", "wget", "-T", "2", "-qO-", f"http://{web_ip}/")
    assert blocked.returncode != 0
    out = _ok(pyctr("run", "--rm", "--net", "net1", "busybox", "wget", "-qO-", f"http://{host_address}:{port}/"))
    assert "hello from" in out
    _ok(pyctr("rm", "-f", "web"))
    _ok(pyctr("network", "rm", "net1", "net2"))


def test_connect_and_disconnect_a_running_container(pyctr):
    _net(pyctr, "net1", "10.213.7.0/24")
    _net(pyctr, "net2", "10.213.8.0/24")
    _ok(pyctr("run", "-d", "--name", "a", "--net", "net1", "busybox", "sleep", "120"))
    _ok(pyctr("run", "-d", "--name", "b", "--net", "net2", "busybox", "sleep", "120"))
    _ok(pyctr("network", "connect", "net2", "a"))
    assert "inet 10.213.8." in _ok(pyctr("exec", "a", "ip", "-4", "addr", "show", "eth1"))
    assert _ok(pyctr("exec", "b", "ping", "-c1", "-W2", "a"))
    nets = _inspect(pyctr, "a")["NetworkSettings"]["Networks"]
    assert set(nets) == {"net1", "net2"}
    inspected = json.loads(_ok(pyctr("network", "inspect", "net2")))[0]
    assert {c["Name"] for c in inspected["Containers"].values()} == {"a", "b"}
    assert pyctr("network", "rm", "net2").returncode != 0  # in use
    _ok(pyctr("network", "disconnect", "net2", "a"))
    assert "eth1" not in _ok(pyctr("exec", "a", "ls", "/sys/class/net"))
    _ok(pyctr("rm", "-f", "a", "b"))
    _ok(pyctr("network", "rm", "net1", "net2"))


def test_port_ranges_and_a_free_port_chosen(pyctr):
    _net(pyctr)
    base = free_port()
    while True:  # two free ports in a row
        if base < 65000 and all(_port_free(p) for p in (base, base + 1)):
            break
        base = free_port()
    _ok(pyctr("run", "-d", "--name", "r", "--net", "appnet", "-p", f"{base}-{base + 1}:80-81", "-p", "82",
              "busybox", "sleep", "120"))
    lines = _ok(pyctr("port", "r")).splitlines()
    assert f"80/tcp -> 0.0.0.0:{base}" in lines and f"81/tcp -> 0.0.0.0:{base + 1}" in lines
    [chosen] = [line for line in lines if line.startswith("82/tcp")]
    assert int(chosen.rsplit(":", 1)[1]) > 0
    _ok(pyctr("rm", "-f", "r"))
    _ok(pyctr("network", "rm", "appnet"))


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
            return True
        except OSError:
            return False


def test_publish_all_uses_the_images_exposed_ports(pyctr):
    _ok(pyctr("commit", "--change", "EXPOSE 80/tcp", *_a_container(pyctr), "exposing:1"))
    _net(pyctr)
    _ok(pyctr("run", "-d", "--name", "p", "--net", "appnet", "-P", "exposing:1", "sleep", "120"))
    assert _ok(pyctr("port", "p")).startswith("80/tcp -> 0.0.0.0:")
    _ok(pyctr("rm", "-f", "p", "src"))
    _ok(pyctr("network", "rm", "appnet"))


def _a_container(pyctr) -> list[str]:
    _ok(pyctr("run", "--name", "src", "--net", "none", "busybox", "true"))
    return ["src"]


def test_mac_address_and_ip_asked_for(pyctr):
    _net(pyctr)
    out = _ok(pyctr("run", "--rm", "--net", "appnet", "--ip", "10.213.7.77", "--mac-address", "02:42:0a:d5:07:77",
                    "busybox", "ip", "addr", "show", "eth0"))
    assert "inet 10.213.7.77/24" in out and "02:42:0a:d5:07:77" in out
    _ok(pyctr("network", "rm", "appnet"))


@pytest.mark.parametrize("args,message", [
    (("network", "create", "--subnet", "10.213.7.128/25", "other"), "overlaps"),
    (("network", "create", "--subnet", "10.213.300.0/24", "bad"), "invalid subnet"),
    (("network", "create", "--subnet", "10.213.7.5/24", "bad"), "invalid subnet"),
    (("run", "--rm", "--net", "nosuchnet", "busybox", "true"), "not found"),
    (("run", "--rm", "--net", "appnet", "--ip", "10.213.8.5", "busybox", "true"), "subnet"),
    (("run", "--rm", "--net", "appnet", "-p", "80:80:80:80", "busybox", "true"), "invalid port"),
    (("run", "--rm", "--net", "appnet", "--mac-address", "01:00:00:00:00:01", "busybox", "true"), "MAC"),
    (("run", "--rm", "--net", "none", "-p", "8080:80", "busybox", "true"), "bridge network"),
])
def test_bad_input_is_one_line_with_docker_s_exit_code_and_nothing_half_made(pyctr, args, message):
    _net(pyctr)
    before = _ok(pyctr("network", "ls", "-q"))
    r = pyctr(*args)
    code = 125 if args[0] == "run" else 1  # docker: run's own failures 125, another verb's 1
    assert r.returncode == code and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert _ok(pyctr("network", "ls", "-q")) == before
    assert pyctr.store().list_containers() == [] and pyctr.container_dirs() == []
    _ok(pyctr("network", "rm", "appnet"))


def test_a_port_already_published_is_refused(pyctr):
    port = free_port()
    _net(pyctr)
    _ok(pyctr("run", "-d", "--name", "one", "--net", "appnet", "-p", f"{port}:80", "busybox", "sleep", "120"))
    r = pyctr("run", "-d", "--name", "two", "--net", "appnet", "-p", f"127.0.0.1:{port}:80", "busybox", "sleep", "1")
    assert r.returncode == 125 and "already published" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert [c.name for c in pyctr.store().list_containers()] == ["one"]
    assert len(_leases(pyctr)) == 1
    _ok(pyctr("rm", "-f", "one"))
    _ok(pyctr("network", "rm", "appnet"))


def test_what_a_killed_monitor_held_is_swept_by_network_prune(pyctr):
    """No cleanup runs when the monitor is killed with its container: the lease and the
    published port stay until the sweep (network prune, or the first start after a boot)."""
    from pyctr.engine import networks
    from pyctr.engine.paths import Paths
    from pyctr.network import firewall
    port = free_port()
    _net(pyctr)
    cid = _ok(pyctr("run", "-d", "--name", "m", "--net", "appnet", "-p", f"{port}:80", "busybox", "sleep",
                    "120")).strip()
    record = pyctr.store().get_container(cid)
    os.kill(record.monitor_pid, 9)
    os.kill(record.pid, 9)
    wait_for(lambda: not os.path.exists(f"/proc/{record.pid}"))
    table = networks.table_name(Paths.resolve(pyctr.root))
    assert _leases(pyctr) and [owner for _, owner in firewall.published(table)] == [cid]
    _ok(pyctr("network", "prune", "-f"))  # appnet stays: m is on it, stopped
    assert _leases(pyctr) == [] and firewall.published(table) == []
    assert pyctr.store().db.execute("SELECT * FROM ports").fetchall() == []
    _ok(pyctr("rm", "-f", "m"))
    _ok(pyctr("network", "rm", "appnet"))


def test_aliases_and_search_domains_are_single_words(pyctr):
    for flag in ("--network-alias", "--dns-search"):
        r = pyctr("run", "--rm", flag, "evil\n10.0.0.1 web", "busybox", "true")
        assert r.returncode == 125 and "invalid" in r.stderr
    assert pyctr.store().list_containers() == []


def test_after_a_disconnect_and_a_restart_the_first_network_left_is_eth0(pyctr):
    _net(pyctr, "net1", "10.213.7.0/24")
    _net(pyctr, "net2", "10.213.8.0/24")
    _ok(pyctr("run", "-d", "--name", "a", "--net", "net1", "busybox", "sleep", "120"))
    _ok(pyctr("network", "connect", "net2", "a"))
    _ok(pyctr("network", "disconnect", "net1", "a"))
    _ok(pyctr("restart", "-t", "0", "a"))
    out = _ok(pyctr("exec", "a", "sh", "-c", "ip -4 addr show eth0; ip route"))
    assert "inet 10.213.8." in out and "default via 10.213.8.1 dev eth0" in out
    _ok(pyctr("network", "disconnect", "net2", "a"))  # finds its veth by the endpoint's position
    assert _ok(pyctr("exec", "a", "ls", "/sys/class/net")).split() == ["lo"]
    _ok(pyctr("rm", "-f", "a"))
    _ok(pyctr("network", "rm", "net1", "net2"))


def test_a_port_a_host_program_listens_on_or_a_foreign_address_is_refused(pyctr):
    _net(pyctr)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        r = pyctr("run", "--rm", "--net", "appnet", "-p", f"127.0.0.1:{port}:80", "busybox", "true")
        assert r.returncode == 125 and "in use by a program on the host" in r.stderr, r.stderr
    r = pyctr("run", "--rm", "--net", "appnet", "-p", "10.213.250.250:8080:80", "busybox", "true")
    assert r.returncode == 125 and "not an address of this host" in r.stderr, r.stderr
    assert pyctr.store().list_containers() == [] and _leases(pyctr) == []
    _ok(pyctr("network", "rm", "appnet"))


def test_network_prune_restores_rules_and_ports_an_nftables_flush_took(pyctr):
    from pyctr.engine import networks
    from pyctr.engine.paths import Paths
    port = free_port()
    _net(pyctr)
    _ok(pyctr("run", "-d", "--name", "web", "--net", "appnet", "-p", f"{port}:80", "busybox", "sh", "-c", WEB))
    wait_http(f"http://127.0.0.1:{port}/")
    subprocess.run(["nft", "delete", "table", "ip", networks.table_name(Paths.resolve(pyctr.root))], check=True)
    with pytest.raises(OSError):
        http_get(f"http://127.0.0.1:{port}/", timeout=1)
    _ok(pyctr("network", "prune", "-f"))
    assert http_get(f"http://127.0.0.1:{port}/").startswith("hello from")
    _ok(pyctr("rm", "-f", "web"))
    _ok(pyctr("network", "rm", "appnet"))
