"""The freeze primitive (pause) on fake cgroup trees: v2's cgroup.freeze and the wait for
cgroup.events, v1's freezer.state; the real freezer is tested by tests/compat/test_verbs.py
(on v1 here, on v2 in the QEMU guest)."""

import os
import threading
import time

import pytest

from pyctr.runtime.cgroups import CgroupError
from pyctr.runtime.cgroups.v1 import CgroupV1
from pyctr.runtime.cgroups.v2 import CgroupV2


def _write(path, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _read(path) -> str:
    """(a cgroup file takes a write whole; a plain one is overwritten from its start)"""
    with open(path) as f:
        return f.read().strip()


@pytest.fixture
def v2(tmp_path):
    d = tmp_path / "pyctr" / "c1"
    d.mkdir(parents=True)
    _write(d / "cgroup.freeze", "0\n")
    _write(d / "cgroup.events", "populated 1\nfrozen 0\n")
    return CgroupV2("pyctr/c1", str(tmp_path)), d


def test_v2_freeze_waits_for_the_kernel_to_say_frozen(v2):
    cgroup, d = v2
    assert not cgroup.frozen()

    def kernel():  # the kernel reports frozen a moment after the write
        time.sleep(0.1)
        _write(d / "cgroup.events", "populated 1\nfrozen 1\n")
    helper = threading.Thread(target=kernel)
    helper.start()
    cgroup.freeze()
    helper.join()
    assert _read(d / "cgroup.freeze") == "1" and _read(d / "cgroup.events").endswith("frozen 1")
    assert cgroup.frozen()
    cgroup.thaw()
    assert _read(d / "cgroup.freeze") == "0" and not cgroup.frozen()


def test_v2_freeze_that_never_completes_is_an_error(v2, monkeypatch):
    from pyctr.runtime import cgroups
    monkeypatch.setattr(cgroups, "FREEZE_TIMEOUT", 0.2)
    cgroup, _ = v2
    with pytest.raises(CgroupError, match="did not freeze"):
        cgroup.freeze()


def test_v1_freezer_state(tmp_path):
    for controller in ("memory", "cpu", "cpuset", "pids", "freezer"):
        (tmp_path / controller / "pyctr" / "c1").mkdir(parents=True)
    state = tmp_path / "freezer" / "pyctr" / "c1" / "freezer.state"
    _write(state, "THAWED\n")
    cgroup = CgroupV1("pyctr/c1", str(tmp_path))
    assert not cgroup.frozen()
    cgroup.freeze()  # a plain file reads back what was written: FROZEN at once
    assert _read(state) == "FROZEN" and cgroup.frozen()
    _write(state, "FREEZING\n")  # on its way: paused all the same
    assert cgroup.frozen()
    _write(state, "FROZEN\n")
    cgroup.thaw()
    assert _read(state) == "THAWED"
    assert not cgroup.frozen()
    os.unlink(state)  # a cgroup gone meanwhile is not paused
    assert not cgroup.frozen()
