"""A layer taken in (ingest.py): decompression bounded whatever the ratio, what follows the
tar's end capped, and the blob's digest over every byte that came."""

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zlib

import pytest
import zstandard

from pyctr.images.blobs import BlobStore, DigestMismatch
from pyctr.images.image import ImageError
from pyctr.images.ingest import MAX_TRAILING, ingest

MiB = 1 << 20
ZEROS = bytes(MiB)
MAX_RSS = 200 * MiB


def tar_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def header_of(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    return info.tobuf(tarfile.PAX_FORMAT)


def gzip_of(data: bytes) -> bytes:
    c = zlib.compressobj(9, wbits=31)
    return c.compress(data) + c.flush()


def gzip_zeros(n: int) -> bytes:
    """n MiB of zeros as concatenated gzip members (as gzip(1) reads them): 64 MiB is
    compressed once and repeated, 2 GiB in 0.2 s."""
    member = gzip_of(bytes(64 * MiB))
    return member * (n // 64) + gzip_of(bytes((n % 64) * MiB))


def zstd_zeros(n: int, before: bytes = b"", after: bytes = b"") -> bytes:
    """`before`, n MiB of zeros, `after`, in one zstd frame."""
    c = zstandard.ZstdCompressor(level=3).compressobj()
    return c.compress(before) + b"".join(c.compress(ZEROS) for _ in range(n)) + c.compress(after) + c.flush()


def content_bomb(kind: str, mib: int) -> bytes:
    """A layer of one file of `mib` MiB of zeros."""
    head, end = header_of("zeros", mib * MiB), bytes(1024)
    if kind == "gzip":
        return gzip_of(head) + gzip_zeros(mib) + gzip_of(end)
    return zstd_zeros(mib, head, end)


def trailing_bomb(kind: str, mib: int) -> bytes:
    """A small layer, then `mib` MiB of zeros after its tar's end."""
    tar = tar_of({"etc/x": b"x"})
    return gzip_of(tar) + gzip_zeros(mib) if kind == "gzip" else zstd_zeros(mib, tar)


CHILD = """
import json, sys
from pyctr.images.blobs import BlobStore
from pyctr.images.image import ImageError
from pyctr.images.ingest import ingest
path, root, digest = sys.argv[1:4]
try:
    with open(path, "rb") as f:
        layer = ingest(f, BlobStore(root + "/blobs", root + "/tmp"), root + "/layers", root + "/tmp", None,
                       blob_digest=digest or None)
    result = {"size": layer.size}
except ImageError as e:
    result = {"error": str(e), "kind": type(e).__name__}
# VmHWM, not ru_maxrss: the latter carries the forking parent's peak across the exec (a
# pytest grown large would be measured), the mm's high-water mark starts anew with it
with open("/proc/self/status") as status:
    result["rss"] = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
print(json.dumps(result))
"""


def ingest_in_child(tmp_path, blob: bytes, digest: str = "") -> dict:
    """ingest of `blob` in a process of its own: its result and peak RSS."""
    path = tmp_path / "blob"
    path.write_bytes(blob)
    r = subprocess.run([sys.executable, "-c", CHILD, str(path), str(tmp_path / "store"), digest],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)  # not the source tree
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_a_decompression_bomb_is_unpacked_in_bounded_memory(tmp_path, kind):
    """512 MiB of zeros from 0.5 MB (gzip) or 16 KB (zstd): written out, never held."""
    blob = content_bomb(kind, 512)
    result = ingest_in_child(tmp_path, blob, f"sha256:{hashlib.sha256(blob).hexdigest()}")
    shutil.rmtree(tmp_path / "store")  # half a GiB
    assert result.get("size") == 512 * MiB, result
    assert result["rss"] < MAX_RSS


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_a_bomb_after_the_tar_end_is_refused_in_bounded_memory(tmp_path, kind):
    """2 GiB of zeros after a small tar's end: refused past MAX_TRAILING, one line; with
    a wrong blob digest the blob is blamed (its bytes all read, not decompressed)."""
    blob = trailing_bomb(kind, 2048)
    result = ingest_in_child(tmp_path, blob, f"sha256:{hashlib.sha256(blob).hexdigest()}")
    assert result["kind"] == "ImageError" and "after its tar's end" in result["error"], result
    assert result["rss"] < MAX_RSS
    result = ingest_in_child(tmp_path, blob, "sha256:" + "0" * 64)
    assert result["kind"] == "DigestMismatch" and "digest mismatch" in result["error"], result
    assert result["rss"] < MAX_RSS
    assert not os.listdir(tmp_path / "store" / "tmp") and not os.listdir(tmp_path / "store" / "blobs" / "sha256")


def take_in(tmp_path, blob: bytes, **options):
    root = tmp_path / "store"
    blobs = BlobStore(str(root / "blobs"), str(root / "tmp"))
    return ingest(io.BytesIO(blob), blobs, str(root / "layers"), str(root / "tmp"), None, **options), blobs


@pytest.mark.parametrize("kind", ["tar", "gzip", "zstd"])
def test_padding_after_the_tar_end_is_taken_and_hashed(tmp_path, kind):
    """Up to MAX_TRAILING after the tar's end is part of the diff; the blob's digest is
    over every raw byte, a second gzip member or zstd frame of padding too."""
    tar = tar_of({"etc/x": b"x"}) + bytes(MAX_TRAILING - 10240)  # tarfile reads 10 KiB past the end
    blob = {"tar": tar, "gzip": gzip_of(tar[:5000]) + gzip_of(tar[5000:]),
            "zstd": zstandard.ZstdCompressor().compress(tar[:5000]) + zstandard.ZstdCompressor().compress(tar[5000:])}[kind]
    digest = f"sha256:{hashlib.sha256(blob).hexdigest()}"
    layer, blobs = take_in(tmp_path, blob, blob_digest=digest, diff_id=f"sha256:{hashlib.sha256(tar).hexdigest()}")
    assert layer.blob == digest and layer.blob_size == len(blob) and layer.size == 1
    assert open(blobs.path(digest), "rb").read() == blob


def test_more_than_the_cap_after_a_plain_tar_is_refused(tmp_path):
    with pytest.raises(ImageError, match=r"^a layer with more than 1 MiB after its tar's end$"):
        take_in(tmp_path, tar_of({"etc/x": b"x"}) + bytes(2 * MAX_TRAILING))
    assert not os.listdir(tmp_path / "store" / "tmp")


@pytest.mark.parametrize("kind,blob,message", [
    ("gzip", lambda tar: gzip_of(tar)[:-100], "the layer's gzip stream is truncated"),
    ("gzip", lambda tar: gzip_of(tar)[:100] + b"\xff" * 200 + gzip_of(tar)[300:], "the layer's gzip stream is damaged"),
    ("gzip", lambda tar: gzip_of(tar) + b"not gzip", "the layer's gzip stream is damaged"),
    ("zstd", lambda tar: zstandard.ZstdCompressor().compress(tar) + b"not zstd", "the layer's zstd stream is damaged"),
])
def test_a_damaged_stream_is_a_one_line_error(tmp_path, kind, blob, message):
    with pytest.raises(ImageError) as error:
        take_in(tmp_path, blob(tar_of({"etc/x": os.urandom(20000)})))
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_a_damaged_stream_of_a_wrong_blob_blames_the_blob(tmp_path):
    blob = gzip_of(tar_of({"etc/x": os.urandom(20000)}))
    with pytest.raises(DigestMismatch, match="digest mismatch"):
        take_in(tmp_path, blob[:100] + b"\xff" * 200 + blob[300:], blob_digest=f"sha256:{hashlib.sha256(blob).hexdigest()}")
