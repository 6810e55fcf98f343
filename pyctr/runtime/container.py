"""The runtime's API, a container by id as the OCI runtime operations see it: create (a
process held at its start line), status, kill, delete; plus exec, update, stats and the
processes inside; and what it keeps of each: <root>/<id>/state.json.  `root` is where the
runtime keeps its state (runc's --root); the engine passes its runroot.  A container's way
through the runtime:

    cgroup, limits -> clone (the child waits, named CREATED_NAME) -> state.json (pid,
    its start time, the cgroup) -> Process.start(): execve, and the status is "running"

state.json is written once the process is cloned, whole (a temp file renamed into place),
and removed by `delete`.  Its status is not stored but read off the kernel each time:
"created" while the process (pid and start time) still bears the name it was cloned with
(the C core's CREATED_NAME, which execve replaces), "running" once it has exec'd,
"stopped" once it is gone, whoever failed to say so.
"""

import os
import time

from .. import fastjson
from ..records import record
from . import _core, cgroups, seccomp
from .cgroups import devices
from ._core import CREATED_NAME
from .errors import NoSuchContainer, NotRunning, WrongState
from .plan import OCI_VERSION, build_exec_plan, build_plan
from .process import Process, alive, identity, start_time

_CREATED = CREATED_NAME.encode()


@record
class State:
    """What state.json holds of a container."""
    id: str
    bundle: str
    pid: int
    pid_start: int | None  # the pid's start time: pid reuse cannot fool the status
    cgroups_path: str | None = None
    annotations: dict = {}
    created: float = 0.0  # seconds since the epoch
    hooks: dict = {}  # the config's OCI hooks: poststart and poststop run after create
    creating: bool = False  # the OCI CLI's create has not seen it set up yet

    def current_status(self) -> str:
        """The status as the OCI runtime spec names it: creating, created, running or
        stopped."""
        found = identity(self.pid)
        if found is None or found[0] != self.pid_start:
            return "stopped"
        if found[1] != _CREATED:
            return "running"
        return "creating" if self.creating else "created"

    def as_oci(self) -> dict:
        """The OCI runtime spec's state, as `runc state` prints it."""
        from ..timestamps import rfc3339
        status = self.current_status()
        return {"ociVersion": OCI_VERSION, "id": self.id, "status": status,
                "pid": self.pid if status != "stopped" else 0,
                "bundle": self.bundle, "annotations": self.annotations, "created": rfc3339(self.created)}


def state_dir(root: str, container_id: str) -> str:
    return os.path.join(root, container_id)


def save_state(root: str, saved: State) -> None:
    """Written whole, then renamed into place; the directory is made on first use (0700:
    the state names the container's bundle and annotations)."""
    d = state_dir(root, saved.id)
    os.makedirs(d, mode=0o700, exist_ok=True)
    fastjson.write(os.path.join(d, "state.json"),
                   {"ociVersion": OCI_VERSION, "id": saved.id, "pid": saved.pid, "pidStart": saved.pid_start,
                    "bundle": saved.bundle, "annotations": saved.annotations, "created": saved.created,
                    "cgroupsPath": saved.cgroups_path, **({"hooks": saved.hooks} if saved.hooks else {}),
                    **({"creating": True} if saved.creating else {})})


def load_state(root: str, container_id: str) -> State | None:
    """The saved state, or None: no such container (or a file that is not one of ours)."""
    try:
        saved = fastjson.read(os.path.join(state_dir(root, container_id), "state.json"))
        return State(saved["id"], saved["bundle"], saved["pid"], saved["pidStart"], saved.get("cgroupsPath"),
                     saved.get("annotations") or {}, saved.get("created", 0.0), saved.get("hooks") or {},
                     bool(saved.get("creating")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_state(root: str, container_id: str) -> None:
    """The state's directory and whatever is in it (a temp file a crash left); nothing there
    is no error."""
    d = state_dir(root, container_id)
    try:
        os.unlink(os.path.join(d, "state.json"))
    except FileNotFoundError:
        pass
    try:
        os.rmdir(d)
    except FileNotFoundError:
        pass
    except OSError:  # not empty: rm -rf, following no link
        _core.remove_tree(d)


def create(root: str, container_id: str, config: dict, bundle: str, stdio=(0, 1, 2), tty_size=(0, 0)) -> Process:
    """Clones the container's first process, placed in its cgroup before it runs a single
    instruction of its own; it waits for `Process.start()`.  The state is written once
    the process exists: a pyctr killed before that leaves at most an empty cgroup."""
    return _create(root, container_id, config, bundle, build_plan(config, stdio, tty_size))


def _create(root: str, container_id: str, config: dict, bundle: str, plan, creating: bool = False) -> "Created":
    plan.seccomp = seccomp.program(root, config.get("linux", {}).get("seccomp"))
    cgroups_path = config.get("linux", {}).get("cgroupsPath")
    if plan.namespace_paths:
        from . import namespaces  # not on the path of a run that joins none
        plan.namespace_fds = namespaces.open_all(plan.namespace_paths)
        try:
            with namespaces.pid_namespace_for_children(plan.namespace_fds):
                child, cgroup = _spawn(config, plan, cgroups_path)
        finally:  # the child holds its own copies (until it has joined and exec'd)
            namespaces.close_all(plan.namespace_fds)
            plan.namespace_fds = []
    else:
        child, cgroup = _spawn(config, plan, cgroups_path)
    process = Created(child, cgroup, root, container_id)
    try:
        save_state(root, State(container_id, bundle, child.pid, start_time(child.pid), cgroups_path,
                               dict(config.get("annotations") or {}), time.time(), config.get("hooks") or {},
                               creating))
    except BaseException:
        process.abort()
        raise
    return process


# The fifo a created container waits on for `start` (runc's name for it).
START_FIFO = "exec.fifo"


def create_waiting(root: str, container_id: str, config: dict, bundle: str, stdio=(0, 1, 2), *,
                   wait_for_start: bool = True, no_pivot: bool = False, on_hooks=None,
                   preserve_fds: int = 0, new_keyring: bool = True) -> "Created":
    """The OCI runtime CLI's create: the container set up to its command, waiting on
    START_FIFO for `start()` with nobody holding it, so that this process may
    exit; without `wait_for_start` (runc's run), run on to its execve.  `on_hooks(pid)`
    runs while the child waits before pivot_root (the prestart and createRuntime hooks);
    the child itself runs createContainer and startContainer.  `preserve_fds`: our fds 3
    .. 3+n-1 are the command's too; `new_keyring` False: the session keyring is ours.  WrongState if the id is
    taken; on any failure nothing of it is left."""
    d = state_dir(root, container_id)
    os.makedirs(root, mode=0o700, exist_ok=True)
    try:
        os.mkdir(d, 0o700)
    except FileExistsError:
        raise WrongState(f"container with id {container_id} already exists") from None
    try:
        _refuse_a_cgroup_in_use(config)
        fd = -1
        if wait_for_start:
            fifo = os.path.join(d, START_FIFO)
            os.mkfifo(fifo, 0o600)
            fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            plan = _waiting_plan(config, stdio, fd, no_pivot, on_hooks is not None)
            plan.preserve_fds, plan.new_keyring = preserve_fds, new_keyring
            plan.hook_state = hook_state(container_id, bundle, config.get("annotations") or {}, "created")
            process = _create(root, container_id, config, bundle, plan, creating=True)
            process.start(lambda: on_hooks(process.pid)) if on_hooks else process.start()
            try:
                saved = _loaded(root, container_id)
                saved.creating = False
                save_state(root, saved)
            except BaseException:  # it waits for start: nothing of it may stay unreachable
                process.abort()  # killed, reaped, its cgroup and state gone
                raise
        finally:
            if fd >= 0:
                os.close(fd)
    except BaseException:
        remove_state(root, container_id)
        raise
    return process


def _refuse_a_cgroup_in_use(config: dict) -> None:
    """A cgroupsPath that has processes in it already is not the container's own: a failed
    create, `kill --all` or `delete` would kill them with it.  runc 1.2 refuses it too (1.1
    only warns); WrongState."""
    path = config.get("linux", {}).get("cgroupsPath")
    cgroup = cgroups.open_cgroup(path) if path else None
    found = cgroup.procs() if cgroup is not None and cgroup.exists() else []
    if found:
        raise WrongState(f"container's cgroup is not empty: {len(found)} process(es) found")


def hook_state(container_id: str, bundle: str, annotations: dict, status: str) -> tuple[str, str]:
    """The state a hook reads on its stdin, as the JSON before and after the pid's value
    (the child puts in its host pid, which only the parent learns, after the clone)."""
    text = fastjson.dumps({"ociVersion": OCI_VERSION, "id": container_id, "status": status, "bundle": bundle,
                           "annotations": annotations})
    return text[:-1] + ', "pid": ', "}"


def _waiting_plan(config: dict, stdio, start_fd: int, no_pivot: bool, hooks_sync: bool):
    from .plan import plan_hooks
    plan = build_plan(config, stdio)
    plan.start_fd, plan.no_pivot, plan.hooks_sync = start_fd, no_pivot, hooks_sync
    hooks = config.get("hooks") or {}
    plan.create_hooks = plan_hooks(hooks, "createContainer")
    plan.start_hooks = plan_hooks(hooks, "startContainer")
    return plan


def start(root: str, container_id: str) -> State:
    """The OCI runtime CLI's start: one byte into a created container's fifo, then the wait
    until it has left its start line (exec'd, or failed and gone).  WrongState unless
    it is created."""
    saved = _loaded(root, container_id)
    status = saved.current_status()
    fifo = os.path.join(state_dir(root, container_id), START_FIFO)
    if status != "created":
        raise WrongState(f"cannot start a container that is {status}")
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise WrongState("cannot start a container that was started already") from None
    except OSError:  # ENXIO: nobody reads it: the process is gone
        raise WrongState("cannot start a container that is stopped") from None
    try:
        # the unlink is the claim: of starts racing each other, one removes it and goes on
        try:
            os.unlink(fifo)
        except FileNotFoundError:
            raise WrongState("cannot start a container that was started already") from None
        os.write(fd, b"0")
    finally:
        os.close(fd)
    delay = 0.0005
    while saved.current_status() == "created":
        time.sleep(delay)
        delay = min(delay * 2, 0.01)
    return saved


class Created(Process):
    """A container's first process, held at its start line; its state goes with it if it
    never starts."""

    def __init__(self, child, cgroup, root: str, container_id: str):
        super().__init__(child, cgroup)
        self._root = root
        self._id = container_id

    def abort(self) -> None:
        super().abort()
        remove_state(self._root, self._id)


def _spawn(config: dict, plan, cgroups_path: str | None):
    """The clone, inside the container's cgroup (made and limited first) if it has one."""
    if not cgroups_path:
        return _core.spawn(plan), None
    cgroup = cgroups.open_cgroup(cgroups_path)
    fd = -1
    try:
        cgroup.create()
        cgroup.apply(config["linux"].get("resources") or {})
        if cgroups.mode() == "v2":
            fd = plan.cgroup_fd = cgroup.open_fd()
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
    return child, cgroup


def adopt(root: str, container_id: str, config: dict, bundle: str, pid: int, pid_start: int) -> State | None:
    """The state of a container that runs without one, written as create would have: one
    made by a pyctr from before the runtime kept state.  None if that process is gone."""
    if not alive(pid, pid_start):
        return None
    saved = State(container_id, bundle, pid, pid_start, config.get("linux", {}).get("cgroupsPath"),
                  dict(config.get("annotations") or {}), time.time())
    save_state(root, saved)
    return saved


def status(root: str, container_id: str) -> State | None:
    """The runtime's state of the container (its `current_status()` checked against the
    kernel), or None when it keeps none: never created, or deleted."""
    return load_state(root, container_id)


def _loaded(root: str, container_id: str) -> State:
    saved = load_state(root, container_id)
    if saved is None:
        raise NoSuchContainer(f"container {container_id} does not exist")
    return saved


def _cgroup(saved: State):
    return cgroups.open_cgroup(saved.cgroups_path) if saved.cgroups_path else None


def kill(root: str, container_id: str, sig: int, all_processes: bool = False) -> None:
    """`sig` to the container's first process, or with `all_processes` to every process in
    its cgroup (SIGKILL: frozen first, so nothing forks in between).  NotRunning once its
    first process is gone (a reused pid is never signalled)."""
    saved = _loaded(root, container_id)
    cgroup = _cgroup(saved)
    if all_processes and cgroup is not None and cgroup.exists():
        if sig == 9:
            cgroup.kill_all()
        else:
            for pid in cgroup.procs():
                _signal(pid, sig)
        return
    if saved.current_status() == "stopped":
        raise NotRunning(f"container {container_id} is not running")
    _signal(saved.pid, sig)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:  # it exited this moment
        pass


def delete(root: str, container_id: str, config: dict | None = None) -> None:
    """Removes what the runtime holds of a container: its cgroup (anything still in it is
    killed) and its state.  The state goes last: if the cgroup will not go, another delete
    can try again.  `config`, the container's, names the cgroup where there is no state to
    (a create killed before it wrote one, or a state file that is not whole).  Nothing to
    delete is no error."""
    saved = load_state(root, container_id)
    cgroups_path = saved.cgroups_path if saved else (config or {}).get("linux", {}).get("cgroupsPath")
    if cgroups_path:
        cgroups.open_cgroup(cgroups_path).destroy()
    remove_state(root, container_id)


def processes(root: str, container_id: str) -> list[int]:
    """The pids inside the container: its cgroup's, else its first process alone."""
    saved = _loaded(root, container_id)
    cgroup = _cgroup(saved)
    if cgroup is not None and cgroup.exists():
        return cgroup.procs()
    return [saved.pid] if alive(saved.pid, saved.pid_start) else []


def stats(root: str, container_id: str, only_oom: bool = False) -> "cgroups.Stats | None":
    """The cgroup's figures now (with `only_oom`, its OOM kill count alone: what a --rm run
    needs, for less); None without a cgroup, or once it is gone."""
    saved = load_state(root, container_id)
    cgroup = _cgroup(saved) if saved is not None else None
    if cgroup is None or not cgroup.exists():
        return None
    return cgroups.Stats(oom_kills=cgroup.oom_kills()) if only_oom else cgroup.stats()


def update(root: str, container_id: str, resources: dict) -> None:
    """New OCI linux.resources onto a live container's cgroup; CgroupError if the kernel
    refuses one.  Device rules replace those in force: the whole list (ConfigError
    otherwise)."""
    saved = _loaded(root, container_id)
    cgroup = _cgroup(saved)
    if saved.current_status() == "stopped" or cgroup is None:
        raise NotRunning(f"container {container_id} is not running")
    if "devices" in resources:
        devices.check_update(resources["devices"])
    cgroup.apply(resources)


def pause(root: str, container_id: str) -> None:
    """Freezes every process of a live container (its cgroup's freezer)."""
    cgroup = _live_cgroup(root, container_id)
    cgroup.freeze()


def resume(root: str, container_id: str) -> None:
    _live_cgroup(root, container_id).thaw()


def paused(root: str, container_id: str, saved: State | None = None) -> bool:
    """Whether a live container's cgroup is frozen (pause); False for one that is gone,
    has no cgroup, or never was the runtime's.  `saved`: its state, if the caller has it."""
    saved = saved or load_state(root, container_id)
    cgroup = _cgroup(saved) if saved is not None else None
    return cgroup is not None and cgroup.frozen()  # a missing freezer file reads as not frozen


def _live_cgroup(root: str, container_id: str):
    saved = _loaded(root, container_id)
    cgroup = _cgroup(saved)
    if saved.current_status() == "stopped" or cgroup is None or not cgroup.exists():
        raise NotRunning(f"container {container_id} is not running")
    return cgroup


def read_file(root: str, container_id: str, path: str, limit: int) -> bytes:
    """A regular file inside a live container (read_in_root).  NotRunning once it is gone."""
    saved = _loaded(root, container_id)
    try:
        rootfd = os.open(f"/proc/{saved.pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except (FileNotFoundError, ProcessLookupError):
        raise NotRunning(f"container {container_id} is not running") from None
    try:
        if not alive(saved.pid, saved.pid_start):  # the root we hold is the container's
            raise NotRunning(f"container {container_id} is not running")
        return read_in_root(rootfd, path, limit)
    finally:
        os.close(rootfd)


def read_in_root(rootfd: int, path: str, limit: int) -> bytes:
    """A file a container or its image made, read from the host: looked up within the tree
    `rootfd` is the root of (no link in it leads to a host file), then read as
    regularfiles.read does (looked at before it is opened).  OSError otherwise."""
    from .. import regularfiles
    found = _core.open_in_root(rootfd, path, os.O_PATH | os.O_CLOEXEC)
    try:
        return regularfiles.read(found, path, limit)
    finally:
        os.close(found)


def exec_process(root: str, container_id: str, config: dict, process: dict, stdio=(0, 1, 2),
                 tty_size=(0, 0), preserve_fds: int = 0) -> Process:
    """A new process (an OCI process section) in a live container's namespaces and cgroup
    (created or running, as runc allows), waiting for start(); NotRunning if its first
    process is gone.  `preserve_fds`: our fds 3 .. 3+n-1 are the process's too."""
    saved = _loaded(root, container_id)
    try:
        if saved.current_status() == "stopped":
            raise ProcessLookupError(saved.pid)
        pidfd = os.pidfd_open(saved.pid)
    except ProcessLookupError:
        raise NotRunning(f"container {container_id} is not running") from None
    try:
        # the pidfd pins the process; the start time says it is still the container's
        if not alive(saved.pid, saved.pid_start):
            raise NotRunning(f"container {container_id} is not running")
        plan = build_exec_plan(config, process, pidfd, stdio, tty_size)
        plan.preserve_fds = preserve_fds
        plan.seccomp = seccomp.program(root, config.get("linux", {}).get("seccomp"))
        child = _core.spawn(plan)
    finally:
        os.close(pidfd)
    cgroup = _cgroup(saved)
    try:
        if cgroup is not None:
            cgroup.add(child.pid)  # counted with the container, before it runs
    except BaseException:
        child.abort()
        raise
    finally:
        cgroups.warm_attach_stop()
    return Process(child)
