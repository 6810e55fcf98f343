"""A directory made into a deterministic layer tar (the built-in image's): sorted names,
owner root, one mtime, so the same files always give the same digest."""

import tarfile


def write_deterministic_tar(path: str, mtime: int, out) -> None:
    """`path`'s content as a PAX tar into `out` (a file-like .write)."""

    def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = mtime
        return info

    import os
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(os.listdir(path)):
            tar.add(os.path.join(path, name), arcname=name, filter=normalise)
