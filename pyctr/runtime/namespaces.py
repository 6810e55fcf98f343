"""Namespaces a new container joins by path (OCI linux.namespaces[].path, as `--net host` or
`--net container:NAME` ask): opened in the parent just for the clone, each checked to be a
namespace of the type the config names; the child setns()es into them (csrc/child.c).

Only imported for a config that joins one: `run` without it never loads fcntl.
"""

import fcntl
import os

from . import _core
from .errors import ConfigError
from .plan import CLONE_FLAGS

NS_GET_NSTYPE = 0xB703  # _IO(0xb7, 0x3), <linux/nsfs.h>: the CLONE_NEW* of a namespace fd
_NAMES = {flag: name for name, flag in CLONE_FLAGS.items()}


def open_all(paths: list[tuple[int, str]]) -> list[tuple[int, int]]:
    """(CLONE_NEW*, path) -> (fd, CLONE_NEW*), close-on-exec; ConfigError (none left open)
    for a path that cannot be opened or is not a namespace of that type."""
    opened = []
    try:
        for flag, path in paths:
            opened.append((_open_checked(flag, path), flag))
    except BaseException:
        close_all(opened)
        raise
    return opened


class pid_namespace_for_children:
    """`with pid_namespace_for_children(opened):` a pid namespace among `opened` is joined
    by this process for the clone (setns makes it the namespace of our next child, not
    ours), then left; the others the child joins itself (csrc/child.c skips pid)."""

    def __init__(self, opened: list[tuple[int, int]]):
        self.fd = next((fd for fd, flag in opened if flag == CLONE_FLAGS["pid"]), -1)
        self.own = -1

    def __enter__(self) -> None:
        if self.fd >= 0:
            self.own = os.open("/proc/self/ns/pid_for_children", os.O_RDONLY | os.O_CLOEXEC)
            try:
                _core.setns(self.fd, CLONE_FLAGS["pid"])
            except BaseException:
                os.close(self.own)
                self.own = -1
                raise

    def __exit__(self, *_exc) -> None:
        if self.own >= 0:
            _core.setns(self.own, CLONE_FLAGS["pid"])
            os.close(self.own)


def close_all(opened: list[tuple[int, int]]) -> None:
    for fd, _ in opened:
        os.close(fd)


def _open_checked(flag: int, path: str) -> int:
    want = _NAMES[flag]
    # a magic link (/proc/PID/ns/net) is what a namespace path usually is: followed
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise ConfigError(f"cannot open the {want} namespace {path}: {e.strerror}") from None
    try:
        nstype = fcntl.ioctl(fd, NS_GET_NSTYPE)
    except OSError:
        os.close(fd)
        raise ConfigError(f"{path} is not a namespace") from None
    if nstype != flag:
        os.close(fd)
        raise ConfigError(f"{path} is a {_NAMES.get(nstype, 'other')} namespace, not a {want} one")
    return fd
