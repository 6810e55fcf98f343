"""What the runtime keeps of a container: <root>/<id>/state.json, written whole to a temp
file and renamed over the old one, so a reader sees the last state or the one before.

The status it stores is what the runtime did last (creating, created, running); the
status it reports is checked against the kernel: once the process (pid and start time)
is gone, the container is "stopped", whoever failed to say so.
"""

import os

from .. import fastjson
from ..files import write_atomic
from ..records import record
from .config import OCI_VERSION
from .pids import alive


@record
class State:
    id: str
    bundle: str
    status: str = "creating"  # creating | created | running, as last written
    pid: int = 0
    pid_start: int | None = None  # the pid's start time: pid reuse cannot fool `status`
    cgroups_path: str | None = None  # where its cgroup is, from before it is made
    annotations: dict = {}
    created: str = ""  # RFC 3339, UTC

    def current_status(self) -> str:
        """The status as the OCI runtime spec names it, checked against the kernel."""
        if self.status == "creating" or alive(self.pid, self.pid_start):
            return self.status
        return "stopped"

    def as_oci(self) -> dict:
        """The OCI runtime spec's state, as `runc state` prints it."""
        return {"ociVersion": OCI_VERSION, "id": self.id, "status": self.current_status(),
                "pid": self.pid if self.current_status() in ("created", "running") else 0,
                "bundle": self.bundle, "annotations": self.annotations, "created": self.created}


def directory(root: str, container_id: str) -> str:
    return os.path.join(root, container_id)


def save(root: str, state: State) -> None:
    """Written whole, then renamed into place; the directory is made on first use (0700:
    the state names the container's bundle and annotations)."""
    d = directory(root, state.id)
    os.makedirs(d, mode=0o700, exist_ok=True)
    text = fastjson.dumps({"ociVersion": OCI_VERSION, "id": state.id, "status": state.status, "pid": state.pid,
                           "pidStart": state.pid_start, "bundle": state.bundle, "annotations": state.annotations,
                           "created": state.created, "cgroupsPath": state.cgroups_path})
    write_atomic(os.path.join(d, "state.json"), text)


def load(root: str, container_id: str) -> State | None:
    """The saved state, or None: no such container (or a file that is not one of ours)."""
    try:
        with open(os.path.join(directory(root, container_id), "state.json"), "rb") as f:
            saved = fastjson.loads(f.read())
        return State(saved["id"], saved["bundle"], saved["status"], saved["pid"], saved.get("pidStart"),
                     saved.get("cgroupsPath"), saved.get("annotations") or {}, saved.get("created", ""))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove(root: str, container_id: str) -> None:
    d = directory(root, container_id)
    for name in ("state.json", "state.json.tmp"):
        try:
            os.unlink(os.path.join(d, name))
        except FileNotFoundError:
            pass
    try:
        os.rmdir(d)
    except FileNotFoundError:
        pass
