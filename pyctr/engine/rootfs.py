"""A container's files, reached from outside (export, cp): in a fork that takes a mount
namespace of its own and mounts the container's overlay there (the mount goes with the
fork whatever happens to it), or, to write into a running container so that it sees the
change at once, through its own root (/proc/PID/root).  The work is handed a directory
fd of that root and resolves every path below it with openat2(RESOLVE_IN_ROOT): a link
the container made resolves inside the container.  Nothing is chrooted: code that runs
as host root must not load anything (an NSS module, a locale) from the container's files.

The work runs in the fork and talks to the caller only through the fds it inherits and
its exit: an error comes back as one line on a pipe.
"""

import os

from ..runtime import _core
from ..runtime.plan import ROOTFS_OPTIONS
from . import containers
from .errors import PyctrError
from .paths import Paths
from .store import ContainerRecord


def _options(config: dict) -> dict[str, str]:
    text = (config.get("annotations") or {}).get(ROOTFS_OPTIONS, "")
    return dict(part.split("=", 1) for part in text.split(",") if "=" in part)


def read_only_view(config: dict) -> str:
    """Overlay options for the container's merged files, read-only: its upper dir as the
    top lower one (a running container's overlay keeps its upper dir to itself)."""
    options = _options(config)
    if "lowerdir" not in options or "upperdir" not in options:
        raise PyctrError("the container has no overlay rootfs")
    return f"lowerdir={options['upperdir']}:{options['lowerdir']}"


def writable_view(config: dict) -> str:
    options = _options(config)
    return f"lowerdir={options['lowerdir']},upperdir={options['upperdir']},workdir={options['workdir']}"


def run_inside(paths: Paths, record: ContainerRecord, work, writable: bool = False, parent_side=None,
               close_after_fork=()) -> None:
    """`work(root_fd)` in a fork, `root_fd` the container's files (see above): read-only
    unless `writable`.  Meanwhile `parent_side()`, if given, runs here, once the fds in
    `close_after_fork` (the fork's ends of pipes) are closed.  Raises PyctrError with what
    failed in the fork."""
    config = containers.read_config(paths, record.id)
    if config is None:
        raise PyctrError(f"container {record.id[:12]} has no config")
    state = containers.runtime_state(paths, record) if writable else None
    errors_r, errors_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - measured by the tests of export and cp
        os.close(errors_r)
        try:
            if state is not None:  # running: through its own root, which its overlay is under
                root_fd = os.open(f"/proc/{state.pid}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            else:
                _core.private_mounts()
                mountpoint = paths.container_file(record.id, "rootfs")
                _core.mount_overlay(writable_view(config) if writable else read_only_view(config), mountpoint,
                                    readonly=not writable)
                root_fd = os.open(mountpoint, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            work(root_fd)
        except BaseException as e:  # noqa: BLE001 - one line back to the caller
            os.write(errors_w, (str(e) or type(e).__name__).encode()[:4000])
            os._exit(1)
        os._exit(0)
    os.close(errors_w)
    for fd in close_after_fork:
        os.close(fd)
    try:
        if parent_side is not None:
            parent_side()
    except BaseException:
        os.kill(pid, 9)  # its message, if it failed first, stays in the pipe
        os.waitpid(pid, 0)
        message = _message(errors_r)
        if message and "Broken pipe" not in message:
            raise PyctrError(message) from None
        raise
    message = _message(errors_r)
    _, status = os.waitpid(pid, 0)
    if message or status != 0:
        raise PyctrError(message or f"reading the container's files failed (status {status})")


def _message(fd: int) -> str:
    with os.fdopen(fd, "rb") as errors:
        return errors.read().decode(errors="replace")
