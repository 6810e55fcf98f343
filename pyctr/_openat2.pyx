# cython: language_level=3
"""openat2(2) with RESOLVE_IN_ROOT: a path opened as if `root_fd` were `/`.

A leaf of its own (images/ may import only leaves) and tiny on purpose: the one system
call the stdlib lacks for resolving untrusted paths inside a directory.  Symlinks and `..`
in the path stay inside the root, magic links (/proc/self/fd/N) are refused, and so is
crossing into another mount.
"""
from libc.errno cimport errno
from libc.stdint cimport uint64_t

import os

cdef extern from "<linux/openat2.h>":
    struct open_how:
        uint64_t flags
        uint64_t mode
        uint64_t resolve
    uint64_t RESOLVE_IN_ROOT
    uint64_t RESOLVE_NO_MAGICLINKS
    uint64_t RESOLVE_NO_XDEV

cdef extern from "<sys/syscall.h>":
    long SYS_openat2

cdef extern from "<unistd.h>" nogil:
    long syscall(long number, ...)


def open_in_root(int root_fd, path, int flags, int mode=0) -> int:
    """An fd for `path` (str or bytes) resolved inside the directory `root_fd`, opened
    with `flags` (O_CLOEXEC always added); OSError with the errno otherwise."""
    cdef open_how how
    cdef bytes name = os.fsencode(path)
    cdef const char *c_name = name
    cdef long fd
    how.flags = <uint64_t>(flags | os.O_CLOEXEC)
    how.mode = <uint64_t>mode
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV
    with nogil:
        fd = syscall(SYS_openat2, root_fd, c_name, &how, sizeof(how))
    if fd < 0:
        raise OSError(errno, os.strerror(errno), os.fsdecode(name))
    return fd
