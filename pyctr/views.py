"""What `ps` and `inspect` show: the store's records, checked against the kernel.

A row says "running" only while its pid is the same process (pid and start time); a
container whose process died while no pyctr was there to see it is shown, and recorded,
as exited with an unknown code.
"""

import os
import time

from . import containers, fastjson
from .paths import Paths
from .store import ContainerRecord, Store


def refresh(paths: Paths, store: Store, record: ContainerRecord) -> ContainerRecord:
    """The record made true: a dead "running" container becomes "exited"; one "starting"
    whose pyctr died becomes "created" again (or "exited", if it ran before).  Each only
    if the row is still what was read: another pyctr may have moved on since."""
    if record.status not in ("running", "starting") or containers.pid_alive(record):
        return record
    expect = {"status": record.status, "pid": record.pid}
    if record.status == "running":
        from .monitor import read_exit  # the monitor's word, when it had its say
        store.update_container(record.id, expect, status="exited", exit_code=read_exit(paths, record.id),
                               finished=record.finished or time.time())
    else:
        store.update_container(record.id, expect, status="exited" if record.started else "created")
    return store.get_container(record.id) or record


def status_text(record: ContainerRecord, now: float | None = None) -> str:
    """docker's STATUS column: Up 5 seconds / Exited (0) 2 minutes ago / Created."""
    from .render import human_age
    now = time.time() if now is None else now
    if record.status == "running":
        return "Up " + human_age(record.started or record.created, now).removesuffix(" ago")
    if record.status == "exited":
        code = "unknown" if record.exit_code is None else record.exit_code
        return f"Exited ({code}) {human_age(record.finished or record.created, now)}"
    return record.status.capitalize()


def iso(t: float | None) -> str:
    if not t:
        return "0001-01-01T00:00:00Z"
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def inspect(paths: Paths, record: ContainerRecord) -> dict:
    """docker inspect's shape, as far as pyctr has the facts."""
    spec = containers.read_spec(paths, record.id) or {}
    process = spec.get("process", {})
    linux = spec.get("linux", {})
    cdir = paths.container_dir(record.id)
    rootfs = (spec.get("annotations") or {}).get("org.pyctr.rootfs.options", "")
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
            "Hostname": spec.get("hostname", ""),
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
                                                    "MergedDir": os.path.join(cdir, "rootfs")}},
        "Mounts": [m for m in spec.get("mounts", []) if m.get("type") == "bind"],
        "NetworkSettings": {"Networks": {}},
        "FinalStats": fastjson.loads(record.final_stats) if record.final_stats else None,
    }
