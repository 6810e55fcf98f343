"""Published ports as records: what `-p` asks for, what firewall.py puts in its maps and
what `ps` and `port` show.  Only pyctr.records is imported, so the engine and CLI may use
it anywhere (firewall.py itself pulls in ipaddress and re, about 6 ms)."""

from ..records import record

PROTOCOLS = ("tcp", "udp")


@record
class Port:
    """One published port: host_ip "" is every address of the host."""
    proto: str  # "tcp" | "udp"
    host_ip: str
    host_port: int
    container_ip: str
    container_port: int


def describe(port: Port) -> str:
    """docker's way to name a published host port: 0.0.0.0:8080/tcp."""
    return f"{port.host_ip or '0.0.0.0'}:{port.host_port}/{port.proto}"
