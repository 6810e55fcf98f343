"""Every container runs under pyctr-monitor, in the foreground or detached (-d).

pyctr forks.  The fork creates the container (so the container is its child), reports
the pid, waits for the go-ahead (the row and directories are written by then: `run`
writes them while the fork clones, on the other core), starts it, reports the
outcome, and execs pyctr-monitor: the same pid, now a small C program that stays the
container's parent, writes its log, serves its attach socket and, at the exit, runs
`pyctr _cleanup ID`, unless its owner recorded the exit (see running.py).

    pyctr (CLI)                      fork
    fork --------------------------> runtime.create (cgroup, clone; child waits)
    meanwhile: row, dirs, config.json
    <------------------------------- {"pid": N}
    row: running, pid, start time
    go ----------------------------> start (execve of the command)
    <------------------------------- {"ok": true} | {"error": ...}
    -d: print the id, exit           exec pyctr-monitor --pid N ... -- pyctr _cleanup ID
    else: the owner of the monitor's attach socket until the exit
"""

import os
import sys
import time

from . import _core, cgroups, containers, fastjson, runtime, stages
from .errors import PyctrError
from .paths import Paths
from .programs import MONITOR
from .records import as_dict, record
from .spec import AUTOREMOVE, OPEN_STDIN
from .store import Store


def log_path(paths: Paths, container_id: str) -> str:
    return os.path.join(paths.container_dir(container_id), "container.log")


def exit_path(paths: Paths, container_id: str) -> str:
    return os.path.join(paths.container_dir(container_id), "exit")


def socket_path(paths: Paths, container_id: str) -> str:
    return os.path.join(paths.container_dir(container_id), "attach")


def monitor_path(paths: Paths, container_id: str) -> str:
    return os.path.join(paths.container_dir(container_id), "monitor")


def wait_monitor_gone(paths: Paths, container_id: str, timeout: float = 15) -> None:
    """Until the last run's monitor, and the cleanup it ends in, has finished: a new run
    must not have its cgroup removed by the old run's cleanup."""
    try:
        with open(monitor_path(paths, container_id)) as f:
            pid, started = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        return
    deadline = time.monotonic() + timeout
    while runtime.start_time(pid) == started:
        if time.monotonic() > deadline:
            raise PyctrError(f"the last monitor of {container_id[:12]} is still running")
        time.sleep(0.02)


def read_exit(paths: Paths, container_id: str) -> int | None:
    """The exit code the monitor wrote, if it has."""
    try:
        with open(exit_path(paths, container_id)) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def check_installed() -> None:
    if not os.access(MONITOR, os.X_OK):
        raise PyctrError(f"pyctr-monitor is missing ({MONITOR}): reinstall pyctr")


def start_anew(paths: Paths, store: Store, container_id: str) -> None:
    """Before a stopped container starts again: the last run's word cleared."""
    try:
        os.unlink(exit_path(paths, container_id))
    except FileNotFoundError:
        pass
    store.update_container(container_id, exit_code=None, finished=None, oom_killed=0, final_stats=None)


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


def launch(paths: Paths, store: Store, container_id: str, spec: dict, tty_size=(24, 80),
           owner: bool = False, setup=None) -> Launched:
    """Forks; the fork starts the container and becomes its monitor (see above).  With
    `owner`, we keep one end of a socket the monitor serves from its first moment.
    `setup()`, if given, runs while the fork creates the container (on the other core): it
    writes what must exist before the go-ahead.  Should it fail, the fork hears nothing
    more and takes the container and its cgroup down with it."""
    up_r, up_w = os.pipe()
    go_r, go_w = os.pipe()
    ours, theirs = _core.seqpacket_pair() if owner else (-1, -1)
    child = os.fork()
    if child == 0:  # pragma: no cover - becomes the monitor, measured by the tests
        os.close(up_r)
        os.close(go_w)
        if owner:
            os.close(ours)
        _monitor_side(paths, container_id, spec, up_w, go_r, tty_size, theirs)
    os.close(up_w)
    os.close(go_r)
    up = os.fdopen(up_r)
    try:
        if owner:
            os.close(theirs)
            from . import session  # the owner relays next: load it while the fork clones
        if setup is not None:
            setup()
        with open(monitor_path(paths, container_id), "w") as f:
            f.write(f"{child} {runtime.start_time(child)}\n")
        pid = _start(store, container_id, spec, up, go_w)
    except BaseException:
        os.close(go_w)  # no go-ahead: the fork aborts the container and exits
        go_w = -1
        if owner:
            os.close(ours)
        os.waitpid(child, 0)
        raise
    finally:
        if go_w >= 0:
            os.close(go_w)
        up.close()
    return Launched(child, pid, ours)


def _start(store: Store, container_id: str, spec: dict, up, go_w: int) -> int:
    """The CLI's side of the start: record the pid, give the go-ahead, hear the outcome."""
    started = _receive(up)
    if "error" in started:
        raise _error(started, spec)
    pid = started["pid"]
    cgroups.warm_attach_stop()  # the fork has placed it
    stages.reached(stages.CLONED)
    store.update_container(container_id, status="running", pid=pid,
                           pid_start=runtime.start_time(pid), started=time.time())
    _send(go_w, {"go": True})
    outcome = _receive(up)
    if "error" in outcome:
        raise _error(outcome, spec)
    return pid


def _error(message: dict, spec: dict) -> PyctrError:
    e = message["error"]
    if "stage" in e:
        return containers.start_error(runtime.ChildError(e["stage"], e["errno"], e["message"]),
                                      spec["process"]["args"][0])
    return PyctrError(e["message"])


def _monitor_side(paths: Paths, container_id: str, spec: dict, up: int, go: int, tty_size, owner: int) -> None:
    """In the fork: start the container, then become its monitor.  Never returns."""
    try:
        os.setsid()  # off the terminal's session: ^C in that shell is not for us
        os.chdir("/")
        devnull = os.open(os.devnull, os.O_RDWR)
        # let go of the CLI's stdio: whoever reads pyctr's output waits for its end
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        in_r, in_w = os.pipe() if _open_stdin(spec) else (devnull, -1)
        proc = _create(spec, (in_r, out_w, err_w), tty_size)
        for fd in {devnull, in_r, out_w, err_w}:
            os.close(fd)
        _send(up, {"pid": proc.pid})
        if not os.read(go, 4096):  # pyctr went away: nobody wants this container
            proc.abort()
            os._exit(1)
        master = proc.start()
        _send(up, {"ok": True})
        os.close(up)
        if master >= 0:
            fds = {"--stdout-fd": master}
        else:
            fds = {"--stdout-fd": out_r, "--stderr-fd": err_r, "--stdin-fd": in_w}
        fds["--attach-fd"] = owner
        args = [MONITOR, "--pid", str(proc.pid)] + ["--tty"] * (master >= 0)
        for flag, fd in fds.items():
            if fd >= 0:
                os.set_inheritable(fd, True)
                args += [flag, str(fd)]
        cleanup_command = [sys.executable, "-m", "pyctr", "--root", paths.root, "--runroot", paths.runroot,
                           "_cleanup", container_id]
        os.execv(MONITOR, [*args, "--socket", socket_path(paths, container_id), "--log",
                           log_path(paths, container_id), "--exit-file", exit_path(paths, container_id),
                           "--", *cleanup_command])
    except runtime.ChildError as e:
        _send(up, {"error": {"stage": e.stage, "errno": e.errno, "message": e.message}})
    except BaseException as e:  # noqa: BLE001 - everything goes back to the CLI as one line
        try:
            _send(up, {"error": {"message": str(e) or type(e).__name__}})
        except OSError:
            pass
    os._exit(1)


def _open_stdin(spec: dict) -> bool:
    return (spec.get("annotations") or {}).get(OPEN_STDIN) == "true"


def _create(spec: dict, stdio, tty_size) -> runtime.Process:
    """runtime.create, its failures in the words `run` uses for them."""
    try:
        return runtime.create(spec, stdio=stdio, tty_size=tty_size)
    except runtime.CgroupError as e:
        raise PyctrError(f"cannot apply resource limits: {e}") from None
    except ValueError as e:  # a config the runtime cannot carry out
        raise PyctrError(f"invalid container config: {e}") from None


def cleanup(paths: Paths, store: Store, container_id: str, spec: dict | None = None):
    """Once the container exited (by the monitor, or the owner that stayed with it): the
    cgroup's last figures read and the cgroup removed, then the exit recorded, or with
    --rm the container removed.  Returns those figures (or None).  `spec`: its config, if
    the caller has it at hand."""
    if store.get_container(container_id) is None:  # removed meanwhile (rm -f)
        return None
    spec = spec or containers.read_spec(paths, container_id)
    if spec is None:
        return None
    autoremove = (spec.get("annotations") or {}).get(AUTOREMOVE) == "true"
    cgroup = runtime.cgroup_of(spec)
    stats = None
    try:
        if cgroup is not None and cgroup.exists():
            # with --rm no figures are kept: only the OOM count, for the message
            stats = cgroups.Stats(oom_kills=cgroup.oom_kills()) if autoremove else cgroup.stats()
            cgroup.destroy()
    except BaseException:
        _record_exit(paths, store, container_id, stats)  # all the same; rm retries the cgroup
        raise
    if autoremove:
        containers.discard(paths, store, container_id, spec=spec)  # no exit to record: the row goes
    else:
        _record_exit(paths, store, container_id, stats)
    return stats


def _record_exit(paths: Paths, store: Store, container_id: str, stats) -> None:
    changes = {"status": "exited", "exit_code": read_exit(paths, container_id), "finished": time.time()}
    if stats is not None:
        changes.update(oom_killed=int(stats.oom_kills > 0), final_stats=fastjson.dumps(as_dict(stats)))
    store.update_container(container_id, **changes)
