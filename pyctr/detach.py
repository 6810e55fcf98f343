"""`run -d`: a container under pyctr-monitor, and what happens when it exits.

pyctr forks.  The fork creates the container (so the container is its child), reports
the pid, waits for the go-ahead (the row is written by then), starts it, reports the
outcome, and execs pyctr-monitor: the same pid, now a small C program that stays the
container's parent, writes its log and, at the exit, runs `pyctr _cleanup ID`.

    pyctr (CLI)                      fork
    create row, dirs, config.json
    fork --------------------------> runtime.create (cgroup, clone; child waits)
    <------------------------------- {"pid": N}
    row: running, pid, start time
    go ----------------------------> start (execve of the command)
    <------------------------------- {"ok": true} | {"error": ...}
    print the id, exit               exec pyctr-monitor --pid N ... -- pyctr _cleanup ID
"""

import json
import os
import sys
import time

from . import containers, runtime, views
from .errors import PyctrError
from .paths import Paths
from .spec import RunOptions
from .store import Store

from .programs import MONITOR

AUTOREMOVE = "org.pyctr.autoremove"


def log_path(paths: Paths, container_id: str) -> str:
    return os.path.join(paths.container_dir(container_id), "container.log")


def exit_path(paths: Paths, container_id: str) -> str:
    return os.path.join(paths.container_dir(container_id), "exit")


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


def _send(fd: int, message: dict) -> None:
    os.write(fd, (json.dumps(message) + "\n").encode())


def _receive(stream) -> dict:
    line = stream.readline()
    if not line:
        raise PyctrError("the container's monitor died while starting it")
    return json.loads(line)


def run_detached(paths: Paths, store: Store, opts: RunOptions) -> str:
    """Creates the container and starts it under its monitor; returns its id once it runs."""
    _check_monitor()
    record, spec = containers.create(paths, store, opts)
    if opts.remove:
        spec.setdefault("annotations", {})[AUTOREMOVE] = "true"
        containers.write_spec(paths, record.id, spec)
    try:
        launch(paths, store, record.id, spec)
    except BaseException:
        containers.discard(paths, store, record.id)
        raise
    return record.id


def start(paths: Paths, store: Store, name: str) -> str:
    """`start`: a stopped container runs again under a new monitor, with its filesystem
    changes kept and its log continued."""
    _check_monitor()
    record = views.refresh(paths, store, containers.lookup(store, name))
    if record.status == "running":
        return record.id  # docker: starting a running container is not an error
    spec = containers.read_spec(paths, record.id)
    if spec is None:
        raise PyctrError(f"container {record.name} has no config.json")
    wait_monitor_gone(paths, record.id)
    try:
        os.unlink(exit_path(paths, record.id))  # the last run's word
    except FileNotFoundError:
        pass
    store.update_container(record.id, exit_code=None, finished=None, oom_killed=0, final_stats=None)
    try:
        launch(paths, store, record.id, spec)
    except BaseException:
        store.update_container(record.id, status="exited")
        raise
    return record.id


def _check_monitor() -> None:
    if not os.access(MONITOR, os.X_OK):
        raise PyctrError(f"pyctr-monitor is missing ({MONITOR}): reinstall pyctr")


def launch(paths: Paths, store: Store, container_id: str, spec: dict) -> None:
    """Forks; the fork starts the container and becomes its monitor (see above)."""
    up_r, up_w = os.pipe()
    go_r, go_w = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - becomes the monitor, measured by the tests
        os.close(up_r)
        os.close(go_w)
        _monitor_side(paths, container_id, spec, up_w, go_r)
    os.close(up_w)
    os.close(go_r)
    with open(monitor_path(paths, container_id), "w") as f:
        f.write(f"{child} {runtime.start_time(child)}\n")
    try:
        with os.fdopen(up_r) as up:
            started = _receive(up)
            if "error" in started:
                raise _error(started, spec)
            pid = started["pid"]
            store.update_container(container_id, status="running", pid=pid,
                                   pid_start=runtime.start_time(pid), started=time.time())
            _send(go_w, {"go": True})
            outcome = _receive(up)
            if "error" in outcome:
                raise _error(outcome, spec)
    finally:
        os.close(go_w)


def _error(message: dict, spec: dict) -> PyctrError:
    e = message["error"]
    if "stage" in e:
        return containers.start_error(runtime.ChildError(e["stage"], e["errno"], e["message"]),
                                      spec["process"]["args"][0])
    return PyctrError(e["message"])


def _monitor_side(paths: Paths, container_id: str, spec: dict, up: int, go: int) -> None:
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
        proc = runtime.create(spec, stdio=(devnull, out_w, err_w), tty_size=(24, 80))
        for fd in (devnull, out_w, err_w):
            os.close(fd)
        _send(up, {"pid": proc.pid})
        if not os.read(go, 4096):  # pyctr went away: nobody wants this container
            proc.abort()
            os._exit(1)
        master = proc.start()
        _send(up, {"ok": True})
        os.close(up)
        streams = ["--stdout-fd", str(master)] if master >= 0 else \
            ["--stdout-fd", str(out_r), "--stderr-fd", str(err_r)]
        for fd in (master, out_r, err_r):
            if fd >= 0:
                os.set_inheritable(fd, True)
        cleanup = [sys.executable, "-m", "pyctr", "--root", paths.root, "--runroot", paths.runroot,
                   "_cleanup", container_id]
        os.execv(MONITOR, [MONITOR, "--pid", str(proc.pid), *streams, "--log", log_path(paths, container_id),
                           "--exit-file", exit_path(paths, container_id), "--", *cleanup])
    except runtime.ChildError as e:
        _send(up, {"error": {"stage": e.stage, "errno": e.errno, "message": e.message}})
    except BaseException as e:  # noqa: BLE001 - everything goes back to the CLI as one line
        try:
            _send(up, {"error": {"message": str(e) or type(e).__name__}})
        except OSError:
            pass
    os._exit(1)


def cleanup(paths: Paths, store: Store, container_id: str) -> None:
    """Run by the monitor once the container exited: the exit code into the store, the
    cgroup's last figures read and the cgroup removed, and the container too with --rm."""
    record = store.get_container(container_id)
    spec = containers.read_spec(paths, container_id)
    if record is None or spec is None:
        return
    store.update_container(container_id, status="exited", exit_code=read_exit(paths, container_id),
                           finished=time.time())
    cgroup = runtime.cgroup_of(spec)
    if cgroup is not None and cgroup.exists():
        stats = cgroup.stats()
        cgroup.destroy()
        store.update_container(container_id, oom_killed=int(stats.oom_kills > 0), final_stats=json.dumps(vars(stats)))
    if (spec.get("annotations") or {}).get(AUTOREMOVE) == "true":
        containers.discard(paths, store, container_id)
