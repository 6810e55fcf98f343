"""One cgroup interface, two drivers (v1 and v2).  The mode is detected once per process
(a cgroup2 root has cgroup.controllers at its top); nothing else asks again.

A container's cgroup path is relative, e.g. `pyctr/<id>`: on v2 it lives under
/sys/fs/cgroup, on v1 under each controller's mount point.
"""

import os

from ...fastjson import read_bytes
from ...records import record
from ..errors import CgroupError

CGROUP_ROOT = "/sys/fs/cgroup"

_mode: str | None = None


def mode() -> str:
    """'v2' on a unified host, 'v1' on a legacy or hybrid one (this machine)."""
    global _mode
    if _mode is None:
        _mode = "v2" if os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers")) else "v1"
    return _mode


def hierarchies() -> list[tuple[str, str, str]]:
    """The host's cgroup filesystems under CGROUP_ROOT, as (name, fstype, options): on a v1
    or hybrid host ("cpu", "cgroup", "cpu"), ("systemd", "cgroup", "none,name=systemd"),
    ("unified", "cgroup2", ""); what a container's own /sys/fs/cgroup mounts again."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fields = post.split()
            point = pre.split()[4]
            if len(fields) < 3 or fields[0] not in ("cgroup", "cgroup2") or os.path.dirname(point) != CGROUP_ROOT:
                continue
            options = [o for o in fields[2].split(",") if o not in ("rw", "ro")]
            if fields[0] == "cgroup" and options and all(o.startswith("name=") for o in options):
                options.insert(0, "none")
            found.append((os.path.basename(point), fields[0], ",".join(o for o in options if "=" not in o or
                                                                       o.startswith("name="))))
    return found


@record
class Stats:
    cpu_usage_ns: int = 0
    memory_usage: int = 0  # without inactive file cache, as docker shows it
    memory_limit: int | None = None
    memory_max_usage: int | None = None
    pids: int = 0
    pids_limit: int | None = None
    oom_kills: int = 0
    block_read: int = 0  # bytes read from and written to block devices (docker's BLOCK I/O)
    block_write: int = 0


def open_cgroup(path: str, root: str | None = None):
    """The driver object for relative cgroup `path` on this host.  The path is cleaned as
    if it hung from the root ("/../../tmp" is "/tmp"): a config's `..` cannot lead out of
    the cgroup filesystem (runc cleans it the same way)."""
    path = os.path.normpath("/" + path).lstrip("/")
    if not path:  # the root itself: no container's to limit, kill or remove
        raise CgroupError("a cgroup path must name a cgroup below the root")
    if mode() == "v2":
        from .v2 import CgroupV2
        return CgroupV2(path, root or CGROUP_ROOT)
    from .v1 import CgroupV1
    return CgroupV1(path, root)


def warm_attach() -> None:
    """On v1, starts waiting out the kernel's attach grace period now, in a C thread, so that
    placing the container later does not wait for it (csrc/warm.c).  On v2 nothing to do."""
    if mode() == "v1":
        from .v1 import warm_attach as warm_v1
        warm_v1()


def warm_attach_stop() -> None:
    """The placement is done: the warming thread may end."""
    if mode() == "v1":
        from .. import _core
        _core.warm_attach_stop()


def mkdir(path: str) -> bool:
    """mkdir that says whether it made the directory; other failures are CgroupErrors."""
    try:
        os.mkdir(path, 0o755)
        return True
    except FileExistsError:
        return False
    except OSError as e:
        raise CgroupError(f"cannot create cgroup {path}: {e.strerror}") from None


def kill_all_tolerating_removal(cgroup, kill) -> None:
    """Runs `kill()` on a cgroup with processes in it.  The cgroup being removed meanwhile
    (its container died and its cleanup ran) counts as done, not as an error."""
    if not cgroup.procs():
        return
    try:
        kill()
    except (OSError, CgroupError):
        if cgroup.exists():
            raise


# how long a freeze may take: a task in uninterruptible sleep holds it up (and the cgroup
# v2 QEMU guest runs under emulation)
FREEZE_TIMEOUT = 5.0


def wait_frozen(frozen) -> None:
    """Until `frozen()` says so; CgroupError after FREEZE_TIMEOUT seconds."""
    import time
    deadline = time.monotonic() + FREEZE_TIMEOUT
    while not frozen():
        if time.monotonic() > deadline:
            raise CgroupError("the container did not freeze")
        time.sleep(0.005)


def freeze_and_kill(cgroup) -> None:
    """SIGKILL to everything in `cgroup`, frozen first so that nothing forks in between.  A
    freeze that cannot finish (a task waiting out an OOM with the OOM killer disabled)
    kills all the same, thawed, and twice over for what forked meanwhile: before, the
    container stayed half frozen (ps: Paused) and stop, kill and rm -f failed."""
    try:
        cgroup.freeze()
    except CgroupError:
        cgroup.thaw()
        kill_pids(cgroup.procs())
        kill_pids(cgroup.procs())
        return
    try:
        kill_pids(cgroup.procs())
    finally:
        cgroup.thaw()  # the frozen tasks die once thawed


def kill_pids(pids: list[int]) -> None:
    import signal
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# Files are read and written with os calls, not open(): a cgroup file is one write or a
# few reads, and a Python file object adds an fstat, an ioctl and an lseek to each (a run
# touches some 30 of them).

def write(path: str, value) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, str(value).encode())  # one write: the kernel takes it whole or refuses it
        finally:
            os.close(fd)
    except OSError as e:
        name = os.path.basename(path)
        raise CgroupError(f"cannot set {name} to {value}: {e.strerror}") from None


def read(path: str) -> str:
    return read_bytes(path).decode().strip()


def read_int(path: str, default: int | None = None) -> int | None:
    try:
        text = read(path)
    except OSError:
        return default
    return None if text == "max" else int(text)


def read_block_io(path: str) -> tuple[int, int]:
    """(bytes read, bytes written) over all devices, from v1's blkio.throttle.io_service_bytes
    (`8:0 Read 4096` lines) or v2's io.stat (`8:0 rbytes=4096 wbytes=0 ...`); (0, 0) when
    there is no such file."""
    try:
        text = read(path)
    except OSError:
        return 0, 0
    done = {"read": 0, "write": 0}
    for line in text.splitlines():
        words = line.split()
        if len(words) == 3 and words[1].lower() in done and words[2].isdigit():
            done[words[1].lower()] += int(words[2])
        for word in words[1:]:
            key, _, value = word.partition("=")
            if key in ("rbytes", "wbytes") and value.isdigit():
                done["read" if key == "rbytes" else "write"] += int(value)
    return done["read"], done["write"]


def read_keyed(path: str) -> dict[str, int]:
    """A flat keyed file (memory.stat, cpu.stat, memory.events, memory.oom_control)."""
    out = {}
    try:
        text = read(path)
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out
