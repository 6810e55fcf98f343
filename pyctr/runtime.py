"""The runtime: an OCI config -> a process, through the C core.

It knows nothing of images or the store; the engine hands it a config, as containerd or
podman hand one to runc.
"""

import os

from . import _core
from .plan import build_plan

ChildError = _core.ChildError


class Process:
    """A container's first process, cloned and waiting until `start()`."""

    def __init__(self, child: "_core.Child"):
        self._child = child
        self.master = -1

    @property
    def pid(self) -> int:
        return self._child.pid

    def start(self) -> int:
        """Runs it to execve; returns the pty master (or -1). Raises ChildError."""
        self.master = self._child.release()
        return self.master

    def abort(self) -> None:
        self._child.abort()


def create(spec: dict, stdio=(0, 1, 2), tty_size=(0, 0)) -> Process:
    return Process(_core.spawn(build_plan(spec, stdio, tty_size)))


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
    with the pid, it names a process uniquely, whatever pid reuse does."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat[stat.rindex(b")") + 2:].split()[19])
