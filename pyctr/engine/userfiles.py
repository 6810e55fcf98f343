"""Files users name on the command line (env files, seccomp profiles), read whole but
bounded, as regularfiles reads them: regular files only, looked at before they are
opened, so that /dev/zero cannot eat memory, a FIFO cannot hang pyctr and a device node
is never opened."""

import os

from .. import regularfiles
from .errors import PyctrError


def read_bounded(path: str, limit: int, what: str) -> bytes:
    """The file's bytes; PyctrError (one line, naming it as `what`) for anything else."""
    try:
        found = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError as e:
        raise PyctrError(f"cannot read {what} {path}: {e.strerror}") from None
    try:
        return regularfiles.read(found, path, limit)
    except OSError as e:
        if e.errno == 22:
            raise PyctrError(f"{what} {path} is not a regular file") from None
        if e.errno == 27:
            raise PyctrError(f"{what} {path} is larger than {limit >> 20} MiB") from None
        raise PyctrError(f"cannot read {what} {path}: {e.strerror}") from None
    finally:
        os.close(found)
