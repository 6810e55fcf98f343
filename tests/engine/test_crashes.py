"""A `pyctr run` killed at each stage of its start-up, and pyctr commands racing on one
container: `ps -a` tells the truth afterwards, and `rm -f` leaves nothing (the leak check
in conftest.py sees every mount, cgroup and process)."""

import signal
import subprocess

import pytest

from helpers import exited, state_of, wait_for


def _killed_at(pyctr, stage: str, *flags: str) -> None:
    """Runs `pyctr run` until it stops itself at `stage`, then kill -9s it."""
    proc = pyctr.popen("run", *flags, "--name", "k", "busybox", "sleep", "600", env={"PYCTR_PAUSE_AT": stage},
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: proc.poll() is None and state_of(proc.pid) == "T")
    finally:
        proc.kill()
        proc.wait()


# what `ps -a` must say after the kill
HONEST = {"created": "Created", "cloned": "Created", "started": "Up"}


@pytest.mark.parametrize("flags,stage", [((), "created"), ((), "cloned"), ((), "started"),
                                         (("-d",), "created"), (("-d",), "cloned")])
def test_kill_9_of_pyctr_run_at_each_stage(pyctr, flags, stage):
    _killed_at(pyctr, stage, *flags)
    ps = pyctr("ps", "-a")
    assert ps.returncode == 0
    [row] = [line for line in ps.stdout.splitlines() if line.rstrip().endswith(" k")]
    assert HONEST[stage] in row
    r = pyctr("rm", "-f", "k")
    assert r.returncode == 0, r.stderr
    assert pyctr.store().list_containers() == [] and pyctr.container_dirs() == []


def test_a_container_left_created_can_still_start(pyctr):
    _killed_at(pyctr, "cloned", "-d")
    assert "Created" in pyctr("ps", "-a").stdout
    assert pyctr("start", "k").returncode == 0
    assert "Up" in pyctr("ps").stdout
    assert pyctr("rm", "-f", "k").returncode == 0


def test_concurrent_starts_start_it_once(pyctr):
    """Six `start`s all read the container as stopped, then race to claim it."""
    assert pyctr("run", "--name", "c", "busybox", "sh", "-c", "echo started; sleep 1").returncode == 0
    starts = [pyctr.popen("start", "c", env={"PYCTR_PAUSE_AT": "checked"}, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True) for _ in range(6)]
    for p in starts:
        wait_for(lambda: state_of(p.pid) == "T")
    for p in starts:
        p.send_signal(signal.SIGCONT)
    for p in starts:
        assert p.wait(timeout=60) == 0, p.stderr.read()
        p.stderr.close()
    wait_for(exited(pyctr, "c"), timeout=20)
    assert pyctr("logs", "c").stdout == "started\n" * 2  # the first run and one start
    assert pyctr("rm", "c").returncode == 0


def test_concurrent_rm_f_removes_it_once(pyctr):
    assert pyctr("run", "-d", "--name", "r", "busybox", "sleep", "600").returncode == 0
    removals = [pyctr.popen("rm", "-f", "r", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                for _ in range(4)]
    results = []
    for p in removals:
        results.append((p.wait(timeout=60), p.stderr.read()))
        p.stderr.close()
    assert any(code == 0 for code, _ in results)
    # the others removed it too, or found it gone: never a half-removed container
    assert all(code == 0 or "no such container" in err for code, err in results), results
    assert pyctr.store().list_containers() == [] and pyctr.container_dirs() == []


def test_concurrent_runs_with_one_name_make_one_container(pyctr):
    runs = [pyctr.popen("run", "-d", "--name", "same", "busybox", "sleep", "600", stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE, text=True) for _ in range(5)]
    codes = []
    for p in runs:
        codes.append(p.wait(timeout=60))
        p.stderr.close()
    try:
        assert sorted(codes) == [0, 125, 125, 125, 125]
        assert len(pyctr.store().list_containers()) == 1 and len(pyctr.container_dirs()) == 1
    finally:
        pyctr("rm", "-f", "same")
