"""bridges.py on the real kernel, read back with iproute2 and /proc: a bridge made,
idempotent, refused over a link that is not ours, removed; routes, forwarding and the links
a sweep finds."""

import ipaddress
import json
import os
import subprocess

import pytest

from pyctr.network import bridges
from pyctr.network.errors import NetworkError

from .lab import free_subnet


def link(name: str) -> dict:
    out = subprocess.run(["ip", "-j", "-d", "addr", "show", "dev", name], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)[0]


def addresses(name: str) -> list[str]:
    return [f"{a['local']}/{a['prefixlen']}" for a in link(name)["addr_info"] if a["family"] == "inet"]


@pytest.fixture
def names():
    """Link names of the test's own, each removed afterwards if it is still there."""
    tag = os.urandom(3).hex()
    made = [f"pt{kind}{tag}" for kind in ("b", "c", "d")]
    yield made
    for name in made + [f"pv{tag}"]:
        subprocess.run(["ip", "link", "del", name], capture_output=True)


def test_create_makes_our_bridge_and_is_idempotent(names):
    name, net = names[0], free_subnet()
    gateway = str(net[1])
    bridges.create(name, gateway, 24)
    bridges.create(name, gateway, 24)
    info = link(name)
    assert info["linkinfo"]["info_kind"] == "bridge"
    assert info["ifalias"] == "pyctr"
    assert "UP" in info["flags"]
    assert addresses(name) == [f"{gateway}/24"]
    with open(f"/proc/sys/net/ipv4/conf/{name}/route_localnet") as f:
        assert f.read().strip() == "1"
    default_dev = subprocess.run(["ip", "-4", "-j", "route", "show", "default"], capture_output=True, text=True,
                                 check=True).stdout
    dev = json.loads(default_dev)[0]["dev"] if json.loads(default_dev) else None
    assert info["mtu"] == (link(dev)["mtu"] if dev else 1500)
    assert bridges.exists(name) and name in bridges.our_links()
    assert net in bridges.host_routes()
    assert bridges.delete(name) is True
    assert bridges.delete(name) is False
    assert not bridges.exists(name)
    assert net not in bridges.host_routes()


def test_an_mtu_asked_for(names):
    bridges.create(names[0], str(free_subnet()[1]), 24, mtu=1280)
    assert link(names[0])["mtu"] == 1280
    bridges.delete(names[0])


def test_an_existing_link_otherwise_is_refused_and_kept(names):
    bridge, _, other = names
    gateway = str(free_subnet()[1])
    bridges.create(bridge, gateway, 24)
    with pytest.raises(NetworkError, match=rf"^bridge {bridge} exists without the address 10.213.8.1/24$"):
        bridges.create(bridge, "10.213.8.1", 24)
    assert addresses(bridge) == [f"{gateway}/24"]
    subprocess.run(["ip", "link", "add", other, "type", "veth", "peer", "name", other + "p"], check=True)
    with pytest.raises(NetworkError, match=rf"^a link named {other} exists and is not a bridge$"):
        bridges.create(other, "10.213.8.1", 24)
    with pytest.raises(NetworkError, match=rf"^link {other} is not a bridge pyctr made; not removing it$"):
        bridges.delete(other)
    assert bridges.exists(other) and other not in bridges.our_links()
    bridges.delete(bridge)


def test_a_failed_address_leaves_no_bridge(names):
    with pytest.raises(NetworkError, match=r"^cannot set up bridge \S+ with 10.213.99.1/33: Invalid argument$"):
        bridges.create(names[0], "10.213.99.1", 33)
    assert not bridges.exists(names[0])


def test_our_links_are_aliased_bridges_and_pv_veths(names):
    tag = names[0][2:]
    subprocess.run(["ip", "link", "add", f"pv{tag}", "type", "veth", "peer", "name", f"pt{tag}x"], check=True)
    try:
        found = bridges.our_links()
        assert f"pv{tag}" in found and f"pt{tag}x" not in found
        assert "lo" not in found
    finally:
        subprocess.run(["ip", "link", "del", f"pv{tag}"], check=True)


def test_host_routes_leave_out_the_default():
    routes = bridges.host_routes()
    assert all(r.prefixlen > 0 for r in routes)
    assert all(isinstance(r, ipaddress.IPv4Network) for r in routes)


def test_ensure_forwarding_changes_it_only_when_off(ip_forward):
    with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
        f.write("0")
    assert bridges.ensure_forwarding() is True
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        assert f.read().strip() == "1"
    assert bridges.ensure_forwarding() is False
