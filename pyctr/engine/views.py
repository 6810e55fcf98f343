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
    elif record.status != "starting" or containers.holder_alive(record):
        return record
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


def inspect(paths: Paths, record: ContainerRecord) -> dict:
    """docker inspect's shape, as far as pyctr has the facts."""
    config = containers.read_config(paths, record.id) or {}
    process = config.get("process", {})
    linux = config.get("linux", {})
    rootfs = (config.get("annotations") or {}).get(ROOTFS_OPTIONS, "")
    layers = dict(part.split("=", 1) for part in rootfs.split(",") if "=" in part)
    running = record.status == "running"
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
        "Config": {
            "Hostname": config.get("hostname", ""),
            "Env": process.get("env", []),
            "Cmd": record.command,
            "WorkingDir": process.get("cwd", "/"),
            "Tty": process.get("terminal", False),
            "Image": record.image_ref,
        },
        "HostConfig": {"Resources": linux.get("resources", {}), "CgroupParent": os.path.dirname(linux.get("cgroupsPath", ""))},
        "GraphDriver": {"Name": "overlay", "Data": {"LowerDir": layers.get("lowerdir", ""),
                                                    "UpperDir": layers.get("upperdir", ""),
                                                    "WorkDir": layers.get("workdir", ""),
                                                    "MergedDir": paths.container_file(record.id, "rootfs")}},
        "Mounts": _mounts(paths, config),
        "NetworkSettings": {"Networks": {}},
        "FinalStats": fastjson.loads(record.final_stats) if record.final_stats else None,
    }
