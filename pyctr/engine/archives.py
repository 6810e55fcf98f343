"""Images into and out of files: save and load (docker and OCI archives), import (a flat
rootfs tar as a one-layer image) and export (a container's files as a tar).

Everything that adds to the store holds the images lock shared (images.py) and records
an image only once all its layers are in: a load or import killed half-way leaves layers
nobody names (swept later), never an image that is not whole.
"""

import os
import sys

from ..images import archive, oci
from ..images.image import Image, ImageError, parse_reference
from ..images.ingest import Layer, chain_id, ingest
from . import containers, events, images, rootfs
from .errors import PyctrError
from .image_lookup import blob_store
from .launch import reached
from .paths import Paths
from .store import Store


def save(paths: Paths, store: Store, chosen: list, out, fmt: str = archive.DOCKER) -> None:
    """The images `chosen` (to_save's) into one archive (`out`: a binary file, or for
    oci-dir a directory path)."""
    archive.write(chosen, blob_store(paths), out, fmt, tmp=paths.under_root("tmp"))


def to_save(paths: Paths, store: Store, refs: list[str]) -> list:
    """The images `refs` name, each once, with the names the archive gives them: looked
    up before anything is written, so a missing one leaves no file behind."""
    blobs = blob_store(paths)
    chosen: dict[str, archive.SavedImage] = {}
    for ref in refs:
        image = images.find(paths, store, ref)
        saved = chosen.get(image.id)
        if saved is None:
            layers = [store.find_layer(c) for c in image.layers]
            if None in layers:
                raise PyctrError(f"image {image.id[:12]} is missing layers: pull or load it again")
            saved = chosen[image.id] = archive.SavedImage(blobs.read(f"sha256:{image.id}"), layers, [])
        named = _named_by(store, image, ref)
        saved.names += [n for n in named if n not in saved.names]
    return list(chosen.values())


def _named_by(store: Store, image: Image, ref: str) -> list[tuple[str, str]]:
    """The names an archive gives the image: the one `ref` used, or all its tags for an id."""
    tags = store.image_tags(image.id)
    try:
        named = parse_reference(ref)
    except ImageError:
        return tags
    return [named] if named in tags else tags


def load(paths: Paths, store: Store, path: str, platform: str | None = None, say=print) -> list[Image]:
    """Every image in the archive at `path`, taken in; `say` hears docker's lines."""
    if not os.path.exists(path):
        raise PyctrError(f"open {path}: no such file or directory")
    found = archive.Archive(path)
    loaded = []
    try:
        with images.Adding(paths, store):
            for item in found.images(platform):
                loaded.append(_take_in(paths, store, item, say))
    finally:
        found.close()
    return loaded


def _take_in(paths: Paths, store: Store, item: archive.ArchivedImage, say) -> Image:
    import json
    blobs = blob_store(paths)
    try:
        config = json.loads(item.config)
    except ValueError:
        raise ImageError("an image config in the archive is not JSON") from None
    oci.check_types(config)
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if len(diff_ids) != len(item.layers):
        raise ImageError(f"an image in the archive lists {len(diff_ids)} diff ids for {len(item.layers)} layers")
    layers = []
    for (opener, media_type), diff_id in zip(item.layers, diff_ids):
        layers.append(_layer(paths, store, opener, media_type, diff_id, layers[-1].chain_id if layers else None))
    names = item.names or [("", "")]
    image = oci.record(blobs, item.config, layers, *names[0], manifest_bytes=item.manifest)
    events.queue(store, "image", "load", f"sha256:{image.id}", **events.image_attributes(image, f"sha256:{image.id}"))
    store.add_image(image, layers)
    for repository, tag in names[1:]:
        store.tag_image(image.id, repository, tag)
    for repository, tag in item.names:
        say(f"Loaded image: {repository}:{tag}")
    if not item.names:
        say(f"Loaded image ID: sha256:{image.id}")
    return image


def _layer(paths: Paths, store: Store, opener, media_type: str | None, diff_id: str, parent: str | None) -> Layer:
    """A layer from an archive, unless the store has it already."""
    if not isinstance(diff_id, str):
        raise ImageError("an image config in the archive has a diff id that is not a string")
    have = store.find_layer(chain_id(parent, diff_id))
    if have is not None and os.path.isdir(os.path.join(paths.under_root("layers"), have.chain_id)):
        return have
    with opener() as source:
        layer = ingest(source, blob_store(paths), paths.under_root("layers"), paths.under_root("tmp"), parent,
                       media_type=media_type, diff_id=diff_id)
    store.add_layer(layer, parent)
    reached(images.LAYER_STORED)
    return layer


def import_rootfs(paths: Paths, store: Store, source, ref: str | None, changes: list[str], message: str,
                  origin: str) -> Image:
    """`import`: a flat rootfs tar (gzip, zstd or plain) from `source` as a one-layer image."""
    from ..images import changes as dockerfile
    repository, tag = parse_reference(ref) if ref else ("", "")
    if ref:
        images._check_name(repository)
    blobs = blob_store(paths)
    with images.Adding(paths, store):
        layer = ingest(source, blobs, paths.under_root("layers"), paths.under_root("tmp"), None)
        store.add_layer(layer, None)
        created = oci.now()
        history = {"created": created, "created_by": f"pyctr import {origin}", **({"comment": message} if message else {})}
        config = {"created": created, "architecture": _host_arch(), "os": "linux",
                  "config": dockerfile.apply({}, changes), "history": [history]}
        image = oci.image_of(blobs, config, [layer], repository, tag)
        events.queue(store, "image", "import", f"sha256:{image.id}",
                     **events.image_attributes(image, f"sha256:{image.id}"))
        store.add_image(image, [layer])
    return image


def _host_arch() -> str:
    from ..images.platforms import host
    return host()[1]


def export(paths: Paths, store: Store, name: str, out_fd: int) -> None:
    """A container's files (its image's and its own changes, not its mounts) as a tar on `out_fd`."""
    from ..images.diff import write_tree
    record = containers.lookup(store, name)

    def work(root_fd: int) -> None:  # the overlay is mounted there, in the fork's namespace
        with os.fdopen(os.dup(out_fd), "wb") as out:
            write_tree(paths.container_file(record.id, "rootfs"), out)

    rootfs.run_inside(paths, record, work)


def output_fd(path: str | None) -> int:
    """Where save/export write: a new file (mode 0600: it may hold secrets) or stdout, which
    must not be a terminal (docker's rule)."""
    if path and path != "-":
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    if sys.stdout.isatty():
        raise PyctrError("cowardly refusing to write an archive to a terminal: use -o or redirect the output")
    return sys.stdout.fileno()
