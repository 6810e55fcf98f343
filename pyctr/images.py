"""Image references and lookup."""

import os

from .errors import NotFound
from .paths import Paths
from .store import ImageRecord, Store


def parse_reference(ref: str) -> tuple[str, str]:
    """'busybox' -> ('busybox', 'latest'); 'host:5000/a/b:1' -> ('host:5000/a/b', '1')."""
    if not ref or ref != ref.strip() or any(c.isspace() for c in ref):
        raise NotFound(f"invalid image reference {ref!r}")
    name, sep, tag = ref.rpartition(":")
    if sep and "/" not in tag and name:
        return name, tag
    return ref, "latest"


def resolve(paths: Paths, store: Store, ref: str) -> ImageRecord:
    """The image a reference names: a tag, else an id prefix; the built-in busybox is
    made on first use, as docker pulls on first use."""
    repository, tag = parse_reference(ref)
    image = store.find_image(repository, tag)
    if image:
        return image
    if (repository, tag) == ("busybox", "latest"):
        from . import builtin  # tarfile, subprocess: only on the first use of a root
        return builtin.build(paths, store)
    prefix = ref.removeprefix("sha256:")
    if len(prefix) >= 4 and all(c in "0123456789abcdef" for c in prefix):
        matches = store.images_by_id_prefix(prefix)
        if len(matches) == 1:
            return matches[0]
    raise NotFound(f"image not found: {ref}")


def lower_dirs(paths: Paths, image: ImageRecord) -> list[str]:
    """The image's layer directories, topmost first (overlayfs lowerdir order)."""
    return [os.path.join(paths.layer_dir(d), "diff") for d in reversed(image.layers)]
