"""`pyctr stats`: resource usage of running containers, read from their cgroups."""

import time
from .records import as_dict, record

from . import containers, runtime
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


def _running(paths: Paths, store: Store, names: list[str] | None) -> list[tuple[ContainerRecord, object]]:
    records = [containers.lookup(store, n) for n in names] if names else store.list_containers()
    found = []
    for record in records:
        spec = containers.read_spec(paths, record.id) if containers.is_running(record) else None
        cgroup = runtime.cgroup_of(spec) if spec else None
        if cgroup is not None and cgroup.exists():
            found.append((record, cgroup))
    return found


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
    if any(r.id not in previous for r, _ in targets):
        for record, cgroup in targets:
            previous.setdefault(record.id, (time.monotonic(), cgroup.stats().cpu_usage_ns))
        time.sleep(interval)
    rows = []
    for record, cgroup in targets:
        if not cgroup.exists():  # exited between the two reads
            continue
        s = cgroup.stats()
        now = time.monotonic()
        then, cpu_then = previous[record.id]
        previous[record.id] = (now, s.cpu_usage_ns)
        used = s.cpu_usage_ns - cpu_then
        percent = 100.0 * used / ((now - then) * 1e9) if now > then and used >= 0 else 0.0
        rows.append(Row(record.id, record.name, percent, s.memory_usage, _memory_limit(s), s.pids))
    return rows


def live(paths: Paths, store: Store, names: list[str] | None) -> None:
    """A table refreshed every second until Ctrl-C."""
    from rich.live import Live

    from . import render
    previous: dict = {}
    with Live(render.stats_table(sample(paths, store, names, previous=previous)), auto_refresh=False) as view:
        try:
            while True:
                time.sleep(1)
                view.update(render.stats_table(sample(paths, store, names, previous=previous)), refresh=True)
        except KeyboardInterrupt:
            pass
