"""Images in OCI image-spec form: an image made from a config and its layers (the config
and manifest kept as blobs, the id the config's digest), and the media types of the
manifests and configs pyctr reads and writes (docker's schema2 too)."""

import json
import time

from .blobs import BlobStore
from .image import Image, ImageError
from .ingest import Layer

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEXES = (OCI_INDEX, DOCKER_LIST)
MAX_LAYERS = 500  # overlayfs stacks at most 500 lower layers


def canonical(obj) -> bytes:
    """JSON as pyctr writes configs and manifests it makes: sorted keys, no spaces."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def now() -> str:
    """The present in the form image configs use (RFC 3339, UTC)."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def parse_created(text: str | None) -> float:
    """An image config's `created` as seconds since the epoch (0 if it has none)."""
    if not text:
        return 0.0
    import calendar
    base, _, frac = text.rstrip("Z").partition(".")
    try:
        seconds = calendar.timegm(time.strptime(base[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return 0.0
    digits = "".join(c for c in frac if c.isdigit())
    return seconds + (float(f"0.{digits}") if digits else 0.0)


def manifest_for(config_digest: str, config_size: int, layers: list[Layer]) -> dict:
    return {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": layer.media_type, "digest": layer.blob, "size": layer.blob_size} for layer in layers],
    }


# the config fields pyctr reads, and the JSON types they must have (an image's config is
# untrusted: a wrong type must be refused here, in one line, not fail later in `run`)
CONFIG_TYPES = {"created": str, "author": str, "architecture": str, "os": str, "variant": str, "config": dict,
                "rootfs": dict, "history": list}
RUN_CONFIG_TYPES = {"User": str, "WorkingDir": str, "StopSignal": str, "Env": list, "Cmd": list,
                    "Entrypoint": list, "Labels": dict, "ExposedPorts": dict, "Volumes": dict}
STRING_LISTS = ("Env", "Cmd", "Entrypoint")


def check_types(config) -> None:
    """ImageError unless the fields pyctr reads have the types the image spec gives them."""
    if not isinstance(config, dict):
        raise ImageError("the image config is not a JSON object")
    _check_fields(config, CONFIG_TYPES, "")
    section = config.get("config") or {}
    _check_fields(section, RUN_CONFIG_TYPES, "config.")
    for key in STRING_LISTS:
        if not all(isinstance(item, str) for item in section.get(key) or []):
            raise ImageError(f"the image config's config.{key} holds something other than strings")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in (section.get("Labels") or {}).items()):
        raise ImageError("the image config's config.Labels are not all strings")
    if not all(isinstance(step, dict) for step in config.get("history") or []):
        raise ImageError("the image config's history holds something other than objects")


def _check_fields(obj: dict, types: dict, prefix: str) -> None:
    for key, kind in types.items():
        value = obj.get(key)
        if value is not None and not isinstance(value, kind):
            raise ImageError(f"the image config's {prefix}{key} is not a JSON {kind.__name__}")


def check_config(config: dict, layers: list[Layer]) -> None:
    """The config's types, and its diff ids: the layers' own, in order."""
    check_types(config)
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if diff_ids != [layer.diff_id for layer in layers]:
        raise ImageError("the image config's rootfs.diff_ids do not match its layers")
    if len(layers) > MAX_LAYERS:
        raise ImageError(f"the image has {len(layers)} layers: overlayfs takes at most {MAX_LAYERS}")


def record(blobs: BlobStore, config_bytes: bytes, layers: list[Layer], repository: str = "", tag: str = "",
           manifest_bytes: bytes | None = None) -> Image:
    """An image whose config and layers are in hand: config and manifest stored as blobs
    (a manifest made for it unless given: a registry's or an archive's own is kept as is)."""
    try:
        config = json.loads(config_bytes)
    except ValueError:
        raise ImageError("the image config is not JSON") from None
    check_config(config, layers)
    config_digest = blobs.put(config_bytes)
    if manifest_bytes is None:
        manifest_bytes = canonical(manifest_for(config_digest, len(config_bytes), layers))
    manifest_digest = blobs.put(manifest_bytes)
    return Image(config_digest.removeprefix("sha256:"), parse_created(config.get("created")),
                 sum(layer.size for layer in layers), [layer.chain_id for layer in layers], config,
                 repository, tag, manifest_digest)


def image_of(blobs: BlobStore, config: dict, layers: list[Layer], repository: str = "", tag: str = "") -> Image:
    """A new image pyctr makes (commit, import, the built-in): `config` gets its rootfs."""
    config = dict(config, rootfs={"type": "layers", "diff_ids": [layer.diff_id for layer in layers]})
    return record(blobs, canonical(config), layers, repository, tag)



