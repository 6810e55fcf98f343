"""A new container, decided (image, id, name, config) and then written (row, rootfs dirs,
config.json): what `run` does before its container starts.

A `run` that fails before the container's command starts leaves nothing behind: no row,
no directory, nothing of the runtime's.
"""

import os
import time

from ..runtime.process import start_time
from . import endpoints, events, image_lookup, runtimes
from .containers import discard_after, write_config
from .errors import Conflict, PyctrError
from .launch import RESOLVED, reached
from .names import new_id, random_name, valid_name
from .paths import Paths
from .spec import USER_MOUNTS, RootfsLayout, RunOptions, build_spec
from .store import ContainerRecord, Store


NAME_ATTEMPTS = 5
# the images lock each new container holds (image_lookup.pin) from its image's lookup
# until its row is written
_PINS: dict[str, int] = {}


def layout_for(paths: Paths, container_id: str, lowers: list[str]) -> RootfsLayout:
    return RootfsLayout(lowers, *(paths.container_file(container_id, f) for f in ("upper", "work", "rootfs")))


def new(paths: Paths, store: Store, opts: RunOptions) -> tuple[ContainerRecord, dict, object]:
    """A container decided (image, id, name, config, networks) but nothing written:
    `write_new` makes it startable.  `run` does that while its fork clones the container."""
    if opts.name is not None and not valid_name(opts.name):
        raise PyctrError(f"invalid container name {opts.name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    user_ns = _userns_request(opts)
    pinned = image_lookup.pin(paths)  # let go of once the row is written (write_new)
    try:
        record, config, net = _decide(paths, store, opts, user_ns)
    except BaseException:
        image_lookup.unpin(pinned)
        raise
    _PINS[record.id] = pinned
    reached(RESOLVED)
    return record, config, net


def _decide(paths: Paths, store: Store, opts: RunOptions, user_ns) -> tuple[ContainerRecord, dict, object]:
    runtime = runtimes.binary(paths, opts.runtime)  # first: a bad name leaves nothing behind
    image = image_lookup.resolve(paths, store, opts.image)
    container_id = new_id()
    layout = layout_for(paths, container_id, image_lookup.lower_dirs(paths, image))
    config = build_spec(opts, image.config, container_id, layout, cache_dir=paths.under_root("cache"))
    net = endpoints.request(paths, store, opts, image.config)
    endpoints.into_config(paths, config, container_id, net)
    endpoints.joined_namespace(paths, store, config, net.mode)
    if _volumes(opts, image.config):
        from . import volumes
        volumes.apply(paths, store, opts, image.config, config)
    name = opts.name or random_name(store.name_taken)
    # "starting", held by this process, until the container runs (or the row says why not)
    me = os.getpid()
    record = ContainerRecord(container_id, name, image.id, opts.image, config["process"]["args"], time.time(),
                             status="starting", pid=me, pid_start=start_time(me), runtime_root=paths.runtime_root,
                             runtime=runtime)
    if user_ns is not None:  # last: from here on a failed run's discard frees the ranges
        from . import userns
        userns.into_config(config, *userns.assign(store, container_id, user_ns))
    if runtime is not None:
        runtimes.adapt(config)
    return record, config, net


def _userns_request(opts: RunOptions):
    """--userns and --uidmap/--gidmap checked, before anything is looked up."""
    if not (opts.userns or opts.uidmap or opts.gidmap):
        return None  # a run without: nothing more imported
    from . import userns
    return userns.request(opts.userns, opts.uidmap, opts.gidmap)


def _volumes(opts: RunOptions, image_config: dict) -> bool:
    """Mounts asked for, or volumes the image declares (a run without either imports
    nothing of the volumes)."""
    return bool(opts.volumes or opts.mounts or opts.tmpfs or opts.volumes_from
                or (image_config.get("config") or {}).get("Volumes"))


def release(container_id: str) -> None:
    """Lets go of the images lock a new container held since its image's lookup."""
    image_lookup.unpin(_PINS.pop(container_id, -1))


def write_new(paths: Paths, store: Store, record: ContainerRecord, config: dict, net=None, named: bool = True) -> None:
    """A new container's row (its networks' rows with it), its dirs, its /etc files and
    its config.json: everything up to a startable container.  A name the user gave (`named`) and another pyctr took meanwhile is a
    Conflict, and then nothing is left; a name made up for it is made up again (two runs
    at once can draw the same one)."""
    volumes = None
    if USER_MOUNTS in config.get("annotations", {}):
        from . import volumes
    try:
        used, rows = volumes.used(config) if volumes else (), endpoints.rows(net, record.id) if net else None

        def also(db):  # in the row's transaction: its networks' rows, and docker's events
            if rows:
                rows(db)
            if used:  # the volumes it made first, as docker's
                volumes.made_by(store, db, record.id)
            events.container(store, "create", record, config)
        for attempt in range(NAME_ATTEMPTS):
            try:
                store.add_container(record, used, also=also)
                break
            except Conflict:
                if named or attempt == NAME_ATTEMPTS - 1:
                    raise
                record.name = random_name(store.name_taken)
    finally:  # the row names the image now (or there is no container): rmi may look
        release(record.id)
    try:
        layout = layout_for(paths, record.id, [])
        # 0700 from the container's own dir down: its config carries -e secrets
        os.makedirs(paths.container_dir(record.id), mode=0o700)
        for d in (layout.upper, layout.work, layout.mountpoint):
            os.mkdir(d, mode=0o700)
        # the upper dir's mode is the container's `/`: docker's 0755, or a non-root user
        # inside could not reach /bin (its container dir, 0700, keeps it from the host's)
        os.chmod(layout.upper, 0o755)
        if net:  # (None: a container of no network, not even lo's files: the tests' own)
            endpoints.write_files(paths, record.id, config["hostname"], net)
        write_config(paths, record.id, config)
        if volumes:
            volumes.prepare(paths, config)
    except BaseException as e:
        discard_after(e, paths, store, record.id)
        raise


def make(paths: Paths, store: Store, opts: RunOptions) -> ContainerRecord:
    """`create`: a container written as `run` writes it (row, dirs, /etc files,
    config.json) but not started: status "created", no process, no cgroup, no mount (the
    rootfs is mounted inside the container's own mount namespace, at its start).  `start`
    does the rest, as for an exited container."""
    record, config, net = new(paths, store, opts)
    # not "starting" (held by this process): nothing will start it but a `start`
    record.status, record.pid, record.pid_start = "created", None, None
    write_new(paths, store, record, config, net, named=opts.name is not None)
    return record
