"""User namespaces for `run`: --userns=auto (a free range of host ids, podman's and docker's
65536) and --uidmap/--gidmap CONTAINER:HOST:SIZE (podman's syntax), as the OCI config's
user namespace and uidMappings/gidMappings.  Every container's host ranges are recorded in
the store until it is removed, so an auto range is never shared: with a `containers`
entry in /etc/subuid (and /etc/subgid) auto takes its ranges from there, as podman does;
else from 100000 up."""

from ..records import record
from .errors import PyctrError
from .store import IdRange, Store

AUTO_SIZE = 65536
DEFAULT_POOL = [(100000, (1 << 31) - 100000)]  # below 2**31: some tools take ids as signed
SUBID_USER = "containers"
ID_LIMIT = 1 << 32


@record
class Request:
    """What the flags asked for: `auto` ranges of `size`, or the explicit maps."""
    auto: bool = False
    size: int = AUTO_SIZE
    uid_maps: list[tuple[int, int, int]] = []  # (container, host, size)
    gid_maps: list[tuple[int, int, int]] = []


def parse_map(text: str, flag: str) -> tuple[int, int, int]:
    parts = text.split(":")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() for p in parts):
        raise PyctrError(f"invalid {flag} {text!r}: want CONTAINER:HOST:SIZE, e.g. 0:100000:65536")
    inside, host, size = (int(p) for p in parts)
    if size == 0 or max(inside, host) + size >= ID_LIMIT:
        raise PyctrError(f"invalid {flag} {text!r}: ids must stay below {ID_LIMIT - 1} and the size above 0")
    return inside, host, size


def _auto_size(mode: str) -> int:
    """"auto" or "auto:size=N"."""
    options = mode.partition(":")[2]
    size = AUTO_SIZE
    for option in filter(None, options.split(",")):
        key, _, value = option.partition("=")
        if key != "size" or not (value.isascii() and value.isdigit()) or not 0 < int(value) < ID_LIMIT:
            raise PyctrError(f"invalid --userns option {option!r}: auto takes size=N")
        size = int(value)
    return size


def request(userns: str | None, uidmap: list[str], gidmap: list[str]) -> Request | None:
    """The flags read (a bad one is a PyctrError); None: no user namespace."""
    mode = userns or ""
    if mode == "auto" or mode.startswith("auto:"):
        if uidmap or gidmap:
            raise PyctrError("--userns=auto and --uidmap/--gidmap cannot be combined")
        return Request(auto=True, size=_auto_size(mode))
    if mode not in ("", "host"):
        raise PyctrError(f"invalid --userns {mode!r}: auto or host")
    if mode == "host" and (uidmap or gidmap):
        raise PyctrError("--userns=host and --uidmap/--gidmap cannot be combined")
    if not uidmap and not gidmap:
        return None
    uid_maps = [parse_map(m, "--uidmap") for m in uidmap]
    gid_maps = [parse_map(m, "--gidmap") for m in gidmap]
    # podman's rule: one of them given stands for both
    req = Request(uid_maps=uid_maps or gid_maps, gid_maps=gid_maps or uid_maps)
    from ..runtime.errors import ConfigError
    from ..runtime.userns import map_lines
    for flag, maps in (("--uidmap", req.uid_maps), ("--gidmap", req.gid_maps)):
        try:  # what the kernel would refuse, said now
            map_lines([{"containerID": c, "hostID": h, "size": n} for c, h, n in maps], flag)
        except ConfigError as e:
            raise PyctrError(str(e).replace(f"linux.{flag}", flag)) from None
    return req


def subid_pool(path: str) -> list[tuple[int, int]]:
    """/etc/subuid's `containers:START:COUNT` lines, if any."""
    pool = []
    try:
        with open(path) as f:
            for line in f:
                parts = line.strip().split(":")
                numbers = parts[1:] if len(parts) == 3 else []
                if numbers and parts[0] == SUBID_USER and all(p.isascii() and p.isdigit() for p in numbers):
                    pool.append((int(parts[1]), int(parts[2])))
    except (OSError, UnicodeDecodeError):
        pass
    return pool


def first_free(pool: list[tuple[int, int]], held: list[IdRange], size: int) -> int | None:
    """The lowest start of `size` ids inside the pool that no held range overlaps."""
    spans = sorted((r.host_start, r.host_start + r.size) for r in held)
    for start, count in pool:
        candidate = start
        for begin, end in spans:
            if begin >= candidate + size:
                break
            candidate = max(candidate, end)
        if candidate + size <= start + count:
            return candidate
    return None


def _chooser(req: Request, pools: dict):
    def choose(held: list[IdRange]) -> list[IdRange]:
        if not req.auto:
            return [_explicit(kind, host, size, held) for kind, maps in (("uid", req.uid_maps), ("gid", req.gid_maps))
                    for _, host, size in maps]
        chosen = []
        for kind in ("uid", "gid"):
            start = first_free(pools[kind], [r for r in held if r.kind == kind], req.size)
            if start is None:
                raise PyctrError(f"no free range of {req.size} host {kind}s left for --userns=auto")
            chosen.append(IdRange("", kind, start, req.size, True))
        return chosen
    return choose


def _explicit(kind: str, host: int, size: int, held: list[IdRange]) -> IdRange:
    """An explicit map may share ids with another one (the user said so), never with an auto range."""
    for r in held:
        if r.kind == kind and r.auto and host < r.host_start + r.size and r.host_start < host + size:
            raise PyctrError(f"host {kind}s {host}-{host + size - 1} overlap those of container "
                             f"{r.container_id[:12]} (--userns=auto)")
    return IdRange("", kind, host, size, False)


def assign(store: Store, container_id: str, req: Request, subuid: str = "/etc/subuid",
           subgid: str = "/etc/subgid") -> tuple[list, list]:
    """The container's (uid maps, gid maps) as (container, host, size), recorded as held."""
    pools = {"uid": subid_pool(subuid) or DEFAULT_POOL, "gid": subid_pool(subgid) or DEFAULT_POOL}
    taken = store.take_id_ranges(container_id, _chooser(req, pools))
    if not req.auto:
        return req.uid_maps, req.gid_maps
    by_kind = {r.kind: r for r in taken}
    return [(0, by_kind["uid"].host_start, req.size)], [(0, by_kind["gid"].host_start, req.size)]


def into_config(config: dict, uid_maps: list, gid_maps: list) -> None:
    """The OCI config's user namespace and its maps."""
    linux = config["linux"]
    linux["namespaces"].append({"type": "user"})
    for field, maps in (("uidMappings", uid_maps), ("gidMappings", gid_maps)):
        linux[field] = [{"containerID": c, "hostID": h, "size": n} for c, h, n in maps]
