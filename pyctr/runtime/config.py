"""The OCI runtime config as the runtime takes it: a bundle's config.json loaded, the checks
every config passes before anything is made, and the annotations pyctr's runtime reads."""

import os

from .. import fastjson
from .errors import ConfigError

OCI_VERSION = "1.2.0"
# The engine asks the runtime, through these, to mount the rootfs itself inside the
# container's mount namespace (the host never holds the overlay mount).  A config without
# them has its root.path bind-mounted, as runc does with a bundle.
ROOTFS_TYPE = "org.pyctr.rootfs.type"
ROOTFS_OPTIONS = "org.pyctr.rootfs.options"


def load(bundle: str) -> dict:
    """<bundle>/config.json, checked; ConfigError if it is missing or not a valid config."""
    path = os.path.join(bundle, "config.json")
    try:
        config = fastjson.read(path)
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    except ValueError as e:
        raise ConfigError(f"{path} is not JSON: {e}") from None
    validate(config)
    return config


def validate(config) -> None:
    """The shape the runtime relies on: a process with args, a root with a path."""
    if not isinstance(config, dict):
        raise ConfigError("the config is not a JSON object")
    process = config.get("process")
    if not isinstance(process, dict):
        raise ConfigError("the config has no process")
    args = process.get("args")
    if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
        raise ConfigError("process.args must be a non-empty list of strings")
    root = config.get("root")
    if not isinstance(root, dict) or not isinstance(root.get("path"), str) or not root["path"]:
        raise ConfigError("root.path must be set")
    for key in ("linux", "annotations"):
        if not isinstance(config.get(key, {}), dict):
            raise ConfigError(f"{key} must be an object")
    if not isinstance(config.get("mounts", []), list):
        raise ConfigError("mounts must be a list")
