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
    record, _, _ = _create_and_launch(paths, store, opts)
    return record.id


def run_attached(paths: Paths, store: Store, opts: RunOptions) -> Outcome:
    """`run` in the foreground, until the container exits."""
    if opts.tty and opts.interactive and not os.isatty(0):
        # a pty fed from a pipe would wait for a terminal that never comes: docker's refusal
        raise PyctrError("the input device is not a TTY", exit_code=1)
    check_installed()
    keys = detach_keys(opts.detach_keys)
    proxy = sig_proxy(opts.sig_proxy)
    record, config, launched = _create_and_launch(paths, store, opts, owner=True,
                                                  tty_size=terminal_size() if opts.tty else (0, 0))
    return follow(paths, store, record.id, config, launched, opts.interactive, keys, proxy)


def _create_and_launch(paths: Paths, store: Store, opts: RunOptions, **how):
    """A new container made and started under its monitor (`how`: launch's owner and
    tty_size); (record, config, Launched).  A failure leaves nothing: no container, no
    --cidfile."""
    cidfile = CidFile(opts.cidfile)
    try:
        record, config, net = create.new(paths, store, opts)
        try:
            launched = launch(paths, store, record.id, config, containers.runtime_of(paths, record),
                              setup=_writer(paths, store, record, config, net, opts, cidfile),
                              wire=endpoints.wiring(paths, store, record.id, record.name, config, net.mode),
                              actor=events.container_attributes(record, config), **how)
        except BaseException as e:
            create.release(record.id)
            containers.discard_after(e, paths, store, record.id)
            raise
    except BaseException:
        cidfile.drop()
        raise
    return record, config, launched


class CidFile:
    """--cidfile: made first (O_EXCL: two runs never share one, docker's refusal when it
    exists), the id written once the container's row is; removed if the run fails."""

    def __init__(self, path: str | None):
        self.path, self.fd = path, -1
        if not path:
            return
        try:
            self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            raise PyctrError(f"Container ID file found, make sure the other container isn't running or delete {path}") \
                from None
        except OSError as e:
            raise PyctrError(f"failed to create the container ID file {path}: {e.strerror}") from None

    def write(self, container_id: str) -> None:
        if self.fd >= 0:
            os.write(self.fd, container_id.encode())
            os.close(self.fd)
            self.fd = -1

    def drop(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.path:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass


def sig_proxy(text: str | None) -> bool:
    """--sig-proxy: true (the default) or false, as Go reads a bool."""
    if text is None:
        return True
    value = text.strip().lower()
    if value in ("1", "t", "true"):
        return True
    if value in ("0", "f", "false"):
        return False
    raise PyctrError(f"invalid argument {text!r} for --sig-proxy: use true or false")


def detach_keys(text: str | None) -> bytes | None:
    """docker's --detach-keys: `ctrl-p,ctrl-q`, `ctrl-x,y`: comma-separated keys, each a
    single character or ctrl- and one of a-z @ [ \\ ] ^ _ ."""
    if not text:
        return None  # the session's default
    keys = bytearray()
    for key in text.split(","):
        lower = key.lower()
        if lower.startswith("ctrl-") and len(key) == 6:
            code = ord(lower[5])
            if "a" <= lower[5] <= "z":
                keys.append(code - ord("a") + 1)
                continue
            if lower[5] in "@[\\]^_":
                keys.append(code - ord("@"))
                continue
        elif len(key) == 1 and key.isascii():
            keys.append(ord(key))
            continue
        raise PyctrError(f"invalid detach keys: {text!r}: unknown key {key!r} (e.g. ctrl-p,ctrl-q)")
    return bytes(keys)


def _writer(paths: Paths, store: Store, record, config: dict, net, opts: RunOptions, cidfile: CidFile):
    """The new container's row (its monitor on it), dirs and config.json (and --cidfile),
    written while the fork clones it."""
    def write(monitor_pid: int, monitor_start: int | None) -> None:
        record.monitor_pid, record.monitor_start = monitor_pid, monitor_start
        create.write_new(paths, store, record, config, net, named=opts.name is not None)
        cidfile.write(record.id)
        reached(CREATED)
    return write


def terminal_size() -> tuple[int, int]:
    from ..runtime import terminal  # not on run -d's path
    return terminal.terminal_size(0)


def follow(paths: Paths, store: Store, container_id: str, config: dict, launched: Launched,
           interactive: bool, keys: bytes | None = None, proxy: bool = True) -> Outcome:
    """The owner's part: the container's streams relayed (our stdin too, if `interactive`
    and it was made with -i) until its exit, which it then records; the monitor waits for
    the word, then ends without a cleanup of its own.  `keys`: the detach keys (None:
    ctrl-p ctrl-q); `proxy`: our signals forwarded to the container."""
    from ..runtime import terminal
    from . import session
    reached(STARTED)
    sock = launched.owner
    tty = bool(config["process"].get("terminal"))
    try:
        with terminal.forwarding_signals(launched.pid if proxy else None):
            try:
                code = session.relay(sock, tty, interactive and annotated(config, OPEN_STDIN), keys)
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


def attach_to(paths: Paths, store: Store, name: str, interactive: bool = True, keys: bytes | None = None,
              proxy: bool = True) -> int:
    """`attach`: this terminal to a running container's output (and its input, when it
    was run with -i) until it exits (its code) or the detach keys (`keys`, default ctrl-p
    ctrl-q) detach (0); signals forwarded unless not `proxy`."""
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
    with sock, terminal.forwarding_signals(saved.pid if proxy else None):
        try:
            return session.relay(sock.fileno(), tty, interactive and annotated(config, OPEN_STDIN), keys)
        except session.Detached:
            return 0
        except ConnectionError:
            raise PyctrError(f"the monitor of {record.id[:12]} went away") from None
