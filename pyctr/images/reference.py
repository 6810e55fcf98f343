"""Image references: `busybox`, `busybox:1.36`, `host:5000/a/b:v1`."""

from .errors import InvalidReference

DEFAULT_TAG = "latest"


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
