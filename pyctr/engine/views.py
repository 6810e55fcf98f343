"""What `ps` and `inspect` show: the store's records made true by the runtime's state.

A row says "running" only while the runtime says its process lives (pid and start time);
a container whose process died while no pyctr was there to see it is shown, and
recorded, as exited with an unknown code.
"""

import os
import time

from .. import fastjson
from ..timestamps import ZERO, rfc3339
from ..runtime.plan import ROOTFS_OPTIONS
from . import containers
from .paths import Paths
from .store import ContainerRecord, Store


def refresh(paths: Paths, store: Store, record: ContainerRecord) -> ContainerRecord:
    """The record made true: a dead "running" container becomes "exited"; one "starting"
    whose pyctr died becomes "created" again (or "exited", if it ran before).  Each only
    if the row is still what was read: another pyctr may have moved on since."""
    if record.status == "running":
        if containers.is_running(paths, record):
            return record
    elif record.status not in ("starting", "restarting") or containers.holder_alive(record):
        return record  # (a "restarting" row is held by the pyctr that waits out its back-off)
    expect = {"status": record.status, "pid": record.pid}
    if record.status == "running":  # the monitor's word on its exit, when it had its say
        store.update_container(record.id, expect, status="exited", exit_code=containers.read_exit(paths, record.id),
                               finished=record.finished or time.time())
    else:
        store.update_container(record.id, expect, status="exited" if record.started else "created")
    return store.get_container(record.id) or record


def iso(t: float | None) -> str:
    return rfc3339(t) if t else ZERO


def _mounts(paths: Paths, config: dict) -> list[dict]:
    """docker's MountPoints of the run's own mounts (--init's binary is pyctr's, not one)."""
    if not config.get("mounts"):
        return []
    from .volumes import inspect_mounts  # the spec and volumes: not on ps's path
    return inspect_mounts(paths, config)


def inspect(paths: Paths, record: ContainerRecord, store: Store | None = None) -> dict:
    """docker inspect's shape, as far as pyctr has the facts: docker's fields (limits in
    HostConfig.Memory, NanoCpus, ...) with the OCI forms beside (HostConfig.Resources)."""
    from .spec import ENTRYPOINT, INIT_PATH, OPEN_STDIN, STOP_SIGNAL, STOP_TIMEOUT, USER, annotated, labels
    config = containers.read_config(paths, record.id) or {}
    process = config.get("process", {})
    notes = config.get("annotations") or {}
    rootfs = notes.get(ROOTFS_OPTIONS, "")
    layers = dict(part.split("=", 1) for part in rootfs.split(",") if "=" in part)
    settings = network_settings(record.id, store) if store is not None else {"Networks": {}}
    conf = None
    if store is not None:
        from . import network_records
        conf = network_records.netconf(store, record.id)
    init = any(m.get("destination") == INIT_PATH for m in config.get("mounts", []))
    argv = list(record.command)
    if init and argv[:2] == [INIT_PATH, "--"]:  # docker's Path is the command, not its init
        argv = argv[2:]
    entrypoint = fastjson.loads(notes[ENTRYPOINT]) if ENTRYPOINT in notes else []
    user_mounts = _requests(config)
    directory = paths.container_dir(record.id)
    return {
        "Id": record.id,
        "Created": iso(record.created),
        "Path": argv[0] if argv else "",
        "Args": argv[1:],
        "State": state(record, containers.is_paused(paths, record)),
        "Image": "sha256:" + record.image_id,
        "ResolvConfPath": os.path.join(directory, "resolv.conf"),
        "HostnamePath": os.path.join(directory, "hostname"),
        "HostsPath": os.path.join(directory, "hosts"),
        "LogPath": paths.container_file(record.id, "log"),
        "Name": "/" + record.name,
        "RestartCount": record.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "HostConfig": {**host_config(config, user_mounts, conf, store, record.id, init),
                       "NetworkMode": settings.pop("NetworkMode", "none"),
                       "Runtime": record.runtime or "pyctr"},
        "GraphDriver": {"Name": "overlay", "Data": {"LowerDir": layers.get("lowerdir", ""),
                                                    "UpperDir": layers.get("upperdir", ""),
                                                    "WorkDir": layers.get("workdir", ""),
                                                    "MergedDir": paths.container_file(record.id, "rootfs")}},
        "Mounts": _mounts(paths, config),
        "Config": {
            "Hostname": config.get("hostname", ""),
            "Domainname": "",
            "User": notes.get(USER, ""),
            "Tty": process.get("terminal", False),
            "OpenStdin": annotated(config, OPEN_STDIN),
            "Env": process.get("env", []),
            "Cmd": argv[len(entrypoint):] or None,
            "Image": record.image_ref,
            "WorkingDir": process.get("cwd", "/"),
            "Entrypoint": entrypoint or None,
            "Labels": labels(config),
            **({"StopSignal": notes[STOP_SIGNAL]} if notes.get(STOP_SIGNAL) else {}),
            **({"StopTimeout": int(notes[STOP_TIMEOUT])} if notes.get(STOP_TIMEOUT, "").lstrip("-").isdigit()
               else {}),
        },
        "NetworkSettings": settings,
        "FinalStats": fastjson.loads(record.final_stats) if record.final_stats else None,
    }


INSPECT_TYPES = ("container", "image", "network", "volume")  # docker's order, when no --type says


def inspect_object(paths: Paths, store: Store, name: str, kind: str | None = None) -> dict:
    """`inspect NAME`: the first of a container, an image, a network and a volume that
    `name` names (with `kind`, that kind only), in its inspect shape.  None found:
    NotFound, worded as docker's ("No such object: x"; with --type, "No such image: x");
    an id prefix of several: Conflict."""
    from .errors import Conflict, NotFound, PyctrError
    if kind is not None and kind not in INSPECT_TYPES:
        raise PyctrError(f'"{kind}" is not a valid value for --type')
    for each in (kind,) if kind else INSPECT_TYPES:
        try:
            return _inspect_kind(paths, store, name, each)
        except NotFound:
            pass
        except Conflict:
            raise
        except PyctrError:  # not a valid name of this kind (an image reference in capitals)
            if kind:
                raise
    raise NotFound(f"No such {kind or 'object'}: {name}")


def _inspect_kind(paths: Paths, store: Store, name: str, kind: str) -> dict:
    if kind == "container":
        return inspect(paths, refresh(paths, store, containers.lookup(store, name)), store)
    if kind == "image":
        from . import images
        return images.inspect(store, images.find(paths, store, name))
    if kind == "network":
        from . import networks
        return networks.inspect(store, networks.lookup(store, name))
    from . import volumes
    return volumes.inspect(paths, store, name)


# docker's State.Status of each of pyctr's: a start under way is still "created" to docker
_STATUS = {"starting": "created"}
UNKNOWN_EXIT = 255  # docker's code for a container that died while nothing watched


def state(record: ContainerRecord, paused: bool = False) -> dict:
    """docker's State: ExitCode 0 while running and before the first start, Pid 0 when not
    running, "0001-01-01T00:00:00Z" for a time that has not come; `paused`: its cgroup is
    frozen (a running one's status is then "paused")."""
    status = "paused" if paused and record.status == "running" else _STATUS.get(record.status, record.status)
    running = status in ("running", "paused", "restarting")  # docker: restarting is running too
    if status in ("exited", "restarting"):  # restarting: the exit that its policy answers
        code = UNKNOWN_EXIT if record.exit_code is None else record.exit_code
    else:
        code = 0 if running or record.exit_code is None else record.exit_code
    return {
        "Status": status,
        "Running": running,
        "Paused": status == "paused",
        "Restarting": status == "restarting",
        "OOMKilled": bool(record.oom_killed),
        "Dead": status == "dead",
        "Pid": (record.pid or 0) if status in ("running", "paused") else 0,
        "ExitCode": code,
        "Error": "",
        "StartedAt": iso(record.started),
        "FinishedAt": iso(record.finished),
    }


def _requests(config: dict) -> list:
    from .spec import USER_MOUNTS
    if USER_MOUNTS not in (config.get("annotations") or {}):
        return []
    from .volumes import requests_of  # not on ps's path
    return requests_of(config)


def host_config(config: dict, user_mounts: list, conf, store: Store | None, container_id: str, init: bool) -> dict:
    """docker's HostConfig from a container's config.json, 0, "" or null where unset as
    docker shows them; the OCI resources as they are under Resources.  pyctr's one CFS
    flag is --cpus, so CpuQuota and CpuPeriod stay 0 as docker's do with --cpus."""
    from .logopts import MAX_FILE, MAX_SIZE
    from .restarts import policy
    from .spec import AUTOREMOVE, DEFAULT_CAPS, annotated
    linux = config.get("linux", {})
    process = config.get("process", {})
    notes = config.get("annotations") or {}
    resources = linux.get("resources", {})
    memory, cpu = resources.get("memory") or {}, resources.get("cpu") or {}
    quota, period = cpu.get("quota") or 0, cpu.get("period") or 0
    pids = (resources.get("pids") or {}).get("limit")
    privileged = resources.get("devices") == [{"allow": True, "access": "rwm"}]
    caps = (process.get("capabilities") or {}).get("bounding", [])
    security = (["no-new-privileges"] if process.get("noNewPrivileges") else []) + \
        (["seccomp=unconfined"] if not privileged and "seccomp" not in linux else [])
    restart, retries = policy(config)
    options = conf.options if conf is not None else {}
    log = {key: notes[name] for key, name in (("max-size", MAX_SIZE), ("max-file", MAX_FILE)) if name in notes}
    return {
        "Binds": [f"{r.source}:{r.destination}" + (":ro" if r.readonly else "") for r in user_mounts
                  if r.type == "bind" or r.type == "volume" and not r.anonymous] or None,
        "LogConfig": {"Type": "json-file", "Config": log},
        "PortBindings": _port_bindings(store, container_id) if store is not None else {},
        "RestartPolicy": {"Name": restart, "MaximumRetryCount": retries},
        "AutoRemove": annotated(config, AUTOREMOVE),
        "CapAdd": None if privileged else [c for c in caps if c not in DEFAULT_CAPS] or None,
        "CapDrop": None if privileged else [c for c in DEFAULT_CAPS if c not in caps] or None,
        "Dns": list(options.get("dns") or []),
        "DnsOptions": list(options.get("dns_options") or []),
        "DnsSearch": list(options.get("dns_search") or []),
        "ExtraHosts": list(options.get("add_hosts") or []) or None,
        "OomScoreAdj": process.get("oomScoreAdj", 0),
        "Privileged": privileged,
        "ReadonlyRootfs": bool((config.get("root") or {}).get("readonly")),
        "SecurityOpt": security or None,
        "Tmpfs": {r.destination: ",".join(r.options) for r in user_mounts if r.type == "tmpfs"} or None,
        "ShmSize": _shm_size(config),
        "CgroupParent": os.path.dirname(linux.get("cgroupsPath", "")).lstrip("/"),  # (absolute for runc)
        "CpuShares": cpu.get("shares") or 0,
        "Memory": max(memory.get("limit") or 0, 0),
        "NanoCpus": quota * 1_000_000_000 // period if quota > 0 and period else 0,
        "CpuPeriod": 0,
        "CpuQuota": 0,
        "CpusetCpus": cpu.get("cpus") or "",
        "CpusetMems": cpu.get("mems") or "",
        "MemoryReservation": memory.get("reservation") or 0,
        "MemorySwap": memory.get("swap") or 0,
        "OomKillDisable": bool(memory.get("disableOOMKiller")),
        "PidsLimit": pids if pids and pids > 0 else None,
        "Ulimits": [{"Name": r["type"].removeprefix("RLIMIT_").lower(), "Hard": r["hard"], "Soft": r["soft"]}
                    for r in process.get("rlimits") or []] or None,
        "Init": True if init else None,
        "Resources": resources,
    }


def _port_bindings(store: Store, container_id: str) -> dict:
    """docker's PortBindings: "80/tcp": [{"HostIp": "", "HostPort": "8080"}]."""
    from . import network_records
    bindings: dict = {}
    for _, proto, host_ip, host_port, container_port in network_records.ports(store, container_id):
        bindings.setdefault(f"{container_port}/{proto}", []).append({"HostIp": host_ip or "",
                                                                     "HostPort": str(host_port)})
    return bindings


_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}


def _shm_size(config: dict) -> int:
    """/dev/shm's size in bytes (docker's ShmSize; its default 64 MiB)."""
    for m in config.get("mounts", []):
        if m.get("destination") == "/dev/shm":
            for option in m.get("options", []):
                if option.startswith("size="):
                    number = option[5:].rstrip("kmgKMG")
                    unit = option[5 + len(number):].lower()
                    if number.isdigit() and unit in _UNITS:
                        return int(number) * _UNITS[unit]
    return 0


# networks

def published_ports(store: Store) -> dict[str, list[str]]:
    """container id -> docker's PORTS texts (0.0.0.0:8080->80/tcp), ranges not merged."""
    from . import network_records
    shown: dict[str, list[str]] = {}
    for container_id, proto, host_ip, host_port, container_port in network_records.ports(store):
        shown.setdefault(container_id, []).append(f"{host_ip or '0.0.0.0'}:{host_port}->{container_port}/{proto}")
    return shown


def port_lines(store: Store, container_id: str, private: str | None = None) -> list[str]:
    """`port`'s lines: 80/tcp -> 0.0.0.0:8080; with `private` ("80" or "80/udp") only those."""
    from . import network_records
    want_port, _, want_proto = (private or "").partition("/")
    lines = []
    for _, proto, host_ip, host_port, container_port in network_records.ports(store, container_id):
        if private and (str(container_port) != want_port or (want_proto or "tcp") != proto):
            continue
        lines.append(f"{container_port}/{proto} -> {host_ip or '0.0.0.0'}:{host_port}" if not private
                     else f"{host_ip or '0.0.0.0'}:{host_port}")
    return lines


def network_settings(container_id: str, store: Store) -> dict:
    """docker's NetworkSettings: the first network's address at the top, every network's
    under Networks, published ports under Ports ("80/tcp": [{HostIp, HostPort}])."""
    import ipaddress

    from . import network_records
    ports: dict = {}
    for _, proto, host_ip, host_port, container_port in network_records.ports(store, container_id):
        ports.setdefault(f"{container_port}/{proto}", []).append({"HostIp": host_ip or "0.0.0.0",
                                                                   "HostPort": str(host_port)})
    leases = {lease.network_id: lease for lease in network_records.leases(store, container_id)}
    networks = {}
    for endpoint in network_records.endpoints(store, container_id):
        network = network_records.get_network(store, endpoint.network_id)
        if network is None:
            continue
        lease = leases.get(network.id)
        networks[network.name] = {
            "Aliases": endpoint.aliases, "NetworkID": network.id, "EndpointID": "",
            "Gateway": network.gateway if lease else "", "IPAddress": lease.address if lease else "",
            "IPPrefixLen": ipaddress.IPv4Network(network.subnet).prefixlen if lease else 0,
            "MacAddress": (lease.mac or "") if lease else "",
            "IPAMConfig": {"IPv4Address": endpoint.ip} if endpoint.ip else None}
    first = next(iter(networks.values()), {})
    conf = network_records.netconf(store, container_id)
    if conf is not None and conf.mode in ("none", "host"):
        networks[conf.mode] = {"NetworkID": conf.mode, "IPAddress": "", "Gateway": "", "MacAddress": ""}
    return {"IPAddress": first.get("IPAddress", ""), "IPPrefixLen": first.get("IPPrefixLen", 0),
            "Gateway": first.get("Gateway", ""), "MacAddress": first.get("MacAddress", ""),
            "Ports": ports, "Networks": networks,
            "SandboxKey": "", "NetworkMode": conf.mode if conf else "none"}


# ps

def listed(paths: Paths, store: Store, record: ContainerRecord, size: bool = False) -> dict:
    """What `ps` shows of a container beyond its row: its labels, the names of its mounts
    (a volume's name, a bind's source), its networks, how many local volumes it has, and
    with `size` the bytes of its writable layer and of its image (docker's SizeRw and
    SizeRootFs: the two together)."""
    from .spec import LABELS, USER_MOUNTS, labels
    config = containers.read_config(paths, record.id) or {}
    annotations = config.get("annotations") or {}
    facts = {"labels": labels(config) if LABELS in annotations else {}, "mounts": [], "local_volumes": 0,
             "networks": sorted(name for name, _ in networks_of(store, record.id)), "size_rw": None,
             "size_root": None}
    if USER_MOUNTS in annotations:
        from .volumes import requests_of
        for request in requests_of(config):
            if request.type == "tmpfs":
                continue
            facts["mounts"].append(request.source)
            facts["local_volumes"] += request.type == "volume"
    if size:
        rw = apparent_size(paths.container_file(record.id, "upper"))
        image = store.images_by_id_prefix(record.image_id)
        facts["size_rw"], facts["size_root"] = rw, rw + (image[0].size if image else 0)
    return facts


def networks_of(store: Store, container_id: str) -> list[tuple[str, str]]:
    """(name, id) of each network a container is on; ("none", "none") or ("host", "host")
    for those modes, as docker lists them."""
    from . import network_records
    found = []
    for endpoint in network_records.endpoints(store, container_id):
        network = network_records.get_network(store, endpoint.network_id)
        if network is not None:
            found.append((network.name, network.id))
    conf = network_records.netconf(store, container_id)
    if conf is not None and conf.mode in ("none", "host"):
        found.append((conf.mode, conf.mode))
    return found


def apparent_size(path: str) -> int:
    """Bytes of the files below `path` (their lengths, a hard link once): docker's SizeRw."""
    total, seen = 0, set()
    for top, _, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(top, name))
            except OSError:
                continue
            if st.st_nlink > 1:
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total
