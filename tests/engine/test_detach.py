"""run -d under pyctr-monitor: logs, ps, exec, stop, rm, --rm, a killed monitor, many at once."""

import json
import re
import subprocess
import time

from helpers import TICK, exited, monitor_of, wait_for

def test_the_docker_session(pyctr):
    r = pyctr("run", "-d", "--name", "web", "busybox", "sh", "-c", TICK)
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"[0-9a-f]{64}\n", r.stdout)
    try:
        assert "web" in pyctr("ps").stdout and "Up" in pyctr("ps").stdout
        wait_for(lambda: pyctr("logs", "web").stdout.count("tick") >= 5)
        tail = pyctr("logs", "--tail", "3", "web").stdout.splitlines()
        assert len(tail) == 3 and all(line.startswith("tick ") for line in tail)
        stamped = pyctr("logs", "-t", "--tail", "1", "web").stdout
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z tick \d+\n", stamped)
        follower = pyctr.popen("logs", "-f", "--tail", "1", "web", stdout=subprocess.PIPE, text=True)
        assert follower.stdout.readline().startswith("tick ")
        assert pyctr("exec", "web", "hostname").returncode == 0
        assert pyctr("stop", "web").returncode == 0
        follower.wait(timeout=10)  # -f ends when the container ends
        follower.stdout.close()
        wait_for(exited(pyctr, "web"))
        assert "Exited (143)" in pyctr("ps", "-a").stdout
        assert pyctr.cgroup_dirs(pyctr.store().find_containers("web")[0].id) == []
    finally:
        pyctr("rm", "-f", "web")
    assert pyctr("ps", "-a", "-q").stdout == ""


def test_streams_are_tagged(pyctr):
    r = pyctr("run", "-d", "--name", "s", "busybox", "sh", "-c", "echo out; echo err >&2; echo 'a \"quoted\" \\\\ line'")
    assert r.returncode == 0, r.stderr
    wait_for(exited(pyctr, "s"))
    logs = pyctr("logs", "s")
    # quotes and backslashes survive the JSON records (inside '' echo keeps both backslashes)
    assert logs.stdout == 'out\na "quoted" \\\\ line\n' and logs.stderr == "err\n"
    pyctr("rm", "s")


def test_rm_with_detach_removes_after_the_exit(pyctr):
    r = pyctr("run", "-d", "--rm", "busybox", "sh", "-c", "exit 3")
    assert r.returncode == 0
    wait_for(lambda: pyctr.store().list_containers() == [])
    assert pyctr.container_dirs() == []


def test_a_failed_detached_start_leaves_nothing(pyctr):
    r = pyctr("run", "-d", "busybox", "no-such-command")
    assert r.returncode == 127 and r.stderr.count("\n") == 1
    assert pyctr.store().list_containers() == [] and pyctr.container_dirs() == []


def test_killed_monitor_leaves_an_honest_state(pyctr):
    import os
    import signal
    r = pyctr("run", "-d", "--name", "m", "busybox", "sh", "-c", TICK)
    assert r.returncode == 0, r.stderr
    record = pyctr.store().find_containers("m")[0]
    os.kill(monitor_of(record.pid), signal.SIGKILL)
    time.sleep(0.2)
    assert "Up" in pyctr("ps").stdout  # the container outlived its monitor
    assert pyctr("rm", "-f", "m").returncode == 0
    assert pyctr("ps", "-a", "-q").stdout == ""


def test_twenty_in_parallel(pyctr):
    procs = [pyctr.popen("run", "-d", "--name", f"p{i}", "busybox", "sleep", "30", stdout=subprocess.PIPE)
             for i in range(20)]
    try:
        for p in procs:
            assert p.wait(timeout=60) == 0
            p.stdout.close()
        names = {json.loads(line)["Names"] for line in pyctr("ps", "--format", "json").stdout.splitlines()}
        assert names == {f"p{i}" for i in range(20)}
    finally:
        pyctr("rm", "-f", *[f"p{i}" for i in range(20)])
    assert pyctr("ps", "-a", "-q").stdout == ""


def test_stop_start_restart_keep_files_and_logs(pyctr):
    script = "echo run >> /runs; echo runs=$(wc -l < /runs); " + TICK
    assert pyctr("run", "-d", "--name", "r", "busybox", "sh", "-c", script).returncode == 0
    try:
        wait_for(lambda: "runs=1" in pyctr("logs", "r").stdout)
        assert pyctr("stop", "r").returncode == 0
        wait_for(exited(pyctr, "r"))
        assert pyctr("start", "r").returncode == 0
        wait_for(lambda: "runs=2" in pyctr("logs", "r").stdout)
        assert "Up" in pyctr("ps").stdout
        assert pyctr("restart", "-t", "2", "r").returncode == 0
        wait_for(lambda: "runs=3" in pyctr("logs", "r").stdout)
        assert "runs=1" in pyctr("logs", "r").stdout  # the log goes on across runs
    finally:
        pyctr("rm", "-f", "r")
