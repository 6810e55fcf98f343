"""`info`: the facts of this engine and host, under docker's `info --format` keys:
container counts by state, images, the store's driver and place, cgroups, kernel, OS,
CPUs and memory."""

import os
import platform

from . import containers, views
from .paths import Paths
from .store import Store


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                key, _, value = line.strip().partition("=")
                if key == "PRETTY_NAME":
                    return value.strip('"')
    except OSError:
        pass
    return platform.system()


def _mem_total() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def facts(paths: Paths, store: Store) -> dict:
    """docker's keys (Containers, ContainersRunning, ..., DockerRootDir), pyctr's values."""
    from .. import __version__
    from ..runtime import cgroups
    running = paused = stopped = 0
    for record in store.list_containers():
        record = views.refresh(paths, store, record)
        if record.status == "running":
            if containers.is_paused(paths, record):
                paused += 1
            else:
                running += 1
        else:
            stopped += 1
    images = {image.id for image in store.list_images()}
    return {
        "ID": "", "Containers": running + paused + stopped, "ContainersRunning": running, "ContainersPaused": paused,
        "ContainersStopped": stopped, "Images": len(images), "Driver": "overlay",
        "DriverStatus": [["Backing Filesystem", _fs_type(paths.root)]],
        "LoggingDriver": "json-file", "CgroupDriver": "cgroupfs", "CgroupVersion": cgroups.mode().lstrip("v"),
        "KernelVersion": platform.release(), "OperatingSystem": _os_name(), "OSType": "linux",
        "Architecture": platform.machine(), "NCPU": os.cpu_count() or 0, "MemTotal": _mem_total(),
        "DockerRootDir": paths.root, "Name": platform.node(), "ServerVersion": __version__,
        "SecurityOptions": ["name=seccomp,profile=builtin", "name=cgroupns"],
    }


def _fs_type(path: str) -> str:
    """The backing filesystem of `path`, by the device's type in /proc/self/mountinfo's
    longest matching mount point."""
    best, kind = "", "unknown"
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                pre, _, post = line.partition(" - ")
                point = pre.split()[4]
                if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
                    best, kind = point, post.split()[0]
    except (OSError, IndexError):
        pass
    return {"ext4": "extfs", "ext3": "extfs", "ext2": "extfs"}.get(kind, kind)
