"""Layers made on disk: a directory's digest and size.

A layer's digest is the sha256 of its uncompressed tar (the OCI "diff id"), computed over a
deterministic tar: sorted names, owner root, and the given mtime.
"""

import hashlib
import os
import tarfile


class _HashWriter:
    """A file-like sink that only hashes what tarfile writes."""

    def __init__(self):
        self.sha = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        return len(data)


def digest_dir(path: str, mtime: int) -> str:
    """The hex sha256 of `path` as a deterministic tar."""

    def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
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
