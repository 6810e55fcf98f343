"""docker's restart policies (--restart no|always|unless-stopped|on-failure[:N]).

Who restarts: pyctr runs no daemon, so the cleanup that follows each exit decides (the
monitor's `pyctr _cleanup`, or the foreground `pyctr run` that records the exit itself).
When the policy says so, it marks the row "restarting" (ps: "Restarting (1) 2 seconds
ago") and leaves a detached `pyctr _restart ID` to wait out the back-off and start the
container again under a new monitor.  The cleanup itself cannot wait: it *is* the old
monitor's process (the monitor execs it), which `start`, `rm` and the next run wait for;
and a monitor looping over restarts would have to re-create the container, which is
Python's work (config, networks, the runtime's create).  The waiter polls the row, so a
`stop`, `kill` or `rm` meanwhile cancels the restart at once.

docker's rules: a container a user stopped (stop, or kill with a terminating signal) is
not restarted, until a user starts it again; on-failure restarts only after a non-zero
exit, at most N times; the back-off starts at 100 ms and doubles with each restart (at
most a minute), and starts over once a run lasted 10 s.  Across a host reboot, the
`pyctr-restart` systemd unit runs `pyctr _restart-policy` (`boot` below): always
containers, and unless-stopped ones a user did not stop, are started again.
"""

import os
import time

from .paths import Paths
from .spec import RESTART
from .store import ContainerRecord, Store

BACKOFF_START = 0.1
BACKOFF_MAX = 60.0
RESET_AFTER = 10.0  # seconds a run must last for the back-off to start over
POLL = 0.05


def policy(config: dict | None) -> tuple[str, int]:
    """(name, maximum retries) of a container's restart policy: ("no", 0) without one."""
    text = ((config or {}).get("annotations") or {}).get(RESTART) or "no"
    name, _, count = text.partition(":")
    return name, int(count) if count.isdigit() else 0


def wanted(config: dict | None, record: ContainerRecord) -> bool:
    """Whether the policy restarts the container after this exit."""
    name, limit = policy(config)
    if name == "no" or record.stopped_by_user:
        return False
    if name == "on-failure":
        return record.exit_code != 0 and (limit == 0 or record.restart_count < limit)
    return name in ("always", "unless-stopped")


def next_delay(record: ContainerRecord) -> float:
    """docker's back-off: 100 ms, doubled each time, reset by a run of 10 s or more."""
    ran = (record.finished or 0) - (record.started or 0)
    if not record.restart_delay or ran >= RESET_AFTER:
        return BACKOFF_START
    return min(record.restart_delay * 2, BACKOFF_MAX)


def after_exit(paths: Paths, store: Store, container_id: str, config: dict) -> bool:
    """Once the exit is on record: if the policy restarts it, the row becomes "restarting"
    and a detached waiter (`pyctr _restart ID`) takes it from there.  Returns whether."""
    record = store.get_container(container_id)
    if record is None or record.status != "exited" or not wanted(config, record):
        return False
    from ..runtime.process import start_time
    me = os.getpid()
    # held by us until the waiter is known: a row whose holder died is shown exited again
    if not store.update_container(container_id, {"status": "exited", "pid": record.pid}, status="restarting",
                                  pid=me, pid_start=start_time(me), restart_delay=next_delay(record)):
        return False
    try:
        waiter = _spawn(paths, container_id)
    except OSError:
        store.update_container(container_id, {"status": "restarting", "pid": me}, status="exited")
        raise
    store.update_container(container_id, {"status": "restarting", "pid": me}, pid=waiter,
                           pid_start=start_time(waiter))
    return True


def _spawn(paths: Paths, container_id: str) -> int:
    """`pyctr _restart ID` in a session of its own, none of our fds (a foreground run's
    reader must not wait for it), in / (as the monitor's cleanup)."""
    import subprocess
    # not through the warm process: a waiter outlives any one server (a worker dies with it)
    return subprocess.Popen(paths.pyctr_command("_restart", container_id, warm=False), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            close_fds=True, cwd="/").pid


def wait_and_start(paths: Paths, store: Store, container_id: str) -> None:
    """`pyctr _restart ID`: the back-off waited out (cancelled by anyone who moves the row
    on: stop, kill, start, rm), then the container started under a new monitor."""
    me = os.getpid()
    record = _still_ours(store, container_id, me)
    if record is None:
        return
    deadline = time.monotonic() + (record.restart_delay or BACKOFF_START)
    while time.monotonic() < deadline:
        time.sleep(min(POLL, max(0.0, deadline - time.monotonic())))
        if _still_ours(store, container_id, me) is None:
            return
    from .lifecycle import start
    start(paths, store, container_id, restarted=True)


def _still_ours(store: Store, container_id: str, me: int, tries: int = 40) -> ContainerRecord | None:
    """The row while it is "restarting" and held by us.  At first the cleanup that made
    us may not have put our pid on it yet: give it a moment."""
    for _ in range(tries):
        record = store.get_container(container_id)
        if record is None or record.status != "restarting":
            return None
        if record.pid == me:
            return record
        time.sleep(POLL)
    return None


def boot(paths: Paths, store: Store) -> list[tuple[str, Exception | None]]:
    """After a reboot (the pyctr-restart unit), or whenever their monitors are gone: every
    container whose policy is always, or unless-stopped and not stopped by a user, started
    again.  Returns (name, None or the error) for each one it tried."""
    from . import containers, lifecycle, views
    done = []
    for record in store.list_containers():
        record = views.refresh(paths, store, record)
        if record.status in ("running", "starting", "restarting") or record.started is None:
            continue  # (one made but never started stays so, as with docker)
        name, _ = policy(containers.read_config(paths, record.id))
        if name == "always" or (name == "unless-stopped" and not record.stopped_by_user):
            try:
                lifecycle.start(paths, store, record.id)
                done.append((record.name, None))
            except Exception as e:  # noqa: BLE001 - one container's failure stops no other
                done.append((record.name, e))
    return done
