"""`cp` between a container and the host, both ways, as a tar stream.  The container's
side works from a directory fd of its files (rootfs.py) and resolves every path below it
with openat2(RESOLVE_IN_ROOT), so a path or link the container made leads nowhere else;
the host's side takes the stream in with the layer unpacker in its plain mode (no
whiteouts), which keeps it inside the destination.

What crosses is plain: files, directories and links; owners become root at the
destination, as docker's `cp` does, so setuid and setgid bits are dropped (a container's
setuid file must not arrive as a setuid-root file on the host), and xattrs stay behind.
A fifo, socket or device is left out (reading a fifo would hang the copy).
"""

import os
import posixpath
import stat
import sys
import tarfile

from ..runtime import _core
from . import containers, rootfs
from .errors import NotFound, PyctrError
from .paths import Paths
from .store import Store

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
KEPT_MODE = 0o1777  # permissions and the sticky bit; not setuid, not setgid


def split(arg: str) -> tuple[str | None, str]:
    """'web:/etc/motd' -> ('web', '/etc/motd'); a host path -> (None, path).  docker's
    rule: a colon before any slash names a container (`./a:b` is a host path)."""
    head, sep, tail = arg.partition(":")
    if sep and head and "/" not in head:
        return head, tail
    return None, arg


def _info(arcname: str, st: os.stat_result, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(arcname)
    info.type, info.mode, info.mtime = kind, st.st_mode & KEPT_MODE, int(st.st_mtime)
    return info  # uid, gid 0 and no names: nothing is looked up


def write_entry(parent_fd: int, name: str, arcname: str, out) -> None:
    """`name` in the directory `parent_fd` (and all below it) as a plain tar into `out`;
    no link followed, anything but files, directories and links left out."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        stack = [(parent_fd, [name], arcname.rstrip("/") or ".", False)]
        while stack:
            dir_fd, names, prefix, owned = stack[-1]
            if not names:
                if owned:
                    os.close(dir_fd)
                stack.pop()
                continue
            entry = names.pop()
            arc = prefix if len(stack) == 1 else f"{prefix}/{entry}"
            st = os.stat(entry, dir_fd=dir_fd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                tar.addfile(_info(arc, st, tarfile.DIRTYPE))
                fd = os.open(entry, DIR_FLAGS, dir_fd=dir_fd)
                stack.append((fd, sorted(os.listdir(fd), reverse=True), arc, True))
            elif stat.S_ISLNK(st.st_mode):
                info = _info(arc, st, tarfile.SYMTYPE)
                info.linkname = os.readlink(entry, dir_fd=dir_fd)
                tar.addfile(info)
            elif stat.S_ISREG(st.st_mode):
                _add_file(tar, dir_fd, entry, arc)


def _add_file(tar, dir_fd: int, name: str, arc: str) -> None:
    # O_NONBLOCK: a fifo swapped in since the stat does not hang the open; it is no file
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return
        info = _info(arc, st, tarfile.REGTYPE)
        info.size = st.st_size
        tar.addfile(info, f)


def _parent_in(root_fd: int, path: str) -> tuple[int, str]:
    """(fd of the directory holding `path`, inside the tree of `root_fd`; its last name)."""
    parent, _, name = path.rstrip("/").rpartition("/")
    fd = _core.open_in_root(root_fd, parent or "/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    return fd, name


def copy_out(paths: Paths, store: Store, name: str, source: str, dest: str) -> None:
    """The container's `source` to the host's `dest` (an existing directory: into it;
    else that name; "-": a tar on stdout)."""
    from ..images.unpack import unpack
    record = containers.lookup(store, name)
    source = posixpath.normpath("/" + source.lstrip("/"))  # `..` and `.` go, lexically: / stays the top
    base = posixpath.basename(source)  # "" for the container's /
    if dest == "-":
        target_dir, arcname = None, base or "."
    elif os.path.isdir(dest):
        if not base:
            raise PyctrError("copying a container's / into an existing directory: give a new name, e.g. DEST/rootfs")
        target_dir, arcname = dest, base
    else:
        target_dir, arcname = os.path.dirname(os.path.abspath(dest)), os.path.basename(dest)
        if not os.path.isdir(target_dir):
            raise NotFound(f"no such directory: {target_dir}")
    read_fd, write_fd = os.pipe()

    def work(root_fd: int) -> None:
        os.close(read_fd)
        if source == "/":
            parent_fd, entry = os.dup(root_fd), "."
        else:
            try:
                parent_fd, entry = _parent_in(root_fd, source)
                os.stat(entry, dir_fd=parent_fd, follow_symlinks=False)
            except FileNotFoundError:
                raise NotFound(f"Could not find the file {source} in container {name}") from None
        with os.fdopen(write_fd, "wb", buffering=1 << 20) as out:
            write_entry(parent_fd, entry, arcname, out)

    def take_in() -> None:
        with os.fdopen(read_fd, "rb") as stream:
            if target_dir is None:
                while chunk := stream.read(1 << 20):
                    sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
            else:
                unpack(stream, target_dir, whiteouts=False)

    rootfs.run_inside(paths, record, work, parent_side=take_in, close_after_fork=(write_fd,))


def copy_in(paths: Paths, store: Store, source: str, name: str, dest: str) -> None:
    """The host's `source` ("-": a tar on stdin) into the container at `dest`.  Where it
    lands (into a directory, or as a new name) is known only inside the container: the
    fork says the name the top entry takes, then the host side writes the tar."""
    from ..images.unpack import unpack
    record = containers.lookup(store, name)
    dest = posixpath.normpath("/" + dest.lstrip("/")) + ("/" if dest.endswith("/") and dest.strip("/") else "")
    if source != "-" and not os.path.lexists(source):
        raise NotFound(f"no such file or directory: {source}")
    if source != "-" and not os.path.basename(os.path.abspath(source)):
        raise PyctrError("copying the host's / into a container is not supported")
    data_r, data_w = os.pipe()
    name_r, name_w = os.pipe()

    def work(root_fd: int) -> None:
        os.close(data_w)
        os.close(name_r)
        target_fd, arcname = _destination(root_fd, dest, source)
        os.write(name_w, os.fsencode(arcname or ""))
        os.close(name_w)
        with os.fdopen(data_r, "rb") as stream:
            unpack(stream, target_fd, whiteouts=False)

    def give() -> None:
        with os.fdopen(name_r, "rb") as f:
            arcname = os.fsdecode(f.read(4096))
        with os.fdopen(data_w, "wb", buffering=1 << 20) as out:
            if source == "-":
                while chunk := sys.stdin.buffer.read(1 << 20):
                    out.write(chunk)
            elif arcname:
                source_path = os.path.abspath(source)
                parent = os.open(os.path.dirname(source_path), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                try:
                    write_entry(parent, os.path.basename(source_path), arcname, out)
                finally:
                    os.close(parent)

    rootfs.run_inside(paths, record, work, writable=True, parent_side=give, close_after_fork=(data_r, name_w))


def _destination(root_fd: int, dest: str, source: str) -> tuple[int, str | None]:
    """Where in the container the stream goes: (directory fd, the name its top entry
    takes; None for a tar from stdin, which keeps its own names)."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
    try:
        fd = _core.open_in_root(root_fd, dest, flags)  # an existing directory: into it
        return fd, None if source == "-" else os.path.basename(os.path.abspath(source))
    except NotADirectoryError:
        if source == "-":
            raise PyctrError(f"{dest} in the container is not a directory") from None
    except FileNotFoundError:
        if source == "-" or dest.endswith("/"):
            raise NotFound(f"no such directory in the container: {dest}") from None
    try:
        return _parent_in(root_fd, dest)
    except FileNotFoundError:
        raise NotFound(f"no such directory in the container: {os.path.dirname(dest)}") from None
