"""Fixtures: a temp root per test, a `pyctr` runner, and a leak check around every test."""

import glob
import os
import shutil
import subprocess
import sys
import time

import pytest

HOST_STATE = ("/var/lib/pyctr", "/run/pyctr")
# The installed command, as a user runs it (beside the interpreter running the tests).
PYCTR = os.path.join(os.path.dirname(sys.executable), "pyctr")


def _mounts() -> set[str]:
    with open("/proc/self/mountinfo") as f:
        # drop the mount id and parent id: they are not what identifies a leaked mount
        return {line.split(" ", 2)[2] for line in f}


def _foreign_namespace_pids() -> set[int]:
    """Processes in a pid namespace other than ours: containers."""
    mine = os.readlink("/proc/self/ns/pid")
    pids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") != mine:
                    pids.add(int(entry))
            except OSError:
                pass
    return pids


def _our_children() -> set[int]:
    me = str(os.getpid())
    children = set()
    for path in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(path, "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2:].split()
        if fields[1].decode() == me and fields[0] != b"Z":
            children.add(int(path.split("/")[2]))
    return children


def _monitors() -> set[int]:
    """pyctr-monitor processes (detached containers' parents) and the `pyctr _cleanup`
    they end in: both gone soon after their containers."""
    found = set()
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(path, "rb") as f:
                argv = f.read().split(b"\0")
                # the monitor, and the cleanup it becomes at the end
                if argv[0].endswith(b"pyctr-monitor") or b"_cleanup" in argv:
                    found.add(int(path.split("/")[2]))
        except OSError:
            pass
    return found


def _cgroups() -> set[str]:
    # the parents and the containers' cgroups inside them (v2: one level less)
    patterns = ("/sys/fs/cgroup/pyctr*", "/sys/fs/cgroup/pyctr*/*/", "/sys/fs/cgroup/*/pyctr*",
                "/sys/fs/cgroup/*/pyctr*/*/")
    return {d.rstrip("/") for pattern in patterns for d in glob.glob(pattern)}


def _tmp_entries() -> set[str]:
    return {e for e in os.listdir("/tmp") if not e.startswith("pytest-of-")}


def snapshot() -> dict:
    return {
        "mounts": _mounts(),
        "container processes": _foreign_namespace_pids(),
        "child processes": _our_children(),
        "monitors": _monitors(),
        "cgroups": _cgroups(),
        "host state dirs": {p for p in HOST_STATE if os.path.exists(p)},
        "files in /tmp": _tmp_entries(),
    }


def leaks(before: dict, after: dict) -> dict:
    return {k: sorted(after[k] - before[k]) for k in before if after[k] - before[k]}


@pytest.fixture(autouse=True)
def no_leaks():
    """Fails a test that leaves mounts, processes, cgroups or files outside its temp root."""
    before = snapshot()
    yield
    deadline = time.monotonic() + 3  # a killed namespace takes a moment to be reaped
    while True:
        found = leaks(before, snapshot())
        if not found or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if found:
        pytest.fail(f"test left things behind: {found}", pytrace=False)


class Pyctr:
    """Runs the real `pyctr` command against one temp root, with containers' cgroups under
    a parent of the test's own (removed afterwards: a container cgroup left inside keeps it,
    and the leak check reports it)."""

    def __init__(self, root: str):
        self.root = root
        self.cgroup_parent = f"pyctr-test-{os.urandom(4).hex()}"
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYCTR_ROOT": root,
                    "PYCTR_CGROUP_PARENT": self.cgroup_parent}

    def cgroup_dirs(self, container_id: str) -> list[str]:
        """The container's cgroup directories on this host (v1: one per controller)."""
        return glob.glob(f"/sys/fs/cgroup/{self.cgroup_parent}/{container_id}") + \
            glob.glob(f"/sys/fs/cgroup/*/{self.cgroup_parent}/{container_id}")

    def remove_cgroup_parent(self) -> None:
        for d in glob.glob(f"/sys/fs/cgroup/{self.cgroup_parent}") + glob.glob(f"/sys/fs/cgroup/*/{self.cgroup_parent}"):
            try:
                os.rmdir(d)
            except OSError:
                pass

    def argv(self, *args: str) -> list[str]:
        return [PYCTR, *args]

    def __call__(self, *args: str, input: str | None = None, timeout: float = 60, env=None):
        return subprocess.run(self.argv(*args), input=input, capture_output=True, text=True,
                              timeout=timeout, env={**self.env, **(env or {})})

    def popen(self, *args: str, env=None, **kwargs) -> subprocess.Popen:
        return subprocess.Popen(self.argv(*args), env={**self.env, **(env or {})}, **kwargs)

    def store(self):
        from pyctr.engine.store import Store
        return Store(os.path.join(self.root, "pyctr.db"))

    def container_dirs(self) -> list[str]:
        d = os.path.join(self.root, "containers")
        return os.listdir(d) if os.path.isdir(d) else []


@pytest.fixture(scope="session")
def image_template(tmp_path_factory) -> str:
    """A root holding only the built-in busybox image, built once per session (building
    it is slow under the cgroup v2 guest's emulation)."""
    from pyctr.engine.paths import Paths
    from pyctr.engine.store import Store
    from pyctr.images import builtin
    paths = Paths.resolve(str(tmp_path_factory.mktemp("template") / "root"))
    store = Store(paths.db)
    store.add_image(builtin.build(paths.under_root("layers"), paths.under_root("tmp")))
    store.close()
    return paths.root


def _seed(template: str, root: str) -> None:
    """A test root with the template's image: layers hard-linked, the database copied."""
    import sqlite3
    os.makedirs(root)
    shutil.copytree(os.path.join(template, "layers"), os.path.join(root, "layers"), symlinks=True,
                    copy_function=os.link)
    src, dst = sqlite3.connect(os.path.join(template, "pyctr.db")), sqlite3.connect(os.path.join(root, "pyctr.db"))
    src.backup(dst)
    src.close()
    dst.close()


@pytest.fixture
def pyctr(tmp_path, image_template):
    p = Pyctr(str(tmp_path / "root"))
    _seed(image_template, p.root)
    yield p
    p.remove_cgroup_parent()
