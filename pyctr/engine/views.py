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
    """docker inspect's shape, as far as pyctr has the facts."""
    config = containers.read_config(paths, record.id) or {}
    process = config.get("process", {})
    linux = config.get("linux", {})
    rootfs = (config.get("annotations") or {}).get(ROOTFS_OPTIONS, "")
    layers = dict(part.split("=", 1) for part in rootfs.split(",") if "=" in part)
    running = record.status == "running"
    settings = network_settings(record.id, store) if store is not None else {"Networks": {}}
    return {
        "Id": record.id,
        "Created": iso(record.created),
        "Path": record.command[0] if record.command else "",
        "Args": record.command[1:],
        "State": {
            "Status": record.status,
            "Running": running,
            "Pid": record.pid if running else 0,
            "ExitCode": record.exit_code,
            "OOMKilled": bool(record.oom_killed),
            "StartedAt": iso(record.started),
            "FinishedAt": iso(record.finished),
        },
        "Image": "sha256:" + record.image_id,
        "Name": "/" + record.name,
        "RestartCount": record.restart_count,
        "Config": {
            "Hostname": config.get("hostname", ""),
            "Env": process.get("env", []),
            "Cmd": record.command,
            "WorkingDir": process.get("cwd", "/"),
            "Tty": process.get("terminal", False),
            "Image": record.image_ref,
        },
        "HostConfig": {"Resources": linux.get("resources", {}), "CgroupParent": os.path.dirname(linux.get("cgroupsPath", "")),
                       "NetworkMode": settings.pop("NetworkMode", "none")},
        "GraphDriver": {"Name": "overlay", "Data": {"LowerDir": layers.get("lowerdir", ""),
                                                    "UpperDir": layers.get("upperdir", ""),
                                                    "WorkDir": layers.get("workdir", ""),
                                                    "MergedDir": paths.container_file(record.id, "rootfs")}},
        "Mounts": _mounts(paths, config),
        "NetworkSettings": settings,
        "FinalStats": fastjson.loads(record.final_stats) if record.final_stats else None,
    }


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
