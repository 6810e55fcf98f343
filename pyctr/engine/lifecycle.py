"""The lifecycle verbs on existing containers: start, stop, kill, wait, restart, rm, update,
top.  Policy lives here (what `rm -f` kills first, which signal reaches the whole cgroup);
the CLI only reads the flags and shows what these return.

Whether a container runs is the runtime's to say (its state, pid and start time checked),
so a reused pid is never signalled.  The pid namespace's init ignores signals it has no
handler for, so the final SIGKILL goes to the whole cgroup.
"""

import signal
import time

from ..runtime.errors import CgroupError, NotRunning, RuntimeFailure
from . import containers, endpoints, events, network_records, views
from .errors import Conflict, PyctrError
from .launch import CHECKED, Launched, check_installed, launch, reached, wait_monitor_gone
from .paths import Paths
from .running import Outcome, attach_to, follow, terminal_size
from .store import ContainerRecord, Store
from .spec import STOP_SIGNAL, STOP_TIMEOUT

DEFAULT_STOP_TIMEOUT = 10
# a kill with one of these (or the container's stop signal) is a user's stop: no restart
# by the policy (docker's "manually stopped"); a HUP to reload is not
STOPPING_SIGNALS = (signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


def parse_signal(text: str) -> int:
    """`9`, `KILL`, `SIGKILL` or `SIGRTMIN+3` -> its number (runtime/signals.py)."""
    from ..runtime.signals import parse
    try:
        return parse(text)
    except ValueError:
        raise PyctrError(f"invalid signal: {text}") from None


def running(paths: Paths, store: Store, name: str) -> ContainerRecord:
    record = views.refresh(paths, store, containers.lookup(store, name))
    if record.status != "running":
        raise Conflict(f"container {record.name} is not running")
    return record


def kill(paths: Paths, store: Store, name: str, sig: int) -> ContainerRecord:
    """`sig` to the container's first process; SIGKILL to every process in it, so that
    nothing inside gets to fork on."""
    record = running(paths, store, name)
    config = containers.read_config(paths, record.id)
    if sig in STOPPING_SIGNALS or sig == stop_signal(config):
        store.update_container(record.id, stopped_by_user=1)
    if sig == signal.SIGKILL:
        kill_all(paths, record)
    else:
        try:
            containers.runtime_of(paths, record).kill(record.id, sig)
        except NotRunning:
            raise Conflict(f"container {record.name} is not running") from None
        if sig == stop_signal(config):
            thaw_after_signal(paths, record)
    _event(paths, store, record, "kill", config, signal=int(sig))
    return record


def _event(paths: Paths, store: Store, record: ContainerRecord, action: str, config: dict | None = None,
           **extra) -> None:
    """A container's event (events.py), recorded now; `config`: the container's, if the
    caller read it already."""
    config = config if config is not None else containers.read_config(paths, record.id)
    events.container(store, action, record, config, now=True, **extra)


def thaw_after_signal(paths: Paths, record: ContainerRecord) -> None:
    """A paused container thawed once its stop signal is sent, as docker does: frozen, it
    could neither handle it nor die of it."""
    from .pause import thaw_if_paused
    thaw_if_paused(paths, record)


def kill_all(paths: Paths, record: ContainerRecord) -> None:
    """SIGKILL to every process of the container; one already gone is no error."""
    try:
        containers.runtime_of(paths, record).kill(record.id, signal.SIGKILL, all_processes=True)
    except NotRunning:
        pass


def _wait_dead(paths: Paths, record: ContainerRecord, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while containers.is_running(paths, record):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def stop(paths: Paths, store: Store, name: str, timeout: float | None = None, sig: int | None = None) -> ContainerRecord:
    """The signal (by default --stop-signal, else the image's StopSignal, else SIGTERM),
    up to `timeout` seconds (default --stop-timeout, else 10) to go, then SIGKILL; returns
    once it is gone and its exit is on record (by the `pyctr run` that waits for it, or
    here when nobody waits any more).  Its restart policy restarts it no more."""
    record = containers.lookup(store, name)
    store.update_container(record.id, stopped_by_user=1)
    record = views.refresh(paths, store, _settled(store, record))
    if record.status == "restarting":  # its waiter sees the row move on, and gives up
        store.update_container(record.id, {"status": "restarting", "pid": record.pid}, status="exited")
    if record.status != "running":
        return store.get_container(record.id) or record
    config = containers.read_config(paths, record.id)
    if sig is None:
        sig = stop_signal(config)
    if timeout is None:
        timeout = stop_timeout(config)
    try:
        containers.runtime_of(paths, record).kill(record.id, sig)
        _event(paths, store, record, "kill", config, signal=int(sig))
    except NotRunning:
        pass
    thaw_after_signal(paths, record)
    if not _wait_dead(paths, record, timeout):
        kill_all(paths, record)
        _event(paths, store, record, "kill", config, signal=int(signal.SIGKILL))
        _wait_dead(paths, record, 10)
    done = wait_recorded(paths, store, record, 2)
    _event(paths, store, record, "stop", config)
    return done


def _settled(store: Store, record: ContainerRecord, grace: float = 10) -> ContainerRecord:
    """The record once a start under way (its restart policy's, or another pyctr's) has
    come to an end: so a stop is not lost on a container about to run."""
    deadline = time.monotonic() + grace
    while record.status == "starting" and containers.holder_alive(record) and time.monotonic() < deadline:
        time.sleep(0.02)
        record = store.get_container(record.id) or record
    return record


def stop_timeout(config: dict | None) -> float:
    """--stop-timeout, else docker's 10 seconds."""
    text = ((config or {}).get("annotations") or {}).get(STOP_TIMEOUT)
    try:
        return float(text) if text else DEFAULT_STOP_TIMEOUT
    except ValueError:
        return DEFAULT_STOP_TIMEOUT


def wait_recorded(paths: Paths, store: Store, record: ContainerRecord, grace: float) -> ContainerRecord:
    """The record once its exit is written: give the waiting `pyctr run` `grace`
    seconds, then record it ourselves (an orphan's exit code is unknown)."""
    deadline = time.monotonic() + grace
    while True:
        current = store.get_container(record.id)
        if current is None or current.status != "running":
            return current or record
        if time.monotonic() >= deadline:
            return views.refresh(paths, store, current)
        time.sleep(0.02)


def wait(paths: Paths, store: Store, name: str) -> int | None:
    """Blocks until the container is no longer running; its exit code (None: unknown)."""
    record = containers.lookup(store, name)
    while True:
        record = views.refresh(paths, store, store.get_container(record.id) or record)
        if record.status != "running":
            record = wait_recorded(paths, store, record, 2)
            return record.exit_code
        time.sleep(0.05)


def start(paths: Paths, store: Store, name: str, owner: bool = False,
          restarted: bool = False) -> tuple[ContainerRecord, dict, Launched | None]:
    """`start`: a stopped container runs again under a new monitor, with its filesystem
    changes kept and its log continued.  Returns its record, its config and, if this call
    started it, the Launched container (with `owner`, for the caller to follow); None if it
    was running already, or another pyctr won the race to start it (docker calls neither
    an error).  `restarted`: by its restart policy (restarts.py), which counts it; a
    user's start counts from 0 again, and lifts a user's stop."""
    check_installed()
    record = views.refresh(paths, store, containers.lookup(store, name))
    config = containers.read_config(paths, record.id)
    if config is None:
        raise PyctrError(f"container {record.name} has no config.json")
    if record.status in ("running", "starting"):  # docker: a no-op, not an error
        if containers.is_paused(paths, record):  # but for a paused one
            raise Conflict("cannot start a paused container, try unpause instead", exit_code=1)
        return record, config, None
    wait_monitor_gone(record)  # before the claim: its cleanup writes the row
    reached(CHECKED)
    if not containers.claim(store, record):
        return record, config, None
    containers.forget_exit(paths, store, record.id)
    store.update_container(record.id, **({"restart_count": record.restart_count + 1} if restarted
                                          else {"restart_count": 0, "stopped_by_user": 0, "restart_delay": None}))
    tty = bool(config["process"].get("terminal"))
    try:
        conf = network_records.netconf(store, record.id)
        wire = endpoints.wiring(paths, store, record.id, record.name, config, conf.mode if conf else None)
        launched = launch(paths, store, record.id, config, containers.runtime_of(paths, record), owner=owner,
                          tty_size=terminal_size() if owner and tty else (24, 80), wire=wire,
                          actor=events.container_attributes(record, config))
    except BaseException:  # one never started stays "created", as docker's does
        store.update_container(record.id, status="created" if record.status == "created" else "exited")
        raise
    return record, config, launched


def start_attached(paths: Paths, store: Store, name: str, interactive: bool, keys: bytes | None = None) -> Outcome:
    """`start -a`: started and followed as a foreground `run` is; attached to, if it was
    running already.  `keys`: the detach keys (None: ctrl-p ctrl-q)."""
    record, config, launched = start(paths, store, name, owner=True)
    if launched is None:
        return Outcome(record.id, attach_to(paths, store, name, interactive, keys))
    return follow(paths, store, record.id, config, launched, interactive, keys)


def stop_signal(config: dict | None) -> int:
    """The signal a container is stopped with: its image's StopSignal, else SIGTERM."""
    text = ((config or {}).get("annotations") or {}).get(STOP_SIGNAL)
    if text:
        try:
            return parse_signal(text)
        except PyctrError:
            pass
    return signal.SIGTERM


def restart(paths: Paths, store: Store, name: str, timeout: float | None = None) -> None:
    """Stopped (if running) and started again; the start waits for the old run's cleanup."""
    stop(paths, store, name, timeout)
    record, _, _ = start(paths, store, name)
    _event(paths, store, record, "restart")


def remove(paths: Paths, store: Store, name: str, force: bool = False, volumes: bool = False,
           killed: bool = False) -> str:
    """`rm`: a stopped container goes; a running one only with `force` (killed first);
    with `volumes`, its anonymous volumes too (those no other container uses).  `killed`:
    the caller killed it already (its kill event is on record)."""
    record = _settled(store, containers.lookup(store, name))  # a restart under way, say
    if record.status == "starting" and containers.holder_alive(record):
        raise Conflict(f"container {record.id[:12]} is starting: try again once it runs")
    if containers.is_running(paths, record):
        if not force:
            raise Conflict(f"you cannot remove a running container {record.id[:12]}: stop it first or use -f")
        kill_all(paths, record)
        if not killed:
            _event(paths, store, record, "kill", signal=int(signal.SIGKILL))
    # a container's monitor (and the cleanup it ends in) writes into the container's
    # directory to the end, even after a plain stop
    wait_monitor_gone(store.get_container(record.id) or record)
    if not _restart_cancelled(paths, store, record.id, force):  # its waiter started it meanwhile
        return remove(paths, store, record.id, force, volumes)
    used = store.container_volumes(record.id) if volumes else []
    containers.discard(paths, store, record.id, best_effort=False)
    if used:
        from .volumes import drop_anonymous
        for warning in drop_anonymous(paths, store, used):
            raise PyctrError(warning)
    return record.id


def _restart_cancelled(paths: Paths, store: Store, container_id: str, force: bool) -> bool:
    """Before a removal: a restart policy's back-off under way (the row "restarting", which
    the exit's cleanup may have made it while we waited for the monitor) is docker's
    refusal without `force`; with it, the row is taken back from its waiter (who then
    gives up) so no new run starts under the removal.  False when the waiter won the race
    and is starting it: the removal starts over (a running container, killed with -f)."""
    record = store.get_container(container_id)
    record = record and views.refresh(paths, store, record)
    if record is None or record.status != "restarting":
        return True  # (gone: a --rm container's cleanup removed it meanwhile)
    if not force:
        raise Conflict(f"you cannot remove a restarting container {container_id[:12]}: stop it first or use -f")
    return store.update_container(container_id, {"status": "restarting", "pid": record.pid}, status="exited",
                                  stopped_by_user=1)


def remove_all(paths: Paths, store: Store, names: list[str], force: bool = False, volumes: bool = False):
    """`rm` of several: with `force` all are killed first, so that their monitors end in
    parallel; then each goes.  Yields (name, None) or (name, the error that kept it)."""
    killed = set()
    if force:
        for name in names:
            try:
                record = running(paths, store, name)
                kill_all(paths, record)
                _event(paths, store, record, "kill", signal=int(signal.SIGKILL))
                killed.add(name)
            except (PyctrError, RuntimeFailure):
                pass  # not running, or no such container: its removal says so
    for name in names:
        try:
            remove(paths, store, name, force, volumes, killed=name in killed)
            yield name, None
        except (PyctrError, RuntimeFailure) as e:
            yield name, e


def update(paths: Paths, store: Store, name: str, options) -> None:
    """`update`: new limits onto a running container's cgroup and into its config.json."""
    from .resources import build_resources, merge
    record = containers.lookup(store, name)
    if not containers.is_running(paths, record):
        raise Conflict(f"container {name} is not running")
    if not options.given():
        raise PyctrError("you must provide one or more flags when using this command")
    config = containers.read_config(paths, record.id)
    if config is None:
        raise PyctrError(f"container {name} has no config.json")
    current = config["linux"].get("resources") or {}
    changes = build_resources(options, current=current)
    resources = merge(current, changes)
    try:
        # the whole memory section, so limit and swap move together
        containers.runtime_of(paths, record).update(
            record.id, {**changes, **({"memory": resources["memory"]} if "memory" in changes else {})})
    except CgroupError as e:
        raise PyctrError(f"cannot update {name}: {e}") from None
    except NotRunning:
        raise Conflict(f"container {name} is not running") from None
    config["linux"]["resources"] = resources
    containers.write_config(paths, record.id, config)


def top(paths: Paths, store: Store, name: str, ps_args: list[str] | None = None) -> tuple[list[str], list[list[str]]]:
    """`top CTR [ps OPTIONS]`, as docker does it: the host's `ps` (procps) with the options
    (default `-ef`: UID PID PPID C STIME TTY TIME CMD), its lines kept for the container's
    processes (its cgroup's) only.  Returns the titles and the rows, the last column
    (the command) whole."""
    record = running(paths, store, name)
    try:
        pids = containers.runtime_of(paths, record).processes(record.id)
    except NotRunning:
        raise Conflict(f"container {record.name} is not running") from None
    if not pids:
        raise Conflict(f"container {record.name} is not running")
    args = list(ps_args or ["-ef"])
    # -q: only those pids (quick); some options (forest listings) refuse it: all then
    output = _ps([*args, "-q", ",".join(map(str, sorted(pids)))], quiet=True)
    if output is None:
        output = _ps(args)
    return _parse_ps(output, set(pids))


def _ps(args: list[str], quiet: bool = False) -> str | None:
    """ps's output; None when it fails and `quiet`, else its first line of complaint."""
    import subprocess
    try:
        done = subprocess.run(["ps", *args], capture_output=True, text=True, errors="replace")
    except FileNotFoundError:
        raise PyctrError("ps: not found (install procps)") from None
    if done.returncode == 0:
        return done.stdout
    if quiet:
        return None
    reason = next((line.strip() for line in done.stderr.splitlines() if line.strip()), f"exit status {done.returncode}")
    raise PyctrError(f"ps: {reason}")


def _parse_ps(output: str, pids: set[int]) -> tuple[list[str], list[list[str]]]:
    lines = output.splitlines()
    titles = lines[0].split() if lines else []
    if "PID" not in titles:
        raise PyctrError("couldn't find PID field in ps output")
    at = titles.index("PID")
    rows = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        if len(fields) <= at or not fields[at].isdigit() or int(fields[at]) not in pids:
            continue  # another process's, or a thread's line (PID "-")
        rows.append(fields)
    return titles, rows
