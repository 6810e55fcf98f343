"""A container's changes: `diff` lists them, `commit` makes them a new image whose top
layer holds only them (its upper dir, overlay whiteouts turned into OCI ones, its mounts
left out) over the layers of the image it was made from, which are shared, not copied.
"""

import os
import threading

from ..images import changes as dockerfile
from ..images import oci
from ..images.image import Image, parse_reference
from ..images.ingest import MEDIA_TYPE, TAR, ingest
from ..runtime.errors import NotRunning
from . import containers, events, images
from .errors import PyctrError
from .image_lookup import blob_store
from .launch import reached
from .paths import Paths
from .spec import DEFAULT_MOUNTS, INIT_PATH
from .store import ContainerRecord, Store

DEFAULT_DESTINATIONS = {m["destination"] for m in DEFAULT_MOUNTS}


def mount_points(config: dict) -> list[str]:
    """What the user mounted into the container (volumes, binds, tmpfs): not its files."""
    return [m["destination"] for m in config.get("mounts") or []
            if m["destination"] not in DEFAULT_DESTINATIONS and m["destination"] != INIT_PATH]


def diff(paths: Paths, store: Store, name: str) -> list[tuple[str, str]]:
    """docker's `diff`: (A|C|D, path), sorted by path."""
    from ..images.diff import changes
    record = containers.lookup(store, name)
    image = store.images_by_id_prefix(record.image_id)
    lowers = image[0].lower_dirs(paths.under_root("layers")) if image else []
    found = changes(paths.container_file(record.id, "upper"), lowers)
    return sorted(_without_mount_points(found, mount_points(containers.read_config(paths, record.id) or {})),
                  key=lambda c: c[1])


def _without_mount_points(found: list[tuple[str, str]], points: list[str]) -> list[tuple[str, str]]:
    """docker's diff leaves out what the engine made to mount on (/etc/hosts and the
    rest, in docker's init layer): a file added only as a mount point, and a directory
    changed only by holding one."""
    points = set(points)
    kept = [(kind, path) for kind, path in found if not (kind == "A" and path in points)]
    dropped = {path for kind, path in found if kind == "A" and path in points}
    if not dropped:
        return kept
    return [(kind, path) for kind, path in kept
            if kind != "C" or not any(d.startswith(path.rstrip("/") + "/") for d in dropped)
            or any(p.startswith(path.rstrip("/") + "/") for _, p in kept)]


def commit(paths: Paths, store: Store, name: str, ref: str | None, changes: list[str] = (), message: str = "",
           author: str = "", pause: bool = True) -> Image:
    record = containers.lookup(store, name)
    config = containers.read_config(paths, record.id)
    base = store.images_by_id_prefix(record.image_id)
    if config is None or not base:
        raise PyctrError(f"cannot commit {name}: its config or image is gone")
    base = base[0]
    repository, tag = parse_reference(ref) if ref else ("", "")
    if ref:
        images._check_name(repository)
    new_config = _image_config(base, record, config, changes, message, author)
    blobs = blob_store(paths)
    with images.Adding(paths, store):
        layers = [store.find_layer(c) for c in base.layers]
        if None in layers:
            raise PyctrError(f"the image of {name} is missing layers")
        with _paused(paths, record, pause):
            layer = _upper_as_layer(paths, record, mount_points(config), base.layers[-1] if base.layers else None)
            store.add_layer(layer, base.layers[-1] if base.layers else None)
            reached(images.LAYER_STORED)
        image = oci.image_of(blobs, new_config, [*layers, layer], repository, tag)
        events.container(store, "commit", record, config, comment=message, imageID=f"sha256:{image.id}",
                         imageRef=f"{repository}:{tag}" if ref else "")
        store.add_image(image, [*layers, layer])
    return image


def _image_config(base: Image, record: ContainerRecord, config: dict, changes: list[str], message: str,
                  author: str) -> dict:
    """The new image's config: the container's command and environment (as docker's commit
    takes them), then the -c changes, and a history step of its own."""
    section = dict(base.config.get("config") or {})
    argv = list(config["process"]["args"])
    if argv[:2] == [INIT_PATH, "--"]:
        argv = argv[2:]
    entrypoint = list(section.get("Entrypoint") or [])
    if entrypoint and argv[:len(entrypoint)] == entrypoint:
        section["Cmd"] = argv[len(entrypoint):]
    else:
        section["Entrypoint"], section["Cmd"] = None, argv
    section["Env"] = [e for e in config["process"].get("env") or [] if not e.startswith("HOSTNAME=")]
    section["WorkingDir"] = config["process"].get("cwd", "/")
    section = {k: v for k, v in dockerfile.apply(section, list(changes)).items() if v is not None}
    created = oci.now()
    step = {"created": created, "created_by": f"pyctr commit {record.name}",
            **({"comment": message} if message else {}), **({"author": author} if author else {})}
    out = {k: v for k, v in base.config.items() if k not in ("config", "history", "created", "author", "rootfs")}
    out.update(created=created, config=section, history=[*(base.config.get("history") or []), step])
    if author:
        out["author"] = author
    return out


class _paused:
    """Freezes a running container while its upper dir is read (docker's --pause).  The
    thaw is a guardian's: a fork that waits on a pipe only this process writes to, and
    thaws the container at its end, so a commit killed in the middle (kill -9 included)
    leaves the container running, not frozen for good."""

    def __init__(self, paths: Paths, record: ContainerRecord, pause: bool):
        self.runtime = containers.runtime_of(paths, record)
        self.record = record
        # one the user paused stays paused: neither frozen again nor thawed here
        self.frozen = pause and containers.is_running(paths, record) and not containers.is_paused(paths, record)
        self.guardian, self.line = -1, -1

    def __enter__(self):
        if not self.frozen:
            return self
        read_end, self.line = os.pipe()
        self.guardian = os.fork()
        if self.guardian == 0:  # pragma: no cover - measured by test_image_crashes
            os.close(self.line)
            self._guard(read_end)
        os.close(read_end)
        try:
            self.runtime.pause(self.record.id)
        except NotRunning:
            pass
        except BaseException:
            self.__exit__()
            raise
        return self

    def _guard(self, read_end: int) -> None:
        os.setsid()  # ^C at the committer's terminal is not for it
        try:
            os.read(read_end, 1)  # EOF: the committer is done, or gone
        finally:
            try:
                self.runtime.resume(self.record.id)
            except BaseException:  # noqa: BLE001 - gone meanwhile: nothing to thaw
                pass
            os._exit(0)

    def __exit__(self, *exc) -> bool:
        if self.guardian > 0:
            try:  # ourselves first: the guardian may have been killed
                self.runtime.resume(self.record.id)
            except NotRunning:
                pass
            finally:
                os.close(self.line)
                os.waitpid(self.guardian, 0)
        return False


def _upper_as_layer(paths: Paths, record: ContainerRecord, excluded: list[str], parent: str | None):
    """The upper dir written as an OCI layer tar on a pipe, by a thread, while ingest takes
    it in from the other end: one pass, nothing staged on disk but the blob and the layer."""
    from ..images.diff import write_layer
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def writer() -> None:
        try:
            with os.fdopen(write_fd, "wb", buffering=1 << 20) as out:
                write_layer(paths.container_file(record.id, "upper"), out, exclude=excluded)
        except BaseException as e:  # noqa: BLE001 - raised again below
            failure.append(e)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        with os.fdopen(read_fd, "rb", buffering=0) as source:
            layer = ingest(source, blob_store(paths), paths.under_root("layers"), paths.under_root("tmp"), parent,
                           media_type=MEDIA_TYPE[TAR])
    finally:
        thread.join()
    if failure:
        raise failure[0]
    return layer
