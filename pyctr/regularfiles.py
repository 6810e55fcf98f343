"""Files read whole from places others control (a container's rootfs, an image layer, a
path a user names): looked at before they are opened, regular files only, bounded.

Opening is an act: a device node's open can act on the device, a FIFO's can hang or wake
a writer.  So the path is opened O_PATH first, its type checked with fstat, and only a
regular file is opened for reading, through its fd, so nothing can be swapped in between.
"""

import os
import stat


def read(found: int, name: str, limit: int) -> bytes:
    """The content of the file `found` (an O_PATH fd, not closed here) names, at most
    `limit` bytes.  OSError: EINVAL for what is not a regular file, EFBIG past the limit."""
    if not stat.S_ISREG(os.fstat(found).st_mode):
        raise OSError(22, "not a regular file", name)
    fd = os.open(f"/proc/self/fd/{found}", os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        data = os.read(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise OSError(27, f"larger than {limit} bytes", name)
    return data
