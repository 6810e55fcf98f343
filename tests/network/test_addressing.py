"""The pure parts of networks: subnets, gateways and free addresses (ipam.py), -p specs and
the host ports they take (ports.py), hosts and resolv.conf texts (hostfiles.py)."""

import ipaddress

import pytest

from pyctr.network import hostfiles, ipam, ports
from pyctr.network.errors import NetworkError, PortInUse


def test_subnets_are_checked():
    assert str(ipam.parse_subnet("10.88.7.0/24")) == "10.88.7.0/24"
    for bad in ("10.88.7.1/24", "10.88.300.0/24", "nonsense", "10.0.0.0/31", "fe80::/64"):
        with pytest.raises(NetworkError):
            ipam.parse_subnet(bad)


def test_the_gateway_is_the_first_host_unless_asked():
    subnet = ipaddress.IPv4Network("10.88.7.0/24")
    assert str(ipam.gateway_for(subnet)) == "10.88.7.1"
    assert str(ipam.gateway_for(subnet, "10.88.7.254")) == "10.88.7.254"
    for bad in ("10.88.8.1", "10.88.7.0", "10.88.7.255"):
        with pytest.raises(NetworkError):
            ipam.gateway_for(subnet, bad)


def test_free_subnets_avoid_whatever_is_taken():
    taken = [ipaddress.IPv4Network("10.89.0.0/24"), ipaddress.IPv4Network("10.89.1.0/25")]
    assert str(ipam.free_subnet(taken)) == "10.89.2.0/24"
    with pytest.raises(NetworkError):
        ipam.free_subnet([ipaddress.IPv4Network("10.89.0.0/16")])


def test_first_free_address_skips_taken_ones_and_runs_out():
    assert ipam.first_free("10.0.0.0/30", {"10.0.0.1"}) == "10.0.0.2"  # hosts .1 and .2
    with pytest.raises(NetworkError):
        ipam.first_free("10.0.0.0/30", {"10.0.0.1", "10.0.0.2"})
    assert ipam.first_free("10.88.0.0/16", {"10.88.0.1"} | {f"10.88.0.{i}" for i in range(2, 256)}) == "10.88.1.0"
    assert ipam.prefix_of("10.88.0.0/16") == 16 and ipam.mac_for("10.88.1.0") == "02:42:0a:58:01:00"


def test_mac_addresses():
    assert ipam.parse_mac("02:42:AC:11:00:02") == "02:42:ac:11:00:02"
    for bad in ("01:00:5e:00:00:01", "02:42:ac:11:00", "zz:42:ac:11:00:02"):
        with pytest.raises(NetworkError):
            ipam.parse_mac(bad)


@pytest.mark.parametrize("text,expected", [
    ("8080:80", ports.PortSpec("tcp", "", 8080, 8080, 80, 80)),
    ("80", ports.PortSpec("tcp", "", 0, 0, 80, 80)),
    ("127.0.0.1:8080:80/udp", ports.PortSpec("udp", "127.0.0.1", 8080, 8080, 80, 80)),
    ("127.0.0.1::80", ports.PortSpec("tcp", "127.0.0.1", 0, 0, 80, 80)),
    ("0.0.0.0:8080:80", ports.PortSpec("tcp", "", 8080, 8080, 80, 80)),
    ("8000-8010:8000-8010", ports.PortSpec("tcp", "", 8000, 8010, 8000, 8010)),
    ("8000-8010:80", ports.PortSpec("tcp", "", 8000, 8010, 80, 80)),
])
def test_port_specs(text, expected):
    assert ports.parse(text) == expected


@pytest.mark.parametrize("text", ["", "80/sctp", "0:80", "70000", "8000-8001:80-82", "a:b", "[::1]:80:80",
                                  "300.1.1.1:80:80", "1:2:3:4", "90-80"])
def test_bad_port_specs(text):
    with pytest.raises(NetworkError):
        ports.parse(text)


def test_bindings_refuse_a_taken_port_and_choose_free_ones():
    taken = [ports.Binding("tcp", "", 8080, 80)]

    def busy(proto, ip, port):
        return ports.clashes(taken, proto, ip, port)
    with pytest.raises(PortInUse):
        ports.bindings([ports.parse("127.0.0.1:8080:80")], busy)
    # another protocol, and another single address beside a single address, are fine
    assert ports.bindings([ports.parse("8080:80/udp")], busy)[0].host_port == 8080
    [chosen] = ports.bindings([ports.parse("80")], busy)
    assert chosen.host_port > 0 and chosen.host_port != 8080
    # one spec cannot take one port twice either
    with pytest.raises(PortInUse):
        ports.bindings([ports.parse("9090:80"), ports.parse("9090:81")], lambda *a: False)
    [one] = ports.bindings([ports.parse("8080-8082:80")], busy)
    assert one.host_port == 8081


def test_exposed_ports_of_an_image():
    config = {"config": {"ExposedPorts": {"80/tcp": {}, "53/udp": {}, "junk": {}}}}
    assert [s.text() for s in ports.exposed(config)] == ["53/udp", "80/tcp"]


def test_hosts_text():
    text = hostfiles.hosts([hostfiles.Entry("10.0.0.2", ["box", "web"])], [hostfiles.parse_add_host("db:10.0.0.9")],
                           [hostfiles.Entry("10.0.0.3", ["other", "alias"])])
    lines = text.splitlines()
    assert lines[0] == "127.0.0.1\tlocalhost" and "10.0.0.2\tbox web" in lines and "10.0.0.9\tdb" in lines
    assert lines[-1] == "10.0.0.3\tother alias"
    for bad in ("nocolon", ":10.0.0.1", "a:notanip", "a b:10.0.0.1"):
        with pytest.raises(NetworkError):
            hostfiles.parse_add_host(bad)


def test_resolv_conf_keeps_the_hosts_servers_but_not_loopback_ones():
    host = "# c\nnameserver 127.0.0.53\nnameserver 10.1.1.1\nnameserver ::1\nsearch a.test b.test\noptions edns0\n"
    assert hostfiles.resolv_conf(host, [], [], []) == "nameserver 10.1.1.1\nsearch a.test b.test\noptions edns0\n"
    assert hostfiles.resolv_conf("nameserver 127.0.0.1\n", [], [], []).startswith("nameserver 8.8.8.8")
    assert hostfiles.resolv_conf(host, ["10.9.9.9"], ["c.test"], ["ndots:2"]) == \
        "nameserver 10.9.9.9\nsearch c.test\noptions ndots:2\n"


@pytest.mark.parametrize("text", ["80", "8080:80/udp", "127.0.0.1::80", "127.0.0.1:8000-8001:80-81", "8000-8010:80"])
def test_a_spec_written_down_reads_back_the_same(text):
    assert ports.parse(ports.parse(text).text()) == ports.parse(text)
