"""Published ports: docker's -p syntax read into specs, -P's image ports, and the host
ports a spec takes at a start (free ones chosen for those the user left open).

    -p 8080:80   -p 127.0.0.1:8080:80/udp   -p 80   -p 127.0.0.1::80   -p 8000-8010:8000-8010
"""

from ..records import record
from .errors import NetworkError
from .ipam import parse_address

PROTOCOLS = ("tcp", "udp")


@record
class PortSpec:
    """One -p: host ports `host_start`..`host_end` (0, 0: any free one) on `host_ip` ("":
    every address) to container ports `start`..`end`."""
    proto: str
    host_ip: str
    host_start: int
    host_end: int
    start: int
    end: int

    def text(self) -> str:
        """As -p takes it again: parse(spec.text()) == spec."""
        host = _span(self.host_start, self.host_end) if self.host_start else ""
        prefix = f"{self.host_ip}:{host}:" if self.host_ip else f"{host}:" if host else ""
        return f"{prefix}{_span(self.start, self.end)}/{self.proto}"


@record
class Binding:
    """One published port as it is in force: host_ip:host_port/proto -> the container's."""
    proto: str
    host_ip: str
    host_port: int
    container_port: int

    def docker_text(self, container_ip: str | None = None) -> str:
        """0.0.0.0:8080->80/tcp, as docker's ps and port print it."""
        return f"{self.host_ip or '0.0.0.0'}:{self.host_port}->{self.container_port}/{self.proto}"


def _span(start: int, end: int) -> str:
    return str(start) if start == end else f"{start}-{end}"


def _port_range(text: str, spec: str) -> tuple[int, int]:
    low, dash, high = text.partition("-")
    try:
        start, end = int(low), int(high) if dash else int(low)
    except ValueError:
        raise NetworkError(f"invalid port {spec!r}: {text!r} is not a port or a range") from None
    if not (1 <= start <= end <= 65535):
        raise NetworkError(f"invalid port {spec!r}: ports are 1-65535, a range low-high")
    return start, end


def parse(spec: str) -> PortSpec:
    """One -p value."""
    rest, slash, proto = spec.partition("/")
    proto = proto.lower() if slash else "tcp"
    if proto not in PROTOCOLS:
        raise NetworkError(f"invalid port {spec!r}: protocol {proto!r} is not tcp or udp")
    if rest.startswith("["):
        raise NetworkError(f"invalid port {spec!r}: pyctr networks are IPv4 only")
    parts = rest.split(":")
    if len(parts) > 3 or not parts[-1]:
        raise NetworkError(f"invalid port {spec!r}: expected [IP:][HOST:]CONTAINER[/tcp|udp]")
    host_ip = parts[0] if len(parts) == 3 else ""
    if host_ip:
        host_ip = str(parse_address(host_ip, "host address"))
        if host_ip == "0.0.0.0":
            host_ip = ""
    host = parts[-2] if len(parts) >= 2 else ""
    start, end = _port_range(parts[-1], spec)
    host_start, host_end = _port_range(host, spec) if host else (0, 0)
    if host and host_end - host_start != end - start and start != end:
        raise NetworkError(f"invalid port {spec!r}: the host and container ranges differ in size")
    return PortSpec(proto, host_ip, host_start, host_end, start, end)


def exposed(image_config: dict) -> list[PortSpec]:
    """-P: every port the image exposes ("80/tcp"), each on a free host port."""
    specs = []
    for key in sorted((image_config.get("config") or {}).get("ExposedPorts") or {}):
        try:
            specs.append(parse(key))
        except NetworkError:
            continue  # an image's odd entry is not the user's mistake: skipped
    return specs


def bindings(specs: list[PortSpec], taken) -> list[Binding]:
    """The host ports the specs take now.  `taken(proto, host_ip, port)` says whether
    another container publishes that one; a port left open becomes a free one (the
    kernel's pick among its ephemeral ports, not taken)."""
    chosen: list[Binding] = []

    def busy(proto, ip, port):
        return taken(proto, ip, port) or any(_clash(b, proto, ip, port) for b in chosen)

    for spec in specs:
        for i, port in enumerate(range(spec.start, spec.end + 1)):
            if not spec.host_start:
                host_port = _free_port(spec.proto, spec.host_ip, busy)
            elif spec.start == spec.end and spec.host_end > spec.host_start:  # 8000-8010:80: one free of them
                host_port = next((p for p in range(spec.host_start, spec.host_end + 1)
                                  if not busy(spec.proto, spec.host_ip, p) and _host_free(spec.proto, spec.host_ip, p)),
                                 None)
                if host_port is None:
                    raise _in_use(spec.proto, spec.host_ip, f"{spec.host_start}-{spec.host_end}")
            else:
                host_port = spec.host_start + i
                if busy(spec.proto, spec.host_ip, host_port):
                    raise _in_use(spec.proto, spec.host_ip, host_port)
            _free_on_the_host(spec.proto, spec.host_ip, host_port)
            chosen.append(Binding(spec.proto, spec.host_ip, host_port, port))
    return chosen


def _host_free(proto: str, host_ip: str, port: int) -> bool:
    from .errors import PortInUse
    try:
        _free_on_the_host(proto, host_ip, port)
        return True
    except PortInUse:
        return False


def _free_on_the_host(proto: str, host_ip: str, port: int) -> None:
    """A port a host program listens on would be shadowed by the DNAT (docker refuses it:
    its proxy cannot bind); an address that is not the host's would never match."""
    import errno
    import socket
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a TIME_WAIT is no user
        try:
            s.bind((host_ip or "0.0.0.0", port))
        except OSError as e:
            if e.errno == errno.EADDRNOTAVAIL:
                raise NetworkError(f"cannot publish on {host_ip}: not an address of this host") from None
            if e.errno == errno.EADDRINUSE:
                from .errors import PortInUse
                raise PortInUse(f"port {host_ip or '0.0.0.0'}:{port}/{proto} is in use by a program on the host")
            raise NetworkError(f"cannot publish port {port}/{proto}: {e.strerror}") from None


def _clash(b: Binding, proto: str, ip: str, port: int) -> bool:
    """Two bindings of one port clash unless both name different single addresses."""
    return b.proto == proto and b.host_port == port and (not b.host_ip or not ip or b.host_ip == ip)


def clashes(bound: list[Binding], proto: str, ip: str, port: int) -> bool:
    return any(_clash(b, proto, ip, port) for b in bound)


def _in_use(proto: str, ip: str, port) -> NetworkError:
    from .errors import PortInUse
    return PortInUse(f"port {ip or '0.0.0.0'}:{port}/{proto} is already published by another container")


def _free_port(proto: str, host_ip: str, busy) -> int:
    import socket  # only here: with enum and selectors, 4 ms a run without -p would pay
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    for _ in range(64):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind((host_ip or "0.0.0.0", 0))
            port = s.getsockname()[1]
        if not busy(proto, host_ip, port):
            return port
    raise NetworkError("no free host port found")
