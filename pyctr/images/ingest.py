"""A layer taken in, in one pass: the bytes as they come (from a registry, an archive, a
container's diff) are hashed and kept as a blob, decompressed, hashed again (the diff id)
and unpacked into a directory of their own, which is renamed to layers/<chain id> only
once both digests are checked.  A layer that exists is whole; a pass that fails or is
killed leaves only its temporary files (tmp/, swept by the next command).

The source is read on a thread of its own (readahead.py: reading a socket or file,
hashing, writing the blob and zlib all let go of the GIL), so the unpacking, which is
mostly system calls made from Python, has the other core: `zcat | tar -x`'s two
processes, in one.

A layer is untrusted, its compression too: 200 KB of zstd can hold 6 GiB of zeros.  So
the decompressor pulls the raw bytes it needs through a tee (which keeps and hashes them
as the blob) and hands out at most n bytes a read, and what follows the tar's end is
taken only up to MAX_TRAILING.
"""

import hashlib
import os
import shutil
import zlib

from ..records import record
from .blobs import BlobStore, DigestMismatch
from .image import ImageError, layer_dir

CHUNK = 1 << 20
MAX_TRAILING = 1 << 20  # uncompressed bytes after the tar's end: a real layer pads a few records

# what a layer's bytes are, by media type (docker's and OCI's); None: look at them
GZIP, ZSTD, TAR = "gzip", "zstd", "tar"
COMPRESSION = {
    "application/vnd.oci.image.layer.v1.tar": TAR,
    "application/vnd.oci.image.layer.v1.tar+gzip": GZIP,
    "application/vnd.oci.image.layer.v1.tar+zstd": ZSTD,
    "application/vnd.docker.image.rootfs.diff.tar.gzip": GZIP,
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": GZIP,
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": GZIP,
}
MEDIA_TYPE = {TAR: "application/vnd.oci.image.layer.v1.tar", GZIP: "application/vnd.oci.image.layer.v1.tar+gzip",
              ZSTD: "application/vnd.oci.image.layer.v1.tar+zstd"}


@record
class Layer:
    chain_id: str  # hex: its directory under layers/
    diff_id: str  # "sha256:<hex>" of the uncompressed tar
    blob: str  # "sha256:<hex>" of the bytes as kept
    blob_size: int
    media_type: str
    size: int  # bytes of its files, unpacked


def chain_id(parent: str | None, diff_id: str) -> str:
    """The OCI chain id (hex): a layer together with every layer below it."""
    if parent is None:
        return diff_id.removeprefix("sha256:")
    return hashlib.sha256(f"sha256:{parent} {diff_id}".encode()).hexdigest()


def chain_ids(diff_ids: list[str]) -> list[str]:
    out: list[str] = []
    for diff_id in diff_ids:
        out.append(chain_id(out[-1] if out else None, diff_id))
    return out


def sniff(head: bytes) -> str:
    if head[:2] == b"\x1f\x8b":
        return GZIP
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return ZSTD
    return TAR


def _zstandard():
    try:
        import zstandard  # only for zstd layers: its import is 15 ms
    except ImportError:
        raise ImageError("zstd layers need the zstandard module: pip install zstandard") from None
    return zstandard


def decompressing(raw, kind: str):
    """A .read(n) of `raw`'s bytes (a .read(n) too) decompressed as `kind`, at most n a
    read whatever the ratio; damaged(kind) lists what it raises for bytes that are not
    of that kind."""
    if kind == GZIP:
        return _Gunzip(raw)
    if kind == ZSTD:  # every frame, as zstd(1): skippable ones (zstd:chunked's) skipped
        return _zstandard().ZstdDecompressor().stream_reader(raw, read_size=CHUNK, read_across_frames=True)
    return raw


def damaged(kind: str) -> tuple:
    """What decompressing(raw, kind) raises for bytes that are not of that kind."""
    if kind == GZIP:
        return (zlib.error,)
    if kind == ZSTD:
        return (_zstandard().ZstdError,)
    return ()


class _Gunzip:
    """gzip members (one, or several as `cat a.gz b.gz` makes) inflated at most n bytes a
    read.  zlib's own loop rather than gzip.GzipFile, which reads 128 KiB at a time
    through three Python layers: 1.5 s against 0.9 s for the Debian layer unpacked into
    /dev/shm (the same on a disk, which is the floor there)."""

    def __init__(self, raw):
        self.raw = raw
        self.z = zlib.decompressobj(wbits=31)

    def read(self, n: int) -> bytes:
        while True:
            if self.z.eof:  # the next member, if any
                data = self.z.unused_data or self.raw.read(CHUNK)
                if not data:
                    return b""
                self.z = zlib.decompressobj(wbits=31)
            else:
                data = self.z.unconsumed_tail or self.raw.read(CHUNK)
            out = self.z.decompress(data, n)  # b"" in: what zlib still holds comes out
            if out:
                return out
            if not data and not self.z.eof:
                raise EOFError("the gzip stream ends in a member")


class _Tee:
    """The layer's bytes as they come, read only as the decompressor asks for them: each
    read kept as the blob (hashed there) and told to `progress`."""

    def __init__(self, source, blob, progress):
        self.source, self.blob, self.progress = source, blob, progress
        self.head = b""  # read to sniff the compression, not yet handed out
        self.done = False

    def sniff(self) -> str:
        self.head = self.read(CHUNK)
        if not self.head:
            raise ImageError("the layer is empty")
        return sniff(self.head)

    def read(self, n: int = -1) -> bytes:
        if self.head:
            data = self.head if n < 0 else self.head[:n]
            self.head = self.head[len(data):]
            return data
        data = self.source.read(n if n > 0 else CHUNK)
        if not data:
            self.done = True
        else:
            self.blob.write(data)
            if self.progress:
                self.progress(len(data))
        return data

    def drain(self) -> None:
        """The rest of the blob (bounded by what the source was promised), kept too."""
        while self.read(CHUNK):
            pass


class _Digesting:
    """The layer's tar, read from its source through a _Tee, decompressed at most n bytes
    a read, and hashed (the diff id).  ReadAhead runs it on a thread of its own."""

    def __init__(self, source, blob, kind: str | None, progress):
        self.tee = _Tee(source, blob, progress)
        self.kind = kind
        self.reader = None  # the decompressed stream, opened at the first read
        self.diff = hashlib.sha256()

    def read(self, n: int) -> bytes:
        if self.reader is None:
            self.reader = self._open()
        try:
            data = self.reader.read(n)
        except EOFError:
            raise ImageError(f"the layer's {self.kind} stream is truncated") from None
        except damaged(self.kind) as e:
            raise ImageError(f"the layer's {self.kind} stream is damaged: {e}") from None
        self.diff.update(data)
        return data

    def _open(self):
        sniffed = self.tee.sniff()
        self.kind = self.kind or sniffed
        return decompressing(self.tee, self.kind)

    def finish(self, stream) -> None:
        """After the tar's end: what follows it read (and hashed, it is part of the diff)
        up to MAX_TRAILING, then the rest of the blob's bytes kept."""
        trailing = 0
        while data := stream.read(CHUNK):
            trailing += len(data)
            if trailing > MAX_TRAILING:
                raise ImageError(f"a layer with more than {MAX_TRAILING >> 20} MiB after its tar's end")
        self.tee.drain()


def ingest(source, blobs: BlobStore, layers_dir: str, tmp_dir: str, parent: str | None, *,
           media_type: str | None = None, blob_digest: str | None = None, diff_id: str | None = None,
           progress=None) -> Layer:
    """Takes in one layer from `source` (a file-like .read(n)): its bytes kept as a blob
    (checked against `blob_digest` if given), unpacked into layers/<chain id>/diff
    (the diff checked against `diff_id` if given), on top of the chain `parent`.
    `progress(n)` hears of each chunk read."""
    from .readahead import ReadAhead
    from .unpack import unpack  # tarfile and the rest: only when a layer comes in
    kind = COMPRESSION.get(media_type) if media_type else None
    if media_type and kind is None:
        raise ImageError(f"unsupported layer media type {media_type!r}")
    os.makedirs(tmp_dir, mode=0o700, exist_ok=True)
    scratch = os.path.join(tmp_dir, f"layer-{os.getpid()}-{os.urandom(6).hex()}")
    os.mkdir(scratch, 0o700)
    try:
        os.mkdir(os.path.join(scratch, "diff"), 0o755)
        with blobs.writer(blob_digest) as blob:
            tar = _Digesting(source, blob, kind, progress)
            try:
                with ReadAhead(tar, CHUNK) as stream:
                    stats = unpack(stream, os.path.join(scratch, "diff"))
                    tar.finish(stream)
            except ImageError:
                if blob_digest:
                    _blame_the_blob(tar, blob, blob_digest)
                raise
            got_diff = f"sha256:{tar.diff.hexdigest()}"
            if diff_id and got_diff != diff_id:
                raise DigestMismatch(f"layer {diff_id} does not match its content: got {got_diff}")
        layer = Layer(chain_id(parent, got_diff), got_diff, blob.digest, blob.size,
                      media_type or MEDIA_TYPE[tar.kind], stats.bytes)
        place(scratch, layer_dir(layers_dir, layer.chain_id))
        return layer
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _blame_the_blob(tar: _Digesting, blob, expected: str) -> None:
    """A layer that would not decompress or unpack may simply not be the blob it was said
    to be: read the rest of it, and if its digest is wrong, say that instead."""
    if not tar.tee.done:
        while data := tar.tee.source.read(CHUNK):  # bounded: by the size the source was promised
            blob.sha.update(data)
    got = f"sha256:{blob.sha.hexdigest()}"
    if got != expected:
        raise DigestMismatch(f"blob {expected} digest mismatch: got {got}") from None


def place(scratch: str, final: str) -> None:
    """Renames a finished layer directory into place; one that is there already (another
    pull made the same layer) stays, and ours goes."""
    os.makedirs(os.path.dirname(final), mode=0o700, exist_ok=True)
    try:
        os.rename(scratch, final)
    except OSError as e:
        if not os.path.isdir(final):
            raise ImageError(f"cannot store layer {os.path.basename(final)[:12]}: {e.strerror}") from None
