"""The runtime: an OCI config -> a process, through the C core.

It knows nothing of images or the store; the engine hands it a config, as containerd or
podman hand one to runc.
"""

import os

from . import _core, cgroups
from .plan import build_plan

ChildError = _core.ChildError
CgroupError = cgroups.CgroupError


class Process:
    """A container's first process, cloned and waiting until `start()`."""

    def __init__(self, child: "_core.Child", cgroup=None):
        self._child = child
        self.cgroup = cgroup
        self.master = -1

    @property
    def pid(self) -> int:
        return self._child.pid

    @property
    def cloned_into_cgroup(self) -> bool:
        """True when clone3(CLONE_INTO_CGROUP) created it inside its cgroup (v2)."""
        return self._child.in_cgroup

    def start(self) -> int:
        """Runs it to execve; returns the pty master (or -1). Raises ChildError, with the
        child reaped and its cgroup gone."""
        try:
            self.master = self._child.release()
        except BaseException:
            self.abort()
            raise
        return self.master

    def abort(self) -> None:
        self._child.abort()
        self.finish()

    def finish(self) -> "cgroups.Stats | None":
        """After the exit: the cgroup's last figures (OOM kills included), then its removal."""
        if self.cgroup is None:
            return None
        stats = self.cgroup.stats()
        self.cgroup.destroy()
        self.cgroup = None
        return stats


def _without_mknod(plan: dict) -> None:
    """cgroup v2 enforces device rules only through an eBPF program, which pyctr does not
    load yet: fail safe by taking away what the rules exist to contain, CAP_MKNOD."""
    from .plan import CAP_NUMBERS
    if plan.get("caps"):
        bit = 1 << CAP_NUMBERS["CAP_MKNOD"]
        plan["caps"] = {k: v & ~bit for k, v in plan["caps"].items()}


def cgroup_of(spec: dict):
    path = spec.get("linux", {}).get("cgroupsPath")
    return cgroups.open_cgroup(path) if path else None


def create(spec: dict, stdio=(0, 1, 2), tty_size=(0, 0)) -> Process:
    """Clones the container's process, placed in its cgroup before it runs a single
    instruction of its own (it waits for `start()`)."""
    plan = build_plan(spec, stdio, tty_size)
    cgroup = cgroup_of(spec)
    if cgroups.mode() == "v2" and (spec.get("linux", {}).get("resources") or {}).get("devices"):
        _without_mknod(plan)
    if cgroup is None:
        return Process(_core.spawn(plan))
    fd = -1
    try:
        cgroup.create()
        cgroup.apply(spec["linux"].get("resources") or {})
        if cgroups.mode() == "v2":
            fd = plan["cgroup_fd"] = cgroup.open_fd()
        child = _core.spawn(plan)
        if not child.in_cgroup:
            try:
                cgroup.add(child.pid)
            except BaseException:
                child.abort()
                raise
    except BaseException:
        cgroup.destroy()
        raise
    finally:
        if fd >= 0:
            os.close(fd)
    return Process(child, cgroup)


def exec_process(spec: dict, pid: int, pid_start: int, process: dict, stdio=(0, 1, 2), tty_size=(0, 0)) -> Process:
    """A new process in the running container `spec` describes (its first process is
    `pid`, started at `pid_start`), in its namespaces and cgroup; waiting for start()."""
    from .plan import build_exec_plan
    pidfd = os.pidfd_open(pid)
    try:
        # the pidfd pins the process; the start time says it is still the container's
        if start_time(pid) != pid_start:
            raise ProcessLookupError(pid)
        plan = build_exec_plan(spec, process, pidfd, stdio, tty_size)
        if cgroups.mode() == "v2" and (spec.get("linux", {}).get("resources") or {}).get("devices"):
            _without_mknod(plan)
        child = _core.spawn(plan)
    finally:
        os.close(pidfd)
    cgroup = cgroup_of(spec)
    try:
        if cgroup is not None:
            cgroup.add(child.pid)  # counted with the container, before it runs
    except BaseException:
        child.abort()
        raise
    finally:
        cgroups.warm_attach_stop()
    return Process(child)


def exit_code(status: int) -> int:
    """A wait status as a shell reports it: the code, or 128 + the signal."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def wait(pid: int) -> int:
    while True:
        _, status = os.waitpid(pid, 0)
        if not os.WIFSTOPPED(status):
            return exit_code(status)


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat):
    with the pid, it names a process uniquely, whatever pid reuse does.  None once it is
    gone, a zombie included: it has exited, only its parent has not looked yet."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2:].split()
    return None if fields[0] == b"Z" else int(fields[19])
