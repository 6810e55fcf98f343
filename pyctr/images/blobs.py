"""Blobs by digest: <root>/blobs/sha256/<hex>, each one written under a temporary name and
renamed into place only once its digest has been checked, so a blob that exists is whole.

Layers as they came (compressed or not), image configs and manifests all live here; `save`
copies them out, `rmi` and `image prune` remove those no image names any more."""

import hashlib
import os

from .image import ImageError

ALGORITHM = "sha256"
HEX_DIGITS = frozenset("0123456789abcdef")


class DigestMismatch(ImageError):
    """What arrived is not what its digest promised."""


def split_digest(digest: str) -> str:
    """'sha256:<64 hex>' -> the hex, or a one-line error for anything else."""
    algorithm, _, hexpart = digest.partition(":")
    if algorithm != ALGORITHM or len(hexpart) != 64 or not set(hexpart) <= HEX_DIGITS:
        raise ImageError(f"unsupported or invalid digest: {digest[:80]!r}")
    return hexpart


def digest_of(data: bytes) -> str:
    return f"{ALGORITHM}:{hashlib.sha256(data).hexdigest()}"


class BlobStore:
    def __init__(self, root: str, tmp: str):
        """`root`: <store>/blobs; `tmp`: scratch space on the same filesystem (for renames)."""
        self.root = root
        self.tmp = tmp

    def path(self, digest: str) -> str:
        return os.path.join(self.root, ALGORITHM, split_digest(digest))

    def has(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def read(self, digest: str, limit: int = 16 << 20) -> bytes:
        """A small blob (a config or manifest) whole, checked against its digest."""
        with open(self.path(digest), "rb") as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise ImageError(f"blob {digest} is larger than {limit} bytes")
        if digest_of(data) != digest:
            raise DigestMismatch(f"blob {digest} in the store is damaged: remove the image and pull it again")
        return data

    def put(self, data: bytes, digest: str | None = None) -> str:
        """Stores `data` (checked against `digest` if given) and returns its digest."""
        with self.writer(digest) as w:
            w.write(data)
        return w.digest

    def writer(self, expected: str | None = None) -> "BlobWriter":
        os.makedirs(os.path.join(self.root, ALGORITHM), mode=0o700, exist_ok=True)
        os.makedirs(self.tmp, mode=0o700, exist_ok=True)
        return BlobWriter(self, expected)

    def remove(self, digest: str) -> None:
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            pass

    def all(self) -> list[str]:
        d = os.path.join(self.root, ALGORITHM)
        return [f"{ALGORITHM}:{name}" for name in os.listdir(d)] if os.path.isdir(d) else []


class BlobWriter:
    """`with store.writer(expected) as w: w.write(chunk)...`: on a clean exit the blob is
    checked (digest, and `expected`) and renamed into place; on any error its temporary
    file goes."""

    def __init__(self, store: BlobStore, expected: str | None):
        self.store = store
        self.expected = expected
        self.sha = hashlib.sha256()
        self.size = 0
        self.digest = ""
        self.temp = os.path.join(store.tmp, f"blob-{os.getpid()}-{os.urandom(6).hex()}")
        self.file = open(self.temp, "xb")

    def write(self, data) -> None:
        self.sha.update(data)
        self.file.write(data)
        self.size += len(data)

    def __enter__(self) -> "BlobWriter":
        return self

    def __exit__(self, kind, value, traceback) -> bool:
        try:
            self.file.close()
            if kind is None:
                self.commit()
        finally:
            if os.path.exists(self.temp):
                os.unlink(self.temp)
        return False

    def commit(self) -> None:
        self.digest = f"{ALGORITHM}:{self.sha.hexdigest()}"
        if self.expected and self.digest != self.expected:
            raise DigestMismatch(f"blob {self.expected} does not match its content: got {self.digest}")
        os.rename(self.temp, self.store.path(self.digest))
