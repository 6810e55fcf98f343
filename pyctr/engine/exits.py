"""A container's exit, put on record: the code the monitor wrote, the runtime's last word
(its cgroup's figures and OOM count, then its cgroup and state removed), or with --rm the
whole container removed."""

import os
import time

from .. import fastjson
from ..records import as_dict, record
from ..runtime import container as runtime
from .containers import discard, read_config
from .paths import Paths
from .spec import AUTOREMOVE, annotated
from .store import Store


@record
class Cleanup:
    """What the cleanup found: the cgroup's last figures (None without), and what it could
    not remove of a --rm container."""
    stats: object = None
    warnings: list[str] = []


def read_exit(paths: Paths, container_id: str) -> int | None:
    """The exit code the monitor wrote, if it has."""
    try:
        with open(paths.container_file(container_id, "exit")) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def forget_exit(paths: Paths, store: Store, container_id: str) -> None:
    """Before a stopped container starts again: the last run's word cleared."""
    try:
        os.unlink(paths.container_file(container_id, "exit"))
    except FileNotFoundError:
        pass
    store.update_container(container_id, exit_code=None, finished=None, oom_killed=0, final_stats=None)


def cleanup(paths: Paths, store: Store, container_id: str, config: dict | None = None) -> Cleanup:
    """Once the container exited (by the monitor, or the owner that stayed with it): the
    runtime's cgroup and state removed, its last figures kept; then the exit recorded, or
    with --rm the container removed.  `config`: its config, if the caller has it at hand."""
    if store.get_container(container_id) is None:  # removed meanwhile (rm -f)
        return Cleanup()
    config = config or read_config(paths, container_id)
    if config is None:
        return Cleanup()
    autoremove = annotated(config, AUTOREMOVE)
    # with --rm no figures are kept: only the OOM count, for the message
    stats = runtime.stats(paths.runtime_root, container_id, only_oom=autoremove)
    try:
        runtime.delete(paths.runtime_root, container_id)
    except BaseException:
        _record_exit(paths, store, container_id, stats)  # all the same; rm retries the cgroup
        raise
    if autoremove:  # no exit to record: the row goes
        return Cleanup(stats, discard(paths, store, container_id))
    _record_exit(paths, store, container_id, stats)
    return Cleanup(stats)


def _record_exit(paths: Paths, store: Store, container_id: str, stats) -> None:
    changes = {"status": "exited", "exit_code": read_exit(paths, container_id), "finished": time.time()}
    if stats is not None:
        changes.update(oom_killed=int(stats.oom_kills > 0), final_stats=fastjson.dumps(as_dict(stats)))
    store.update_container(container_id, **changes)
