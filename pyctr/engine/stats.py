"""`pyctr stats`: resource usage of running containers, from the runtime (their cgroups)."""

import time

from ..records import as_dict, record
from ..runtime import container as runtime
from . import containers
from .paths import Paths
from .store import ContainerRecord, Store


@record
class Row:
    id: str
    name: str
    cpu_percent: float
    memory_usage: int
    memory_limit: int | None
    pids: int

    @property
    def memory_percent(self) -> float | None:
        return 100.0 * self.memory_usage / self.memory_limit if self.memory_limit else None

    def as_dict(self) -> dict:
        return {**as_dict(self), "memory_percent": self.memory_percent}


def _running(paths: Paths, store: Store, names: list[str] | None) -> list[ContainerRecord]:
    records = [containers.lookup(store, n) for n in names] if names else store.list_containers()
    return [r for r in records if containers.is_running(paths, r)]


def _read(paths: Paths, records: list[ContainerRecord]) -> dict:
    """{id: (monotonic time, figures)} of those whose cgroup is (still) there."""
    reads = {}
    for r in records:
        figures = runtime.stats(containers.runtime_root(paths, r), r.id)
        if figures is not None:
            reads[r.id] = (time.monotonic(), figures)
    return reads


def _memory_limit(stats) -> int | None:
    with open("/proc/meminfo") as f:
        host = int(f.readline().split()[1]) * 1024
    return min(stats.memory_limit or host, host)


def sample(paths: Paths, store: Store, names: list[str] | None = None, interval: float = 0.5,
           previous: dict | None = None) -> list[Row]:
    """One row per running container.  CPU % is usage over wall time between two reads,
    100% being one whole CPU (as docker shows it).  `previous` carries the last reads from
    call to call; without it (or for a container new to it) a first read is taken
    `interval` seconds before."""
    previous = {} if previous is None else previous
    targets = _running(paths, store, names)
    if any(r.id not in previous for r in targets):
        for cid, (then, figures) in _read(paths, targets).items():
            previous.setdefault(cid, (then, figures.cpu_usage_ns))
        time.sleep(interval)
    rows = []
    reads = _read(paths, [r for r in targets if r.id in previous])
    for target in targets:
        if target.id not in reads:  # exited between the two reads
            continue
        now, s = reads[target.id]
        then, cpu_then = previous[target.id]
        previous[target.id] = (now, s.cpu_usage_ns)
        used = s.cpu_usage_ns - cpu_then
        percent = 100.0 * used / ((now - then) * 1e9) if now > then and used >= 0 else 0.0
        rows.append(Row(target.id, target.name, percent, s.memory_usage, _memory_limit(s), s.pids))
    return rows
