"""Image archives, both ways: docker's (`docker save`: manifest.json, <id>.json, layer
tars) and OCI's (an image layout: oci-layout, index.json, blobs/sha256/...), as a tar or
(OCI) a directory.  Several images go in one archive, a layer they share once.

Reading trusts nothing in the archive: every name it gives must be a regular member of
the archive itself (nothing is looked up on the host), JSON is bounded, and layers are
checked against the config's diff ids when they are taken in (ingest.py).
"""

import io
import json
import os
import stat
import tarfile
import zlib

from ..records import record
from .blobs import BlobStore, split_digest
from .image import ImageError
from .ingest import Layer
from .oci import INDEXES, MANIFESTS, OCI_INDEX, OCI_MANIFEST, canonical, manifest_for

MAX_JSON = 8 << 20
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
DOCKER, OCI_ARCHIVE, OCI_DIR = "docker-archive", "oci-archive", "oci-dir"
FORMATS = (DOCKER, OCI_ARCHIVE, OCI_DIR)


@record
class ArchivedImage:
    """An image as an archive holds it."""
    config: bytes
    layers: list  # (open() -> file-like, media type or None), lowest first
    names: list[tuple[str, str]]  # (repository, tag)
    manifest: bytes | None = None  # an OCI layout's own manifest, kept as is


@record
class SavedImage:
    """An image from the store, to be written into an archive."""
    config: bytes
    layers: list[Layer]
    names: list[tuple[str, str]]


# reading


class Archive:
    """An archive opened for reading: a tar (plain or gzip) or an OCI layout directory."""

    def __init__(self, path: str):
        self.path = path
        self.dir_fd = -1
        self.tar = None
        if os.path.isdir(path):
            self.dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        else:
            self.tar = _open_tar(path)
        self.members = {} if self.tar is None else {m.name.removeprefix("./"): m for m in self.tar.getmembers()}

    def close(self) -> None:
        if self.tar is not None:
            self.tar.close()
        if self.dir_fd >= 0:
            os.close(self.dir_fd)

    def has(self, name: str) -> bool:
        if self.tar is None:
            try:
                os.close(self._open_in_dir(name))
            except (OSError, ImageError):
                return False
            return True
        member = self.members.get(name)
        return member is not None and member.isfile()

    def _open_in_dir(self, name: str) -> int:
        """A regular file of an OCI layout directory, looked up inside it (no link out)."""
        from .._openat2 import open_in_root
        fd = open_in_root(self.dir_fd, name, os.O_RDONLY | os.O_NONBLOCK)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ImageError(f"{name} in the archive is not a regular file")
        return fd

    def open(self, name: str):
        if not self.has(name):
            raise ImageError(f"the archive names {name!r}, which it does not hold")
        if self.tar is None:
            return os.fdopen(self._open_in_dir(name), "rb")
        return self.tar.extractfile(self.members[name])

    def json(self, name: str):
        with self.open(name) as f:
            data = f.read(MAX_JSON + 1)
        if len(data) > MAX_JSON:
            raise ImageError(f"{name} in the archive is larger than {MAX_JSON} bytes")
        try:
            return json.loads(data), data
        except ValueError:
            raise ImageError(f"{name} in the archive is not JSON") from None

    def images(self, platform: str | None = None) -> list[ArchivedImage]:
        if self.has("manifest.json"):
            return self._docker()
        if self.has("index.json") and self.has("oci-layout"):
            return self._oci(platform)
        raise ImageError("not an image archive: no manifest.json (docker) or index.json (OCI)")

    def _docker(self) -> list[ArchivedImage]:
        entries, _ = self.json("manifest.json")
        if not isinstance(entries, list):
            raise ImageError("manifest.json in the archive is not a list")
        out = []
        for entry in entries:
            _, config = self.json(_name(entry, "Config"))
            layers = [(self._opener(_text(name)), None) for name in entry.get("Layers") or []]
            names = [_split_tag(t) for t in entry.get("RepoTags") or []]
            out.append(ArchivedImage(config, layers, names))
        return out

    def _oci(self, platform: str | None) -> list[ArchivedImage]:
        index, _ = self.json("index.json")
        out = []
        for descriptor in index.get("manifests") or []:
            annotations = descriptor.get("annotations") or {}
            name = annotations.get(CONTAINERD_NAME) or annotations.get(REF_NAME) or ""
            manifest, raw = self._manifest(descriptor, platform)
            _, config = self.json(_blob((manifest.get("config") or {}).get("digest")))
            layers = [(self._opener(_blob(d.get("digest"))), d.get("mediaType")) for d in manifest.get("layers") or []]
            out.append(ArchivedImage(config, layers, [_split_tag(name)] if name and not name.startswith("sha256:")
                                     and _looks_named(name) else [], raw))
        return out

    def _manifest(self, descriptor: dict, platform: str | None, depth: int = 0) -> tuple[dict, bytes]:
        manifest, raw = self.json(_blob(descriptor.get("digest")))
        kind = manifest.get("mediaType") or descriptor.get("mediaType")
        if kind in INDEXES and depth < 2:
            from .platforms import choose
            return self._manifest(choose(manifest.get("manifests") or [], platform), platform, depth + 1)
        if kind not in MANIFESTS and "layers" not in manifest:
            raise ImageError(f"unsupported manifest type in the archive: {kind!r}")
        return manifest, raw

    def _opener(self, name: str):
        if not self.has(name):
            raise ImageError(f"the archive names {name!r}, which it does not hold")
        return lambda: self.open(name)


def _open_tar(path: str):
    try:
        return tarfile.open(path, "r:*")
    except (tarfile.TarError, zlib.error, EOFError) as e:
        raise ImageError(f"{path} is not a tar archive: {e}") from None


def _text(value) -> str:
    """A name the archive's own JSON gives: relative, inside the archive."""
    if not isinstance(value, str) or not value or len(value) > 4096 or value.startswith("/") \
            or ".." in value.split("/"):
        raise ImageError(f"the archive's manifest names a file badly: {str(value)[:80]!r}")
    return value.removeprefix("./")


def _name(entry, key: str) -> str:
    if not isinstance(entry, dict):
        raise ImageError("manifest.json in the archive has an entry that is not an object")
    return _text(entry.get(key))


def _blob(digest) -> str:
    if not isinstance(digest, str):
        raise ImageError("the archive has a descriptor without a digest")
    return f"blobs/sha256/{split_digest(digest)}"


def _looks_named(name: str) -> bool:
    """An OCI ref.name may be a bare tag ("v1"); only a name with a repository is used."""
    return "/" in name or ":" in name


def _split_tag(text) -> tuple[str, str]:
    from .image import parse_reference
    return parse_reference(_text(text))


# writing


def write(images: list[SavedImage], blobs: BlobStore, out, fmt: str = DOCKER, tmp: str | None = None) -> None:
    """The images as an archive of format `fmt` into `out` (a binary file, or for oci-dir
    a directory path)."""
    if fmt == DOCKER:
        _write_docker(images, blobs, out, tmp)
    elif fmt in (OCI_ARCHIVE, OCI_DIR):
        _write_oci(images, blobs, out, fmt == OCI_DIR)
    else:
        raise ImageError(f"unknown archive format {fmt!r}: {', '.join(FORMATS)}")


def _write_docker(images: list[SavedImage], blobs: BlobStore, out, tmp: str | None) -> None:
    """docker's layout: layer tars uncompressed, as `docker save` writes them (and every
    docker and podman loads)."""
    entries, written = [], set()
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for image in images:
            config_name = f"{_hex_of(image.config)}.json"
            if config_name not in written:
                _add_bytes(tar, config_name, image.config)
                written.add(config_name)
            names = []
            for layer in image.layers:
                name = f"{layer.diff_id.removeprefix('sha256:')}/layer.tar"
                names.append(name)
                if name not in written:
                    _add_layer_tar(tar, name, blobs, layer, tmp)
                    written.add(name)
            entries.append({"Config": config_name, "RepoTags": [f"{r}:{t}" for r, t in image.names],
                            "Layers": names})
        _add_bytes(tar, "manifest.json", json.dumps(entries).encode())


def _add_layer_tar(tar, name: str, blobs: BlobStore, layer: Layer, tmp: str | None) -> None:
    """The layer uncompressed: a tar member needs its size first, so a compressed blob is
    decompressed into a temporary file."""
    path = blobs.path(layer.blob)
    if layer.blob == layer.diff_id:
        with open(path, "rb") as f:
            _add_file(tar, name, f, os.fstat(f.fileno()).st_size)
        return
    import tempfile

    from .ingest import decompressing, sniff
    with tempfile.TemporaryFile(dir=tmp) as plain, open(path, "rb") as f:
        kind = sniff(f.read(4))
        f.seek(0)
        source = decompressing(f, kind)
        while chunk := source.read(1 << 20):
            plain.write(chunk)
        size = plain.tell()
        plain.seek(0)
        _add_file(tar, name, plain, size)


def _write_oci(images: list[SavedImage], blobs: BlobStore, out, as_dir: bool) -> None:
    """An OCI image layout: blobs as pyctr keeps them, a manifest of OCI media types made
    for each image (the id, the config's digest, is the same)."""
    files: dict[str, tuple] = {}  # name -> ("bytes", data) | ("blob", digest)
    manifests = []
    for image in images:
        config_digest = blobs.put(image.config)
        files[_blob(config_digest)] = ("blob", config_digest)
        for layer in image.layers:
            files[_blob(layer.blob)] = ("blob", layer.blob)
        manifest = canonical(manifest_for(config_digest, len(image.config), image.layers))
        digest = blobs.put(manifest)
        files[_blob(digest)] = ("bytes", manifest)
        for repository, tag in image.names or [("", "")]:
            annotations = {REF_NAME: f"{repository}:{tag}", CONTAINERD_NAME: f"{repository}:{tag}"} if repository else {}
            manifests.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": len(manifest),
                              **({"annotations": annotations} if annotations else {})})
    files["oci-layout"] = ("bytes", b'{"imageLayoutVersion":"1.0.0"}')
    files["index.json"] = ("bytes", canonical({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}))
    if as_dir:
        _write_dir(files, blobs, out)
        return
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name, (kind, value) in files.items():
            if kind == "bytes":
                _add_bytes(tar, name, value)
            else:
                with open(blobs.path(value), "rb") as f:
                    _add_file(tar, name, f, os.fstat(f.fileno()).st_size)


def _write_dir(files: dict, blobs: BlobStore, directory: str) -> None:
    import shutil
    os.makedirs(os.path.join(directory, "blobs", "sha256"), exist_ok=True)
    for name, (kind, value) in files.items():
        target = os.path.join(directory, name)
        if kind == "bytes":
            with open(target, "wb") as f:
                f.write(value)
        else:
            shutil.copyfile(blobs.path(value), target)


def _hex_of(data: bytes) -> str:
    import hashlib
    return hashlib.sha256(data).hexdigest()


def _add_bytes(tar, name: str, data: bytes) -> None:
    _add_file(tar, name, io.BytesIO(data), len(data))


def _add_file(tar, name: str, f, size: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, 0
    tar.addfile(info, f)
