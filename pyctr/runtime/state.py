"""What the runtime keeps of a container: <root>/<id>/state.json, written once the
container's process is cloned, whole (a temp file renamed into place), and removed by
`delete`.

Its status is not stored but read off the kernel each time: "created" while its process
(pid and start time) still bears the name it was cloned with (the C core's CREATED_NAME,
which execve replaces), "running" once it has exec'd, "stopped" once it is gone, whoever
failed to say so.
"""

import os

from .. import fastjson
from ..records import record
from . import _core
from ._core import CREATED_NAME
from .config import OCI_VERSION
from .process import identity

_CREATED = CREATED_NAME.encode()


@record
class State:
    id: str
    bundle: str
    pid: int
    pid_start: int | None  # the pid's start time: pid reuse cannot fool the status
    cgroups_path: str | None = None
    annotations: dict = {}
    created: float = 0.0  # seconds since the epoch

    def current_status(self) -> str:
        """The status as the OCI runtime spec names it: created, running or stopped."""
        found = identity(self.pid)
        if found is None or found[0] != self.pid_start:
            return "stopped"
        return "created" if found[1] == _CREATED else "running"

    def as_oci(self) -> dict:
        """The OCI runtime spec's state, as `runc state` prints it."""
        from ..timestamps import rfc3339
        status = self.current_status()
        return {"ociVersion": OCI_VERSION, "id": self.id, "status": status,
                "pid": self.pid if status != "stopped" else 0,
                "bundle": self.bundle, "annotations": self.annotations, "created": rfc3339(self.created)}


def directory(root: str, container_id: str) -> str:
    return os.path.join(root, container_id)


def save(root: str, state: State) -> None:
    """Written whole, then renamed into place; the directory is made on first use (0700:
    the state names the container's bundle and annotations)."""
    d = directory(root, state.id)
    os.makedirs(d, mode=0o700, exist_ok=True)
    fastjson.write(os.path.join(d, "state.json"),
                   {"ociVersion": OCI_VERSION, "id": state.id, "pid": state.pid, "pidStart": state.pid_start,
                    "bundle": state.bundle, "annotations": state.annotations, "created": state.created,
                    "cgroupsPath": state.cgroups_path})


def load(root: str, container_id: str) -> State | None:
    """The saved state, or None: no such container (or a file that is not one of ours)."""
    try:
        saved = fastjson.read(os.path.join(directory(root, container_id), "state.json"))
        return State(saved["id"], saved["bundle"], saved["pid"], saved["pidStart"], saved.get("cgroupsPath"),
                     saved.get("annotations") or {}, saved.get("created", 0.0))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove(root: str, container_id: str) -> None:
    """The state's directory and whatever is in it (a temp file a crash left); nothing there
    is no error."""
    d = directory(root, container_id)
    try:
        os.unlink(os.path.join(d, "state.json"))
    except FileNotFoundError:
        pass
    try:
        os.rmdir(d)
    except FileNotFoundError:
        pass
    except OSError:  # not empty: rm -rf, following no link
        _core.remove_tree(d)
