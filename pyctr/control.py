"""Signals to running containers: `kill`, `stop` (signal, grace period, SIGKILL), `wait`.

A container's pid is trusted only with its recorded start time, so a reused pid is never
signalled.  The pid namespace's init ignores signals it has no handler for, so the final
SIGKILL goes to the whole cgroup.
"""

import os
import signal
import time

from . import containers, runtime, views
from .errors import Conflict, PyctrError
from .paths import Paths
from .store import ContainerRecord, Store


def parse_signal(text: str) -> int:
    """`9`, `KILL` or `SIGKILL` -> 9."""
    name = text.strip().upper()
    if name.isdigit():
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


def send(paths: Paths, store: Store, name: str, sig: int) -> ContainerRecord:
    record = running(paths, store, name)
    try:
        os.kill(record.pid, sig)
    except ProcessLookupError:
        pass
    return record


def _alive(record: ContainerRecord) -> bool:
    return runtime.start_time(record.pid) == record.pid_start


def _wait_dead(record: ContainerRecord, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(record):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def kill_all(paths: Paths, record: ContainerRecord) -> None:
    """SIGKILL to every process of the container (its cgroup), else to its pid."""
    spec = containers.read_spec(paths, record.id)
    cgroup = runtime.cgroup_of(spec) if spec else None
    if cgroup is not None and cgroup.exists():
        cgroup.kill_all()
    elif _alive(record):
        os.kill(record.pid, signal.SIGKILL)


def stop(paths: Paths, store: Store, name: str, timeout: float = 10, sig: int = signal.SIGTERM) -> ContainerRecord:
    """The signal, up to `timeout` seconds to go, then SIGKILL; returns once it is gone
    and its exit is on record (by the `pyctr run` that waits for it, or here when nobody
    waits any more)."""
    record = views.refresh(paths, store, containers.lookup(store, name))
    if record.status != "running":
        return record
    try:
        os.kill(record.pid, sig)
    except ProcessLookupError:
        pass
    if not _wait_dead(record, timeout):
        kill_all(paths, record)
        _wait_dead(record, 10)
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


def top(paths: Paths, store: Store, name: str) -> list[tuple[int, str, str]]:
    """(pid, elapsed-ish CPU time, command) of every process in the container's cgroup."""
    record = running(paths, store, name)
    spec = containers.read_spec(paths, record.id)
    cgroup = runtime.cgroup_of(spec) if spec else None
    pids = cgroup.procs() if cgroup is not None else [record.pid]
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

