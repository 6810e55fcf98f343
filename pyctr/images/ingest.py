"""A layer taken in, in one pass: the bytes as they come (from a registry, an archive, a
container's diff) are hashed and kept as a blob, decompressed, hashed again (the diff id)
and unpacked into a directory of their own, which is renamed to layers/<chain id> only
once both digests are checked.  A layer that exists is whole; a pass that fails or is
killed leaves only its temporary files (tmp/, swept by the next command).

The source is read on a thread of its own (reading a socket or file, hashing, writing the
blob and zlib all let go of the GIL), so the unpacking, which is mostly Python, has the
other core: `zcat | tar -x`'s two processes, in one.
"""

import hashlib
import os
import queue
import shutil
import threading
import zlib

from ..records import record
from .blobs import BlobStore, DigestMismatch
from .image import ImageError, layer_dir

CHUNK = 1 << 20
QUEUE_DEPTH = 16  # chunks in flight between the reader and the unpacker: 16 MiB at most

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


class _Decompressor:
    """Chunks in, chunks of the tar out."""

    def __init__(self, kind: str):
        self.kind = kind
        if kind == GZIP:
            self.z = zlib.decompressobj(wbits=31)
        elif kind == ZSTD:
            try:
                import zstandard  # only for zstd layers: its import is 15 ms
            except ImportError:
                raise ImageError("zstd layers need the zstandard module: pip install zstandard") from None
            self.z = zstandard.ZstdDecompressor().decompressobj()

    def feed(self, data: bytes) -> bytes:
        if self.kind == TAR:
            return data
        out = self.z.decompress(data)
        while self.kind == GZIP and self.z.eof and self.z.unused_data:  # concatenated gzip members
            rest = self.z.unused_data
            self.z = zlib.decompressobj(wbits=31)
            out += self.z.decompress(rest)
        return out

    def finish(self) -> bytes:
        if self.kind == GZIP:
            if not self.z.eof:
                raise ImageError("the layer's gzip stream is truncated")
            return self.z.flush()
        return b""


class _QueueReader:
    """The unpacker's end: a file whose read(n) takes chunks from the reader thread."""

    def __init__(self, chunks: "queue.Queue"):
        self.chunks = chunks
        self.buffer = memoryview(b"")
        self.done = False

    def read(self, n: int = -1) -> bytes:
        parts, want = [], n if n >= 0 else 1 << 62
        while want > 0:
            if not self.buffer:
                if self.done:
                    break
                chunk = self.chunks.get()
                if chunk is None:
                    self.done = True
                    break
                self.buffer = memoryview(chunk)
            take = self.buffer[:want]
            self.buffer = self.buffer[len(take):]
            parts.append(take)
            want -= len(take)
        return b"".join(parts)

    def drain(self) -> None:
        """Reads to the end (the tar's zero blocks may be followed by padding): the reader
        thread must never block on a full queue nobody reads."""
        while self.read(CHUNK):
            pass


class _Pump(threading.Thread):
    """Reads the source to its end: blob file and digest, decompression, diff digest;
    the tar's bytes go to the queue."""

    def __init__(self, source, blob, kind: str | None, progress):
        super().__init__(daemon=True)
        self.source, self.blob, self.kind, self.progress = source, blob, kind, progress
        self.chunks: queue.Queue = queue.Queue(QUEUE_DEPTH)
        self.diff = hashlib.sha256()
        self.error: BaseException | None = None
        self.stopped = False
        self.found = self.kind  # the compression, once the first bytes are seen

    def run(self) -> None:
        try:
            self._pump()
        except BaseException as e:  # noqa: BLE001 - handed to the unpacking thread
            self.error = e
        finally:
            self._put(None)

    def _put(self, chunk) -> None:
        while not self.stopped:
            try:
                self.chunks.put(chunk, timeout=0.2)
                return
            except queue.Full:
                continue

    def _pump(self) -> None:
        decompressor = None
        while not self.stopped:
            data = self.source.read(CHUNK)
            if not data:
                break
            self.blob.write(data)
            if decompressor is None:
                self.found = self.kind or sniff(data)
                decompressor = _Decompressor(self.found)
            if self.progress:
                self.progress(len(data))
            self._tar(decompressor.feed(data))
        if decompressor is None:
            raise ImageError("the layer is empty")
        self._tar(decompressor.finish())

    def _tar(self, data: bytes) -> None:
        if data:
            self.diff.update(data)
            self._put(data)


def ingest(source, blobs: BlobStore, layers_dir: str, tmp_dir: str, parent: str | None, *,
           media_type: str | None = None, blob_digest: str | None = None, diff_id: str | None = None,
           progress=None) -> Layer:
    """Takes in one layer from `source` (a file-like .read(n)): its bytes kept as a blob
    (checked against `blob_digest` if given), unpacked into layers/<chain id>/diff
    (the diff checked against `diff_id` if given), on top of the chain `parent`.
    `progress(n)` hears of each chunk read."""
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
            pump = _Pump(source, blob, kind, progress)
            stream = _QueueReader(pump.chunks)
            pump.start()
            try:
                stats = unpack(stream, os.path.join(scratch, "diff"))
                stream.drain()
            finally:
                pump.stopped = not stream.done  # unpack failed: the reader need not go on
                pump.join()
            if pump.error is not None:
                raise pump.error
            got_diff = f"sha256:{pump.diff.hexdigest()}"
            if diff_id and got_diff != diff_id:
                raise DigestMismatch(f"layer {diff_id} does not match its content: got {got_diff}")
        layer = Layer(chain_id(parent, got_diff), got_diff, blob.digest, blob.size,
                      media_type or MEDIA_TYPE[pump.found], stats.size)
        place(scratch, layer_dir(layers_dir, layer.chain_id))
        return layer
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def place(scratch: str, final: str) -> None:
    """Renames a finished layer directory into place; one that is there already (another
    pull made the same layer) stays, and ours goes."""
    os.makedirs(os.path.dirname(final), mode=0o700, exist_ok=True)
    try:
        os.rename(scratch, final)
    except OSError as e:
        if not os.path.isdir(final):
            raise ImageError(f"cannot store layer {os.path.basename(final)[:12]}: {e.strerror}") from None
