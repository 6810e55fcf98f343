"""A process the C core cloned and holds at its start line (a container's first process,
or one exec'd into it), and the wait for its exit."""

import os

from . import _core, state


class Process:
    """Cloned and waiting until `start()`.  A container's first process carries its state
    (the runtime's record of it) and cgroup, kept in step with what happens to it."""

    def __init__(self, child: "_core.Child", cgroup=None, root: str | None = None,
                 saved: "state.State | None" = None):
        self._child = child
        self.cgroup = cgroup
        self.master = -1
        self._root = root
        self._state = saved

    @property
    def pid(self) -> int:
        return self._child.pid

    @property
    def cloned_into_cgroup(self) -> bool:
        """True when clone3(CLONE_INTO_CGROUP) created it inside its cgroup (v2)."""
        return self._child.in_cgroup

    def start(self) -> int:
        """Runs it to execve; returns the pty master (or -1).  Raises ChildError, with the
        child reaped, its cgroup and state gone."""
        try:
            self.master = self._child.release()
        except BaseException:
            self.abort()
            raise
        if self._state is not None:
            self._state.status = "running"
            state.save(self._root, self._state)
        return self.master

    def abort(self) -> None:
        """Kills and reaps a process that was not started; a container's cgroup and state
        go with it."""
        self._child.abort()
        if self.cgroup is not None:
            self.cgroup.destroy()
            self.cgroup = None
        if self._state is not None:
            state.remove(self._root, self._state.id)
            self._state = None


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
