"""`pause` and `unpause`: every process of a running container frozen and thawed by its
cgroup's freezer (v1 freezer.state, v2 cgroup.freeze), as docker does.  A paused container
is still running: `ps` shows it "Up ... (Paused)", `exec` refuses it, and `stop`/`kill`
thaw it once their signal is sent (lifecycle.py)."""

from ..runtime.errors import CgroupError, NotRunning
from . import containers, events, views
from .errors import Conflict, PyctrError
from .paths import Paths
from .store import ContainerRecord, Store


def pause(paths: Paths, store: Store, name: str) -> ContainerRecord:
    """Freezes a running container; one paused already is docker's error."""
    return _switch(paths, store, name, freeze=True)


def unpause(paths: Paths, store: Store, name: str) -> ContainerRecord:
    """Thaws a paused container; one not paused is docker's error."""
    return _switch(paths, store, name, freeze=False)


def _switch(paths: Paths, store: Store, name: str, freeze: bool) -> ContainerRecord:
    record = views.refresh(paths, store, containers.lookup(store, name))
    if record.status != "running":
        raise Conflict(f"Container {record.id} is not running", exit_code=1)
    if containers.is_paused(paths, record) == freeze:
        raise Conflict(f"Container {record.id} is {'already' if freeze else 'not'} paused", exit_code=1)
    runtime = containers.runtime_of(paths, record)
    try:
        (runtime.pause if freeze else runtime.resume)(record.id)
    except NotRunning:
        raise Conflict(f"Container {record.id} is not running", exit_code=1) from None
    except CgroupError as e:
        if freeze:
            _thaw_quietly(paths, record)  # half frozen helps nobody
        raise PyctrError(f"cannot {'pause' if freeze else 'unpause'} {record.name}: {e}", exit_code=1) from None
    events.container(store, "pause" if freeze else "unpause", record, containers.read_config(paths, record.id),
                     now=True)
    return record


def thaw_if_paused(paths: Paths, record: ContainerRecord) -> None:
    """Thawed if it was paused; gone meanwhile is no error."""
    if containers.is_paused(paths, record):
        _thaw_quietly(paths, record)


def _thaw_quietly(paths: Paths, record: ContainerRecord) -> None:
    try:
        containers.runtime_of(paths, record).resume(record.id)
    except (NotRunning, CgroupError, OSError):
        pass
