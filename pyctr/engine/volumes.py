"""Volumes: a container's user mounts decided (-v, --mount, --tmpfs, --volumes-from, the
image's Volumes) and written into its config; named and anonymous volumes kept at
<root>/volumes/<name>/_data (docker's layout) and recorded in the store.

A volume is made on first use in the transaction that records its container (store.py),
its directory then made and, while empty, filled from the image's content at the mount
point, as docker does.  A run that fails takes the volumes it made with it.
"""

import os
import posixpath
import time

from .. import fastjson
from ..records import as_dict
from ..runtime import _core
from ..runtime.plan import ROOTFS_OPTIONS
from . import events, mounts
from .errors import Conflict, NotFound, PyctrError
from .mounts import MountRequest
from .paths import Paths
from .spec import USER_MOUNTS as MOUNTS
from .store import Store, VolumeRecord


def data_dir(paths: Paths, name: str) -> str:
    return os.path.join(paths.under_root("volumes"), name, "_data")


def apply(paths: Paths, store: Store, opts, image_config: dict, config: dict) -> None:
    """The run's mounts into `config`: -v, --mount and --tmpfs (one per destination), then
    what --volumes-from and the image's Volumes add where those left room."""
    requests = _user_requests(opts)
    taken = {r.destination for r in requests}
    for name in opts.volumes_from:
        for request in _from_container(paths, store, name):
            if request.destination not in taken:
                taken.add(request.destination)
                requests.append(request)
    for path in sorted((image_config.get("config") or {}).get("Volumes") or {}):
        if path.startswith("/") and posixpath.normpath(path) not in taken:
            requests.append(MountRequest("volume", posixpath.normpath(path), anonymous=True))
            taken.add(requests[-1].destination)
    for request in requests:
        if request.type == "volume" and request.anonymous and not request.source:
            request.source = os.urandom(32).hex()  # docker's anonymous names
    requests.sort(key=mounts.depth)
    config["mounts"].extend(mounts.oci_mount(r, data_dir(paths, r.source)) for r in requests)
    config["annotations"][MOUNTS] = fastjson.dumps([as_dict(r) for r in requests])


def _user_requests(opts) -> list[MountRequest]:
    requests = [*map(mounts.parse_volume, opts.volumes), *map(mounts.parse_mount, opts.mounts),
                *map(mounts.parse_tmpfs, opts.tmpfs)]
    seen = set()
    for request in requests:
        if request.destination in seen:
            raise PyctrError(f"duplicate mount point: {request.destination}")
        seen.add(request.destination)
        if request.type == "bind" and not request.make_source and not os.path.exists(request.source):
            raise PyctrError(f'invalid mount config for type "bind": bind source path does not exist: {request.source}')
    return requests


def _from_container(paths: Paths, store: Store, spec: str) -> list[MountRequest]:
    """--volumes-from: the other container's binds and volumes, read-only or not as it
    has them unless :ro or :rw says."""
    from .containers import lookup, read_config
    name, mode = mounts.parse_volumes_from(spec)
    source = lookup(store, name)
    taken = []
    for request in requests_of(read_config(paths, source.id) or {}):
        if request.type == "tmpfs":
            continue
        if mode:
            request.readonly = mode == "ro"
        request.make_source = False
        taken.append(request)
    return taken


def requests_of(config: dict) -> list[MountRequest]:
    """A container's user mounts, read back from its config."""
    text = (config.get("annotations") or {}).get(MOUNTS)
    return [MountRequest(**r) for r in fastjson.loads(text)] if text else []


def used(config: dict) -> list[tuple[str, bool]]:
    """(name, anonymous) of every volume the container mounts: for its row."""
    return [(r.source, r.anonymous) for r in requests_of(config) if r.type == "volume"]


def inspect_mounts(paths: Paths, config: dict) -> list[dict]:
    return [mounts.inspect_shape(r, data_dir(paths, r.source) if r.type == "volume" else None)
            for r in requests_of(config)]


# Directories: made, filled, removed.

def prepare(paths: Paths, config: dict) -> None:
    """Before the container starts (its row written): a -v host directory that is missing
    made, and each volume's directory made and, while empty, filled from the image."""
    lowers = _lowers(config)
    for request in requests_of(config):
        if request.type == "bind" and request.make_source and not os.path.lexists(request.source):
            os.makedirs(request.source, exist_ok=True)
        elif request.type == "volume":
            data = data_dir(paths, request.source)
            os.makedirs(os.path.dirname(os.path.dirname(data)), mode=0o700, exist_ok=True)
            os.makedirs(data, mode=0o755, exist_ok=True)
            if not request.nocopy and _in_image(lowers, request.destination) and not os.listdir(data):
                fill(paths, lowers, request.destination, data)


def _lowers(config: dict) -> list[str]:
    options = (config.get("annotations") or {}).get(ROOTFS_OPTIONS, "")
    for part in options.split(","):
        if part.startswith("lowerdir="):
            return part[len("lowerdir="):].split(":")
    return []


def _in_image(lowers: list[str], inside: str) -> bool:
    """Whether the image may have something at `inside`: some layer has its first
    component (a link there may lead anywhere in the image).  No: no copier is started,
    which costs 25 ms."""
    first = inside.strip("/").split("/", 1)[0]
    return any(os.path.lexists(os.path.join(lower, first)) for lower in lowers)


def fill(paths: Paths, lowers: list[str], inside: str, data: str) -> None:
    """The image's content at `inside` copied into the volume's directory `data`: owners,
    modes, xattrs and links kept.  The layers are merged by a read-only overlay in a mount
    namespace of the copying process only, which leaves nothing behind; the image's links
    are resolved inside that view, never on the host's.  The copy is made in a directory
    no container sees, then renamed into `data` entry by entry: a container that has the
    volume mounted already cannot plant a link for the copy to write through."""
    import subprocess  # a run that fills nothing does not load it
    import sys
    scratch = paths.under_root("tmp")
    os.makedirs(scratch, mode=0o700, exist_ok=True)
    work = os.path.join(scratch, "fill-" + os.urandom(8).hex())
    os.mkdir(work, 0o700)
    try:
        staged = os.path.join(work, "copy")
        os.mkdir(staged, 0o700)
        r = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable, "-I", "-c",
                            "import sys; from pyctr.engine.volumes import _fill_here; _fill_here(*sys.argv[1:])",
                            ":".join(lowers), work, inside, staged], capture_output=True, text=True)
        if r.returncode != 0:
            lines = (r.stderr.strip() or f"exit {r.returncode}").splitlines()
            raise PyctrError(f"cannot fill the volume at {inside} from the image: {lines[-1]}")
        _move_into(staged, data)
    finally:
        _core.remove_tree(work)


def _move_into(staged: str, data: str) -> None:
    """`staged`'s entries renamed into `data` (rename follows no link; an entry the
    container made meanwhile stays, as it would have after a copy), and its owner and mode
    given to `data`, as docker gives the image directory's."""
    for name in os.listdir(staged):
        try:
            os.rename(os.path.join(staged, name), os.path.join(data, name))
        except OSError:
            pass
    st = os.stat(staged)
    fd = os.open(data, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.fchown(fd, st.st_uid, st.st_gid)
        os.fchmod(fd, st.st_mode & 0o7777)
    finally:
        os.close(fd)


def _fill_here(lowers: str, work: str, inside: str, data: str) -> None:  # pragma: no cover - in a subprocess
    """In the copying process's own mount namespace: the merged view, then cp -a."""
    import subprocess
    empty, merged = os.path.join(work, "empty"), os.path.join(work, "merged")
    os.mkdir(empty)
    os.mkdir(merged)
    # an empty bottom layer: overlay takes no lone lower dir without an upper one
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", f"ro,lowerdir={lowers}:{empty}", merged], check=True)
    source = resolve_in(merged, inside)
    if source is not None and os.path.isdir(source) and not os.path.islink(source):
        subprocess.run(["cp", "-a", "--", source + "/.", data + "/"], check=True)
    else:
        os.chmod(data, 0o755)  # nothing to copy: the volume keeps docker's default mode


def resolve_in(root: str, path: str, hops: int = 40) -> str | None:
    """`path` inside `root` with links followed as if `root` were /: never above it.  None
    past `hops` links.  Only for trees nobody changes meanwhile (the read-only view)."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    done: list[str] = []
    while parts:
        part = parts.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        candidate = os.path.join(root, *done, part)
        if os.path.islink(candidate):
            hops -= 1
            if hops < 0:
                return None
            target = os.readlink(candidate)
            if target.startswith("/"):
                done = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        done.append(part)
    return os.path.join(root, *done)


def _remove_dirs(paths: Paths, names: list[str]) -> list[str]:
    """The volumes' directories, after their rows went; what would not go, as warnings."""
    warnings = []
    for name in names:
        try:
            _core.remove_tree(os.path.dirname(data_dir(paths, name)))
        except FileNotFoundError:
            pass
        except OSError as e:
            warnings.append(f"cannot remove volume {name}: {e.strerror}")
    return warnings


def drop_made_by(paths: Paths, store: Store, container_id: str, names: list[str]) -> list[str]:
    """After a failed run, the volumes it made (those no other container took up since)."""
    return _remove_dirs(paths, _destroyed(store, store.remove_unused_volumes(names, creator=container_id)))


def drop_anonymous(paths: Paths, store: Store, volumes: list[VolumeRecord]) -> list[str]:
    """`rm -v`, `run --rm`: a removed container's anonymous volumes, unless another uses them."""
    return _remove_dirs(paths, _destroyed(store, store.remove_unused_volumes([v.name for v in volumes if v.anonymous])))


def _destroyed(store: Store, names: list[str]) -> list[str]:
    """docker's destroy events of the volumes removed (in one transaction); the names."""
    if names:
        with store.transaction():
            for name in names:
                events.emit(store, "volume", "destroy", name, driver="local")
    return names


def made_by(store: Store, db, container_id: str) -> None:
    """In add_container's transaction, after its volumes' rows: docker's create events of
    those this container's run made (the rows it inserted name it their creator)."""
    for (name,) in db.execute("SELECT name FROM volumes WHERE creator = ?", (container_id,)).fetchall():
        events.emit(store, "volume", "create", name, driver="local")


# `pyctr volume ...`

def create(paths: Paths, store: Store, name: str | None, labels: list[str], driver: str = "local") -> str:
    if driver != "local":
        raise PyctrError(f"volume driver {driver!r} is not supported: only local")
    anonymous = not name
    name = mounts.check_volume_name(name) if name else os.urandom(32).hex()
    parsed = {}
    for label in labels:
        key, _, value = label.partition("=")
        if not key:
            raise PyctrError(f"invalid label: {label!r}")
        parsed[key] = value
    if store.create_volume(VolumeRecord(name, time.time(), "local", parsed, anonymous)):
        events.emit(store, "volume", "create", name, driver=driver)
    os.makedirs(data_dir(paths, name), mode=0o755, exist_ok=True)
    return name


def lookup(store: Store, name: str) -> VolumeRecord:
    volume = store.get_volume(name)
    if volume is None:
        raise NotFound(f"no such volume: {name}")
    return volume


def inspect(paths: Paths, store: Store, name: str) -> dict:
    """docker volume inspect's shape."""
    from ..timestamps import rfc3339
    volume = lookup(store, name)
    return {"CreatedAt": rfc3339(volume.created), "Driver": volume.driver, "Labels": volume.labels or None,
            "Mountpoint": data_dir(paths, volume.name), "Name": volume.name, "Options": None, "Scope": "local"}


def listing(store: Store, dangling: bool | None = None) -> list[VolumeRecord]:
    """Every volume; with `dangling`, only those no container uses (or only those used)."""
    volumes = store.list_volumes()
    if dangling is None:
        return volumes
    return [v for v in volumes if (not store.volume_users(v.name)) == dangling]


def remove(paths: Paths, store: Store, name: str, force: bool = False) -> None:
    """A volume no container uses, stopped ones included; `force` only makes a missing
    one no error (docker's -f)."""
    if store.get_volume(name) is None:
        if force:
            return
        raise NotFound(f"no such volume: {name}")
    if not _destroyed(store, store.remove_unused_volumes([name])):
        users = store.volume_users(name)
        raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
    for warning in _remove_dirs(paths, [name]):
        raise PyctrError(warning)


def prune(paths: Paths, store: Store, all_volumes: bool = False) -> tuple[list[str], int]:
    """Unused volumes removed: anonymous ones, or with `all_volumes` named ones too
    (docker 23's rule).  Returns their names and the bytes freed."""
    candidates = [v.name for v in listing(store, dangling=True) if all_volumes or v.anonymous]
    sizes = {name: _size(data_dir(paths, name)) for name in candidates}
    removed = _destroyed(store, store.remove_unused_volumes(candidates))
    _remove_dirs(paths, removed)
    return removed, sum(sizes[n] for n in removed)


def size(path: str) -> int:
    """Bytes on disk below `path` (du's count); nothing followed."""
    return _size(path)


def _size(path: str) -> int:
    total = 0
    for top, dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(top, f)).st_blocks * 512
            except OSError:
                pass
    return total
