"""`cp` between a container and the host, both ways, as a tar stream: the container's side
runs inside its files (rootfs.py), so a path or link the container made resolves there;
the host's side takes the stream in with the layer unpacker, which keeps it inside the
destination.  Files take the owner root at their destination, as docker's `cp` does."""

import os
import sys
import tarfile

from . import containers, rootfs
from .errors import NotFound, PyctrError
from .paths import Paths
from .store import Store


def split(arg: str) -> tuple[str | None, str]:
    """'web:/etc/motd' -> ('web', '/etc/motd'); a host path -> (None, path).  docker's
    rule: a colon before any slash names a container (`./a:b` is a host path)."""
    head, sep, tail = arg.partition(":")
    if sep and head and "/" not in head:
        return head, tail
    return None, arg


def _as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _write_tar(path: str, arcname: str, out_fd: int) -> None:
    with os.fdopen(out_fd, "wb", buffering=1 << 20) as out, tarfile.open(fileobj=out, mode="w|",
                                                                            format=tarfile.PAX_FORMAT) as tar:
        tar.add(path, arcname=arcname, filter=_as_root)


def copy_out(paths: Paths, store: Store, name: str, source: str, dest: str) -> None:
    """The container's `source` to the host's `dest` (an existing directory: into it;
    else that name; "-": a tar on stdout)."""
    from ..images.unpack import unpack
    record = containers.lookup(store, name)
    if not source.startswith("/"):
        source = "/" + source
    if dest == "-":
        target_dir, arcname = None, os.path.basename(source.rstrip("/")) or "."
    elif os.path.isdir(dest):
        target_dir, arcname = dest, os.path.basename(source.rstrip("/")) or "."
    else:
        target_dir, arcname = os.path.dirname(os.path.abspath(dest)), os.path.basename(dest)
        if not os.path.isdir(target_dir):
            raise NotFound(f"no such directory: {target_dir}")
    read_fd, write_fd = os.pipe()

    def work() -> None:
        os.close(read_fd)
        if not os.path.lexists(source):
            raise NotFound(f"Could not find the file {source} in container {name}")
        _write_tar(source, arcname, write_fd)

    def take_in() -> None:
        with os.fdopen(read_fd, "rb") as stream:
            if target_dir is None:
                while chunk := stream.read(1 << 20):
                    sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
            else:
                unpack(stream, target_dir)

    rootfs.run_inside(paths, record, work, parent_side=take_in, close_after_fork=(write_fd,))


def copy_in(paths: Paths, store: Store, source: str, name: str, dest: str) -> None:
    """The host's `source` ("-": a tar on stdin) into the container at `dest`."""
    record = containers.lookup(store, name)
    if not dest.startswith("/"):
        dest = "/" + dest
    if source != "-" and not os.path.lexists(source):
        raise NotFound(f"no such file or directory: {source}")
    kind = _kind_inside(paths, record, dest)
    if source == "-" or kind == "dir":
        target_dir, arcname = dest, os.path.basename(os.path.abspath(source))
    elif kind == "none" and dest.endswith("/"):
        raise NotFound(f"no such directory in the container: {dest}")
    else:
        target_dir, arcname = os.path.dirname(dest.rstrip("/")) or "/", os.path.basename(dest.rstrip("/"))
    from ..images.unpack import unpack
    read_fd, write_fd = os.pipe()

    def work() -> None:
        os.close(write_fd)
        if not os.path.isdir(target_dir):
            raise NotFound(f"no such directory in the container: {target_dir}")
        with os.fdopen(read_fd, "rb") as stream:
            unpack(stream, target_dir)

    def give() -> None:
        if source == "-":
            with os.fdopen(write_fd, "wb") as out:
                while chunk := sys.stdin.buffer.read(1 << 20):
                    out.write(chunk)
        else:
            _write_tar(source, arcname, write_fd)

    rootfs.run_inside(paths, record, work, writable=True, parent_side=give, close_after_fork=(read_fd,))


def _kind_inside(paths: Paths, record, path: str) -> str:
    """'dir', 'file' or 'none': what `path` is in the container (links followed inside it)."""
    read_fd, write_fd = os.pipe()
    answer = []

    def work() -> None:
        os.close(read_fd)
        kind = "dir" if os.path.isdir(path) else "file" if os.path.lexists(path) else "none"
        os.write(write_fd, kind.encode())

    def hear() -> None:
        with os.fdopen(read_fd, "rb") as f:
            answer.append(f.read(16).decode())

    rootfs.run_inside(paths, record, work, parent_side=hear, close_after_fork=(write_fd,))
    if not answer or answer[0] not in ("dir", "file", "none"):
        raise PyctrError(f"cannot look into container {record.name}")
    return answer[0]
