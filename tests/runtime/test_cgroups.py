"""Resource limits on real containers.  Marked `cgroups`: .ci/run runs these on the host
(cgroup v1 here) and again in a QEMU guest with a pure cgroup v2 hierarchy."""

import json
import os
import subprocess
import time

import pytest

from pyctr.runtime import cgroups
from pyctr.runtime.cgroups.convert import shares_to_weight

from helpers import Held

pytestmark = pytest.mark.cgroups
V2 = cgroups.mode() == "v2"


def cgroup_file(pyctr, container_id: str, v1_controller: str, name: str) -> str:
    [d] = [d for d in pyctr.cgroup_dirs(container_id) if V2 or f"/{v1_controller}/" in d]
    return os.path.join(d, name)


def test_memory_limit_kills_a_hog_with_137_and_says_so(pyctr):
    r = pyctr("run", "--name", "hog", "-m", "64m", "busybox", "dd", "if=/dev/zero", "of=/dev/null", "bs=200M", "count=1")
    assert r.returncode == 137
    assert "OOM-killed" in r.stderr and "64 MiB" in r.stderr
    [c] = pyctr.store().find_containers("hog")
    assert c.oom_killed == 1 and c.exit_code == 137
    assert pyctr.cgroup_dirs(c.id) == []  # removed once its OOM count was read


def test_with_rm_an_oom_kill_is_still_told(pyctr):
    r = pyctr("run", "--rm", "-m", "64m", "busybox", "dd", "if=/dev/zero", "of=/dev/null", "bs=200M", "count=1")
    assert r.returncode == 137 and "OOM-killed" in r.stderr
    assert pyctr.store().list_containers() == []


def test_memory_limit_lets_a_small_allocation_live(pyctr):
    r = pyctr("run", "--rm", "-m", "64m", "busybox", "dd", "if=/dev/zero", "of=/dev/null", "bs=40M", "count=1")
    assert r.returncode == 0 and "OOM" not in r.stderr


def test_cpuset_cpus(pyctr):
    r = pyctr("run", "--rm", "--cpuset-cpus", "0", "busybox", "grep", "Cpus_allowed_list", "/proc/self/status")
    assert r.stdout.split() == ["Cpus_allowed_list:", "0"]


def test_half_a_cpu(pyctr):
    """A busy loop for 2 s under --cpus 0.5 gets about 1 s of CPU, by the cgroup's count."""
    # not as pid 1: pid 1 of a namespace ignores the SIGTERM timeout sends
    r = pyctr("run", "--name", "spin", "--cpus", "0.5", "busybox", "sh", "-c",
              "timeout 2 sh -c 'while :; do :; done'; true")
    assert r.returncode == 0, r.stderr
    [c] = pyctr.store().find_containers("spin")
    used = json.loads(c.final_stats)["cpu_usage_ns"] / 1e9
    assert 0.7 <= used <= 1.3, used


def test_fork_bomb_is_contained_by_pids_limit(pyctr):
    # the bomb runs in a subshell: ash exits when one of its own forks fails, and pid 1
    # must outlive the bomb
    held = Held(pyctr, "--pids-limit", "32",
                command="echo ready; (f() { f | f & }; f) 2>/dev/null; read x")
    try:
        peak = 0
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            with open(cgroup_file(pyctr, held.record.id, "pids", "pids.current")) as f:
                peak = max(peak, int(f.read()))
        with open(cgroup_file(pyctr, held.record.id, "pids", "pids.events")) as f:
            refused = int(f.read().split()[1])
        assert subprocess.run(["true"]).returncode == 0  # the host still forks
    finally:
        held.release()
    assert 16 <= peak <= 32
    assert refused > 0  # the bomb ran into the limit


def test_cpu_shares_follow_the_conversion_table(pyctr):
    for shares in (512, 1024):
        held = Held(pyctr, "--cpu-shares", str(shares))
        try:
            name, expected = ("cpu.weight", shares_to_weight(shares)) if V2 else ("cpu.shares", shares)
            with open(cgroup_file(pyctr, held.record.id, "cpu", name)) as f:
                assert int(f.read()) == expected
        finally:
            held.release()
    assert shares_to_weight(1024) == 100 and shares_to_weight(512) == 59


def test_update_changes_a_running_containers_limits(pyctr):
    held = Held(pyctr, "-m", "64m")
    try:
        r = pyctr("update", "-m", "128m", "--pids-limit", "50", held.record.name)
        assert r.returncode == 0, r.stderr
        mem = cgroup_file(pyctr, held.record.id, "memory", "memory.max" if V2 else "memory.limit_in_bytes")
        with open(mem) as f:
            assert int(f.read()) == 128 << 20
        with open(cgroup_file(pyctr, held.record.id, "pids", "pids.max")) as f:
            assert f.read().strip() == "50"
        config = json.load(open(os.path.join(pyctr.root, "containers", held.record.id, "config.json")))
        assert config["linux"]["resources"]["memory"]["limit"] == 128 << 20
    finally:
        held.release()


def test_stats_shows_running_containers(pyctr):
    held = Held(pyctr, "-m", "64m", "--name", "watched")
    try:
        r = pyctr("stats", "--no-stream")
        rows = [json.loads(line) for line in pyctr("stats", "--no-stream", "--format", "json").stdout.splitlines()]
    finally:
        held.release()
    assert "MEM USAGE / LIMIT" in r.stdout and "watched" in r.stdout and " / 64MiB" in r.stdout
    [row] = rows
    assert row["Name"] == "watched" and row["MemUsage"].endswith(" / 64MiB") and int(row["PIDs"]) >= 1


@pytest.mark.parametrize("flags,message", [
    (["-m", "3x"], "invalid memory limit"),
    (["--cpuset-cpus", "0-99"], "not available"),
    (["--cpus", "0"], "range of CPUs"),
    (["-m", "1m"], "minimum memory limit"),
    (["--memory-swap", "1g"], "memory limit"),
    (["--cpu-shares", "1"], "--cpu-shares"),
    (["--pids-limit", "-2"], "--pids-limit"),
])
def test_bad_values_are_refused_before_anything_starts(pyctr, flags, message):
    r = pyctr("run", *flags, "busybox", "true")
    assert r.returncode == 125
    assert r.stderr.count("\n") == 1 and message in r.stderr
    assert pyctr.container_dirs() == []


def test_every_container_gets_a_cgroup_removed_with_it(pyctr):
    held = Held(pyctr)
    try:
        dirs = pyctr.cgroup_dirs(held.record.id)
        assert dirs and all(os.path.isdir(d) for d in dirs)
        with open(os.path.join(dirs[0], "cgroup.procs")) as f:
            assert held.record.pid in [int(p) for p in f.read().split()]
    finally:
        held.release()
    assert pyctr.cgroup_dirs(held.record.id) == []


def test_rm_f_cleans_up_after_a_killed_pyctr(pyctr):
    """kill -9 of `pyctr run` leaves the container to its monitor; `rm -f` removes it,
    its processes and its cgroup."""
    held = Held(pyctr, command="echo ready; sleep 600")
    held.proc.kill()
    held.proc.wait()
    dirs = pyctr.cgroup_dirs(held.record.id)
    assert dirs
    r = pyctr("rm", "-f", held.record.name)
    assert r.returncode == 0, r.stderr
    assert pyctr.cgroup_dirs(held.record.id) == []
    assert pyctr.store().list_containers() == []
    held.proc.stdin.close()
    held.proc.stdout.close()


def test_the_child_sits_in_its_cgroup_before_it_runs(pyctr, runtime_root, tmp_path):
    """On v2 clone3(CLONE_INTO_CGROUP) creates it there; on v1 it is placed while it still
    waits at the sync socket.  Either way it is inside before its first instruction."""
    from pyctr.engine.spec import RootfsLayout, RunOptions, build_spec
    from pyctr.runtime import container as runtime
    [layer] = os.listdir(os.path.join(pyctr.root, "layers"))
    rootfs = os.path.join(pyctr.root, "layers", layer, "diff")
    spec = build_spec(RunOptions(image="busybox", command=["true"], cgroup_parent=pyctr.cgroup_parent),
                      {}, os.urandom(32).hex(), RootfsLayout([], "", "", rootfs), host_env={})
    del spec["annotations"]
    spec["root"]["readonly"] = True  # the layer itself is the rootfs here: keep it intact
    cid = spec["linux"]["cgroupsPath"].split("/")[-1]
    proc = runtime.create(runtime_root, cid, spec, str(tmp_path))
    try:
        assert proc.cloned_into_cgroup == V2
        assert proc.pid in proc.cgroup.procs()
    finally:
        proc.abort()
    assert pyctr.cgroup_dirs(spec["linux"]["cgroupsPath"].split("/")[-1]) == []


def _drain(fd: int) -> bytes:
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return out
        if not chunk:
            return out
        out += chunk


def test_freeze_and_thaw(pyctr):
    """A frozen container makes no progress; thawed, it goes on."""
    held = Held(pyctr, command="echo ready; while :; do echo tick; sleep 0.05; done")
    cgroup = cgroups.open_cgroup(f"{pyctr.cgroup_parent}/{held.record.id}")
    fd = held.proc.stdout.fileno()
    os.set_blocking(fd, False)
    try:
        cgroup.freeze()
        time.sleep(0.2)
        _drain(fd)  # what was written before the freeze took hold
        time.sleep(0.5)
        assert _drain(fd) == b""
        cgroup.thaw()
        time.sleep(0.5)
        assert b"tick" in _drain(fd)
    finally:
        held.proc.kill()  # kill -9 of pyctr: rm -f then removes the container and its cgroup
        held.proc.wait()
        pyctr("rm", "-f", held.record.id)
        held.proc.stdin.close()
        held.proc.stdout.close()


def test_update_keeps_swap_and_refuses_nothing_to_do(pyctr):
    held = Held(pyctr, "-m", "64m", "--memory-swap", "-1")
    try:
        assert pyctr("update", held.record.name).returncode == 1
        assert pyctr("update", "-m", "96m", held.record.name).returncode == 0
        config = json.load(open(os.path.join(pyctr.root, "containers", held.record.id, "config.json")))
        assert config["linux"]["resources"]["memory"] == {"limit": 96 << 20, "swap": -1}
    finally:
        held.release()
