"""Fixtures: a temp root per test, a `pyctr` runner, and a leak check around every test
(leaks.py: what it looks for, and where)."""

import glob
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

import leaks

pytest_plugins = ["pytester"]  # tests/test_leaks.py runs a test session of its own

# The installed command, as a user runs it (beside the interpreter running the tests).
PYCTR = os.path.join(os.path.dirname(sys.executable), "pyctr")
# The Python CLI it execs when no warm pyctr process takes the command: what a test that
# looks at the interpreter's own start (its imports) runs.
PYCTR_CLI = os.path.join(os.path.dirname(sys.executable), "pyctr-cli")
SCOPE: leaks.Scope = None  # this run's places, set by run_scope
_parents = itertools.count()


IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


@pytest.fixture(scope="session", autouse=True)
def run_scope(tmp_path_factory):
    """This test run's own places: a TMPDIR of its own (for the tests and every pyctr they
    run) and a cgroup of its own, which pytest enters, so that every process it starts,
    however far it wanders from pytest, can be found."""
    global SCOPE
    base = str(tmp_path_factory.getbasetemp())
    tmpdir = os.path.join(base, "tmpdir")
    os.makedirs(tmpdir)
    os.environ["TMPDIR"] = tmpdir
    tempfile.tempdir = None  # gettempdir() looks again
    SCOPE = leaks.Scope(os.urandom(4).hex(), [base, tmpdir], leaks.own_cgroup())
    leaks.join(SCOPE)
    forwarding = _read(IP_FORWARD)
    yield SCOPE
    # a bridge network turns IPv4 forwarding on, as docker's does; this machine's setting
    # is put back
    with open(IP_FORWARD, "w") as f:
        f.write(forwarding)
    trouble = leaks.leave(SCOPE)
    if trouble:  # what stayed in it was reported by the test that left it
        sys.stderr.write(f"\nthe test run's cgroup was not removed: {trouble}\n")


@pytest.fixture(autouse=True)
def no_leaks(run_scope):
    """Fails a test that leaves processes, cgroups, mounts or files behind (of its own:
    leaks.py)."""
    before = run_scope.snapshot()
    yield
    deadline = time.monotonic() + 3  # a killed namespace takes a moment to be reaped
    while True:
        leaks.stop_warm_servers(run_scope.processes() - before["processes"])
        found = leaks.found(before, run_scope.snapshot())
        if not found or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if found:
        pytest.fail(f"test left things behind: {found}", pytrace=False)


@pytest.fixture
def runtime_root(run_scope, tmp_path) -> str:
    """A state root for the runtime of the test's own; whatever the runtime leaves in it is
    a leak (it keeps nothing of a container once deleted)."""
    root = str(tmp_path / "runtime-state")
    run_scope.runroots.append(root)
    return root


@pytest.fixture
def cgroup_parent(run_scope):
    """A cgroup parent of the test's own, under the run's prefix; removed afterwards (a
    container cgroup left inside keeps it, and the leak check reports both)."""
    parent = run_scope.cgroup_parent(next(_parents))
    yield parent
    # as long as the leak check waits for a killed container to be reaped: a container's
    # cgroup that a monitor's cleanup is still removing holds the parent that long
    deadline = time.monotonic() + 3
    while True:
        left = []
        for d in glob.glob(f"/sys/fs/cgroup/{parent}") + glob.glob(f"/sys/fs/cgroup/*/{parent}"):
            try:
                os.rmdir(d)
            except OSError:
                left.append(d)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)


class Pyctr:
    """Runs the real `pyctr` command against one temp root, with containers' cgroups under
    a parent of the test's own."""

    def __init__(self, root: str, cgroup_parent: str):
        self.root = root
        self.cgroup_parent = cgroup_parent
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYCTR_ROOT": root,
                    "PYCTR_CGROUP_PARENT": cgroup_parent, "TMPDIR": os.environ["TMPDIR"]}
        for name in ("PYCTR_NETWORK", "PYCTR_NO_SERVER"):  # a whole run's: the v2 guest's --net none;
            if os.environ.get(name):  # the second pass of scripts/test.sh, without the warm process
                self.env[name] = os.environ[name]

    def cgroup_dirs(self, container_id: str) -> list[str]:
        """The container's cgroup directories on this host (v1: one per controller)."""
        return glob.glob(f"/sys/fs/cgroup/{self.cgroup_parent}/{container_id}") + \
            glob.glob(f"/sys/fs/cgroup/*/{self.cgroup_parent}/{container_id}")

    def argv(self, *args: str) -> list[str]:
        return [PYCTR, *args]

    def cli_argv(self, *args: str) -> list[str]:
        """The Python CLI's command line (cold, whatever the run's setting)."""
        return [PYCTR_CLI, *args]

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
    from pyctr.engine.image_lookup import add_builtin
    from pyctr.engine.paths import Paths
    from pyctr.engine.store import Store
    paths = Paths.resolve(str(tmp_path_factory.mktemp("template") / "root"))
    store = Store(paths.db)
    add_builtin(paths, store)
    store.close()
    return paths.root


def _seed(template: str, root: str) -> None:
    """A test root with the template's image: layers hard-linked, the database copied."""
    import sqlite3
    os.makedirs(root, mode=0o700)  # as pyctr keeps its root: it would tighten a looser one, and say so
    for d in ("layers", "blobs"):
        shutil.copytree(os.path.join(template, d), os.path.join(root, d), symlinks=True, copy_function=os.link)
    src, dst = sqlite3.connect(os.path.join(template, "pyctr.db")), sqlite3.connect(os.path.join(root, "pyctr.db"))
    src.backup(dst)
    src.close()
    dst.close()


@pytest.fixture
def pyctr(tmp_path, image_template, cgroup_parent, run_scope):
    p = Pyctr(str(tmp_path / "root"), cgroup_parent)
    _seed(image_template, p.root)
    run_scope.runroots.append(os.path.join(p.root, "run"))  # the runtime's state: checked too
    yield p
    stop_server(p.root)
    take_networks_down(p.root)


def stop_server(root: str, runroot: str | None = None) -> None:
    """The warm pyctr process the test's commands started for this root, asked to leave
    (it would after its idle time; the leak check counts it meanwhile)."""
    from pyctr.cli import server
    from pyctr.engine.paths import Paths
    server.stop(Paths.resolve(root, runroot))


def take_networks_down(root: str) -> None:
    """The bridges and nftables table a test root's networks made (its default network's
    too): host-wide objects, unlike the root's files."""
    from pyctr.engine import network_records, networks
    from pyctr.engine.paths import Paths
    from pyctr.engine.store import Store
    if not os.path.exists(os.path.join(root, "pyctr.db")):
        return
    store = Store(os.path.join(root, "pyctr.db"))
    try:
        if network_records.list_networks(store):
            networks.teardown(Paths.resolve(root), store)
    finally:
        store.close()


CID = "f" * 64  # the id the runtime's own tests give their container


@pytest.fixture
def bundle_spec(pyctr, tmp_path):
    """A spec over a plain copy of the busybox rootfs, the way an OCI bundle comes
    (<tmp>/bundle/rootfs), its cgroup under the test's parent: make(*argv, **changes)."""
    from pyctr.engine.spec import RootfsLayout, RunOptions, build_spec
    assert pyctr("run", "--rm", "busybox", "true").returncode == 0
    [layer] = os.listdir(os.path.join(pyctr.root, "layers"))
    rootfs = tmp_path / "bundle" / "rootfs"
    shutil.copytree(os.path.join(pyctr.root, "layers", layer, "diff"), rootfs, symlinks=True)

    def make(*argv, **spec_changes):
        spec = build_spec(RunOptions(image="busybox", command=list(argv), cgroup_parent=pyctr.cgroup_parent),
                          {}, CID, RootfsLayout([], "", "", str(rootfs)), host_env={})
        del spec["annotations"]
        spec.update(spec_changes)
        return spec
    return make
