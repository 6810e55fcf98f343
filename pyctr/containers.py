"""The engine's container records: create (record, rootfs dirs, config.json), look up,
update, remove.  Starting one is running.py's, under the monitor (monitor.py).

A `run` that fails before the container's command starts leaves nothing behind: no row,
no directory.
"""

import errno
import os
import time

from . import _core, fastjson, images, runtime
from .errors import CANNOT_EXECUTE, NOT_FOUND, Conflict, NotFound, PyctrError
from .names import new_id, random_name, valid_name
from .paths import Paths
from .render import print_error
from .spec import RootfsLayout, RunOptions, build_spec
from .store import ContainerRecord, Store


def layout_for(paths: Paths, container_id: str, lowers: list[str]) -> RootfsLayout:
    cdir = paths.container_dir(container_id)
    return RootfsLayout(lowers, os.path.join(cdir, "upper"), os.path.join(cdir, "work"),
                        os.path.join(cdir, "rootfs"))


def write_spec(paths: Paths, container_id: str, spec: dict) -> None:
    _write_atomic(os.path.join(paths.container_dir(container_id), "config.json"), fastjson.dumps(spec))


def _write_atomic(path: str, data: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(data)
    os.rename(tmp, path)


def new(paths: Paths, store: Store, opts: RunOptions) -> tuple[ContainerRecord, dict]:
    """A container decided (image, id, name, config) but nothing written: `write_new`
    makes it startable.  `run` does that while its fork clones the container."""
    if opts.name is not None and not valid_name(opts.name):
        raise PyctrError(f"invalid container name {opts.name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    image = images.resolve(paths, store, opts.image)
    container_id = new_id()
    layout = layout_for(paths, container_id, images.lower_dirs(paths, image))
    spec = build_spec(opts, image.config, container_id, layout)
    name = opts.name or random_name(lambda n: bool(store.find_containers(n)))
    # "starting", held by this process, until the container runs (or the row says why not)
    me = os.getpid()
    record = ContainerRecord(container_id, name, image.id, opts.image, spec["process"]["args"], time.time(),
                             status="starting", pid=me, pid_start=runtime.start_time(me))
    return record, spec


def write_new(paths: Paths, store: Store, record: ContainerRecord, spec: dict) -> None:
    """A new container's row, its dirs and its config.json: everything up to a startable
    container.  A name taken meanwhile is a Conflict, and then nothing is left."""
    store.add_container(record)
    try:
        layout = layout_for(paths, record.id, [])
        for d in (layout.upper, layout.work, layout.mountpoint):
            os.makedirs(d, mode=0o700)
        write_spec(paths, record.id, spec)
    except BaseException:
        discard(paths, store, record.id, spec=spec)
        raise


def read_spec(paths: Paths, container_id: str) -> dict | None:
    try:
        with open(os.path.join(paths.container_dir(container_id), "config.json")) as f:
            return fastjson.loads(f.read())
    except (OSError, ValueError):
        return None


def discard(paths: Paths, store: Store, container_id: str, best_effort: bool = True, spec: dict | None = None) -> None:
    """Removes a container's cgroup, directory and row, in that order: the row goes last,
    so a crash in between leaves something `rm` can still find and clean.  On a failed
    start (`best_effort`) a cgroup that will not go is reported and the rest removed;
    `rm` instead stops there and keeps the row for another try.  `spec`: its config, if
    the caller has read it already."""
    spec = spec or read_spec(paths, container_id)
    try:
        cgroup = runtime.cgroup_of(spec) if spec else None
        if cgroup is not None:
            cgroup.destroy()
    except PyctrError as e:
        if not best_effort:
            raise
        print_error(f"warning: {e}")
    try:
        _core.remove_tree(paths.container_dir(container_id))
    except OSError as e:
        if not best_effort:
            raise PyctrError(f"cannot remove {e.filename}: {e.strerror}") from None
        print_error(f"warning: cannot remove {e.filename}: {e.strerror}")
    store.remove_container(container_id)


def start_error(err: runtime.ChildError, argv0: str) -> PyctrError:
    """A child failure as docker words it, with docker's exit code."""
    reason = os.strerror(err.errno) if err.errno else ""
    if err.stage == "exec":
        if err.errno in (errno.ENOENT, errno.ENOTDIR):
            if "not found in $PATH" in err.message:
                return PyctrError(f'exec: "{argv0}": executable file not found in $PATH', NOT_FOUND)
            return PyctrError(f'exec: "{argv0}": {reason.lower()}', NOT_FOUND)
        return PyctrError(f'exec: "{argv0}": {reason.lower()}', CANNOT_EXECUTE)
    return PyctrError(f"container start failed at {err.stage}: {err.message}: {reason}")


def lookup(store: Store, name_or_id: str) -> ContainerRecord:
    matches = store.find_containers(name_or_id)
    if not matches:
        raise NotFound(f"no such container: {name_or_id}")
    if len(matches) > 1:
        raise Conflict(f"{name_or_id} matches {len(matches)} containers: give more of the id")
    return matches[0]


def is_running(record: ContainerRecord) -> bool:
    """True only while the recorded pid is the same process (pid and start time): a reused
    pid does not make a dead container look alive."""
    return record.status == "running" and pid_alive(record)


def pid_alive(record: ContainerRecord) -> bool:
    """The row's pid (the container's, or while "starting" the pyctr starting it) is still
    the process it was."""
    return (record.pid is not None and record.pid_start is not None
            and runtime.start_time(record.pid) == record.pid_start)


def claim(store: Store, record: ContainerRecord) -> bool:
    """A stopped container becomes "starting", held by this process; False when another
    pyctr changed the row first (it started it, or removed it)."""
    me = os.getpid()
    return store.update_container(record.id, expect={"status": record.status, "pid": record.pid},
                                  status="starting", pid=me, pid_start=runtime.start_time(me))


def update_resources(paths: Paths, store: Store, name: str, options) -> None:
    """`update`: new limits onto a running container's cgroup and into its config.json."""
    from .resources import build_resources, merge
    record = lookup(store, name)
    if not is_running(record):
        raise Conflict(f"container {name} is not running")
    if not options.given():
        raise PyctrError("you must provide one or more flags when using this command")
    spec = read_spec(paths, record.id)
    if spec is None:
        raise PyctrError(f"container {name} has no config.json")
    changes = build_resources(options, current=spec["linux"].get("resources") or {})
    resources = merge(spec["linux"].get("resources") or {}, changes)
    cgroup = runtime.cgroup_of(spec)
    try:
        # the whole memory section, so limit and swap move together
        cgroup.apply({**changes, **({"memory": resources["memory"]} if "memory" in changes else {})})
    except runtime.CgroupError as e:
        raise PyctrError(f"cannot update {name}: {e}") from None
    spec["linux"]["resources"] = resources
    write_spec(paths, record.id, spec)


def remove(paths: Paths, store: Store, name: str, force: bool = False) -> str:
    """`rm`: a stopped container goes; a running one only with `force` (killed first)."""
    record = lookup(store, name)
    if record.status == "starting" and pid_alive(record):
        raise Conflict(f"container {record.id[:12]} is starting: try again once it runs")
    if is_running(record):
        if not force:
            raise Conflict(f"you cannot remove a running container {record.id[:12]}: stop it first or use -f")
        spec = read_spec(paths, record.id)
        cgroup = runtime.cgroup_of(spec) if spec else None
        if cgroup is not None:
            cgroup.kill_all()
        else:
            os.kill(record.pid, 9)
    # a detached container's monitor (and the cleanup it ends in) writes into the
    # container's directory to the end, even after a plain stop
    from .monitor import wait_monitor_gone
    wait_monitor_gone(paths, record.id)
    discard(paths, store, record.id, best_effort=False)
    return record.id
