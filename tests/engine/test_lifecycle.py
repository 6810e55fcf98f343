"""ps, inspect, stop, kill, wait, top on real containers, and an honest status."""

import json
import os
import signal
import subprocess
import time

from helpers import Held, runtime_entries

TRAP = "trap 'exit 143' TERM; trap 'echo hup' HUP; echo ready; while :; do sleep 0.05; done"


def start(pyctr, *flags, command=TRAP):
    """A foreground run that keeps going, the way a user leaves one in another terminal."""
    proc = pyctr.popen("run", *flags, "busybox", "sh", "-c", command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    return proc


def finish(pyctr, proc, name):
    """Whatever the test did: nothing of it left running."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    proc.stdout.close()
    pyctr("rm", "-f", name)


def test_ps_shows_running_then_exited(pyctr):
    proc = start(pyctr, "--name", "web")
    try:
        r = pyctr("ps")
        header, row = r.stdout.splitlines()[:2]
        assert header.split()[:4] == ["CONTAINER", "ID", "IMAGE", "COMMAND"]
        assert "web" in row and "Up" in row and "busybox" in row
        assert len(pyctr("ps", "-q").stdout.split()[0]) == 12
        assert len(pyctr("ps", "-q", "--no-trunc").stdout.split()[0]) == 64
        assert pyctr("stop", "web").returncode == 0
        assert proc.wait(timeout=15) == 143
    except BaseException:
        finish(pyctr, proc, "web")
        raise
    proc.stdout.close()
    assert pyctr("ps", "-q").stdout == ""
    row = pyctr("ps", "-a").stdout.splitlines()[1]
    assert "Exited (143)" in row
    [state] = [c["State"] for c in json.loads(pyctr("inspect", "web").stdout)]
    assert state["Status"] == "exited" and state["ExitCode"] == 143 and state["OOMKilled"] is False
    assert pyctr("rm", "web").returncode == 0
    assert pyctr("ps", "-a", "-q").stdout == ""


def test_stop_of_a_process_that_ignores_sigterm_takes_the_grace_then_sigkill(pyctr):
    proc = start(pyctr, "--name", "stubborn", command="echo ready; exec sleep 100")
    try:
        began = time.monotonic()
        assert pyctr("stop", "-t", "1", "stubborn").returncode == 0
        took = time.monotonic() - began
        assert proc.wait(timeout=15) == 137
    except BaseException:
        finish(pyctr, proc, "stubborn")
        raise
    proc.stdout.close()
    assert 1 <= took < 8
    assert json.loads(pyctr("inspect", "stubborn").stdout)[0]["State"]["ExitCode"] == 137
    pyctr("rm", "stubborn")


def test_kill_with_a_signal_and_wait(pyctr):
    proc = start(pyctr, "--name", "k")
    try:
        assert pyctr("kill", "-s", "HUP", "k").returncode == 0
        assert proc.stdout.readline() == "hup\n"
        waiter = pyctr.popen("wait", "k", stdout=subprocess.PIPE, text=True)
        assert pyctr("kill", "k").returncode == 0  # SIGKILL
        assert waiter.communicate(timeout=15)[0].strip() == "137"
        assert proc.wait(timeout=15) == 137
    finally:
        finish(pyctr, proc, "k")


def test_top_lists_the_containers_processes(pyctr):
    held = Held(pyctr, command="echo ready; sleep 30 & read x")
    try:
        out = pyctr("top", held.record.name).stdout.splitlines()
    finally:
        held.release()
    assert out[0].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]  # ps -ef's, as docker
    assert any(line.endswith("sleep 30") for line in out[1:])
    assert len(out) >= 3  # sh and sleep


def test_status_stays_honest_after_pyctr_its_monitor_and_the_container_die(pyctr):
    """kill -9 of `pyctr run` and of the monitor, then of the container: nobody recorded
    the exit, and ps must not say "Up"."""
    from helpers import monitor_of
    held = Held(pyctr, "--name", "orphan", command="echo ready; sleep 600")
    held.proc.kill()
    held.proc.wait()
    held.proc.stdin.close()
    held.proc.stdout.close()
    assert "Up" in pyctr("ps").stdout  # the container outlived its pyctr
    os.kill(monitor_of(held.record.pid), signal.SIGKILL)
    assert "Up" in pyctr("ps").stdout  # and its monitor
    assert pyctr("kill", "orphan").returncode == 0
    deadline = time.monotonic() + 5
    while "orphan" in pyctr("ps").stdout and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "orphan" not in pyctr("ps").stdout
    assert "Exited (unknown)" in pyctr("ps", "-a").stdout
    assert pyctr("rm", "orphan").returncode == 0


def test_a_reused_pid_does_not_make_a_container_look_alive(pyctr):
    """Whether it runs is the runtime's to say, by pid and start time (its state.json)."""
    held = Held(pyctr)
    try:
        path = os.path.join(pyctr.root, "run", held.record.id, "state.json")
        with open(path) as f:
            saved = json.load(f)
        with open(path, "w") as f:
            json.dump(dict(saved, pidStart=saved["pidStart"] + 1), f)  # as if the pid were reused
        assert pyctr("ps", "-q").stdout == ""
        assert pyctr("kill", held.record.id).returncode == 1  # never signalled
    finally:
        held.release()


def test_bad_signal_and_unknown_container_are_one_line_errors(pyctr):
    r = pyctr("kill", "-s", "NOPE", "x")
    assert r.returncode == 1 and r.stderr == "pyctr: invalid signal: NOPE\n"
    r = pyctr("stop", "nosuch")
    assert r.returncode == 1 and r.stderr == "pyctr: no such container: nosuch\n"


def test_a_container_that_calls_itself_created_still_runs_for_exec_and_update(pyctr):
    """The runtime tells created from running by the process's name; a container that
    takes the creation name for itself fools only that label."""
    r = pyctr("run", "-d", "--name", "sly", "busybox", "sh", "-c", "printf pyctr/created > /proc/$$/comm; sleep 600; true")
    assert r.returncode == 0, r.stderr
    try:
        time.sleep(0.2)
        assert "Up" in pyctr("ps").stdout
        assert pyctr("exec", "sly", "true").returncode == 0
        assert pyctr("update", "--pids-limit", "50", "sly").returncode == 0
    finally:
        assert pyctr("rm", "-f", "sly").returncode == 0


def test_a_container_from_before_the_runtime_kept_state_is_taken_on(pyctr):
    """An upgrade: a container started by a pyctr that kept its pid and start time on the
    row and wrote no state.json still shows, stops and goes."""
    import shutil
    r = pyctr("run", "-d", "--name", "old", "busybox", "sleep", "600")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    store = pyctr.store()
    record = store.get_container(cid)
    with open(os.path.join(pyctr.root, "run", cid, "state.json")) as f:
        started = json.load(f)["pidStart"]
    shutil.rmtree(os.path.join(pyctr.root, "run", cid))  # as the old pyctr left it
    store.update_container(cid, pid_start=started)
    assert record.status == "running" and "Up" in pyctr("ps").stdout
    assert pyctr("top", "old").returncode == 0
    assert pyctr("rm", "-f", "old").returncode == 0
    assert pyctr.store().list_containers() == [] and pyctr.cgroup_dirs(cid) == []


def test_a_container_keeps_the_runroot_it_was_made_under(pyctr, tmp_path):
    """A command given another runroot still finds a container's runtime state where it
    was made: it neither loses nor kills it."""
    r = pyctr("run", "-d", "--name", "kept", "busybox", "sleep", "600")
    assert r.returncode == 0, r.stderr
    other = {"PYCTR_RUNROOT": str(tmp_path / "elsewhere")}
    try:
        assert "Up" in pyctr("ps", env=other).stdout
        assert pyctr("exec", "kept", "true", env=other).returncode == 0
        assert "Up" in pyctr("ps").stdout
    finally:
        assert pyctr("rm", "-f", "kept", env=other).returncode == 0
    assert pyctr.store().list_containers() == [] and runtime_entries(os.path.join(pyctr.root, "run")) == []


def test_start_of_a_running_container_is_a_no_op(pyctr):
    assert pyctr("run", "-d", "--name", "up", "--net", "none", "busybox", "sleep", "60").returncode == 0
    r = pyctr("start", "up")
    assert r.returncode == 0 and r.stdout.strip() == "up", r.stderr
    assert "Up" in pyctr("ps").stdout
    assert pyctr("rm", "-f", "up").returncode == 0
