"""Fixtures of the network tests: a pyctr nft table of the test's own (dropped after), the
host's ip_forward restored, and a lab of namespaces and links (removed after)."""

import os

import pytest

from pyctr.network import firewall

from .lab import Lab

FORWARD = "/proc/sys/net/ipv4/ip_forward"


@pytest.fixture
def table():
    name = f"pyctr-{os.urandom(4).hex()}"
    yield name
    firewall.drop(name)


@pytest.fixture
def ip_forward():
    """net.ipv4.ip_forward as it was before the test, whatever the test set."""
    with open(FORWARD) as f:
        before = f.read()
    yield
    with open(FORWARD, "w") as f:
        f.write(before)


@pytest.fixture
def lab():
    lab = Lab()
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture
def host_address() -> str:
    """An IPv4 address of this host's own (not loopback, not a pyctr bridge's)."""
    import nethelpers
    return nethelpers.host_address()


@pytest.fixture
def host_side():
    """A namespace on the host side of a veth pair (not on any bridge): "outside"."""
    import nethelpers
    side = nethelpers.HostSide(os.urandom(2).hex())
    yield side
    side.close()
