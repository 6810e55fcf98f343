"""pyctr's own runtime (container.py) with its state root, as one object: what the engine
holds of a container's runtime, beside external.External (an OCI runtime's CLI) with the
same methods for what both do (adopt is only ours: a container from before runtimes kept
state; exec's detach only External's, whose exec is a process of its own).  In-process, no command run: the default's fast path."""

from . import container


class Own:
    external = False
    name = "pyctr"

    def __init__(self, root: str):
        self.root = root

    def create(self, container_id: str, config: dict, bundle: str, stdio=(0, 1, 2), tty_size=(0, 0)):
        return container.create(self.root, container_id, config, bundle, stdio, tty_size)

    def status(self, container_id: str):
        return container.status(self.root, container_id)

    def adopt(self, container_id: str, config: dict, bundle: str, pid: int, pid_start: int):
        return container.adopt(self.root, container_id, config, bundle, pid, pid_start)

    def kill(self, container_id: str, sig: int, all_processes: bool = False) -> None:
        container.kill(self.root, container_id, sig, all_processes)

    def delete(self, container_id: str, config: dict | None = None) -> None:
        container.delete(self.root, container_id, config)

    def processes(self, container_id: str) -> list[int]:
        return container.processes(self.root, container_id)

    def stats(self, container_id: str, only_oom: bool = False):
        return container.stats(self.root, container_id, only_oom)

    def update(self, container_id: str, resources: dict) -> None:
        container.update(self.root, container_id, resources)

    def pause(self, container_id: str) -> None:
        container.pause(self.root, container_id)

    def resume(self, container_id: str) -> None:
        container.resume(self.root, container_id)

    def paused(self, container_id: str, saved=None) -> bool:
        return container.paused(self.root, container_id, saved)

    def read_file(self, container_id: str, path: str, limit: int) -> bytes:
        return container.read_file(self.root, container_id, path, limit)

    def exec_process(self, container_id: str, config: dict, process: dict, stdio=(0, 1, 2), tty_size=(0, 0)):
        return container.exec_process(self.root, container_id, config, process, stdio, tty_size)
