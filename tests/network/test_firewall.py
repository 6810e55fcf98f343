"""firewall.py's table on the real kernel, read back with the nft command line: its shape,
idempotence, what each call adds and removes, publishing conflicts with nothing half-added,
and drop.  (The traffic it lets through is test_datapath.py's.)"""

import json
import subprocess

import pytest

from pyctr.network import firewall, nft
from pyctr.network.errors import NetworkError, NftError, PortInUse
from pyctr.network.firewall import Port

SUBNET = "10.213.7.0/24"  # rules only: no address of it is configured anywhere


def listing(table: str) -> list[dict]:
    out = subprocess.run(["nft", "-j", "list", "table", "ip", table], check=True, capture_output=True, text=True)
    return [o for o in json.loads(out.stdout)["nftables"] if "metainfo" not in o]


def rules(table: str) -> list[tuple[str, str]]:
    """(chain, comment) of every rule."""
    return [(o["rule"]["chain"], o["rule"].get("comment")) for o in listing(table) if "rule" in o]


def text(table: str) -> str:
    return subprocess.run(["nft", "list", "table", "ip", table], check=True, capture_output=True, text=True).stdout


BASE = sorted([("prerouting", "pyctr"), ("output", "pyctr")] + [("forward", "pyctr")] * 3
              + [("published", "pyctr")] * 4)


def test_ensure_makes_the_tables_objects_once(table):
    firewall.ensure(table)
    firewall.ensure(table)
    objects = listing(table)
    chains = {o["chain"]["name"]: o["chain"] for o in objects if "chain" in o}
    assert {n: (c.get("type"), c.get("hook"), c.get("prio")) for n, c in chains.items()} == {
        "prerouting": ("nat", "prerouting", -100), "output": ("nat", "output", -100),
        "postrouting": ("nat", "postrouting", 100), "forward": ("filter", "forward", 0),
        "input": ("filter", "input", 0), "published": (None, None, None), "isolate": (None, None, None)}
    maps = {o["map"]["name"]: (o["map"]["type"], o["map"]["map"]) for o in objects if "map" in o}
    assert maps == {"tcp_any": ("inet_service", "ipv4_addr . inet_service"),
                    "udp_any": ("inet_service", "ipv4_addr . inet_service"),
                    "tcp_at": (["ipv4_addr", "inet_service"], "ipv4_addr . inet_service"),
                    "udp_at": (["ipv4_addr", "inet_service"], "ipv4_addr . inet_service")}
    assert [o for o in objects if "set" in o] == []
    assert sorted(rules(table)) == BASE
    assert "fib daddr type local jump published" in text(table)


def test_add_network_twice_leaves_one_copy_and_remove_leaves_nothing(table):
    firewall.ensure(table)
    firewall.add_network(table, "ptnet1", SUBNET)
    firewall.add_network(table, "ptnet1", SUBNET)
    firewall.add_network(table, "ptnet2", "10.213.8.0/24")
    mine = [c for c in rules(table) if c[1] == "pyctr:ptnet1"]
    assert sorted(mine) == [("input", "pyctr:ptnet1"), ("isolate", "pyctr:ptnet1")] + \
        [("postrouting", "pyctr:ptnet1")] * 3
    t = text(table)
    assert f'ip saddr {SUBNET} oifname != "ptnet1" masquerade' in t
    assert 'oifname "ptnet1" iifname != "ptnet1" drop' in t
    assert firewall.networks(table) == ["ptnet1", "ptnet2"]
    firewall.ensure(table)  # keeps the networks' rules
    assert len([c for c in rules(table) if c[1] == "pyctr:ptnet1"]) == 5
    firewall.remove_network(table, "ptnet1")
    firewall.remove_network(table, "ptnet1")
    assert sorted(c for c in rules(table) if c[1] != "pyctr:ptnet2") == BASE
    assert firewall.networks(table) == ["ptnet2"]
    firewall.remove_network(table, "ptnet2")
    assert sorted(rules(table)) == BASE
    assert firewall.networks(table) == []


def test_a_table_that_is_not_there(table):
    firewall.remove_network(table, "ptnet1")  # nothing to do
    firewall.unpublish(table, "c1")
    assert firewall.published(table) == [] and firewall.networks(table) == []
    with pytest.raises(NetworkError, match="does not exist"):
        firewall.add_network(table, "ptnet1", SUBNET)
    with pytest.raises(NetworkError, match="does not exist"):
        firewall.publish(table, "c1", [Port("tcp", "", 8080, "10.213.7.2", 80)])


def test_publish_unpublish_and_what_the_maps_hold(table):
    firewall.ensure(table)
    a = [Port("tcp", "", 8080, "10.213.7.2", 80), Port("udp", "0.0.0.0", 5353, "10.213.7.2", 53),
         Port("tcp", "127.0.0.1", 9090, "10.213.7.2", 90)]
    firewall.publish(table, "c1", a)
    firewall.publish(table, "c2", [Port("udp", "127.0.0.1", 9090, "10.213.7.3", 90)])
    firewall.publish(table, "c3", [])
    a[1].host_ip = ""  # 0.0.0.0 is every address, held as ""
    assert sorted(firewall.published(table), key=repr) == sorted(
        [(p, "c1") for p in a] + [(Port("udp", "127.0.0.1", 9090, "10.213.7.3", 90), "c2")], key=repr)
    t = text(table)
    assert '8080 comment "c1" : 10.213.7.2 . 80' in t
    assert '127.0.0.1 . 9090 comment "c1" : 10.213.7.2 . 90' in t
    firewall.unpublish(table, "c1")
    firewall.unpublish(table, "c1")
    assert firewall.published(table) == [(Port("udp", "127.0.0.1", 9090, "10.213.7.3", 90), "c2")]
    firewall.unpublish(table, "c2")
    assert firewall.published(table) == []


@pytest.mark.parametrize("port, message", [
    (Port("tcp", "", 8080, "10.213.7.9", 1), r"^port 0.0.0.0:8080/tcp is already published$"),
    (Port("tcp", "127.0.0.1", 8080, "10.213.7.9", 1),
     r"^port 127.0.0.1:8080/tcp is already published \(as 0.0.0.0:8080/tcp\)$"),
    (Port("udp", "", 5353, "10.213.7.9", 1), r"^port 0.0.0.0:5353/udp is already published \(as 127.0.0.1:5353/udp\)$"),
    (Port("udp", "127.0.0.1", 5353, "10.213.7.9", 1), r"^port 127.0.0.1:5353/udp is already published$"),
])
def test_a_published_port_is_refused_and_nothing_is_added(table, port, message):
    firewall.ensure(table)
    firewall.publish(table, "c1", [Port("tcp", "", 8080, "10.213.7.2", 80), Port("udp", "127.0.0.1", 5353, "10.213.7.2", 53)])
    before = firewall.published(table)
    with pytest.raises(PortInUse, match=message):
        firewall.publish(table, "c2", [Port("tcp", "", 7000, "10.213.7.9", 1), port])
    assert firewall.published(table) == before
    # another address, or the other protocol, is another port
    firewall.publish(table, "c2", [Port("tcp", "127.0.0.2", 5353, "10.213.7.9", 1), Port("udp", "", 8080, "10.213.7.9", 1)])


def test_a_port_asked_twice_in_one_call(table):
    firewall.ensure(table)
    with pytest.raises(PortInUse, match="0.0.0.0:9000/tcp is asked for twice"):
        firewall.publish(table, "c1", [Port("tcp", "", 9000, "10.213.7.2", 80), Port("tcp", "", 9000, "10.213.7.2", 81)])
    assert firewall.published(table) == []


def test_a_port_published_meanwhile_undoes_the_whole_batch(table, monkeypatch):
    """Between publish's listing and its batch another pyctr may publish a port: `create
    element` then fails, and the whole batch with it."""
    firewall.ensure(table)
    firewall.publish(table, "c1", [Port("tcp", "", 8080, "10.213.7.2", 80)])
    monkeypatch.setattr(firewall, "_published", lambda objects: [])  # the listing misses it
    with pytest.raises(PortInUse, match="published meanwhile"):
        firewall.publish(table, "c2", [Port("tcp", "", 7000, "10.213.7.3", 1), Port("tcp", "", 8080, "10.213.7.3", 80)])
    monkeypatch.undo()
    assert firewall.published(table) == [(Port("tcp", "", 8080, "10.213.7.2", 80), "c1")]


@pytest.mark.parametrize("port", [Port("sctp", "", 1, "10.0.0.2", 1), Port("tcp", "", 0, "10.0.0.2", 1),
                                  Port("tcp", "", 1, "10.0.0.2", 65536), Port("tcp", "::1", 1, "10.0.0.2", 1),
                                  Port("tcp", "", 1, "10.0.0.2; flush ruleset", 1), Port("tcp", "", "1", "10.0.0.2", 1)])
def test_invalid_ports(table, port):
    firewall.ensure(table)
    with pytest.raises(NetworkError):
        firewall.publish(table, "c1", [port])
    assert firewall.published(table) == []


@pytest.mark.parametrize("call", [
    lambda t: firewall.add_network(t, 'x" ; flush ruleset ; "', SUBNET),
    lambda t: firewall.add_network(t, "a-name-far-too-long", SUBNET),
    lambda t: firewall.add_network(t, "ptnet1", "10.213.7.1/24"),  # host bits set
    lambda t: firewall.remove_network(t, "x y"),
    lambda t: firewall.unpublish(t, 'c" }'),
    lambda t: firewall.ensure("pyctr x"),
    lambda t: firewall.drop("x;"),
])
def test_names_that_could_reach_a_command_are_refused(table, call):
    firewall.ensure(table)
    before = listing(table)
    with pytest.raises(NetworkError):
        call(table)
    assert listing(table) == before


def test_drop_and_tables(table):
    firewall.ensure(table)
    firewall.add_network(table, "ptnet1", SUBNET)
    firewall.publish(table, "c1", [Port("tcp", "", 8080, "10.213.7.2", 80)])
    other = "ptnotpyctr" + table[-6:]
    nft.run(f"add table ip {other}")
    try:
        assert table in firewall.tables()
        assert other not in firewall.tables()
    finally:
        nft.run(f"delete table ip {other}")
    firewall.drop(table)
    firewall.drop(table)
    assert table not in firewall.tables()


def test_nft_errors_are_one_line_of_the_librarys_own_text():
    with pytest.raises(NftError) as e:
        nft.run("delete table ip ptnosuchtable")
    assert str(e.value) == "nftables: Could not process rule: No such file or directory"
    with pytest.raises(NftError, match=r"^nftables: syntax error[^\n]*$"):
        nft.run("add rule ip")
    with pytest.raises(NftError, match=r"^nftables: Could not process rule: No such file or directory$"):
        nft.run_json({"nftables": [{"delete": {"table": {"family": "ip", "name": "ptnosuchtable"}}}]})


def test_nft_json_in_and_out(table):
    assert nft.run_json({"nftables": [{"add": {"table": {"family": "ip", "name": table}}}]}) == {}
    out = nft.run_json({"nftables": [{"list": {"table": {"family": "ip", "name": table}}}]})
    assert [o["table"]["name"] for o in out["nftables"] if "table" in o] == [table]
    assert nft.run(f"list table ip {table}").startswith(f"table ip {table} {{")
