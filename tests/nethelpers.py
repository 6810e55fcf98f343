"""Helpers for network tests: free host ports, the host's own address, HTTP on this
machine, a server in a namespace on the host side (not on any bridge)."""

import json
import signal
import socket
import subprocess
import time

import pytest


def free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def host_address() -> str:
    """An IPv4 address of this host's own (not loopback, not a pyctr bridge's)."""
    out = json.loads(subprocess.run(["ip", "-j", "-4", "addr"], capture_output=True, text=True, check=True).stdout)
    for link in out:
        if link["ifname"] == "lo" or link["ifname"].startswith(("pybr", "pyctr", "pv")):
            continue
        for addr in link.get("addr_info", []):
            if addr.get("family") == "inet" and addr.get("scope") == "global":
                return addr["local"]
    pytest.skip("this host has no global IPv4 address of its own")


def http_get(url: str, timeout: float = 5) -> str:
    from urllib.request import urlopen
    with urlopen(url, timeout=timeout) as r:  # noqa: S310 - loopback and this host's own addresses only
        return r.read().decode()


def wait_http(url: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return http_get(url, 2)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class HostSide:
    """A network namespace reached from the host over a veth pair (not a bridge): the
    "outside" a container's outbound traffic is NATed to."""

    def __init__(self, tag: str):
        self.host_if, self.ns_if = f"pvt{tag}h", f"pvt{tag}n"
        self.host_ip, self.ns_ip = "10.213.9.1", "10.213.9.2"
        self.holder = subprocess.Popen(["unshare", "-n", "sleep", "300"])
        self.pid = self.holder.pid
        time.sleep(0.1)
        self._ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if, "netns", str(self.pid))
        self._ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
        self._ip("link", "set", self.host_if, "up")
        self._in_ns("ip", "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if)
        self._in_ns("ip", "link", "set", self.ns_if, "up")
        self._in_ns("ip", "link", "set", "lo", "up")

    def _ip(self, *args):
        subprocess.run(["ip", *args], check=True)

    def _in_ns(self, *args, **kwargs):
        return subprocess.run(["nsenter", "-t", str(self.pid), "-n", *args], check=True, **kwargs)

    def serve(self, port: int, log_path: str) -> subprocess.Popen:
        """A web server in the namespace whose log names each client's address."""
        log = open(log_path, "w")
        return subprocess.Popen(["nsenter", "-t", str(self.pid), "-n", "python3", "-m", "http.server", "--bind",
                                 self.ns_ip, str(port)], stdout=log, stderr=log, cwd="/")

    def close(self):
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True)
        self.holder.send_signal(signal.SIGKILL)
        self.holder.wait()
