"""`pull`: an image from a registry into the store.  The manifest and config come first
(digests verified); then the layers the store lacks, several at once, each in one pass
from the socket to its directory (ingest.py: blob, digest, decompression, diff id,
unpacking); each layer is recorded as soon as it is in, so a pull killed half-way and run
again fetches only what is missing; the image is recorded last, once it is whole.
"""

import json
import os
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

from ..images import auth, oci, registry
from ..images.image import Image, ImageError
from ..images.ingest import chain_ids, ingest
from ..images.reference import Reference, default_registry, parse, parse_platform
from . import events, images
from .image_lookup import blob_store
from .launch import reached
from .paths import Paths
from .store import Store

PARALLEL = 3  # layers fetched at once (docker's default)


class Progress:
    """What a pull tells as it goes; the CLI draws it.  Indexes are the layers', lowest 0."""

    def resolved(self, ref: Reference, digest: str, layers: list[tuple[str, int, bool]]) -> None:
        """The manifest is in: each layer's (short digest, size, already present)."""

    def advanced(self, index: int, n: int) -> None:
        """`n` more bytes of layer `index` arrived (called from the layer's thread)."""

    def finished(self, index: int) -> None:
        """Layer `index` is in the store (called from the layer's thread)."""


def reference(text: str) -> Reference:
    return parse(text, default_registry())


def client(paths: Paths, tls_verify: bool = True) -> registry.Client:
    return registry.Client(credentials=auth.lookup(auth.auth_file(paths.root)), tls_verify=tls_verify)


def pull(paths: Paths, store: Store, text: str, platform: str | None = None, tls_verify: bool = True,
         progress: Progress | None = None) -> Image:
    progress = progress or Progress()
    ref = reference(text)
    remote = client(paths, tls_verify)
    pulled = remote.manifest(ref, parse_platform(platform) if platform else None)
    try:
        config = json.loads(pulled.config)
        diff_ids = list(config["rootfs"]["diff_ids"])
    except (ValueError, KeyError, TypeError):
        raise ImageError(f"{ref}: the image config has no rootfs.diff_ids") from None
    oci.check_types(config)
    if not all(isinstance(d, str) for d in diff_ids):
        raise ImageError(f"{ref}: the image config's rootfs.diff_ids are not all strings")
    descriptors = pulled.layers
    if len(diff_ids) != len(descriptors):
        raise ImageError(f"{ref}: the config lists {len(diff_ids)} layers, the manifest {len(descriptors)}")
    chains = chain_ids(diff_ids)
    with images.Adding(paths, store):
        have = [_present(paths, store, c) for c in chains]
        progress.resolved(ref, pulled.digest, [(d["digest"][7:19], d.get("size") or 0, h)
                                               for d, h in zip(descriptors, have)])
        _fetch(paths, store, remote, ref, descriptors, diff_ids, chains, have, progress)
        layers = [store.find_layer(c) for c in chains]
        image = oci.record(blob_store(paths), pulled.config, layers, ref.name, ref.tag or "",
                           manifest_bytes=pulled.raw)
        # docker's: the reference pulled, named by its repository
        events.queue(store, "image", "pull", f"{ref.name}:{ref.tag}" if ref.tag else str(ref),
                     **events.image_attributes(image, ref.name))
        store.add_image(image, layers, digest=pulled.digest)
    return image


def _present(paths: Paths, store: Store, chain: str) -> bool:
    return store.find_layer(chain) is not None and os.path.isdir(os.path.join(paths.under_root("layers"), chain))


def _fetch(paths: Paths, store: Store, remote, ref: Reference, descriptors: list, diff_ids: list, chains: list,
           have: list, progress: Progress) -> None:
    """The missing layers, PARALLEL at once; each recorded (here, on this thread: the
    database connection is this thread's) as it completes.  The first failure stops the
    rest."""
    stop = threading.Event()
    missing = [i for i, present in enumerate(have) if not present]
    if not missing:
        return
    pool = ThreadPoolExecutor(max_workers=min(PARALLEL, len(missing)))
    try:
        futures = {pool.submit(_layer, paths, remote, ref, descriptors[i], diff_ids[i],
                               chains[i - 1] if i else None, i, progress, stop): i for i in missing}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in done:
                i = futures[future]
                layer = future.result()  # the first failure raises here
                store.add_layer(layer, chains[i - 1] if i else None)
                progress.finished(i)
                reached(images.LAYER_STORED)
    except BaseException:
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _Source:
    """A blob stream that checks size and digest as it is read (the registry's Verifier),
    and stops when told to (another layer failed, or ^C)."""

    def __init__(self, stream, verifier, stop: threading.Event):
        self.stream, self.verifier, self.stop = stream, verifier, stop

    def read(self, n: int) -> bytes:
        if self.stop.is_set():
            raise ImageError("pull stopped")
        data = self.stream.read(n)
        if data:
            self.verifier.update(data)
        else:
            self.verifier.finish()
        return data


def _layer(paths: Paths, remote, ref: Reference, descriptor: dict, diff_id: str, parent: str | None, index: int,
           progress: Progress, stop: threading.Event):
    digest = descriptor["digest"]
    with remote.blob(ref, digest) as stream:
        source = _Source(stream, registry.Verifier(digest, descriptor.get("size")), stop)
        return ingest(source, blob_store(paths), paths.under_root("layers"), paths.under_root("tmp"), parent,
                      media_type=descriptor.get("mediaType"), blob_digest=digest, diff_id=diff_id,
                      progress=lambda n: progress.advanced(index, n))
