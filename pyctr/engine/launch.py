"""The launch protocol: every container runs under pyctr-monitor, in the foreground or
detached (-d), and this is how it gets there.

pyctr forks.  The fork creates the container through the runtime (so the container is its
child), reports the pid, waits for the go-ahead (the row and directories are written by
then: `run` writes them while the fork clones, on the other core), starts it, reports the
outcome, and execs pyctr-monitor: the same pid, now a small C program that stays the
container's parent, writes its log, serves its attach socket and, at the exit, runs
`pyctr _cleanup ID`, unless its owner recorded the exit (see running.py).

    pyctr (CLI)                      fork
    fork --------------------------> runtime create (state, cgroup, clone; child waits)
    meanwhile: row, dirs, config.json
    <------------------------------- {"pid": N}
    row: running, pid
    go ----------------------------> start (execve of the command; state: running)
    <------------------------------- {"ok": true} | {"error": ...}
    -d: print the id, exit           exec pyctr-monitor --pid N ... -- pyctr _cleanup ID
    else: the owner of the monitor's attach socket until the exit

Named points of the start-up (the pause points below) let a test freeze pyctr: with
PYCTR_PAUSE_AT=<point>, pyctr stops itself (SIGSTOP) on reaching it, and the test kill -9s
it there, to check that what a killed pyctr leaves is shown honestly and that `rm -f`
cleans it.  Reaching a point costs one environment lookup.
"""

import os
import time

from .. import fastjson
from ..records import record
from ..runtime import _core, cgroups
from ..runtime._core import ChildError
from ..runtime.errors import CgroupError, ConfigError, RuntimeFailure
from ..runtime.process import alive, start_time
from . import events
from .errors import ENGINE_ERROR, PyctrError, start_error
from .paths import MONITOR, Paths
from .spec import OPEN_STDIN, annotated
from .store import ContainerRecord, Store

# The pause points, in the order a start reaches them.
# `run` has its image (held against rmi) and its config; nothing is written yet
RESOLVED = "resolved"
# `start` read the container's state and is about to claim it
CHECKED = "checked"
# the row, directories and config.json exist; nothing of the container runs yet (its
# fork may be cloning it, to wait for the go-ahead)
CREATED = "created"
# the container is cloned into its cgroup and waits for the go-ahead (exec: the exec'd
# process, in the container's namespaces and cgroup)
CLONED = "cloned"
# the cloned container has its addresses, veths and published ports; it waits still
NETWORKED = "networked"
# the container's command runs under its monitor; pyctr is about to relay
STARTED = "started"


def reached(point: str) -> None:
    """Stops here (SIGSTOP) when a test asked to, by PYCTR_PAUSE_AT."""
    if os.environ.get("PYCTR_PAUSE_AT") == point:
        import signal  # only under a test
        os.kill(os.getpid(), signal.SIGSTOP)


def wait_monitor_gone(record: ContainerRecord, timeout: float = 15) -> None:
    """Until the last run's monitor (as the row names it), and the cleanup it ends in, has
    finished: a new run must not have its cgroup removed by the old run's cleanup."""
    deadline = time.monotonic() + timeout
    while alive(record.monitor_pid, record.monitor_start):
        if time.monotonic() > deadline:
            raise PyctrError(f"the last monitor of {record.id[:12]} is still running")
        time.sleep(0.02)


def check_installed() -> None:
    if not os.access(MONITOR, os.X_OK):
        raise PyctrError(f"pyctr-monitor is missing ({MONITOR}): reinstall pyctr")


@record
class Launched:
    monitor: int  # its pid; our child, to reap, when we stay with it
    pid: int  # the container's
    owner: int  # our end of the owner socket (SOCK_SEQPACKET), or -1


def _send(fd: int, message: dict) -> None:
    os.write(fd, (fastjson.dumps(message) + "\n").encode())


def _receive(stream) -> dict:
    line = stream.readline()
    if not line:
        raise PyctrError("the container's monitor died while starting it")
    return fastjson.loads(line)


def launch(paths: Paths, store: Store, container_id: str, config: dict, runtime, tty_size=(24, 80),
           owner: bool = False, setup=None, wire=None, *, actor: dict) -> Launched:
    """Forks; the fork starts the container and becomes its monitor (see above).  With
    `owner`, we keep one end of a socket the monitor serves from its first moment.
    `setup(monitor_pid, monitor_start)`, if given, runs while the fork creates the
    container (on the other core): it writes what must exist before the go-ahead, the
    row with its monitor among it.  Should it fail, the fork hears nothing more and takes
    the container and its cgroup down with it.  `wire(pid)`, if given, connects the
    cloned container to its networks before the go-ahead (endpoints.py).  `actor`: the
    attributes of its start event (events.container_attributes).  `runtime`: the
    container's (containers.runtime_of)."""
    up_r, up_w = os.pipe()
    go_r, go_w = os.pipe()
    # an external runtime reads the bundle from disk: its create waits for `setup`'s files
    ready_r, ready_w = os.pipe() if runtime.external else (-1, -1)
    ours, theirs = _core.seqpacket_pair() if owner else (-1, -1)
    child = os.fork()
    if child == 0:  # pragma: no cover - becomes the monitor, measured by the tests
        os.close(up_r)
        os.close(go_w)
        if owner:
            os.close(ours)
        if ready_r >= 0:
            os.close(ready_w)
            if not os.read(ready_r, 1):  # the setup failed: no container
                os._exit(1)
            os.close(ready_r)
        _monitor_side(paths, container_id, config, runtime, up_w, go_r, tty_size, theirs)
    os.close(up_w)
    os.close(go_r)
    if ready_r >= 0:
        os.close(ready_r)
    up = os.fdopen(up_r)
    try:
        if owner:
            os.close(theirs)
            from . import session  # noqa: F401 - the owner relays next: load it while the fork clones
        # the monitor is on record before anything can wait for it (rm, start)
        if setup is not None:
            setup(child, start_time(child))
        else:
            store.update_container(container_id, monitor_pid=child, monitor_start=start_time(child))
        if ready_w >= 0:
            os.write(ready_w, b"1")
            os.close(ready_w)
            ready_w = -1
        pid = _start(store, container_id, config, up, go_w, wire, actor)
    except BaseException:
        os.close(go_w)  # no go-ahead: the fork aborts the container and exits
        go_w = -1
        if ready_w >= 0:
            os.close(ready_w)
        if owner:
            os.close(ours)
        os.waitpid(child, 0)
        raise
    finally:
        if go_w >= 0:
            os.close(go_w)
        up.close()
    return Launched(child, pid, ours)


def _start(store: Store, container_id: str, config: dict, up, go_w: int, wire, actor: dict) -> int:
    """The CLI's side of the start: record the pid, connect it, give the go-ahead, hear
    the outcome."""
    started = _receive(up)
    if "error" in started:
        raise _error(started, config)
    pid = started["pid"]
    cgroups.warm_attach_stop()  # the fork has placed it
    reached(CLONED)
    if wire is not None:
        wire(pid)
        reached(NETWORKED)
    events.queue(store, "container", "start", container_id, **actor)  # in the row's transaction
    # the pid is for people (inspect); whether it runs is the runtime's to say
    store.update_container(container_id, status="running", pid=pid, pid_start=None, started=time.time())
    _send(go_w, {"go": True})
    outcome = _receive(up)
    if "error" in outcome:
        raise _error(outcome, config)
    return pid


def _error(message: dict, config: dict) -> PyctrError:
    e = message["error"]
    if "stage" in e:
        return start_error(e["stage"], e["errno"], e["message"], config["process"]["args"][0])
    return PyctrError(e["message"], e.get("exit_code") or ENGINE_ERROR)


def _monitor_side(paths: Paths, container_id: str, config: dict, runtime, up: int, go: int, tty_size,
                  owner: int) -> None:
    """In the fork: start the container, then become its monitor.  Never returns.  Until
    the container runs, any failure takes it down (nothing of it may stay); once it runs,
    it gets its monitor even if the pyctr that wanted it is gone."""
    proc = None
    try:
        os.setsid()  # off the terminal's session: ^C in that shell is not for us
        os.chdir("/")
        devnull = os.open(os.devnull, os.O_RDWR)
        # let go of the CLI's stdio: whoever reads pyctr's output waits for its end
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        # no -i: the container's own /dev/null (-1), not ours, which it could chmod
        in_r, in_w = os.pipe() if annotated(config, OPEN_STDIN) else (-1, -1)
        proc = _create(paths, container_id, config, runtime, (in_r, out_w, err_w), tty_size)
        for fd in {devnull, in_r, out_w, err_w} - {-1}:
            os.close(fd)
        _send(up, {"pid": proc.pid})
        if not os.read(go, 4096):  # pyctr went away: nobody wants this container
            raise ConnectionError("abandoned")
        master = proc.start()  # a ChildError here: it took the container down itself
    except ChildError as e:
        _tell(up, {"error": {"stage": e.stage, "errno": e.errno, "message": e.message}})
        os._exit(1)
    except BaseException as e:  # noqa: BLE001 - everything goes back to the CLI as one line
        if proc is not None:
            proc.abort()
        _tell(up, {"error": {"message": str(e) or type(e).__name__, "exit_code": getattr(e, "exit_code", None)}})
        os._exit(1)
    _tell(up, {"ok": True})
    os.close(up)
    from .logopts import monitor_flags  # here: after `run` was told, off its wait
    _become_monitor(paths, container_id, proc.pid, master, (in_w, out_r, err_r), owner, monitor_flags(config))


def _tell(fd: int, message: dict) -> None:
    """_send, to a CLI that may be gone (killed): then there is nobody to tell."""
    try:
        _send(fd, message)
    except OSError:
        pass


def _become_monitor(paths: Paths, container_id: str, pid: int, master: int, pipes, owner: int,
                    log_flags: list[str]) -> None:
    """exec pyctr-monitor over the fork, with the container's streams (the pty master, or
    the three pipes' far ends), the owner's socket end, its log's size cap (`log_flags`),
    and the cleanup to run at the exit."""
    in_w, out_r, err_r = pipes
    if master >= 0:
        fds = {"--stdout-fd": master}
    else:
        fds = {"--stdout-fd": out_r, "--stderr-fd": err_r, "--stdin-fd": in_w}
    fds["--attach-fd"] = owner
    args = [MONITOR, "--pid", str(pid)] + ["--tty"] * (master >= 0)
    for flag, fd in fds.items():
        if fd >= 0:
            os.set_inheritable(fd, True)
            args += [flag, str(fd)]
    cleanup_command = paths.pyctr_command("_cleanup", container_id)
    try:
        os.execv(MONITOR, [*args, "--socket", paths.container_file(container_id, "attach"),
                           "--log", paths.container_file(container_id, "log"), *log_flags,
                           "--exit-file", paths.container_file(container_id, "exit"), "--", *cleanup_command])
    except OSError:  # no monitor after all: the container must not run on unwatched
        os.kill(pid, 9)
        os._exit(1)


def _create(paths: Paths, container_id: str, config: dict, runtime, stdio, tty_size):
    """The runtime's create, its failures in the words `run` uses for them.  An external
    runtime's container is its child, not ours: we become the subreaper first, so it is
    reparented to us (and, past the exec, to pyctr-monitor) when the runtime exits."""
    if runtime.external:
        from ..runtime.external import set_child_subreaper
        set_child_subreaper()
    try:
        return runtime.create(container_id, config, paths.container_dir(container_id), stdio, tty_size)
    except CgroupError as e:
        raise PyctrError(f"cannot apply resource limits: {e}") from None
    except ConfigError as e:
        raise PyctrError(f"invalid container config: {e}") from None
    except RuntimeFailure as e:  # an external runtime's own words
        if not runtime.external:  # pyctr's own: a ChildError, told by start_error above
            raise
        from ..runtime.external import exit_code
        raise PyctrError(f"{runtime.name}: {e}", exit_code(str(e), ENGINE_ERROR)) from None
