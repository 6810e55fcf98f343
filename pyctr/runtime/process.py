"""A process the C core cloned and holds at its start line (a container's first process,
or one exec'd into it), the wait for its exit, and how a process is named: by its pid and
its start time, so that pid reuse never fools a check or sends a signal to a stranger
(runc and crun do the same)."""

import os


def identity(pid: int) -> tuple[int, bytes] | None:
    """(start time, name) of a live process, from /proc/PID/stat: its start time in clock
    ticks since boot (field 22) names it uniquely with the pid, whatever pid reuse does;
    its name (comm) is its program's file name, or what it set.  None once it is gone, a
    zombie included: it has exited, only its parent has not looked yet."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        stat = os.read(fd, 4096)
    except OSError:  # ESRCH: it was being reaped between the open and the read
        return None
    finally:
        os.close(fd)
    end = stat.rindex(b")")
    fields = stat[end + 2:].split()
    return None if fields[0] == b"Z" else (int(fields[19]), stat[stat.index(b"(") + 1:end])


def start_time(pid: int) -> int | None:
    """The process's start time (see identity), or None once it is gone."""
    found = identity(pid)
    return found[0] if found else None


def alive(pid: int | None, started: int | None) -> bool:
    """True while `pid` is still the process that started at `started`."""
    return pid is not None and started is not None and start_time(pid) == started


class Process:
    """Cloned and waiting until `start()`; a container's first process comes with its
    cgroup, which goes if it never starts."""

    def __init__(self, child, cgroup=None):
        self._child = child  # a _core.Child
        self.cgroup = cgroup
        self.master = -1

    @property
    def pid(self) -> int:
        return self._child.pid

    @property
    def cloned_into_cgroup(self) -> bool:
        """True when clone3(CLONE_INTO_CGROUP) created it inside its cgroup (v2)."""
        return self._child.in_cgroup

    def start(self, on_hooks=None) -> int:
        """Runs it to execve; returns the pty master (or -1).  Raises ChildError, with the
        child reaped and its cgroup gone.  `on_hooks()`: see _core.Child.release."""
        try:
            self.master = self._child.release(on_hooks)
        except BaseException:
            self.abort()
            raise
        return self.master

    def abort(self) -> None:
        """Kills and reaps a process that was not started; its cgroup goes with it."""
        self._child.abort()
        if self.cgroup is not None:
            self.cgroup.destroy()
            self.cgroup = None


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
