"""`pyctr stats`: resource usage of running containers, from the runtime (their cgroups:
CPU, memory, pids, block I/O) and from their network namespaces (/proc/<pid>/net/dev)."""

import time

from ..records import as_dict, record
from ..runtime.errors import NoSuchContainer
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
    net_rx: int = 0  # bytes, every interface but lo
    net_tx: int = 0
    block_read: int = 0
    block_write: int = 0
    container: str = ""  # as the command line named it (docker's Container), else the id

    @property
    def memory_percent(self) -> float | None:
        return 100.0 * self.memory_usage / self.memory_limit if self.memory_limit else None

    def as_dict(self) -> dict:
        return {**as_dict(self), "memory_percent": self.memory_percent}


def _asked(paths: Paths, store: Store, names: list[str] | None, all_: bool) -> list[tuple[str, ContainerRecord]]:
    """(the name it was asked by, or its id; the record) of each container to show: those
    named, else the running ones (with `all_`, every one)."""
    if names:
        return [(n, containers.lookup(store, n)) for n in names]
    return [(r.id, r) for r in store.list_containers() if all_ or containers.is_running(paths, r)]


def _read(paths: Paths, records: list[ContainerRecord]) -> dict:
    """{id: (monotonic time, figures)} of those whose cgroup is (still) there."""
    reads = {}
    for r in records:
        figures = containers.runtime_of(paths, r).stats(r.id)
        if figures is not None:
            reads[r.id] = (time.monotonic(), figures)
    return reads


def net_io(pid: int | None) -> tuple[int, int]:
    """(received, sent) bytes of every interface but lo in the network namespace of `pid`,
    as its /proc/<pid>/net/dev shows them; (0, 0) once it is gone (and with --net none)."""
    if not pid:
        return 0, 0
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            return net_dev_totals(f.read())
    except OSError:
        return 0, 0


def net_dev_totals(text: str) -> tuple[int, int]:
    """/proc/net/dev's receive and transmit bytes, summed over every interface but lo."""
    rx = tx = 0
    for line in text.splitlines()[2:]:
        name, _, figures = line.partition(":")
        words = figures.split()
        if name.strip() == "lo" or len(words) < 9:
            continue
        rx, tx = rx + int(words[0]), tx + int(words[8])
    return rx, tx


def block_io(paths: Paths, record: ContainerRecord, figures) -> tuple[int, int]:
    """(read, written) bytes: the cgroup's (blkio / io.stat, as docker), else, on a kernel
    that does not account them there (v1 counts only throttled disks on recent kernels),
    what its processes' /proc/<pid>/io say (a process's count includes its reaped children)."""
    if figures.block_read or figures.block_write:
        return figures.block_read, figures.block_write
    done = [0, 0]
    try:
        pids = containers.runtime_of(paths, record).processes(record.id)
    except NoSuchContainer:  # gone meanwhile: nothing more to count
        return 0, 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/io") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    if key in ("read_bytes", "write_bytes"):
                        done[key == "write_bytes"] += int(value)
        except OSError:
            continue
    return done[0], done[1]


def _memory_limit(stats) -> int | None:
    with open("/proc/meminfo") as f:
        host = int(f.readline().split()[1]) * 1024
    return min(stats.memory_limit or host, host)


def sample(paths: Paths, store: Store, names: list[str] | None = None, interval: float = 0.2,
           previous: dict | None = None, all_: bool = False) -> list[Row]:
    """One row per running container (with `all_`, or named, stopped ones too: all
    figures 0, as docker shows them).  CPU % is usage over wall time between two reads,
    100% being one whole CPU (as docker shows it).  `previous` carries the last reads from
    call to call; without it (or for a container new to it) a first read is taken
    `interval` seconds before (docker waits for a second sample too; a short one is
    enough for a first figure)."""
    previous = {} if previous is None else previous
    asked = _asked(paths, store, names, all_)
    targets = [r for _, r in asked if containers.is_running(paths, r)]
    if any(r.id not in previous for r in targets):
        for cid, (then, figures) in _read(paths, targets).items():
            previous.setdefault(cid, (then, figures.cpu_usage_ns))
        time.sleep(interval)
    rows = []
    reads = _read(paths, [r for r in targets if r.id in previous])
    for given, target in asked:
        if target.id not in reads:  # not running, or exited between the two reads
            if names or all_:
                rows.append(Row(target.id, target.name, 0.0, 0, 0, 0, container=given))
            continue
        now, s = reads[target.id]
        then, cpu_then = previous[target.id]
        previous[target.id] = (now, s.cpu_usage_ns)
        used = s.cpu_usage_ns - cpu_then
        percent = 100.0 * used / ((now - then) * 1e9) if now > then and used >= 0 else 0.0
        rows.append(Row(target.id, target.name, percent, s.memory_usage, _memory_limit(s), s.pids,
                        *net_io(target.pid), *block_io(paths, target, s), given))
    return rows
