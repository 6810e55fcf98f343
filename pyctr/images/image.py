"""An image as pyctr keeps it (its id, layers, OCI image config, manifest and tag), the references
that name one (`busybox`, `busybox:1.36`, `host:5000/a/b:v1`, an id prefix), where its
layers lie (<layers>/<sha256 hex>/diff), and what goes wrong with images."""

import os

from ..records import record

# the PATH of an image that sets none (docker's)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_TAG = "latest"


class ImageError(Exception):
    """An image problem; str() says what, in one line, for the user."""


class InvalidReference(ImageError):
    """The text is not an image reference."""


@record
class Image:
    id: str  # sha256 of the image config, hex
    created: float
    size: int
    layers: list[str]  # chain ids (hex) of its layers, lowest first: their dirs under layers/
    config: dict  # the OCI image config
    repository: str = ""
    tag: str = ""
    manifest: str = ""  # the digest of its manifest blob (pulled: the registry's own)

    def lower_dirs(self, layers: str) -> list[str]:
        """Its layers' directories under `layers`, topmost first (overlayfs lowerdir order)."""
        return [os.path.join(layer_dir(layers, d), "diff") for d in reversed(self.layers)]


def layer_dir(layers: str, digest_hex: str) -> str:
    return os.path.join(layers, digest_hex)


def parse_reference(ref: str) -> tuple[str, str]:
    """'busybox' -> ('busybox', 'latest'); 'host:5000/a/b:1' -> ('host:5000/a/b', '1')."""
    if not ref or ref != ref.strip() or any(c.isspace() for c in ref):
        raise InvalidReference(f"invalid image reference {ref!r}")
    name, sep, tag = ref.rpartition(":")
    if sep and "/" not in tag and name:
        return name, tag
    return ref, DEFAULT_TAG


def id_prefix(ref: str) -> str | None:
    """The hex an id-like reference (`3ac0`, `sha256:3ac080...`) starts with, else None."""
    prefix = ref.removeprefix("sha256:")
    if len(prefix) >= 4 and all(c in "0123456789abcdef" for c in prefix):
        return prefix
    return None
