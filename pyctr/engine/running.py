"""Running a container and staying with it: `run` (foreground and -d), the owner's relay
until the exit, and `attach`.  All of them go through the monitor (launch.py); in the
foreground, pyctr is the owner of the monitor's attach socket: it relays the container's
streams until the exit, records the exit itself (faster than the monitor's `pyctr
_cleanup`), and tells the monitor so.  Killed before that, it leaves the cleanup to the
monitor."""

import os

from ..records import record
from . import containers, create, endpoints, events
from .errors import Conflict, PyctrError
from .launch import CREATED, STARTED, Launched, check_installed, launch, reached
from .paths import Paths
from .spec import OPEN_STDIN, RunOptions, annotated
from .store import Store


@record
class Outcome:
    """How a container we stayed with ended, for the CLI to tell: its exit code, the OOM
    kill and the memory limit behind it, what a --rm could not remove."""
    container_id: str
    code: int
    oom_killed: bool = False
    memory_limit: int | None = None
    warnings: list[str] = []


def run_detached(paths: Paths, store: Store, opts: RunOptions) -> str:
    """Creates the container and starts it under its monitor; returns its id once it runs."""
    check_installed()
    record, config, net = create.new(paths, store, opts)
    try:
        launch(paths, store, record.id, config, record.runtime_root, setup=_writer(paths, store, record, config, net, opts),
               wire=endpoints.wiring(paths, store, record.id, record.name, config, net.mode),
               actor=events.container_attributes(record, config))
    except BaseException as e:
        create.release(record.id)
        containers.discard_after(e, paths, store, record.id)
        raise
    return record.id


def run_attached(paths: Paths, store: Store, opts: RunOptions) -> Outcome:
    """`run` in the foreground, until the container exits."""
    if opts.tty and opts.interactive and not os.isatty(0):
        # a pty fed from a pipe would wait for a terminal that never comes: docker's refusal
        raise PyctrError("the input device is not a TTY", exit_code=1)
    check_installed()
    record, config, net = create.new(paths, store, opts)
    try:
        launched = launch(paths, store, record.id, config, record.runtime_root,
                          tty_size=terminal_size() if opts.tty else (0, 0), owner=True,
                          setup=_writer(paths, store, record, config, net, opts),
                          wire=endpoints.wiring(paths, store, record.id, record.name, config, net.mode),
                          actor=events.container_attributes(record, config))
    except BaseException as e:
        create.release(record.id)
        containers.discard_after(e, paths, store, record.id)
        raise
    return follow(paths, store, record.id, config, launched, opts.interactive)


def _writer(paths: Paths, store: Store, record, config: dict, net, opts: RunOptions):
    """The new container's row (its monitor on it), dirs and config.json, written while
    the fork clones it."""
    def write(monitor_pid: int, monitor_start: int | None) -> None:
        record.monitor_pid, record.monitor_start = monitor_pid, monitor_start
        create.write_new(paths, store, record, config, net, named=opts.name is not None)
        reached(CREATED)
    return write


def terminal_size() -> tuple[int, int]:
    from ..runtime import terminal  # not on run -d's path
    return terminal.terminal_size(0)


def follow(paths: Paths, store: Store, container_id: str, config: dict, launched: Launched,
           interactive: bool) -> Outcome:
    """The owner's part: the container's streams relayed (our stdin too, if `interactive`
    and it was made with -i) until its exit, which it then records; the monitor waits for
    the word, then ends without a cleanup of its own."""
    from ..runtime import terminal
    from . import session
    reached(STARTED)
    sock = launched.owner
    tty = bool(config["process"].get("terminal"))
    try:
        with terminal.forwarding_signals(launched.pid):
            try:
                code = session.relay(sock, tty, interactive and annotated(config, OPEN_STDIN))
            except session.Detached:
                return Outcome(container_id, 0)  # the monitor carries on alone, and cleans up after the exit
            except ConnectionError:
                os.waitpid(launched.monitor, 0)
                raise PyctrError(f"the monitor of {container_id[:12]} went away") from None
        done = containers.cleanup(paths, store, container_id, config)
        os.set_blocking(sock, True)
        os.write(sock, b"d")
        while os.read(sock, 64):  # until the monitor has closed its end: it is done
            pass
    finally:
        os.close(sock)
    os.waitpid(launched.monitor, 0)
    limit = (config.get("linux", {}).get("resources", {}).get("memory") or {}).get("limit")
    oom = done.stats is not None and done.stats.oom_kills > 0
    return Outcome(container_id, code, oom, limit if limit and limit > 0 else None, done.warnings)


def attach_to(paths: Paths, store: Store, name: str, interactive: bool = True) -> int:
    """`attach`: this terminal to a running container's output (and its input, when it
    was run with -i) until it exits (its code) or ctrl-p ctrl-q detaches (0)."""
    from ..runtime import terminal
    from . import session
    from .views import refresh  # not on run's path
    record = refresh(paths, store, containers.lookup(store, name))
    saved = containers.runtime_state(paths, record)
    if saved is None:
        raise Conflict(f"you cannot attach to a stopped container {record.id[:12]}: start it first")
    config = containers.read_config(paths, record.id) or {"process": {}}
    tty = bool(config["process"].get("terminal"))
    try:
        sock = session.connect(paths.container_file(record.id, "attach"))
    except OSError as e:
        raise PyctrError(f"cannot attach to {record.id[:12]}: {e.strerror}") from None
    with sock, terminal.forwarding_signals(saved.pid):
        try:
            return session.relay(sock.fileno(), tty, interactive and annotated(config, OPEN_STDIN))
        except session.Detached:
            return 0
        except ConnectionError:
            raise PyctrError(f"the monitor of {record.id[:12]} went away") from None
