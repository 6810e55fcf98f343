"""Files users name on the command line (env files, seccomp profiles), read whole but
bounded: regular files only, opened without blocking, so that /dev/zero cannot eat memory
and a FIFO cannot hang pyctr."""

import os
import stat

from .errors import PyctrError


def read_bounded(path: str, limit: int, what: str) -> bytes:
    """The file's bytes; PyctrError (one line, naming it as `what`) for anything else."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as e:
        raise PyctrError(f"cannot read {what} {path}: {e.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise PyctrError(f"{what} {path} is not a regular file")
        data = os.read(fd, limit + 1)
    except OSError as e:
        raise PyctrError(f"cannot read {what} {path}: {e.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise PyctrError(f"{what} {path} is larger than {limit >> 20} MiB")
    return data
