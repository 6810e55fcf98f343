"""Layers on disk: content-addressed directories <layers>/<sha256 hex>/diff.

A layer's digest is the sha256 of its uncompressed tar (the OCI "diff id"), computed over a
deterministic tar: sorted names, owner root, and the given mtime.
"""

import os

# hashlib and tarfile are imported where a layer is hashed: the run path only needs the
# directories (lower_dirs).


def layer_dir(layers: str, digest_hex: str) -> str:
    return os.path.join(layers, digest_hex)


def lower_dirs(layers: str, digests: list[str]) -> list[str]:
    """The layers' directories, topmost first (overlayfs lowerdir order); `digests` lowest
    first, as an image lists them."""
    return [os.path.join(layer_dir(layers, d), "diff") for d in reversed(digests)]


class _HashWriter:
    """A file-like sink that only hashes what tarfile writes."""

    def __init__(self):
        import hashlib
        self.sha = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        return len(data)


def digest_dir(path: str, mtime: int) -> str:
    """The hex sha256 of `path` as a deterministic tar."""
    import tarfile

    def normalise(info):
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = mtime
        return info

    sink = _HashWriter()
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(os.listdir(path)):
            tar.add(os.path.join(path, name), arcname=name, filter=normalise)
    return sink.sha.hexdigest()


def dir_size(path: str) -> int:
    """Bytes in regular files below `path`, each inode counted once (like du)."""
    seen = set()
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in filenames:
            st = os.lstat(os.path.join(dirpath, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total
