"""Traffic through pyctr's bridge and nft rules, on the real kernel: "containers" are
processes in network namespaces of the test's own on bridges made by bridges.create, and
the table is firewall.py's.  Servers answer with their name and the address they see the
client at, so each check says who was reached and whether (and how) the source was NATed.
Only loopback, the host's own addresses and the lab's own links are addressed."""

import random

import pytest

from pyctr.network import bridges, firewall, flows
from pyctr.network.firewall import Port

from .lab import host_address

NO_ANSWER = "-"


@pytest.fixture
def world(lab, table, ip_forward):
    """Network 1 (bridge b1) with containers a and b, network 2 (b2) with c, and a
    namespace `out` beyond the host on a veth pair of its own; servers on port 80 (tcp)
    and 53 (udp) in each container, and on 7 in `out`."""
    w = type("World", (), {})()
    w.table, w.lab = table, lab
    firewall.ensure(table)
    w.net1, w.net2 = lab.subnet(), lab.subnet()
    w.b1, w.b2 = lab.bridge(w.net1), lab.bridge(w.net2)
    firewall.add_network(table, w.b1, w.net1)
    firewall.add_network(table, w.b2, w.net2)
    bridges.ensure_forwarding()
    w.a, w.b = lab.container(w.b1, w.net1, 2), lab.container(w.b1, w.net1, 3)
    w.c = lab.container(w.b2, w.net2, 2)
    w.out, w.out_host_end = lab.outside()
    for name in "abc":
        node = getattr(w, name)
        lab.serve(node, "tcp", node.address, 80, name)
        lab.serve(node, "udp", node.address, 53, name)
    lab.serve(w.out, "tcp", w.out.address, 7, "out")
    w.gw1, w.gw2 = str(w.net1[1]), str(w.net2[1])
    w.host = host_address()
    return w


def answers(w, *cases) -> list[str]:
    """What each (client node or None for the host, proto, address, port) is answered:
    "SERVER CLIENT-ADDRESS-IT-SAW" or "-".  Compared as a list, so that a failure shows
    every path of the test at once."""
    return [w.lab.ask(client, proto, address, port, timeout=1) for client, proto, address, port in cases]




def test_same_bridge_traffic_is_neither_dropped_nor_nated(world):
    w = world
    assert answers(w, (w.a, "tcp", w.b.address, 80), (w.b, "udp", w.a.address, 53)) == [
        f"b {w.a.address}", f"a {w.b.address}"]


def test_host_reaches_a_published_port_on_loopback_and_its_own_address(world):
    w = world
    firewall.publish(w.table, "cid-a", [Port("tcp", "", 8080, w.a.address, 80)])
    assert answers(w, (None, "tcp", "127.0.0.1", 8080), (None, "tcp", w.host, 8080), (None, "tcp", w.gw1, 8080)) == [
        f"a {w.gw1}",  # 127.0.0.1 masqueraded: a cannot answer its own loopback
        f"a {w.host}", f"a {w.gw1}"]  # as the host's own address is: a answers it via the gateway


def test_from_beyond_the_host_only_published_ports_are_reached(world):
    """A machine that routes the network's subnet through this host reaches a's published
    port (seeing the client's own address, as docker keeps it), not a's address itself."""
    w = world
    firewall.publish(w.table, "cid-a", [Port("tcp", "", 8080, w.a.address, 80)])
    w.lab.route(w.out, str(w.net1), w.out_host_end)
    assert answers(w, (w.out, "tcp", w.out_host_end, 8080), (w.out, "tcp", w.a.address, 80),
                   (w.out, "udp", w.b.address, 53)) == [f"a {w.out.address}", NO_ANSWER, NO_ANSWER]


def test_a_port_published_on_one_address_only(world):
    w = world
    firewall.publish(w.table, "cid-a", [Port("tcp", "127.0.0.1", 8081, w.a.address, 80)])
    assert answers(w, (None, "tcp", "127.0.0.1", 8081), (None, "tcp", w.host, 8081)) == [
        f"a {w.gw1}", NO_ANSWER]  # nothing listens on the host's address


def test_udp_publishing(world):
    w = world
    firewall.publish(w.table, "cid-a", [Port("udp", "", 5353, w.a.address, 53)])
    assert answers(w, (None, "udp", "127.0.0.1", 5353), (None, "udp", w.host, 5353), (w.c, "udp", w.gw2, 5353)) == [
        f"a {w.gw1}", f"a {w.host}", f"a {w.gw1}"]  # the last from another network


def test_hairpin_a_container_reaches_published_ports_of_its_network_and_its_own(world):
    """Masqueraded to the gateway: b's answer goes back through the NAT, not straight over
    the bridge to a (with br_netfilter loaded, as here, conntrack would also catch it on the
    bridge; without, only the masquerade does); a's own port needs it in any case, since a
    drops a packet from its own address coming in on eth0."""
    w = world
    firewall.publish(w.table, "cid-b", [Port("tcp", "", 8080, w.b.address, 80)])
    firewall.publish(w.table, "cid-a", [Port("tcp", "", 8082, w.a.address, 80)])
    assert answers(w, (w.a, "tcp", w.gw1, 8080), (w.a, "tcp", w.host, 8080),
                   (w.a, "tcp", w.gw1, 8082), (w.a, "tcp", w.host, 8082)) == [
        f"b {w.gw1}", f"b {w.gw1}", f"a {w.gw1}", f"a {w.gw1}"]


def test_outbound_traffic_leaves_with_the_hosts_address(world):
    w = world
    assert answers(w, (w.a, "tcp", w.out.address, 7), (w.c, "tcp", w.out.address, 7)) == [f"out {w.out_host_end}"] * 2


def test_networks_are_isolated_but_published_ports_cross(world):
    w = world
    firewall.publish(w.table, "cid-c", [Port("tcp", "", 8083, w.c.address, 80)])
    assert answers(w, (w.a, "tcp", w.c.address, 80), (w.c, "udp", w.b.address, 53),
                   (w.a, "tcp", w.host, 8083), (w.a, "tcp", w.gw1, 8083)) == [
        NO_ANSWER, NO_ANSWER, f"c {w.gw2}", f"c {w.gw2}"]


def test_unpublish_and_remove_network_stop_the_traffic(world):
    w = world
    firewall.publish(w.table, "cid-a", [Port("tcp", "", 8080, w.a.address, 80)])
    assert answers(w, (None, "tcp", "127.0.0.1", 8080)) == [f"a {w.gw1}"]
    firewall.unpublish(w.table, "cid-a")
    firewall.remove_network(w.table, w.b2)
    # network 2's rules are gone: c is no longer isolated (a reaches it, masqueraded by
    # network 1's rule), nor masqueraded on its way out (`out` has no route back to it)
    assert answers(w, (None, "tcp", "127.0.0.1", 8080), (w.a, "tcp", w.c.address, 80), (w.c, "tcp", w.out.address, 7)) == [
        NO_ANSWER, f"c {w.gw2}", NO_ANSWER]


def test_a_udp_flow_reaches_the_port_published_again_once_the_old_entries_are_forgotten(world):
    """A tracked UDP flow keeps its DNAT after the map element is gone: the same client
    port reaches the old container until flows.forget() deletes its entries."""
    w = world
    source_port = random.randrange(40000, 60000)
    firewall.publish(w.table, "cid-a", [Port("udp", "", 5353, w.a.address, 53)])
    first = w.lab.ask(None, "udp", w.host, 5353, source_port=source_port)
    firewall.unpublish(w.table, "cid-a")
    firewall.publish(w.table, "cid-b", [Port("udp", "", 5353, w.b.address, 53)])
    stale = w.lab.ask(None, "udp", w.host, 5353, source_port=source_port)
    assert flows.forget(w.a.address) >= 1
    fresh = w.lab.ask(None, "udp", w.host, 5353, source_port=source_port)
    assert [first, stale, fresh] == [f"a {w.host}", f"a {w.host}", f"b {w.host}"]
    assert flows.forget(w.a.address) == 0
