"""`rename OLD NEW`: a container's name changed, running or not, under docker's name rule;
a taken name is docker's conflict.  The peers on its networks learn the new name through
their hosts files, rewritten as when a container starts."""

from . import containers, events, network_records
from .errors import Conflict, PyctrError
from .names import valid_name
from .paths import Paths
from .store import Store, sqlite3


def rename(paths: Paths, store: Store, old: str, new: str) -> str:
    """Renames the container `old` names to `new`; returns its id."""
    if not valid_name(new.removeprefix("/")):
        raise PyctrError(f"Invalid container name ({new}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", exit_code=1)
    new = new.removeprefix("/")
    record = containers.lookup(store, old)
    if record.name == new:
        raise PyctrError("Renaming a container with the same name as its current name", exit_code=1)
    try:
        changed = store.update_container(record.id, {"name": record.name}, name=new)
    except sqlite3.IntegrityError:
        changed = False
    if not changed:
        if store.name_taken(new):
            raise Conflict(f'Conflict. The container name "/{new}" is already in use by container '
                           f'"{store.find_containers(new)[0].id}". You have to remove (or rename) that '
                           f'container to be able to reuse that name.', exit_code=1)
        raise Conflict(f"container {old} changed meanwhile: try again", exit_code=1)
    old_name, record.name = record.name, new
    events.container(store, "rename", record, containers.read_config(paths, record.id), now=True,
                     oldName="/" + old_name)
    leases = network_records.leases(store, record.id)
    if leases:  # its peers' hosts files name it
        from .endpoints import refresh_hosts
        refresh_hosts(paths, store, [lease.network_id for lease in leases])
    return record.id
