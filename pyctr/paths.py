"""Where pyctr keeps its state: `--root` for what persists, `--runroot` for what lives
only while the machine is up (podman's split)."""

import os
from .records import record

DEFAULT_ROOT = "/var/lib/pyctr"
DEFAULT_RUNROOT = "/run/pyctr"


@record
class Paths:
    root: str
    runroot: str

    @classmethod
    def resolve(cls, root: str | None = None, runroot: str | None = None) -> "Paths":
        """Flags win over PYCTR_ROOT / PYCTR_RUNROOT.  A non-default root without a runroot
        keeps runtime files under it, so a test's temp root holds everything."""
        root = os.path.abspath(root or os.environ.get("PYCTR_ROOT") or DEFAULT_ROOT)
        runroot = runroot or os.environ.get("PYCTR_RUNROOT")
        if not runroot:
            runroot = DEFAULT_RUNROOT if root == DEFAULT_ROOT else os.path.join(root, "run")
        return cls(root, os.path.abspath(runroot))

    @property
    def db(self) -> str:
        return os.path.join(self.root, "pyctr.db")

    @property
    def layers(self) -> str:
        return os.path.join(self.root, "layers")

    @property
    def containers(self) -> str:
        return os.path.join(self.root, "containers")

    @property
    def tmp(self) -> str:
        """Scratch space on the same filesystem as the store, for atomic renames."""
        return os.path.join(self.root, "tmp")

    def layer_dir(self, digest_hex: str) -> str:
        return os.path.join(self.layers, digest_hex)

    def container_dir(self, container_id: str) -> str:
        return os.path.join(self.containers, container_id)
