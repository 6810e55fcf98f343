"""Directories back into layer tars: a container's overlay upper dir as an OCI layer (for
commit), a flat rootfs as a plain tar (for export), and the A/C/D list of `pyctr diff`.

The walk holds a directory fd at each level and opens every entry relative to it with
O_NOFOLLOW: the upper dir is the container's own content, and a link in it is recorded,
never followed.  The tar is PAX, names sorted within each directory (docker's walk order),
owner, mode, mtime and the xattrs unpack.py keeps (user.* but user.overlay.*, and
security.capability); a file's further names are tar hardlinks to its first.
Overlay whiteouts become OCI ones: a char device 0:0 `NAME` is `.wh.NAME`, a directory
with the opaque xattr (trusted.* or user.*) is the directory plus `.wh..wh..opq` in it.
"""

import os
import stat
import tarfile

from .image import ImageError
from .unpack import OPAQUE, OPAQUE_XATTRS, WHITEOUT, XATTR_PREFIX, clean_name, kept_xattr

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# an upper dir whose content lives partly in the lowers: its tar would lose data
REDIRECTS = ("trusted.overlay.redirect", "user.overlay.redirect", "trusted.overlay.metacopy",
             "user.overlay.metacopy")


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _walk(root: str, exclude: set[str]):
    """(relative path, lstat, fd of its directory, name) of everything below `root`,
    depth first, names sorted in each directory, never following a link; the paths in
    `exclude` and what lies below them are left out."""
    stack = [(os.open(root, DIR_FLAGS), "", None)]
    try:
        while stack:
            fd, prefix, names = stack[-1]
            if names is None:
                names = iter(sorted(os.listdir(fd)))
                stack[-1] = (fd, prefix, names)
            name = next(names, None)
            if name is None:
                os.close(fd)
                stack.pop()
                continue
            path = prefix + name
            if path in exclude:
                continue
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            yield path, st, fd, name
            if stat.S_ISDIR(st.st_mode):
                stack.append((os.open(name, DIR_FLAGS, dir_fd=fd), path + "/", None))
    finally:
        for fd, _, _ in stack:
            os.close(fd)


def _xattrs(fd: int) -> dict[str, bytes]:
    try:
        return {name: os.getxattr(fd, name) for name in os.listxattr(fd)}
    except OSError:  # a filesystem without xattrs
        return {}


class _Writer:
    def __init__(self, out, overlay: bool):
        self.tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)
        self.overlay = overlay  # turn overlay whiteouts into OCI ones
        self.first_names: dict[tuple[int, int], str] = {}

    def add(self, path: str, st: os.stat_result, dir_fd: int, name: str) -> None:
        info = tarfile.TarInfo(path)
        info.uid, info.gid, info.mtime, info.mode = st.st_uid, st.st_gid, int(st.st_mtime), stat.S_IMODE(st.st_mode)
        if self.overlay and is_whiteout(st):
            head, _, tail = path.rpartition("/")
            info.name, info.mode = f"{head}/{WHITEOUT}{tail}" if head else WHITEOUT + tail, 0
            return self.tar.addfile(info)
        if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
            first = self.first_names.setdefault((st.st_dev, st.st_ino), path)
            if first != path:
                info.type, info.linkname = tarfile.LNKTYPE, first
                return self.tar.addfile(info)
        if stat.S_ISREG(st.st_mode):
            self._regular(info, dir_fd, name)
        elif stat.S_ISDIR(st.st_mode):
            self._directory(info, dir_fd, name)
        elif stat.S_ISLNK(st.st_mode):
            info.type, info.linkname = tarfile.SYMTYPE, os.readlink(name, dir_fd=dir_fd)
            self.tar.addfile(info)
        elif stat.S_ISFIFO(st.st_mode):
            info.type = tarfile.FIFOTYPE
            self.tar.addfile(info)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            self.tar.addfile(info)
        # sockets: not content (docker leaves them out too)

    @staticmethod
    def _keep_xattrs(info: tarfile.TarInfo, xattrs: dict[str, bytes]) -> None:
        for key, value in xattrs.items():
            if kept_xattr(key):
                info.pax_headers[XATTR_PREFIX + key] = value.decode("utf-8", "surrogateescape")

    def _whole(self, info: tarfile.TarInfo, xattrs: dict[str, bytes]) -> None:
        if self.overlay and any(key in xattrs for key in REDIRECTS):
            raise ImageError(f"{info.name!r} in the container's upper dir is an overlay redirect or "
                             "metacopy: its content is not all there")

    def _regular(self, info: tarfile.TarInfo, dir_fd: int, name: str) -> None:
        # O_NONBLOCK: a fifo put there since the walk's stat does not hang the open
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
        with open(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ImageError(f"{info.name!r} changed while it was read: it is no longer a file")
            xattrs = _xattrs(fd)
            self._whole(info, xattrs)
            self._keep_xattrs(info, xattrs)
            info.size = os.fstat(fd).st_size
            self.tar.addfile(info, f)

    def _directory(self, info: tarfile.TarInfo, dir_fd: int, name: str) -> None:
        info.type = tarfile.DIRTYPE
        fd = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
        try:
            xattrs = _xattrs(fd)
        finally:
            os.close(fd)
        self._whole(info, xattrs)
        self._keep_xattrs(info, xattrs)
        self.tar.addfile(info)
        if self.overlay and _opaque(xattrs):
            marker = tarfile.TarInfo(f"{info.name}/{OPAQUE}")
            marker.mtime, marker.mode = info.mtime, 0
            self.tar.addfile(marker)

    def close(self) -> None:
        self.tar.close()


def _write(root: str, out, exclude, overlay: bool) -> None:
    skip = {clean_name(p) for p in exclude}
    path = ""
    try:
        writer = _Writer(out, overlay)
        for path, st, dir_fd, name in _walk(root, skip):
            writer.add(path, st, dir_fd, name)
        writer.close()
    except OSError as e:  # a file gone or unreadable, or the output full
        raise ImageError(f"writing a layer of {root}{' at ' + path if path else ''}: {e.strerror or e}") from None


def write_layer(upper: str, out, exclude=()) -> None:
    """Writes the overlay upper dir `upper` to `out` (anything with .write) as an OCI layer
    tar; `exclude`: container paths (volumes) left out, with all below them."""
    _write(upper, out, exclude, overlay=True)


def write_tree(root: str, out, exclude=()) -> None:
    """Writes the flat rootfs `root` to `out` as a tar, as it is (no whiteouts read)."""
    _write(root, out, exclude, overlay=False)


def _opaque(xattrs: dict[str, bytes]) -> bool:
    return any(xattrs.get(key) == b"y" for key in OPAQUE_XATTRS)


def _is_opaque(dir_fd: int, name: str) -> bool:
    fd = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    try:
        return _opaque(_xattrs(fd))
    finally:
        os.close(fd)


def _in_lowers(lowers: list[int], path: str) -> bool:
    """Whether the lowers (their fds, topmost first) show `path`: the topmost that decides
    (holds it, or a whiteout, file or opaque directory over it) decides."""
    parts = path.split("/")
    for lower in lowers:
        shown = _shows(lower, parts)
        if shown is not None:
            return shown
    return False


def _shows(lower: int, parts: list[str]) -> bool | None:
    """True or False when this lower decides whether the path shows, None when it leaves
    that to the lowers below.  Component by component, never following a link: overlay
    merges directories by name."""
    fd, hides = os.dup(lower), False
    try:
        for depth, part in enumerate(parts):
            hides = hides or (depth > 0 and _opaque(_xattrs(fd)))
            try:
                st = os.stat(part, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                return False if hides else None
            if is_whiteout(st):
                return False
            if depth == len(parts) - 1:
                return True
            if not stat.S_ISDIR(st.st_mode):  # a file here covers all below it
                return False
            below = os.open(part, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = below
    finally:
        os.close(fd)
    return None


def changes(upper: str, lowers: list[str]) -> list[tuple[str, str]]:
    """docker diff's list for a container: ("A"|"C"|"D", "/path"), sorted by path.  A
    whiteout is D; a path the lowers (topmost first) show is C, unless an opaque directory
    of upper hides it; the rest is A."""
    try:
        return _changes(upper, lowers)
    except OSError as e:
        raise ImageError(f"reading the changes in {upper}: {e.strerror or e}") from None


def _changes(upper: str, lowers: list[str]) -> list[tuple[str, str]]:
    found = []
    # directories that hide the lowers below them (new, or opaque): all in them is new
    fresh: set[str] = set()
    fds: list[int] = []
    try:
        for lower in lowers:
            fds.append(os.open(lower, DIR_FLAGS))
        for path, st, dir_fd, name in _walk(upper, set()):
            parent = path.rpartition("/")[0]
            if is_whiteout(st):
                kind = "D"
            elif parent in fresh or not _in_lowers(fds, path):
                kind = "A"
            else:
                kind = "C"
            if stat.S_ISDIR(st.st_mode) and (kind == "A" or _is_opaque(dir_fd, name)):
                fresh.add(path)
            found.append((kind, "/" + path))
    finally:
        for fd in fds:
            os.close(fd)
    return sorted(found, key=lambda change: change[1])
