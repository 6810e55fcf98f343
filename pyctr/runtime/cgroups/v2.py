"""cgroup v2: one unified tree; limits on leaves, controllers enabled from above, and the
device rules as an eBPF program on the directory (no devices files on v2)."""

import os

from .. import _core
from . import (CgroupError, Stats, devices, freeze_and_kill, kill_all_tolerating_removal, mkdir, read, read_block_io,
               read_int, read_keyed, wait_frozen, write)
from .convert import limit_text, shares_to_weight, swap_v2
from .v1 import _rmdir_retry

WANTED = ("cpu", "cpuset", "memory", "pids", "io")


class CgroupV2:
    def __init__(self, path: str, root: str):
        self.path = path.strip("/")
        self.root = root

    @property
    def dir(self) -> str:
        return os.path.join(self.root, self.path)

    def _file(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def exists(self) -> bool:
        return os.path.isdir(self.dir)

    def create(self) -> None:
        """mkdir -p, enabling our controllers in every ancestor's subtree_control: v2 only
        lets a cgroup use a controller its parent delegates."""
        current = self.root
        for part in self.path.split("/"):
            _enable_controllers(current)
            current = os.path.join(current, part)
            mkdir(current)

    def open_fd(self) -> int:
        """An fd on the directory, for clone3(CLONE_INTO_CGROUP)."""
        return os.open(self.dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

    def apply(self, resources: dict) -> None:
        if "devices" in resources:
            self._apply_devices(resources["devices"])
        memory = resources.get("memory") or {}
        cpu = resources.get("cpu") or {}
        if memory.get("limit") is not None:
            write(self._file("memory.max"), limit_text(memory["limit"]))
        if memory.get("reservation") is not None:
            write(self._file("memory.low"), memory["reservation"])
        swap = swap_v2(memory.get("swap"), memory.get("limit"))
        if swap is not None and os.path.exists(self._file("memory.swap.max")):
            write(self._file("memory.swap.max"), "max" if swap == -1 else swap)
        if cpu.get("shares"):
            write(self._file("cpu.weight"), shares_to_weight(cpu["shares"]))
        if cpu.get("quota") or cpu.get("period"):
            quota = cpu.get("quota")
            write(self._file("cpu.max"), f"{quota if quota and quota > 0 else 'max'} {cpu.get('period') or 100000}")
        if cpu.get("cpus"):
            write(self._file("cpuset.cpus"), cpu["cpus"])
        if cpu.get("mems"):
            write(self._file("cpuset.mems"), cpu["mems"])
        pids = (resources.get("pids") or {}).get("limit")
        if pids is not None:
            write(self._file("pids.max"), limit_text(pids))

    def _apply_devices(self, rules: list[dict]) -> None:
        """v2 has no devices files: the rules become an eBPF program attached to the
        directory (csrc/devicefilter.c), in place of the one there before, and it goes
        when the directory does.  No rules change nothing, as on v1."""
        program = devices.program(rules)
        if not rules:
            return
        try:
            fd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # not O_PATH: bpf() refuses those
        except OSError as e:
            raise CgroupError(f"cannot open cgroup {self.dir}: {e.strerror}") from None
        try:
            _core.device_filter_install(fd, program)
        except _core.ChildError as e:
            raise CgroupError(f"device rules cannot be enforced: {e.message}") from None
        finally:
            os.close(fd)

    def device_filters(self) -> list[int]:
        """The ids of the device programs attached to the directory."""
        fd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            return _core.device_filter_ids(fd)
        finally:
            os.close(fd)

    def add(self, pid: int) -> None:
        write(self._file("cgroup.procs"), pid)

    def procs(self) -> list[int]:
        try:
            return [int(p) for p in read(self._file("cgroup.procs")).split()]
        except OSError:
            return []

    def stats(self) -> Stats:
        mem = read_keyed(self._file("memory.stat"))
        usage = read_int(self._file("memory.current"), 0)
        block = read_block_io(self._file("io.stat"))
        return Stats(
            cpu_usage_ns=read_keyed(self._file("cpu.stat")).get("usage_usec", 0) * 1000,
            memory_usage=max(0, usage - mem.get("inactive_file", 0)),
            memory_limit=read_int(self._file("memory.max")),
            memory_max_usage=read_int(self._file("memory.peak")),
            pids=read_int(self._file("pids.current"), 0),
            pids_limit=read_int(self._file("pids.max")),
            oom_kills=self.oom_kills(),
            block_read=block[0],
            block_write=block[1],
        )

    def oom_kills(self) -> int:
        return read_keyed(self._file("memory.events")).get("oom_kill", 0)

    def freeze(self) -> None:
        write(self._file("cgroup.freeze"), 1)
        wait_frozen(lambda: read_keyed(self._file("cgroup.events")).get("frozen") == 1)

    def thaw(self) -> None:
        write(self._file("cgroup.freeze"), 0)

    def frozen(self) -> bool:
        """Asked to freeze (cgroup.freeze 1): frozen, or on its way."""
        return read_int(self._file("cgroup.freeze"), 0) == 1

    def kill_all(self) -> None:
        kill_all_tolerating_removal(self, self._kill)

    def _kill(self) -> None:
        if os.path.exists(self._file("cgroup.kill")):  # 5.14+: atomic, no fork races
            write(self._file("cgroup.kill"), 1)
            return
        freeze_and_kill(self)

    def destroy(self) -> None:
        if not self.exists():
            return
        self.kill_all()
        _rmdir_retry(self.dir)


def _enable_controllers(directory: str) -> None:
    try:
        available = read(os.path.join(directory, "cgroup.controllers")).split()
        enabled = read(os.path.join(directory, "cgroup.subtree_control")).split()
    except OSError as e:
        raise CgroupError(f"cannot read the controllers of {directory}: {e.strerror}") from None
    wanted = [c for c in WANTED if c in available and c not in enabled]
    if wanted:
        write(os.path.join(directory, "cgroup.subtree_control"), " ".join(f"+{c}" for c in wanted))
