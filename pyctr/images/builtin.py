"""The built-in `busybox` image, made from the host's static busybox (Debian's
busybox-static), so pyctr runs containers with no registry at all.

The image is reproducible: every file gets the binary's mtime, so the same busybox always
gives the same layer digest and image id.
"""

import io
import os
import shutil
import struct
import subprocess
import tempfile
import time

from . import layers
from .blobs import BlobStore
from .image import DEFAULT_PATH, Image, ImageError
from .ingest import MEDIA_TYPE, TAR, Layer, ingest
from .oci import image_of

NAME = "busybox"
TAG = "latest"
CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")

PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n"
DIRS = {"bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "proc": 0o555, "root": 0o700,
        "run": 0o755, "sbin": 0o755, "sys": 0o555, "tmp": 0o1777, "usr": 0o755,
        "usr/bin": 0o755, "usr/sbin": 0o755, "var": 0o755}


def is_static_elf(path: str) -> bool:
    """True for an ELF64 executable without a PT_INTERP (dynamic loader) segment."""
    with open(path, "rb") as f:
        header = f.read(64)
        if len(header) < 64 or header[:4] != b"\x7fELF" or header[4] != 2:
            return False
        phoff, = struct.unpack_from("<Q", header, 32)
        phentsize, phnum = struct.unpack_from("<HH", header, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    return all(struct.unpack_from("<I", table, i * phentsize)[0] != 3 for i in range(phnum))


def find_busybox() -> str:
    for path in (shutil.which("busybox"), *CANDIDATES):
        if path and os.path.exists(path) and is_static_elf(path):
            return os.path.realpath(path)
    raise ImageError("no static busybox on this host: install it with `apt-get install busybox-static`")


def populate(rootfs: str, busybox: str) -> None:
    """Lays out a minimal root: busybox, a symlink per applet, passwd, group, empty dirs."""
    os.makedirs(rootfs, exist_ok=True)
    os.chmod(rootfs, 0o755)  # the image's `/`, whatever the umask
    for d, mode in DIRS.items():
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
        os.chmod(os.path.join(rootfs, d), mode)
    shutil.copy2(busybox, os.path.join(rootfs, "bin/busybox"))
    applets = subprocess.run([busybox, "--list-full"], capture_output=True, text=True, check=True)
    for applet in applets.stdout.split():
        link = os.path.join(rootfs, applet)
        if applet == "bin/busybox" or os.path.lexists(link):
            continue
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink("/bin/busybox", link)
    for name, text in (("etc/passwd", PASSWD), ("etc/group", GROUP)):
        with open(os.path.join(rootfs, name), "w") as f:
            f.write(text)


def _set_mtimes(rootfs: str, mtime: int) -> None:
    for dirpath, dirnames, filenames in os.walk(rootfs):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (mtime, mtime), follow_symlinks=False)
    os.utime(rootfs, (mtime, mtime))


def build(blobs: BlobStore, layers_dir: str, scratch_dir: str) -> tuple[Image, Layer]:
    """Builds the image's one layer (by way of `scratch_dir`, on the store's filesystem)
    and returns the image and its layer, for the engine to record as busybox:latest.  The
    layer goes in as any layer does (ingest.py): a blob, unpacked under `layers_dir`."""
    busybox = find_busybox()
    mtime = int(os.stat(busybox).st_mtime)
    os.makedirs(scratch_dir, mode=0o700, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix=f"busybox-{os.getpid()}-", dir=scratch_dir)
    try:
        tree = os.path.join(scratch, "tree")
        populate(tree, busybox)
        _set_mtimes(tree, mtime)
        tar = io.BytesIO()
        layers.write_deterministic_tar(tree, mtime, tar)
        tar.seek(0)
        layer = ingest(tar, blobs, layers_dir, scratch_dir, None, media_type=MEDIA_TYPE[TAR])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mtime))
    config = {
        "created": created,
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": [f"PATH={DEFAULT_PATH}"], "Cmd": ["sh"]},
        "history": [{"created": created, "created_by": f"pyctr built-in from {busybox}"}],
    }
    return image_of(blobs, config, [layer], NAME, TAG), layer
