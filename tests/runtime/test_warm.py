"""csrc/warm.c: the thread that waits out cgroup v1's attach grace period ahead of time.
What it saves is measured by benchmarks/bench.py, not asserted here."""

import os
import time

import pytest

from pyctr.runtime import _core, cgroups

pytestmark = pytest.mark.skipif(cgroups.mode() != "v1", reason="only cgroup v1 has the grace period")


def _own_cgroups() -> str:
    with open("/proc/self/cgroup") as f:
        return f.read()


def test_warming_moves_us_nowhere_and_stops_when_told():
    before = _own_cgroups()
    threads = len(os.listdir("/proc/self/task"))
    cgroups.warm_attach()
    assert _core.warm_attach_running()
    time.sleep(0.02)  # a few rounds of moving ourselves where we are
    cgroups.warm_attach_stop()
    deadline = time.monotonic() + 1
    while _core.warm_attach_running() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not _core.warm_attach_running()
    assert len(os.listdir("/proc/self/task")) == threads  # the thread is gone
    assert _own_cgroups() == before
