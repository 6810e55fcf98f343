"""The engine's side of images on the run path: a reference resolved to an image in the
store, the built-in busybox made and recorded on first use (as docker pulls on first
use), and where an image's layers lie."""

import os

from ..images.image import Image, id_prefix, parse_reference
from .errors import ImageNotFound
from .paths import Paths
from .store import Store


def resolve(paths: Paths, store: Store, ref: str) -> Image:
    """The image a reference names: a tag, else an id prefix, else the built-in."""
    repository, tag = parse_reference(ref)
    image = store.find_image(repository, tag)
    if image:
        return image
    prefix = id_prefix(ref)
    if prefix:
        matches = store.images_by_id_prefix(prefix)
        if len(matches) == 1:
            return matches[0]
    from ..images import builtin  # tarfile, subprocess: only when the store lacks the image
    if (repository, tag) == (builtin.NAME, builtin.TAG):
        return add_builtin(paths, store)
    image = _by_full_name(store, ref)
    if image is None:
        raise ImageNotFound(f"image not found: {ref}")
    return image


def _by_full_name(store: Store, ref: str) -> Image | None:
    """A short name (`debian`) as the default registry completes it, as pull stored it."""
    from ..images.image import ImageError
    from ..images.reference import default_registry, parse
    try:
        full = parse(ref, default_registry())
    except ImageError:
        return None
    if full.digest:
        return store.find_image_by_digest(full.name, full.digest)
    return store.find_image(full.name, full.tag)


LOCK = "images.lock"


def pin(paths: Paths) -> int:
    """Holds the images lock shared (images.py says who takes it how): from the moment
    `run` looks its image up until its container's row names it, so that `rmi` can
    neither miss the container nor sweep the layers from under it.  Returns the fd to
    `unpin`; a process that dies lets go of it too."""
    return hold(paths, exclusive=False)


def hold(paths: Paths, exclusive: bool, wait: bool = True) -> int:
    """An fd of <root>/images.lock, flocked shared or exclusive; BlockingIOError if not
    `wait` and another holds it."""
    import fcntl
    os.makedirs(paths.root, mode=0o700, exist_ok=True)
    fd = os.open(paths.under_root(LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | (0 if wait else fcntl.LOCK_NB))
    except BaseException:
        os.close(fd)
        raise
    return fd


def unpin(fd: int) -> None:
    if fd >= 0:
        os.close(fd)


def add_builtin(paths: Paths, store: Store) -> Image:
    from ..images import builtin
    from .images import Adding
    with Adding(paths):
        image, layer = builtin.build(blob_store(paths), paths.under_root("layers"), paths.under_root("tmp"))
        store.add_image(image, [layer])
    return image


def blob_store(paths: Paths):
    from ..images.blobs import BlobStore
    return BlobStore(paths.under_root("blobs"), paths.under_root("tmp"))


def lower_dirs(paths: Paths, image: Image) -> list[str]:
    """The image's layer directories, topmost first (overlayfs lowerdir order)."""
    return image.lower_dirs(paths.under_root("layers"))
