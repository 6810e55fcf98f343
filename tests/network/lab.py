"""A small network lab for tests: "containers" that are processes in new network namespaces
(`unshare -n sleep`), wired to bridges or to the host with veth pairs, servers that answer
with their name and the address they see the client at, and clients that ask them.  Only
loopback, the host's own addresses, and what the lab makes itself are ever addressed.
Everything is removed by close(), whatever happened."""

import ipaddress
import os
import random
import subprocess
import time

from pyctr.network import bridges

# one connection or datagram, answered with "<server name> <client address>"
SERVER = r"""
import socket, sys
proto, addr, port, name = sys.argv[1:]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, int(port)))
if proto == "tcp":
    s.listen(64)
print("ready", flush=True)
while True:
    if proto == "tcp":
        c, peer = s.accept()
        c.sendall(f"{name} {peer[0]}".encode())
        c.close()
    else:
        data, peer = s.recvfrom(100)
        s.sendto(f"{name} {peer[0]}".encode(), peer)
"""
# prints the answer, or "-" when there is none in time (refused, dropped, unreachable)
CLIENT = r"""
import socket, sys
proto, addr, port, timeout, source_port = sys.argv[1:]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
s.settimeout(float(timeout))
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", int(source_port)))
try:
    if proto == "tcp":
        s.connect((addr, int(port)))
        print(s.recv(100).decode())
    else:
        s.sendto(b"?", (addr, int(port)))
        print(s.recvfrom(100)[0].decode())
except OSError:
    print("-")
"""
PYTHON = "/usr/bin/python3"
HOST = None  # a node's pid of None: the host's own namespace


def sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30).stdout


class Node:
    """A "container": its netns (held by a sleep), its address on its link."""

    def __init__(self, pid: int, address: str):
        self.pid, self.address = pid, address


class Lab:
    def __init__(self):
        self.tag = os.urandom(3).hex()  # names: pt<kind><tag>, 15 characters at most
        self.processes: list[subprocess.Popen] = []
        self.links: list[str] = []
        self.bridges: list[str] = []
        self.taken: list[ipaddress.IPv4Network] = []
        self._count = 0

    def name(self, kind: str) -> str:
        self._count += 1
        return f"pt{kind}{self.tag}{self._count}"

    def subnet(self, prefix: int = 24) -> ipaddress.IPv4Network:
        net = free_subnet(prefix, self.taken)
        self.taken.append(net)
        return net

    def bridge(self, subnet: ipaddress.IPv4Network) -> str:
        name = self.name("b")
        self.bridges.append(name)
        bridges.create(name, str(subnet[1]), subnet.prefixlen)
        return name

    def _netns(self) -> int:
        mine = os.readlink("/proc/self/ns/net")
        proc = self._start(["unshare", "-n", "sleep", "300"])
        deadline = time.monotonic() + 10
        while os.readlink(f"/proc/{proc.pid}/ns/net") == mine:
            assert time.monotonic() < deadline, "unshare did not make its netns"
            time.sleep(0.005)
        return proc.pid

    def _in(self, pid: int | None, *argv: str) -> list[str]:
        return list(argv) if pid is None else ["nsenter", "-t", str(pid), "-n", *argv]

    def container(self, bridge: str, subnet: ipaddress.IPv4Network, n: int) -> Node:
        """A netns on `bridge` with address subnet[n] and a default route via subnet[1]."""
        return self._wired(bridge, subnet, n, str(subnet[1]))

    def outside(self) -> tuple[Node, str]:
        """A netns joined to the host by a veth pair of its own, on no bridge (a /30): the
        node and the host end's address."""
        subnet = self.subnet(30)
        node = self._wired(None, subnet, 2, None)
        return node, str(subnet[1])

    def _wired(self, bridge, subnet, n, gateway) -> Node:
        pid = self._netns()
        host_end = self.name("v")
        sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", str(pid))
        self.links.append(host_end)
        if bridge:
            sh("ip", "link", "set", host_end, "master", bridge)
            # as a container's port must be: with br_netfilter loaded, a packet a container
            # sends to its own published port is DNATed while still being bridged, and goes
            # back out the port it came in by, which a bridge does only in hairpin mode
            sh("ip", "link", "set", host_end, "type", "bridge_slave", "hairpin", "on")
        else:
            sh("ip", "addr", "add", f"{subnet[1]}/{subnet.prefixlen}", "dev", host_end)
        sh("ip", "link", "set", host_end, "up")
        address = str(subnet[n])
        for argv in (["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", f"{address}/{subnet.prefixlen}", "dev", "eth0"],
                     ["ip", "link", "set", "eth0", "up"]) + ((["ip", "route", "add", "default", "via", gateway],) if gateway else ()):
            sh(*self._in(pid, *argv))
        return Node(pid, address)

    def route(self, node: Node, destination: str, via: str) -> None:
        sh(*self._in(node.pid, "ip", "route", "add", destination, "via", via))

    def _start(self, argv: list[str], **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, **kwargs)
        self.processes.append(proc)
        return proc

    def serve(self, node: Node | None, proto: str, address: str, port: int, name: str) -> None:
        """A server named `name` on address:port, in the node's netns (None: the host's)."""
        proc = self._start(self._in(node and node.pid, PYTHON, "-c", SERVER, proto, address, str(port), name),
                           stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready", f"server {name} did not start"

    def ask(self, node: Node | None, proto: str, address: str, port: int, timeout: float = 2,
            source_port: int = 0) -> str:
        """What a server answers a client in the node's netns (None: the host): "NAME
        CLIENT-ADDRESS", or "-" for no answer.  source_port 0: any."""
        argv = self._in(node and node.pid, PYTHON, "-c", CLIENT, proto, address, str(port), str(timeout),
                        str(source_port))
        return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=timeout + 10).stdout.strip()

    def close(self) -> None:
        for proc in self.processes:
            proc.kill()
        for proc in self.processes:
            proc.wait()
            if proc.stdout:
                proc.stdout.close()
        for link in self.links:  # a pair whose netns ended went with it
            subprocess.run(["ip", "link", "del", link], capture_output=True)
        for name in self.bridges:
            bridges.delete(name)


def free_subnet(prefix: int = 24, taken=()) -> ipaddress.IPv4Network:
    """A 10.213.x.0/prefix that no route of the host's (another test's bridge) and nothing
    in `taken` overlaps: tests running at once on this host do not share subnets."""
    used = bridges.host_routes() + list(taken)
    for _ in range(200):
        net = ipaddress.IPv4Network(f"10.213.{random.randrange(100, 250)}.0/{prefix}")
        if not any(net.overlaps(u) for u in used):
            return net
    raise RuntimeError("no free 10.213.x.0 subnet")


def host_address() -> str:
    """An address of the host's own, on the interface of its default route (eth0's)."""
    dev = sh("ip", "-4", "-o", "route", "show", "default").split(" dev ")[1].split()[0]
    return sh("ip", "-4", "-o", "addr", "show", "dev", dev, "scope", "global").split()[3].split("/")[0]
