"""A container's /etc/hosts, /etc/hostname and /etc/resolv.conf, as text.

Names: containers on one network find each other through their /etc/hosts, which pyctr
keeps current: each start and each exit on a network rewrites the hosts files of the
containers running on it (engine/endpoints.py).  Why not a resolver (podman's
aardvark-dns, docker's embedded DNS): it would be a process per network that someone must
start, watch and restart, and pyctr has no daemon to do it; every libc (glibc, musl,
busybox) reads /etc/hosts on each lookup, so a file is enough for names and aliases.  What
it cannot do: answer DNS queries (nslookup, dig ask a server, not the file).
"""

from ..records import record

LOCALHOST = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
PEERS_HEADER = "# pyctr: containers on the same networks, kept current"
# docker's fallback when the host has no usable nameserver (only loopback ones): Google's
FALLBACK_NAMESERVERS = ["8.8.8.8", "8.8.4.4"]
MAX_RESOLV = 64 * 1024  # the host's resolv.conf is read this far at most


@record
class Entry:
    address: str
    names: list[str]

    def line(self) -> str:
        # a name with a blank in it would be several names, or a line of its own
        return f"{self.address}\t{' '.join(n for n in self.names if n and not any(c.isspace() for c in n))}"


def parse_add_host(text: str) -> Entry:
    """--add-host NAME:IP (docker's; NAME=IP too)."""
    from .errors import NetworkError
    from .ipam import parse_address
    for sep in ("=", ":"):
        name, found, address = text.partition(sep)
        if found:
            break
    if not found or not name or not address or any(c.isspace() for c in name):
        raise NetworkError(f"invalid --add-host {text!r}: expected NAME:IP")
    if address == "host-gateway":
        raise NetworkError("--add-host NAME:host-gateway is not supported: give the address")
    return Entry(str(parse_address(address.strip("[]"), "--add-host address")), [name])


def hosts(own: list[Entry], extra: list[Entry], peers: list[Entry]) -> str:
    """localhost, the container's own addresses and names, --add-host's, then its peers'."""
    lines = LOCALHOST + [e.line() for e in own + extra]
    if peers:
        lines += ["", PEERS_HEADER] + [e.line() for e in peers]
    return "\n".join(lines) + "\n"


def resolv_conf(host_text: str, dns: list[str], search: list[str], options: list[str]) -> str:
    """The host's resolv.conf with loopback nameservers dropped (they would be the
    container's own loopback), unless --dns, --dns-search, --dns-option replace them."""
    nameservers, searches, opts = [], [], []
    for line in host_text.splitlines():
        words = line.split()
        if len(words) < 2 or words[0].startswith(("#", ";")):
            continue
        if words[0] == "nameserver" and not _loopback(words[1]):
            nameservers.append(words[1])
        elif words[0] in ("search", "domain"):
            searches = words[1:]
        elif words[0] == "options":
            opts += words[1:]
    nameservers = dns or nameservers or FALLBACK_NAMESERVERS
    searches = search or searches
    opts = options or opts
    lines = [f"nameserver {n}" for n in nameservers]
    if searches and searches != ["."]:
        lines.append("search " + " ".join(searches))
    if opts:
        lines.append("options " + " ".join(opts))
    return "\n".join(lines) + "\n"


def _loopback(text: str) -> bool:
    if ":" not in text:  # IPv4, the usual case: no ipaddress import on a run's path
        return text.startswith("127.")
    import ipaddress
    try:
        return ipaddress.ip_address(text.split("%")[0]).is_loopback
    except ValueError:
        return False


def read_host_resolv(path: str = "/etc/resolv.conf") -> str:
    try:
        with open(path, "rb") as f:
            return f.read(MAX_RESOLV).decode(errors="replace")
    except OSError:
        return ""
