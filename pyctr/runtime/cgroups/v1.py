"""cgroup v1: one directory per controller hierarchy."""

import errno
import os
import time

from . import (CgroupError, Stats, devices, freeze_and_kill, kill_all_tolerating_removal, kill_pids, mkdir, read,
               read_block_io, read_int, read_keyed, wait_frozen, write)

# blkio only for its figures (stats' BLOCK I/O): no limits are set on it
CONTROLLERS = ("memory", "cpu", "cpuacct", "cpuset", "pids", "freezer", "devices", "blkio")
UNLIMITED = -1
_host_mounts: dict[str, str] | None = None


def controller_mounts(root: str | None = None) -> dict[str, str]:
    """controller -> mount point, from mountinfo (a mount may carry several controllers,
    as `cpu,cpuacct` does on many hosts), read once.  With `root`, a fake tree."""
    global _host_mounts
    if root is not None:
        return {c: os.path.join(root, c) for c in CONTROLLERS}
    if _host_mounts is None:
        _host_mounts = _read_mountinfo()
    return _host_mounts


def _read_mountinfo() -> dict[str, str]:
    mounts: dict[str, str] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fstype, _, super_opts = post.split()[:3]
            if fstype != "cgroup":
                continue
            for opt in super_opts.split(","):
                if opt in CONTROLLERS and opt not in mounts:
                    mounts[opt] = pre.split()[4]
    return mounts


# where moving our own process into its own cgroup has no side effect: devices has no
# attach hooks; pids only moves a count from a cgroup to the same one
WARM_HIERARCHIES = ("devices", "pids")


def warm_attach() -> None:
    """csrc/warm.c's thread, on our own cgroup's cgroup.procs in a hierarchy with no attach
    side effects.  Only an optimisation: whatever fails, the placement still happens."""
    from .. import _core
    own = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for c in controllers.split(","):
                own[c] = path
    mounts = controller_mounts()
    for controller in WARM_HIERARCHIES:
        if controller in own and controller in mounts:
            _core.warm_attach_start(os.path.join(mounts[controller] + own[controller], "cgroup.procs"))
            return


class CgroupV1:
    def __init__(self, path: str, root: str | None = None):
        self.path = path.strip("/")
        self.mounts = controller_mounts(root)
        missing = [c for c in ("memory", "cpu", "cpuset", "pids") if c not in self.mounts]
        if missing:
            raise CgroupError(f"cgroup v1 controllers not mounted: {', '.join(missing)}")
        # co-mounted controllers (cpu,cpuacct) share one directory: visit each once
        self.hierarchies = sorted(set(self.mounts.values()))

    def dir(self, controller: str) -> str:
        return os.path.join(self.mounts[controller], self.path)

    def _file(self, controller: str, name: str) -> str:
        return os.path.join(self.dir(controller), name)

    def _dirs(self) -> list[str]:
        return [os.path.join(m, self.path) for m in self.hierarchies]

    def exists(self) -> bool:
        return any(os.path.isdir(d) for d in self._dirs())

    def create(self) -> None:
        cpuset = self.mounts["cpuset"]
        for mount in self.hierarchies:
            current = mount
            for part in self.path.split("/"):
                parent, current = current, os.path.join(current, part)
                mkdir(current)
                # at every level, made now or not: another pyctr may have made it a moment
                # ago and not filled it in yet
                if mount == cpuset:
                    _inherit_cpuset(parent, current)

    def apply(self, resources: dict) -> None:
        if "devices" in resources:
            self._apply_devices(resources["devices"])
        memory = resources.get("memory") or {}
        cpu = resources.get("cpu") or {}
        self._apply_memory(memory)
        if cpu.get("shares"):
            write(self._file("cpu", "cpu.shares"), cpu["shares"])
        if cpu.get("period"):
            write(self._file("cpu", "cpu.cfs_period_us"), cpu["period"])
        if cpu.get("quota"):
            write(self._file("cpu", "cpu.cfs_quota_us"), cpu["quota"])
        if cpu.get("cpus"):
            write(self._file("cpuset", "cpuset.cpus"), cpu["cpus"])
        if cpu.get("mems"):
            write(self._file("cpuset", "cpuset.mems"), cpu["mems"])
        pids = (resources.get("pids") or {}).get("limit")
        if pids is not None:
            write(self._file("pids", "pids.max"), "max" if pids <= 0 else pids)

    def _apply_memory(self, memory: dict) -> None:
        limit, swap = memory.get("limit"), memory.get("swap")
        memsw = self._file("memory", "memory.memsw.limit_in_bytes")
        has_memsw = os.path.exists(memsw)
        # The kernel keeps memsw >= limit at every step, so which goes first depends on
        # whether the new memsw is above or below the current limit.
        if swap is not None and has_memsw and (swap == UNLIMITED or swap > (self._current_limit() or 0)):
            write(memsw, swap)
            swap = None
        if limit is not None:
            write(self._file("memory", "memory.limit_in_bytes"), limit)
        if swap is not None and has_memsw:
            write(memsw, swap)
        if memory.get("reservation") is not None:
            write(self._file("memory", "memory.soft_limit_in_bytes"), memory["reservation"])
        swappiness = memory.get("swappiness")
        if swappiness is not None and 0 <= swappiness <= 100:  # v2 has none (runc ignores it there)
            write(self._file("memory", "memory.swappiness"), swappiness)
        if memory.get("disableOOMKiller"):  # v2 has no such switch (docker warns, and drops it)
            write(self._file("memory", "memory.oom_control"), 1)

    def _apply_devices(self, rules: list[dict]) -> None:
        """OCI device rules in order: a deny-all first, then what is allowed (docker's)."""
        checked = devices.checked(rules)
        if "devices" not in self.mounts:
            raise CgroupError("the devices controller is not mounted: device rules cannot be enforced")
        for rule in checked:
            write(self._file("devices", "devices.allow" if rule[0] else "devices.deny"), devices.v1_line(rule))

    def _current_limit(self) -> int | None:
        return read_int(self._file("memory", "memory.limit_in_bytes"))

    def add(self, pid: int) -> None:
        for d in self._dirs():
            write(os.path.join(d, "cgroup.procs"), pid)

    def procs(self) -> list[int]:
        try:
            return [int(p) for p in read(self._file("memory", "cgroup.procs")).split()]
        except OSError:
            return []

    def stats(self) -> Stats:
        mem = read_keyed(self._file("memory", "memory.stat"))
        usage = read_int(self._file("memory", "memory.usage_in_bytes"), 0)
        limit = read_int(self._file("memory", "memory.limit_in_bytes"))
        pids_limit = read_int(self._file("pids", "pids.max"))
        block = read_block_io(self._file("blkio", "blkio.throttle.io_service_bytes")) if "blkio" in self.mounts else (0, 0)
        return Stats(
            cpu_usage_ns=read_int(self._file("cpuacct", "cpuacct.usage"), 0) if "cpuacct" in self.mounts else 0,
            memory_usage=max(0, usage - mem.get("total_inactive_file", 0)),
            memory_limit=None if limit is None or limit >= 1 << 62 else limit,
            memory_max_usage=read_int(self._file("memory", "memory.max_usage_in_bytes")),
            pids=read_int(self._file("pids", "pids.current"), 0),
            pids_limit=pids_limit,
            oom_kills=self.oom_kills(),
            block_read=block[0],
            block_write=block[1],
        )

    def oom_kills(self) -> int:
        return read_keyed(self._file("memory", "memory.oom_control")).get("oom_kill", 0)

    def freeze(self) -> None:
        state = self._file("freezer", "freezer.state")
        write(state, "FROZEN")
        wait_frozen(lambda: read(state) == "FROZEN")

    def thaw(self) -> None:
        write(self._file("freezer", "freezer.state"), "THAWED")

    def frozen(self) -> bool:
        """Frozen, or on its way (FREEZING: a pause under way counts as one)."""
        if "freezer" not in self.mounts:
            return False
        try:
            return read(self._file("freezer", "freezer.state")) != "THAWED"
        except OSError:
            return False

    def kill_all(self) -> None:
        kill_all_tolerating_removal(self, self._freeze_and_kill)

    def _freeze_and_kill(self) -> None:
        """SIGKILL to everything inside; frozen first so nothing forks in between."""
        if "freezer" in self.mounts:
            freeze_and_kill(self)
        else:
            kill_pids(self.procs())

    def destroy(self) -> None:
        """Kills what is left and removes the directories (a missing one is fine)."""
        if not self.exists():
            return
        self.kill_all()
        for d in self._dirs():
            _rmdir_retry(d)


def _inherit_cpuset(parent: str, child: str) -> None:
    """A new v1 cpuset starts empty and refuses tasks until given cpus and mems."""
    for name in ("cpuset.cpus", "cpuset.mems"):
        if not read(os.path.join(child, name)):
            value = read(os.path.join(parent, name))
            if not value:
                raise CgroupError(f"{parent}/{name} is empty")
            write(os.path.join(child, name), value)


def _rmdir_retry(path: str) -> None:
    """rmdir a cgroup, waiting briefly while its last tasks finish exiting."""
    for _ in range(200):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != errno.EBUSY:
                raise CgroupError(f"cannot remove cgroup {path}: {e.strerror}") from None
            time.sleep(0.01)
    raise CgroupError(f"cannot remove cgroup {path}: still busy")
