"""Files written whole: to a temp file beside the target, then renamed over it, so a
reader (or a crash) sees the old content or the new, never a part."""

import os


def write_atomic(path: str, data: str | bytes, mode: int = 0o600) -> None:
    """`mode` 0600 by default: state files name commands, environments and bundles."""
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        data = data.encode() if isinstance(data, str) else data
        while data:
            data = data[os.write(fd, data):]
    finally:
        os.close(fd)
    os.rename(tmp, path)
