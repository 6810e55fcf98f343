"""The lifecycle verbs on existing containers: start, stop, kill, wait, restart, rm, update,
top.  Policy lives here (what `rm -f` kills first, which signal reaches the whole cgroup);
the CLI only reads the flags and shows what these return.

Whether a container runs is the runtime's to say (its state, pid and start time checked),
so a reused pid is never signalled.  The pid namespace's init ignores signals it has no
handler for, so the final SIGKILL goes to the whole cgroup.
"""

import os
import signal
import time

from ..runtime import container as runtime
from ..runtime.errors import CgroupError, NotRunning, RuntimeFailure
from . import containers, endpoints, network_records, views
from .errors import Conflict, PyctrError
from .launch import CHECKED, Launched, check_installed, launch, reached, wait_monitor_gone
from .paths import Paths
from .running import Outcome, attach_to, follow, terminal_size
from .store import ContainerRecord, Store
from .spec import STOP_SIGNAL


def parse_signal(text: str) -> int:
    """`9`, `KILL` or `SIGKILL` -> 9."""
    name = text.strip().upper()
    if name.isascii() and name.isdigit():
        number = int(name)
        if 0 < number < signal.NSIG:
            return number
    else:
        sig = getattr(signal, name if name.startswith("SIG") else f"SIG{name}", None)
        if isinstance(sig, signal.Signals):
            return int(sig)
    raise PyctrError(f"invalid signal: {text}")


def running(paths: Paths, store: Store, name: str) -> ContainerRecord:
    record = views.refresh(paths, store, containers.lookup(store, name))
    if record.status != "running":
        raise Conflict(f"container {record.name} is not running")
    return record


def kill(paths: Paths, store: Store, name: str, sig: int) -> ContainerRecord:
    """`sig` to the container's first process; SIGKILL to every process in it, so that
    nothing inside gets to fork on."""
    record = running(paths, store, name)
    if sig == signal.SIGKILL:
        kill_all(paths, record)
    else:
        try:
            runtime.kill(containers.runtime_root(paths, record), record.id, sig)
        except NotRunning:
            raise Conflict(f"container {record.name} is not running") from None
        if sig == stop_signal(containers.read_config(paths, record.id)):
            thaw_after_signal(paths, record)
    return record


def thaw_after_signal(paths: Paths, record: ContainerRecord) -> None:
    """A paused container thawed once its stop signal is sent, as docker does: frozen, it
    could neither handle it nor die of it."""
    from .pause import thaw_if_paused
    thaw_if_paused(paths, record)


def kill_all(paths: Paths, record: ContainerRecord) -> None:
    """SIGKILL to every process of the container; one already gone is no error."""
    try:
        runtime.kill(containers.runtime_root(paths, record), record.id, signal.SIGKILL, all_processes=True)
    except NotRunning:
        pass


def _wait_dead(paths: Paths, record: ContainerRecord, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while containers.is_running(paths, record):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def stop(paths: Paths, store: Store, name: str, timeout: float = 10, sig: int | None = None) -> ContainerRecord:
    """The signal (by default the image's StopSignal, else SIGTERM), up to `timeout`
    seconds to go, then SIGKILL; returns once it is gone and its exit is on record (by
    the `pyctr run` that waits for it, or here when nobody waits any more)."""
    record = views.refresh(paths, store, containers.lookup(store, name))
    if record.status != "running":
        return record
    if sig is None:
        sig = stop_signal(containers.read_config(paths, record.id))
    try:
        runtime.kill(containers.runtime_root(paths, record), record.id, sig)
    except NotRunning:
        pass
    thaw_after_signal(paths, record)
    if not _wait_dead(paths, record, timeout):
        kill_all(paths, record)
        _wait_dead(paths, record, 10)
    return wait_recorded(paths, store, record, 2)


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


def start(paths: Paths, store: Store, name: str, owner: bool = False) -> tuple[ContainerRecord, dict, Launched | None]:
    """`start`: a stopped container runs again under a new monitor, with its filesystem
    changes kept and its log continued.  Returns its record, its config and, if this call
    started it, the Launched container (with `owner`, for the caller to follow); None if it
    was running already, or another pyctr won the race to start it (docker calls neither
    an error)."""
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
    tty = bool(config["process"].get("terminal"))
    try:
        conf = network_records.netconf(store, record.id)
        wire = endpoints.wiring(paths, store, record.id, record.name, config, conf.mode if conf else None)
        launched = launch(paths, store, record.id, config, containers.runtime_root(paths, record), owner=owner,
                          tty_size=terminal_size() if owner and tty else (24, 80), wire=wire)
    except BaseException:  # one never started stays "created", as docker's does
        store.update_container(record.id, status="created" if record.status == "created" else "exited")
        raise
    return record, config, launched


def start_attached(paths: Paths, store: Store, name: str, interactive: bool) -> Outcome:
    """`start -a`: started and followed as a foreground `run` is; attached to, if it was
    running already."""
    record, config, launched = start(paths, store, name, owner=True)
    if launched is None:
        return Outcome(record.id, attach_to(paths, store, name, interactive))
    return follow(paths, store, record.id, config, launched, interactive)


def stop_signal(config: dict | None) -> int:
    """The signal a container is stopped with: its image's StopSignal, else SIGTERM."""
    text = ((config or {}).get("annotations") or {}).get(STOP_SIGNAL)
    if text:
        try:
            return parse_signal(text)
        except PyctrError:
            pass
    return signal.SIGTERM


def restart(paths: Paths, store: Store, name: str, timeout: float) -> None:
    """Stopped (if running) and started again; the start waits for the old run's cleanup."""
    stop(paths, store, name, timeout)
    start(paths, store, name)


def remove(paths: Paths, store: Store, name: str, force: bool = False, volumes: bool = False) -> str:
    """`rm`: a stopped container goes; a running one only with `force` (killed first);
    with `volumes`, its anonymous volumes too (those no other container uses)."""
    record = containers.lookup(store, name)
    if record.status == "starting" and containers.holder_alive(record):
        raise Conflict(f"container {record.id[:12]} is starting: try again once it runs")
    if containers.is_running(paths, record):
        if not force:
            raise Conflict(f"you cannot remove a running container {record.id[:12]}: stop it first or use -f")
        kill_all(paths, record)
    # a container's monitor (and the cleanup it ends in) writes into the container's
    # directory to the end, even after a plain stop
    wait_monitor_gone(store.get_container(record.id) or record)
    used = store.container_volumes(record.id) if volumes else []
    containers.discard(paths, store, record.id, best_effort=False)
    if used:
        from .volumes import drop_anonymous
        for warning in drop_anonymous(paths, store, used):
            raise PyctrError(warning)
    return record.id


def remove_all(paths: Paths, store: Store, names: list[str], force: bool = False, volumes: bool = False):
    """`rm` of several: with `force` all are killed first, so that their monitors end in
    parallel; then each goes.  Yields (name, None) or (name, the error that kept it)."""
    if force:
        for name in names:
            try:
                kill_all(paths, running(paths, store, name))
            except (PyctrError, RuntimeFailure):
                pass  # not running, or no such container: its removal says so
    for name in names:
        try:
            remove(paths, store, name, force, volumes)
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
        runtime.update(containers.runtime_root(paths, record), record.id,
                       {**changes, **({"memory": resources["memory"]} if "memory" in changes else {})})
    except CgroupError as e:
        raise PyctrError(f"cannot update {name}: {e}") from None
    except NotRunning:
        raise Conflict(f"container {name} is not running") from None
    config["linux"]["resources"] = resources
    containers.write_config(paths, record.id, config)


def top(paths: Paths, store: Store, name: str) -> list[tuple[int, str, str]]:
    """(pid, CPU time, command) of every process in the container."""
    record = running(paths, store, name)
    try:
        pids = runtime.processes(containers.runtime_root(paths, record), record.id)
    except NotRunning:
        raise Conflict(f"container {record.name} is not running") from None
    ticks = os.sysconf("SC_CLK_TCK")
    rows = []
    for pid in sorted(pids):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2:].split()
        cpu = (int(fields[11]) + int(fields[12])) // ticks
        rows.append((pid, f"{cpu // 3600:02d}:{cpu // 60 % 60:02d}:{cpu % 60:02d}", cmd or "[" + stat.split(b"(")[1].split(b")")[0].decode() + "]"))
    return rows
