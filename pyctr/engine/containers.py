"""The engine's container records once made (create.py makes them): look one up, read its
config, claim it for a start, ask the runtime whether it runs, put its exit on record
(the cleanup), remove it.
"""

import os
import time

from .. import fastjson
from ..records import as_dict, record
from ..runtime import _core
from ..runtime import plan as oci_config
from ..runtime.errors import ConfigError, RuntimeFailure
from ..runtime.process import alive, start_time
from . import events
from .errors import ENGINE_ERROR, Conflict, NotFound, PyctrError
from .paths import Paths
from .store import ContainerRecord, Store


def write_config(paths: Paths, container_id: str, config: dict) -> None:
    fastjson.write(paths.container_file(container_id, "config"), config)


def read_config(paths: Paths, container_id: str) -> dict | None:
    """The container's OCI config (its bundle's config.json), or None if it has none."""
    try:
        return oci_config.load(paths.container_dir(container_id))
    except ConfigError:
        return None


def discard(paths: Paths, store: Store, container_id: str, best_effort: bool = True,
            config: dict | None = None) -> list[str]:
    """Removes what the runtime holds of a container (cgroup, state), its directory and its
    row, in that order: the row goes last, so a crash in between leaves something `rm` can
    still find and clean.  On a failed start (`best_effort`) what will not go is returned
    as warnings and the rest removed; `rm` instead stops there and keeps the row for
    another try.  `config`: the container's, if the caller has it at hand."""
    warnings = []
    record = store.get_container(container_id)
    config = config or read_config(paths, container_id)
    try:
        runtime_of(paths, record).delete(container_id, config)
    except (RuntimeFailure, OSError) as e:
        if not best_effort:
            raise PyctrError(f"cannot remove {container_id[:12]}: {e}") from None
        warnings.append(str(e))
    return warnings + _release_networks(paths, store, container_id) + \
        _remove_records(paths, store, container_id, best_effort, record, config)


def _release_networks(paths: Paths, store: Store, container_id: str) -> list[str]:
    """Its leases, ports and hosts entries let go once it has stopped; what would not go
    (an nftables failure), as warnings: the rows go all the same, and a sweep finds the rest."""
    from . import endpoints
    try:
        endpoints.release(paths, store, container_id)
    except Exception as e:  # noqa: BLE001 - the container's removal must not stop here
        return [f"cannot release the networks of {container_id[:12]}: {e}"]
    return []


def _remove_records(paths: Paths, store: Store, container_id: str, best_effort: bool,
                    record: ContainerRecord | None, config: dict | None) -> list[str]:
    """The engine's part of discard, once the runtime's is done: the directory, then the
    row (`record`, if there is one: its destroy event goes with it)."""
    warnings = []
    try:
        _core.remove_tree(paths.container_dir(container_id))
    except OSError as e:
        if not best_effort:
            raise PyctrError(f"cannot remove {e.filename}: {e.strerror}") from None
        warnings.append(f"cannot remove {e.filename}: {e.strerror}")
    if record is not None:
        events.container(store, "destroy", record, config)  # in the row's removal
    store.remove_container(container_id)
    return warnings


def discard_after(error: BaseException, paths: Paths, store: Store, container_id: str) -> None:
    """A failed start's container discarded, and the volumes its run made; what would not
    go rides on `error` as notes."""
    volumes = [v.name for v in store.container_volumes(container_id)]
    record = store.get_container(container_id)
    config = read_config(paths, container_id)
    if record is not None and record.status == "running":  # its start was on record: docker's die
        events.container(store, "die", record, config, exitCode=getattr(error, "exit_code", ENGINE_ERROR))
    warnings = discard(paths, store, container_id, config=config)
    if volumes:
        from .volumes import drop_made_by
        warnings += drop_made_by(paths, store, container_id, volumes)
    for warning in warnings:
        error.add_note(warning)


def lookup(store: Store, name_or_id: str) -> ContainerRecord:
    matches = store.find_containers(name_or_id)
    if not matches:
        raise NotFound(f"no such container: {name_or_id}")
    if len(matches) > 1:
        raise Conflict(f"{name_or_id} matches {len(matches)} containers: give more of the id")
    return matches[0]


def runtime_root(paths: Paths, record: ContainerRecord | None) -> str:
    """Where the runtime keeps a container's state: the runroot it was made under, whatever
    runroot a later command is given; this command's for a row from before rows said."""
    return (record.runtime_root if record else None) or paths.runtime_root


def runtime_of(paths: Paths, record: ContainerRecord | None):
    """The runtime a container runs on, with its state root: pyctr's own (runtime/own.py),
    or the OCI runtime binary its row names (--runtime; runtime/external.py), whose state
    is a directory of its own under the runroot: runc keeps <root>/<id>/state.json too."""
    root = runtime_root(paths, record)
    if record is None or not record.runtime:
        from ..runtime.own import Own
        return Own(root)
    from ..runtime.external import External
    return External(record.runtime, os.path.join(root, "runtimes", os.path.basename(record.runtime)))


def runtime_state(paths: Paths, record: ContainerRecord):
    """The runtime's state of a container whose row says it runs, while its process lives
    (pid and start time checked, so a reused pid does not make it look alive); else None."""
    if record.status != "running":
        return None
    saved = runtime_of(paths, record).status(record.id)
    if saved is None and record.pid_start is not None and not record.runtime:
        saved = _adopt(paths, record)
    if saved is None or saved.current_status() == "stopped":
        return None
    return saved


def _adopt(paths: Paths, record: ContainerRecord):
    """A container started by a pyctr from before the runtime kept state (its row has the
    pid's start time; rows since leave that to the runtime): the runtime takes it on."""
    config = read_config(paths, record.id)
    if config is None:
        return None
    return runtime_of(paths, record).adopt(record.id, config, paths.container_dir(record.id), record.pid,
                                           record.pid_start)


def is_running(paths: Paths, record: ContainerRecord) -> bool:
    return runtime_state(paths, record) is not None


def is_paused(paths: Paths, record: ContainerRecord, saved=None) -> bool:
    """A running container whose processes are frozen (`pause`): its cgroup's freezer says.
    `saved`: the runtime's state of it (runtime_state), if the caller has it."""
    return record.status == "running" and runtime_of(paths, record).paused(record.id, saved)


def holder_alive(record: ContainerRecord) -> bool:
    """A "starting" row's pyctr (its pid and start time) is still at work."""
    return alive(record.pid, record.pid_start)


def claim(store: Store, record: ContainerRecord) -> bool:
    """A stopped container becomes "starting", held by this process; False when another
    pyctr changed the row first (it started it, or removed it)."""
    me = os.getpid()
    return store.update_container(record.id, expect={"status": record.status, "pid": record.pid},
                                  status="starting", pid=me, pid_start=start_time(me))


# The exit, put on record: the code the monitor wrote, the runtime's last word (its
# cgroup's figures and OOM count, then its cgroup and state removed), or with --rm the
# whole container removed.

@record
class Cleanup:
    """What the cleanup found: the cgroup's last figures (None without), and what it could
    not remove of a --rm container."""
    stats: object = None
    warnings: list[str] = []


def read_exit(paths: Paths, container_id: str) -> int | None:
    """The exit code the monitor wrote, if it has."""
    try:
        with open(paths.container_file(container_id, "exit")) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def forget_exit(paths: Paths, store: Store, container_id: str) -> None:
    """Before a stopped container starts again: the last run's word cleared."""
    try:
        os.unlink(paths.container_file(container_id, "exit"))
    except FileNotFoundError:
        pass
    store.update_container(container_id, exit_code=None, finished=None, oom_killed=0, final_stats=None)


def cleanup_after_monitor(paths: Paths, container_id: str) -> None:
    """`pyctr _cleanup ID`, which a monitor runs when its container exits: the cleanup,
    unless the container was removed meanwhile (rm -f), in which case nothing is made, not
    even a store."""
    if os.path.isdir(paths.container_dir(container_id)):
        cleanup(paths, Store(paths.db), container_id)


def cleanup(paths: Paths, store: Store, container_id: str, config: dict | None = None) -> Cleanup:
    """Once the container exited (by the monitor, or the owner that stayed with it): the
    runtime's cgroup and state removed, its last figures kept; then the exit recorded, or
    with --rm the container removed.  `config`: its config, if the caller has it at hand."""
    record = store.get_container(container_id)
    if record is None:  # removed meanwhile (rm -f)
        return Cleanup()
    config = config or read_config(paths, container_id)
    if config is None:
        return Cleanup()
    from .spec import AUTOREMOVE, RESTART, USER_MOUNTS, annotated  # not on exec's path
    autoremove = annotated(config, AUTOREMOVE)
    # with --rm no figures are kept: only the OOM count, for the message
    runtime = runtime_of(paths, record)
    stats = runtime.stats(container_id, only_oom=autoremove)
    code = read_exit(paths, container_id)
    try:
        runtime.delete(container_id, config)
    except BaseException:
        _died(store, record, config, code, stats)
        _record_exit(store, record, code, stats)  # all the same; rm retries the cgroup
        raise
    # queued for the next write: the networks' release (as docker's, die comes before
    # their disconnect), or else the exit's record or the row's removal
    _died(store, record, config, code, stats)
    network_warnings = _release_networks(paths, store, container_id)
    if autoremove:  # no exit to record: the row goes (the runtime's part is done), and
        # its anonymous volumes with it, as docker's --rm
        volumes = store.container_volumes(container_id) if USER_MOUNTS in config.get("annotations", {}) else []
        warnings = network_warnings + _remove_records(paths, store, container_id, True, record, config)
        if volumes:
            from .volumes import drop_anonymous
            warnings += drop_anonymous(paths, store, volumes)
        return Cleanup(stats, warnings)
    _record_exit(store, record, code, stats)
    if RESTART in config.get("annotations", {}):  # its restart policy's turn (restarts.py)
        from .restarts import after_exit
        after_exit(paths, store, container_id, config)
    return Cleanup(stats, network_warnings)


def _record_exit(store: Store, record: ContainerRecord, code: int | None, stats) -> None:
    changes = {"status": "exited", "exit_code": code, "finished": time.time()}
    if stats is not None:
        changes.update(oom_killed=int(stats.oom_kills > 0), final_stats=fastjson.dumps(as_dict(stats)))
    store.update_container(record.id, **changes)


def _died(store: Store, record: ContainerRecord, config: dict, code: int | None, stats) -> None:
    """docker's events of an exit, queued for the store's next transaction: oom (if the
    cgroup's OOM killer struck), then die with its exit code and how long it ran."""
    if stats is not None and stats.oom_kills > 0:
        events.container(store, "oom", record, config)
    extra = {"exitCode": code} if code is not None else {}
    if record.started:
        extra["execDuration"] = int(time.time() - record.started)
    events.container(store, "die", record, config, **extra)
