"""The engine's image store: what the images/ package makes (blobs, layers, images)
recorded in the state database, and taken away again: tag, rmi, prune, and the sweep
that frees what no image names.

Who may remove what: everything that adds layers or blobs (pull, load, import, commit,
the built-in) holds `<root>/images.lock` shared while it works, and so does `run` from
its image's lookup until its container's row names the image (image_lookup.pin).  rmi
and prune take it exclusively, waiting for those to finish, and decide and delete under
it; the sweep of what killed commands left takes it without waiting, or leaves it to a
later command.  So no layer a pull has placed but not yet recorded, and no image a
starting container was made from, is removed.
"""

import os

from ..images.image import Image, id_prefix, parse_reference
from ..runtime import _core
from . import events
from .errors import Conflict, NotFound, PyctrError
from .image_lookup import blob_store, hold
from .paths import Paths
from .store import Store

SCRATCH_PREFIXES = ("layer-", "blob-", "busybox-", "load-")
# the pause point (launch.reached) where a layer is in the store and its image is not yet
LAYER_STORED = "layer-stored"


class _Held:
    """`with` block: the images lock held, waited for (see above)."""
    exclusive = False

    def __init__(self, paths: Paths):
        self.paths = paths
        self.fd = -1

    def __enter__(self):
        self.fd = hold(self.paths, self.exclusive)
        return self

    def __exit__(self, *exc) -> bool:
        os.close(self.fd)
        return False


class Adding(_Held):
    """`with Adding(paths, store):` what adds to the store holds the images lock shared,
    once what killed commands left in tmp/ is cleared (if nobody else is adding)."""

    def __init__(self, paths: Paths, store: Store | None = None):
        super().__init__(paths)
        self.store = store

    def __enter__(self) -> "Adding":
        if self.store is not None:
            sweep_scratch(self.paths)
        return super().__enter__()


class Exclusive(_Held):
    """`with Exclusive(paths):` the images lock exclusively: what deletes images decides
    and deletes under it, so that no `run` between its image's lookup and its row
    (image_lookup.pin), and no adder, is in the middle."""
    exclusive = True


def find(paths: Paths, store: Store, ref: str) -> Image:
    """An image by name[:tag], name@digest or id (prefix), in docker's order; else NotFound."""
    image, _ = _find(store, ref)
    return image


def _find(store: Store, ref: str) -> tuple[Image, tuple[str, str] | None]:
    """The image, and the (repository, tag) it was named by, if by a tag."""
    if "@" in ref:
        repository, _, digest = ref.partition("@")
        image = store.find_image_by_digest(repository, digest)
        if image:
            return image, None
        raise NotFound(f"No such image: {ref}")
    repository, tag_ = parse_reference(ref)
    image = store.find_image(repository, tag_)
    if image:
        return image, (repository, tag_)
    prefix = id_prefix(ref)
    matches = store.images_by_id_prefix(prefix) if prefix else []
    if len(matches) > 1:
        raise Conflict(f"{ref} matches {len(matches)} images: give more of the id")
    if not matches:
        raise NotFound(f"No such image: {ref}")
    return matches[0], None


def tag(paths: Paths, store: Store, source: str, target: str) -> None:
    image = find(paths, store, source)
    repository, tag_ = parse_reference(target)
    _check_name(repository)
    events.queue(store, "image", "tag", f"sha256:{image.id}", **events.image_attributes(image, f"{repository}:{tag_}"))
    store.tag_image(image.id, repository, tag_)


def _check_name(repository: str) -> None:
    """docker's rule for a repository: lowercase path components (a registry host may add a port)."""
    host, _, rest = repository.partition("/")
    parts = rest.split("/") if rest and ("." in host or ":" in host or host == "localhost") else repository.split("/")
    for part in parts:
        if not part or not all(c.islower() or c.isdigit() or c in "._-" for c in part) or not part[0].isalnum():
            raise PyctrError(f"invalid reference format: repository name ({repository}) must be lowercase")


def remove(paths: Paths, store: Store, ref: str, force: bool = False) -> list[str]:
    """`rmi`: untags `ref`, and deletes the image once nothing names or uses it (its
    layers and blobs go with it unless another image has them).  Returns docker's lines
    (Untagged: ..., Deleted: ...)."""
    with Exclusive(paths):
        return _remove(paths, store, ref, force)


def _remove(paths: Paths, store: Store, ref: str, force: bool) -> list[str]:
    image, named = _find(store, ref)
    tags = store.image_tags(image.id)
    if named and len(tags) > 1:  # one name of several: only that name goes
        _image_event(store, image, "untag")
        store.untag_image(*named)
        return [f"Untagged: {named[0]}:{named[1]}"]
    if len(tags) > 1 and not force:
        raise Conflict(f"conflict: unable to delete {image.id[:12]} (must be forced) - image is referenced in"
                       " multiple repositories")
    users = store.image_users(image.id)
    if users and not force:
        raise Conflict(f"conflict: unable to delete {image.id[:12]} (must be forced) - image is being used by"
                       f" container {users[0]}")
    lines = []
    for repository, tag_ in tags:
        _image_event(store, image, "untag")
        store.untag_image(repository, tag_)
        lines.append(f"Untagged: {repository}:{tag_}")
    if users:  # forced: the image stays, untagged, for the containers made from it
        return lines
    _image_event(store, image, "delete")
    store.remove_image(image.id)
    lines.append(f"Deleted: sha256:{image.id}")
    _sweep_scratch(paths)
    _sweep_unnamed(paths, store)
    return lines


def _image_event(store: Store, image: Image, action: str) -> None:
    """docker's untag or delete event (its actor and name: the image's id), queued for the
    store call that follows."""
    events.queue(store, "image", action, f"sha256:{image.id}", **events.image_attributes(image, f"sha256:{image.id}"))


def prune(paths: Paths, store: Store, everything: bool = False) -> tuple[list[str], int]:
    """`image prune`: dangling images (untagged), or with `everything` every image no
    container uses.  Returns the ids deleted and the bytes freed."""
    with Exclusive(paths):
        return _prune(paths, store, everything)


def _prune(paths: Paths, store: Store, everything: bool) -> tuple[list[str], int]:
    used = store.images_in_use()
    deleted = []
    for image in {i.id: i for i in store.list_images()}.values():
        if image.id in used or (image.repository != "<none>" and not everything):
            continue
        if everything:
            for repository, tag_ in store.image_tags(image.id):
                _image_event(store, image, "untag")
                store.untag_image(repository, tag_)
        if not store.image_tags(image.id):
            _image_event(store, image, "delete")
            store.remove_image(image.id)
            deleted.append(image.id)
    _sweep_scratch(paths)
    return deleted, _sweep_unnamed(paths, store)


def sweep_scratch(paths: Paths) -> None:
    """Removes what killed commands left in tmp/, when nothing is adding to the store (else
    a later command will)."""
    try:
        fd = hold(paths, exclusive=True, wait=False)
    except BlockingIOError:
        return
    try:
        _sweep_scratch(paths)
    finally:
        os.close(fd)


def _sweep_scratch(paths: Paths) -> None:
    """Scratch entries are named <kind>-<pid>-<random>: those of a process that is gone."""
    tmp = paths.under_root("tmp")
    for name in os.listdir(tmp) if os.path.isdir(tmp) else []:
        kind, _, rest = name.partition("-")
        pid = rest.partition("-")[0]
        if f"{kind}-".startswith(SCRATCH_PREFIXES) and not (pid.isdigit() and os.path.exists(f"/proc/{pid}")):
            _core.remove_tree(os.path.join(tmp, name))


def _sweep_unnamed(paths: Paths, store: Store) -> int:
    images = {i.id: i for i in store.list_images()}.values()
    chains = {c for image in images for c in image.layers}
    layers = {layer.chain_id: layer for layer in store.all_layers()}
    freed = 0
    gone = [c for c in layers if c not in chains]
    store.remove_layers(gone)
    layers_dir = paths.under_root("layers")
    on_disk = os.listdir(layers_dir) if os.path.isdir(layers_dir) else []
    for name in on_disk:
        if name not in chains:
            freed += layers[name].size if name in layers else 0
            _core.remove_tree(os.path.join(layers_dir, name))
    blobs = blob_store(paths)
    kept = set()
    for image in images:
        kept |= {f"sha256:{image.id}", image.manifest}
        kept |= {layers[c].blob for c in image.layers if c in layers}
    for digest in blobs.all():
        if digest not in kept:
            blobs.remove(digest)
    return freed


def usage(paths: Paths, store: Store) -> dict:
    """For `system df`: images' sizes with shared layers counted once, and what is unique
    to each image."""
    layers = {layer.chain_id: layer for layer in store.all_layers()}
    images = list({i.id: i for i in store.list_images()}.values())
    users: dict[str, int] = {}
    for image in images:
        for c in image.layers:
            users[c] = users.get(c, 0) + 1
    total = sum(layers[c].size for c in users if c in layers)
    shared = {image.id: sum(layers[c].size for c in image.layers if c in layers and users[c] > 1) for image in images}
    return {"images": images, "total": total, "shared": shared, "in_use": store.images_in_use()}


def inspect(store: Store, image: Image) -> dict:
    """`image inspect`, in docker's shape."""
    config = image.config
    return {
        "Id": f"sha256:{image.id}",
        "RepoTags": [f"{r}:{t}" for r, t in store.image_tags(image.id)],
        "RepoDigests": [f"{r}@{d}" for r, d in store.image_digests(image.id)],
        "Parent": "",
        "Comment": next((h.get("comment", "") for h in reversed(config.get("history") or []) if h.get("comment")), ""),
        "Created": config.get("created", ""),
        "Author": config.get("author", ""),
        "Config": config.get("config") or {},
        "Architecture": config.get("architecture", ""),
        "Variant": config.get("variant", ""),
        "Os": config.get("os", ""),
        "Size": image.size,
        "RootFS": {"Type": "layers", "Layers": list((config.get("rootfs") or {}).get("diff_ids") or [])},
        "Metadata": {"LastTagTime": ""},
    }


def history(store: Store, image: Image) -> list[dict]:
    """`history`: the config's steps, newest first, each non-empty one with its layer's size."""
    sizes = [(store.find_layer(c) or _NoLayer).size for c in image.layers]
    rows = []
    for step in image.config.get("history") or []:
        empty = step.get("empty_layer", False)
        rows.append({"created": step.get("created", ""), "created_by": step.get("created_by", ""),
                     "comment": step.get("comment", ""), "size": 0 if empty or not sizes else sizes.pop(0)})
    rows.reverse()
    for i, row in enumerate(rows):
        row["id"] = f"sha256:{image.id}" if i == 0 else "<missing>"
    return rows


class _NoLayer:
    size = 0
