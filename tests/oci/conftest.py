"""Fixtures for the engines that drive `pyctr-runtime` as they drive runc: podman (through
conmon) and containerd (through its runc shim), each with a store of its own in a temp
directory and a busybox image made on this machine.

The stores live for a module (loading an image costs more than a test); every test
removes its own containers, so the leak check still sees each test's leftovers:
containers' cgroups go under the test's cgroup parent, conmon, the shims and the
container processes run in the run's cgroup, containerd's mounts in the run's TMPDIR.
What the leak check cannot see is checked here: podman's container mounts and the
runtime's default root around each test, containerd's daemon and mounts at the
module's end."""

import os
import shutil
import subprocess
import tempfile
import time

import pytest

from .clients import (PYCTR, RUNTIME, RUNTIME_DEFAULT_ROOT, ULIMITS, need, ok, mounts_under, remove_cgroups, run,
                      states_naming, unmount_all)


@pytest.fixture(scope="session")
def busybox_archive(tmp_path_factory) -> str:
    """A docker archive of pyctr's built-in busybox image (busybox:latest), made by
    `pyctr save` on this machine: no registry, no network."""
    d = tmp_path_factory.mktemp("oci-images")
    root, archive = str(d / "pyctr-root"), str(d / "busybox.tar")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TMPDIR": os.environ["TMPDIR"], "PYCTR_NETWORK": "none"}
    # the built-in image is made on first use: a container created (never started) makes it
    for argv in (["create", "--name", "mk", "--net", "none", "busybox", "true"], ["rm", "mk"],
                 ["save", "-o", archive, "busybox"]):
        r = subprocess.run([PYCTR, "--root", root, *argv], capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode == 0, f"pyctr {' '.join(argv)}: {r.stderr}"
    shutil.rmtree(root)
    return archive


class PodmanStore:
    """podman 4.3 with a root, runroot and network config of its own (nothing of the
    host's podman is read or written), cgroupfs, pyctr-runtime as its runtime and
    busybox loaded.  All under /tmp/pdXXXXXXXX: podman refuses a runroot of 50
    characters or more.  There the run's leak check does not look: the `podman` fixture
    checks the store's mounts around each test instead, as the overlay driver bind-mounts
    its home (<root>/overlay) onto itself in every podman process and unmounts it as that
    process ends, which a `podman container cleanup` that conmon starts may do late."""

    def __init__(self, archive: str):
        need("podman")
        need("conmon")
        self.base = tempfile.mkdtemp(prefix="pd", dir="/tmp")
        self.driver_home = f"{self.base}/root/overlay"
        self.argv = ["podman", "--root", f"{self.base}/root", "--runroot", f"{self.base}/run", "--tmpdir",
                     f"{self.base}/tmp", "--network-config-dir", f"{self.base}/net", "--storage-driver", "overlay",
                     "--events-backend", "none", "--cgroup-manager", "cgroupfs", "--runtime", RUNTIME]
        ok(run([*self.argv, "load", "-q", "-i", archive]))

    def container_mounts(self) -> set[str]:
        """The store's mounts but for the driver's home: its containers' root filesystems."""
        return set(mounts_under(self.base)) - {self.driver_home}

    def close(self) -> list[str]:
        """Everything removed; returns the container mounts that were still there."""
        run([*self.argv, "rm", "-af", "-t", "0"])
        run([*self.argv, "rmi", "-af"])
        left = sorted(self.container_mounts())
        unmount_all(self.base)
        shutil.rmtree(self.base, ignore_errors=True)
        return left


class Podman:
    """`podman ...` on the module's store for one test: its containers' cgroups under the
    test's cgroup parent (conmon's in <parent>/conmon, removed afterwards), no network."""

    def __init__(self, store: PodmanStore, cgroup_parent: str):
        self.store, self.cgroup_parent = store, cgroup_parent
        self.run_flags = ["--cgroup-parent", f"/{cgroup_parent}", "--network", "none", *ULIMITS]

    def argv(self, *args: str) -> list[str]:
        return [*self.store.argv, *args]

    def __call__(self, *args: str, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
        return run(self.argv(*args), timeout=timeout, **kwargs)

    def container_flags(self, *args: str) -> list[str]:
        """`run ...` or `create ...` with the test's flags before the rest."""
        return [args[0], *self.run_flags, *args[1:]]


@pytest.fixture(scope="module")
def podman_store(busybox_archive):
    store = PodmanStore(busybox_archive)
    yield store
    left = store.close()
    assert not left, f"podman left mounts: {left}"


@pytest.fixture
def podman(podman_store, cgroup_parent):
    before = podman_store.container_mounts()
    p = Podman(podman_store, cgroup_parent)
    yield p
    p("rm", "-af", "-t", "0")
    remove_cgroups(f"{cgroup_parent}/conmon")
    deadline = time.monotonic() + 3  # as the leak check waits
    while podman_store.container_mounts() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not podman_store.container_mounts() - before, f"podman left mounts: {podman_store.container_mounts() - before}"
    left = states_naming(RUNTIME_DEFAULT_ROOT, f"/{cgroup_parent}/")
    assert not left, f"pyctr-runtime kept the state of deleted containers: {left}"


class Containerd:
    """containerd 1.6 of our own: root, state, sockets and config in a temp directory
    (the leak check sees the mounts of its snapshots and tasks), the CRI plugin off,
    busybox imported.  Its socket is short enough (a socket path holds 107 bytes)."""

    def __init__(self, archive: str):
        need("containerd")
        need("ctr")
        need("containerd-shim-runc-v2")
        self.base = tempfile.mkdtemp(prefix="ctd-")
        self.address = os.path.join(self.base, "sock")
        self.fifo_dir = os.path.join(self.base, "fifo")  # ctr's own default: /run/containerd/fifo
        # the shims' sockets go to /run/containerd/s whatever the config says (1.6)
        self.made_run_dir = not os.path.exists(SHIM_RUN_DIR)
        config = os.path.join(self.base, "config.toml")
        with open(config, "w") as f:
            f.write(CONTAINERD_CONFIG.format(base=self.base, address=self.address))
        self.log_path = os.path.join(self.base, "daemon.log")
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(["containerd", "--config", config], stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while self.ctr("version").returncode != 0:
            assert self.process.poll() is None, f"containerd exited: {self.log()[-2000:]}"
            assert time.monotonic() < deadline, f"containerd did not answer within 20 s: {self.log()[-2000:]}"
            time.sleep(0.1)
        ok(self.ctr("image", "import", archive))

    def ctr(self, *args: str, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
        return run(["ctr", "--address", self.address, *args], timeout=timeout, **kwargs)

    def task_exec(self, *args: str) -> subprocess.CompletedProcess:
        return self.ctr("task", "exec", "--fifo-dir", self.fifo_dir, *args)

    def log(self) -> str:
        with open(self.log_path) as f:
            return f.read()

    def close(self) -> list[str]:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        left = unmount_all(self.base)
        shutil.rmtree(self.base, ignore_errors=True)
        if self.made_run_dir:  # rmdir alone: what a containerd started meanwhile put there stays
            for d in ("s", "fifo", ""):
                try:
                    os.rmdir(os.path.join(SHIM_RUN_DIR, d))
                except OSError:
                    pass
        return left


SHIM_RUN_DIR = "/run/containerd"

# Only what a container needs: no CRI, no snapshotters this host lacks, nothing on TCP.
CONTAINERD_CONFIG = """version = 2
root = "{base}/root"
state = "{base}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.internal.v1.opt",
  "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "{address}"
[ttrpc]
  address = "{address}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
"""


@pytest.fixture(scope="module")
def containerd(busybox_archive):
    daemon = Containerd(busybox_archive)
    yield daemon
    left = daemon.close()
    assert not left, f"containerd left mounts: {left}"
