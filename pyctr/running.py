"""The verbs that start a container or join one: `run` (foreground and -d), `start`
(-a) and `attach`.  All of them go through the monitor (monitor.py); in the foreground,
pyctr is the owner of the monitor's attach socket: it relays the container's streams
until the exit, records the exit itself (faster than the monitor's `pyctr _cleanup`),
and tells the monitor so.  Killed before that, it leaves the cleanup to the monitor."""

import os

from . import containers, stages
from .errors import Conflict, PyctrError
from .monitor import Launched, check_installed, cleanup, launch, socket_path, start_anew, wait_monitor_gone
from .paths import Paths
from .render import print_error
from .spec import OPEN_STDIN, RunOptions
from .store import Store


def run_detached(paths: Paths, store: Store, opts: RunOptions) -> str:
    """Creates the container and starts it under its monitor; returns its id once it runs."""
    check_installed()
    record, spec = containers.new(paths, store, opts)
    try:
        launch(paths, store, record.id, spec, setup=_writer(paths, store, record, spec))
    except BaseException:
        containers.discard(paths, store, record.id, spec=spec)
        raise
    return record.id


def run_attached(paths: Paths, store: Store, opts: RunOptions) -> int:
    """`run` in the foreground: returns the container's exit code."""
    check_installed()
    record, spec = containers.new(paths, store, opts)
    try:
        launched = launch(paths, store, record.id, spec, tty_size=_terminal_size() if opts.tty else (0, 0),
                          owner=True, setup=_writer(paths, store, record, spec))
    except BaseException:
        containers.discard(paths, store, record.id, spec=spec)
        raise
    return follow(paths, store, record.id, launched, opts.tty, opts.interactive)


def _writer(paths: Paths, store: Store, record, spec: dict):
    """The new container's row, dirs and config.json, written while the fork clones it."""
    def write() -> None:
        containers.write_new(paths, store, record, spec)
        stages.reached(stages.CREATED)
    return write


def _terminal_size() -> tuple[int, int]:
    from .attach import terminal_size
    return terminal_size(0)


def _open_stdin(spec: dict) -> bool:
    return (spec.get("annotations") or {}).get(OPEN_STDIN) == "true"


def start(paths: Paths, store: Store, name: str, attach: bool = False, interactive: bool = False) -> int:
    """`start`: a stopped container runs again under a new monitor, with its filesystem
    changes kept and its log continued.  With `attach`, stays with it as a foreground
    `run` does and returns its exit code; else returns 0 once it runs."""
    check_installed()
    from .views import refresh  # not on run's path
    record = refresh(paths, store, containers.lookup(store, name))
    spec = containers.read_spec(paths, record.id)
    if spec is None:
        raise PyctrError(f"container {record.name} has no config.json")
    wait_monitor_gone(paths, record.id)  # before the claim: its cleanup writes the row
    stages.reached(stages.CHECKED)
    # docker: starting a running container is not an error; nor is losing the race to
    # start it to another pyctr
    if record.status in ("running", "starting") or not containers.claim(store, record):
        return attach_to(paths, store, name, interactive) if attach else 0
    start_anew(paths, store, record.id)
    tty = bool(spec["process"].get("terminal"))
    try:
        launched = launch(paths, store, record.id, spec, owner=attach,
                          tty_size=_terminal_size() if attach and tty else (24, 80))
    except BaseException:
        store.update_container(record.id, status="exited")
        raise
    if not attach:
        return 0
    return follow(paths, store, record.id, launched, tty, interactive and _open_stdin(spec))


def follow(paths: Paths, store: Store, container_id: str, launched: Launched, tty: bool, interactive: bool) -> int:
    """The owner's part: the container's streams relayed until its exit, which it then
    records; the monitor waits for the word, then ends without a cleanup of its own."""
    from . import attach, session
    stages.reached(stages.STARTED)
    sock = launched.owner
    try:
        with attach.forwarding_signals(launched.pid):
            try:
                code = session.relay(sock, tty, interactive)
            except session.Detached:
                return 0  # the monitor carries on alone, and cleans up after the exit
            except ConnectionError:
                os.waitpid(launched.monitor, 0)
                raise PyctrError(f"the monitor of {container_id[:12]} went away") from None
        spec = containers.read_spec(paths, container_id)
        _report_oom(container_id, spec, cleanup(paths, store, container_id, spec))
        os.set_blocking(sock, True)
        os.write(sock, b"d")
        while os.read(sock, 64):  # until the monitor has closed its end: it is done
            pass
    finally:
        os.close(sock)
    os.waitpid(launched.monitor, 0)
    return code


def _report_oom(container_id: str, spec: dict | None, stats) -> None:
    if stats is None or stats.oom_kills <= 0:
        return
    limit = ((spec or {}).get("linux", {}).get("resources", {}).get("memory") or {}).get("limit")
    print_error(f"container {container_id[:12]} was OOM-killed"
                + (f" (memory limit {limit // (1 << 20)} MiB)" if limit and limit > 0 else ""))


def attach_to(paths: Paths, store: Store, name: str, interactive: bool = True) -> int:
    """`attach`: this terminal to a running container's output (and its input, when it
    was run with -i) until it exits (its code) or ctrl-p ctrl-q detaches (0)."""
    from . import attach, session
    from .views import refresh  # not on run's path
    record = refresh(paths, store, containers.lookup(store, name))
    if record.status != "running":
        raise Conflict(f"you cannot attach to a stopped container {record.id[:12]}: start it first")
    spec = containers.read_spec(paths, record.id) or {"process": {}}
    tty = bool(spec["process"].get("terminal"))
    try:
        sock = session.connect(socket_path(paths, record.id))
    except OSError as e:
        raise PyctrError(f"cannot attach to {record.id[:12]}: {e.strerror}") from None
    with sock, attach.forwarding_signals(record.pid):
        try:
            return session.relay(sock.fileno(), tty, interactive and _open_stdin(spec))
        except session.Detached:
            return 0
        except ConnectionError:
            raise PyctrError(f"the monitor of {record.id[:12]} went away") from None
