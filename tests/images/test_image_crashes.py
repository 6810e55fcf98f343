"""A load, import or commit killed (kill -9) at any point leaves nothing `images` lists
as whole, and nothing the next command cannot clean.  (A killed pull: test_pull.py.)"""

import io
import os
import subprocess
import tarfile
import time

import pytest

from helpers import state_of, wait_for


def _ok(r):
    assert r.returncode == 0, r.stderr
    return r.stdout


def _stopped(pid: int) -> None:
    """Until `pid` has stopped itself (SIGSTOP at its pause point)."""
    wait_for(lambda: state_of(pid) == "T", timeout=60)


def _kill_at(pyctr, point: str, *args: str) -> None:
    p = pyctr.popen(*args, env={"PYCTR_PAUSE_AT": point}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _stopped(p.pid)
    p.kill()
    p.wait()


def _image_names(pyctr) -> set[str]:
    return {f"{i.repository}:{i.tag}" for i in pyctr.store().list_images()}


def _scratch(pyctr) -> list[str]:
    tmp = os.path.join(pyctr.root, "tmp")
    return os.listdir(tmp) if os.path.isdir(tmp) else []


@pytest.fixture
def two_layer_archive(pyctr, tmp_path) -> str:
    _ok(pyctr("run", "--name", "src", "busybox", "sh", "-c", "echo 1 > /one"))
    _ok(pyctr("commit", "src", "two:1"))
    _ok(pyctr("rm", "src"))
    path = str(tmp_path / "two.tar")
    _ok(pyctr("save", "-o", path, "two:1", "busybox"))
    for ref in ("two:1", "busybox"):
        _ok(pyctr("rmi", ref))
    assert _image_names(pyctr) == set()
    return path


def test_load_killed_between_layers(pyctr, two_layer_archive):
    _kill_at(pyctr, "layer-stored", "load", "-i", two_layer_archive)
    assert _image_names(pyctr) == set()  # a layer is in, no image is
    out = _ok(pyctr("load", "-i", two_layer_archive))
    assert "Loaded image: two:1" in out
    assert _ok(pyctr("run", "--rm", "two:1", "cat", "/one")) == "1\n"
    assert _scratch(pyctr) == []


def _big_layer_archive(path: str) -> None:
    """An image archive with one layer of 4000 files (about 130 MB): a load takes a while."""
    import hashlib
    import json
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        for i in range(4000):
            data = os.urandom(32 << 10)
            info = tarfile.TarInfo(f"d{i % 40}/f{i}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    layer_bytes = layer.getvalue()
    diff_id = f"sha256:{hashlib.sha256(layer_bytes).hexdigest()}"
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    with tarfile.open(path, "w") as tar:
        for name, data in (("big/layer.tar", layer_bytes), ("config.json", config),
                           ("manifest.json", json.dumps([{"Config": "config.json", "RepoTags": ["big:1"],
                                                          "Layers": ["big/layer.tar"]}]).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _scratch_of(pyctr, prefix: str) -> list[str]:
    return [os.path.join(pyctr.root, "tmp", n) for n in _scratch(pyctr) if n.startswith(prefix)]


def _unpacking(pyctr) -> bool:
    """The layer's directory is being filled (its first files are in)."""
    return any(os.path.isdir(os.path.join(d, "diff", "d0")) for d in _scratch_of(pyctr, "layer-"))


def _half_read(pyctr) -> bool:
    """More than half the 130 MB layer has been read into its blob."""
    return any(os.path.getsize(b) > 65 << 20 for b in _scratch_of(pyctr, "blob-"))


@pytest.mark.parametrize("moment", [_unpacking, _half_read])
def test_load_killed_while_unpacking(pyctr, tmp_path, moment):
    archive = str(tmp_path / "big.tar")
    _big_layer_archive(archive)
    p = pyctr.popen("load", "-i", archive, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not moment(pyctr):
        assert p.poll() is None and time.monotonic() < deadline, "the load ended before the moment came"
        time.sleep(0.005)
    p.kill()
    p.wait()
    assert "big:1" not in _image_names(pyctr)
    assert _scratch(pyctr)  # it was killed in the middle: its scratch is there
    _ok(pyctr("load", "-i", archive))  # sweeps what the killed one left, then loads
    assert _scratch(pyctr) == []
    assert "big:1" in _image_names(pyctr)
    assert _ok(pyctr("run", "--rm", "busybox", "true")) == ""  # the store works on


def test_commit_killed_before_its_image_is_recorded(pyctr):
    _ok(pyctr("run", "--name", "c", "busybox", "sh", "-c", "echo x > /x"))
    before = _image_names(pyctr)
    _kill_at(pyctr, "layer-stored", "commit", "c", "half:1")
    assert _image_names(pyctr) == before
    layers_dir = os.path.join(pyctr.root, "layers")
    assert len(os.listdir(layers_dir)) == 2  # the new layer, named by no image
    _ok(pyctr("image", "prune", "-f"))
    assert len(os.listdir(layers_dir)) == 1
    _ok(pyctr("commit", "c", "whole:1"))
    assert _ok(pyctr("run", "--rm", "whole:1", "cat", "/x")) == "x\n"
    _ok(pyctr("rm", "c"))


def test_a_commit_killed_while_the_container_is_frozen_leaves_it_running(pyctr):
    _ok(pyctr("run", "-d", "--name", "live", "busybox", "sh", "-c", "echo x > /x; sleep 60"))
    [record] = pyctr.store().find_containers("live")
    freezer = [d for d in pyctr.cgroup_dirs(record.id) if "freezer" in d] or pyctr.cgroup_dirs(record.id)

    def frozen() -> bool:
        d = freezer[0]
        if os.path.exists(os.path.join(d, "freezer.state")):
            return open(os.path.join(d, "freezer.state")).read().strip() == "FROZEN"
        return "frozen 1" in open(os.path.join(d, "cgroup.events")).read()

    p = pyctr.popen("commit", "live", "half:1", env={"PYCTR_PAUSE_AT": "layer-stored"},
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _stopped(p.pid)
    assert frozen()  # the commit holds it frozen here
    p.kill()
    p.wait()
    deadline = time.monotonic() + 5
    while frozen() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not frozen()
    assert _ok(pyctr("exec", "live", "cat", "/x")) == "x\n"
    _ok(pyctr("rm", "-f", "live"))


def test_rmi_waits_for_a_run_between_its_image_and_its_row(pyctr):
    """A run that has looked its image up holds it: rmi waits, then sees the container
    and refuses (it used to delete the image and sweep its layer from under the run)."""
    import signal
    _ok(pyctr("run", "--name", "src", "busybox", "sh", "-c", "echo u > /u"))
    _ok(pyctr("commit", "src", "racy:1"))
    _ok(pyctr("rm", "src"))
    run = pyctr.popen("run", "-d", "--name", "user", "racy:1", "sleep", "60", env={"PYCTR_PAUSE_AT": "resolved"},
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _stopped(run.pid)
    rmi = pyctr.popen("rmi", "racy:1", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    assert rmi.poll() is None  # waiting for the run
    os.kill(run.pid, signal.SIGCONT)
    assert run.wait(timeout=30) == 0
    _, err = rmi.communicate(timeout=30)
    assert rmi.returncode == 1 and "being used by container user" in err
    assert _ok(pyctr("exec", "user", "cat", "/u")) == "u\n"  # its layer is there
    _ok(pyctr("rm", "-f", "user"))
