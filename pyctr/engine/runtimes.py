"""Which runtime a new container runs on: --runtime (runc, crun, a path), else the
`runtime` of <root>/pyctr.toml, else pyctr's own.  The answer is kept in the container's
row (store.py's `runtime` column: the binary's absolute path, None for pyctr's own), the
one source of truth every later command reads (containers.runtime_of): a config file or
a PATH changed later cannot move a container to another runtime."""

import os

from . import settings
from .errors import PyctrError
from .paths import Paths

OWN = "pyctr"


def configured(paths: Paths) -> str | None:
    """<root>/pyctr.toml's `runtime` (settings.py)."""
    runtime = settings.read(paths).get("runtime")
    if runtime is not None and (not isinstance(runtime, str) or not runtime):
        raise PyctrError(f"{os.path.join(paths.root, settings.CONFIG_FILE)}: runtime must be a name or a path, e.g. runtime = \"runc\"")
    return runtime


def binary(paths: Paths, name: str | None) -> str | None:
    """The OCI runtime binary a new container runs on (absolute path), or None for pyctr's
    own; an unknown one is a one-line error before anything is made."""
    name = name or configured(paths)
    if not name or name == OWN:
        return None
    from ..runtime.errors import RuntimeFailure
    from ..runtime.external import resolve
    try:
        return resolve(name)
    except RuntimeFailure as e:
        raise PyctrError(str(e)) from None


# what the engine writes is 1.0's; crun 1.8 refuses 1.2 ("unknown version specified")
EXTERNAL_OCI_VERSION = "1.0.2"


def adapt(config: dict) -> None:
    """The engine's config as runc and crun read it: the cgroup path absolute (a relative
    one they put under their own cgroup), a version they know, and no idmap option on a
    mount outside a user namespace (crun tries the idmapped mount, which fails here)."""
    linux = config["linux"]
    linux["cgroupsPath"] = "/" + linux["cgroupsPath"].lstrip("/")
    config["ociVersion"] = EXTERNAL_OCI_VERSION
    if not any(ns["type"] == "user" for ns in linux.get("namespaces", [])):
        for mount in config.get("mounts", []):
            if "idmap" in mount.get("options", []):
                mount["options"] = [o for o in mount["options"] if o != "idmap"]
