"""The engine's container records: create one (row, rootfs dirs, config.json), look it up,
claim it for a start, ask the runtime whether it runs, remove it.

A `run` that fails before the container's command starts leaves nothing behind: no row,
no directory, nothing of the runtime's.
"""

import os
import time

from .. import fastjson
from ..files import write_atomic
from ..runtime import _core
from ..runtime import config as oci_config
from ..runtime import container as runtime
from ..runtime.errors import ConfigError, RuntimeFailure
from ..runtime.pids import alive, start_time
from . import image_lookup
from .errors import Conflict, NotFound, PyctrError
from .names import new_id, random_name, valid_name
from .paths import Paths
from .spec import RootfsLayout, RunOptions, build_spec
from .store import ContainerRecord, Store


def layout_for(paths: Paths, container_id: str, lowers: list[str]) -> RootfsLayout:
    return RootfsLayout(lowers, *(paths.container_file(container_id, f) for f in ("upper", "work", "rootfs")))


def write_config(paths: Paths, container_id: str, config: dict) -> None:
    write_atomic(paths.container_file(container_id, "config"), fastjson.dumps(config))


def read_config(paths: Paths, container_id: str) -> dict | None:
    """The container's OCI config (its bundle's config.json), or None if it has none."""
    try:
        return oci_config.load(paths.container_dir(container_id))
    except ConfigError:
        return None


def new(paths: Paths, store: Store, opts: RunOptions) -> tuple[ContainerRecord, dict]:
    """A container decided (image, id, name, config) but nothing written: `write_new`
    makes it startable.  `run` does that while its fork clones the container."""
    if opts.name is not None and not valid_name(opts.name):
        raise PyctrError(f"invalid container name {opts.name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    image = image_lookup.resolve(paths, store, opts.image)
    container_id = new_id()
    layout = layout_for(paths, container_id, image_lookup.lower_dirs(paths, image))
    config = build_spec(opts, image.config, container_id, layout)
    name = opts.name or random_name(lambda n: bool(store.find_containers(n)))
    # "starting", held by this process, until the container runs (or the row says why not)
    me = os.getpid()
    record = ContainerRecord(container_id, name, image.id, opts.image, config["process"]["args"], time.time(),
                             status="starting", pid=me, pid_start=start_time(me))
    return record, config


def write_new(paths: Paths, store: Store, record: ContainerRecord, config: dict) -> None:
    """A new container's row, its dirs and its config.json: everything up to a startable
    container.  A name taken meanwhile is a Conflict, and then nothing is left."""
    store.add_container(record)
    try:
        layout = layout_for(paths, record.id, [])
        for d in (layout.upper, layout.work, layout.mountpoint):
            os.makedirs(d, mode=0o700)
        write_config(paths, record.id, config)
    except BaseException as e:
        discard_after(e, paths, store, record.id)
        raise


def discard(paths: Paths, store: Store, container_id: str, best_effort: bool = True) -> list[str]:
    """Removes what the runtime holds of a container (cgroup, state), its directory and its
    row, in that order: the row goes last, so a crash in between leaves something `rm` can
    still find and clean.  On a failed start (`best_effort`) what will not go is returned
    as warnings and the rest removed; `rm` instead stops there and keeps the row for
    another try."""
    warnings = []
    try:
        runtime.delete(paths.runtime_root, container_id)
    except (RuntimeFailure, OSError) as e:
        if not best_effort:
            raise PyctrError(f"cannot remove {container_id[:12]}: {e}") from None
        warnings.append(str(e))
    try:
        _core.remove_tree(paths.container_dir(container_id))
    except OSError as e:
        if not best_effort:
            raise PyctrError(f"cannot remove {e.filename}: {e.strerror}") from None
        warnings.append(f"cannot remove {e.filename}: {e.strerror}")
    store.remove_container(container_id)
    return warnings


def discard_after(error: BaseException, paths: Paths, store: Store, container_id: str) -> None:
    """A failed start's container discarded; what would not go rides on `error` as notes."""
    for warning in discard(paths, store, container_id):
        error.add_note(warning)


def lookup(store: Store, name_or_id: str) -> ContainerRecord:
    matches = store.find_containers(name_or_id)
    if not matches:
        raise NotFound(f"no such container: {name_or_id}")
    if len(matches) > 1:
        raise Conflict(f"{name_or_id} matches {len(matches)} containers: give more of the id")
    return matches[0]


def runtime_state(paths: Paths, record: ContainerRecord):
    """The runtime's state of a container whose row says it runs, while its process lives
    (pid and start time checked, so a reused pid does not make it look alive); else None."""
    if record.status != "running":
        return None
    saved = runtime.status(paths.runtime_root, record.id)
    if saved is None or saved.current_status() not in ("created", "running"):
        return None
    return saved


def is_running(paths: Paths, record: ContainerRecord) -> bool:
    return runtime_state(paths, record) is not None


def holder_alive(record: ContainerRecord) -> bool:
    """A "starting" row's pyctr (its pid and start time) is still at work."""
    return alive(record.pid, record.pid_start)


def claim(store: Store, record: ContainerRecord) -> bool:
    """A stopped container becomes "starting", held by this process; False when another
    pyctr changed the row first (it started it, or removed it)."""
    me = os.getpid()
    return store.update_container(record.id, expect={"status": record.status, "pid": record.pid},
                                  status="starting", pid=me, pid_start=start_time(me))
