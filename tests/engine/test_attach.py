"""Foreground runs go through the monitor too: their logs, `attach`, `start -a`, the
detach keys, and a `pyctr run` killed while its container runs."""

import os
import signal
import subprocess
import time

from helpers import TICK, exited, monitor_of, wait_for
from helpers import read_until


def test_a_foreground_run_is_logged(pyctr):
    r = pyctr("run", "--name", "f", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")
    logs = pyctr("logs", "f")
    assert (logs.stdout, logs.stderr) == ("out\n", "err\n")
    assert "Exited (3)" in pyctr("ps", "-a").stdout
    assert pyctr("rm", "f").returncode == 0


def test_foreground_output_keeps_its_bytes_and_order(pyctr):
    r = subprocess.run(pyctr.argv("run", "--rm", "busybox", "sh", "-c", "seq 1 20000; printf 'no newline'"),
                       capture_output=True, env=pyctr.env, timeout=60)
    assert r.returncode == 0
    assert r.stdout == "".join(f"{i}\n" for i in range(1, 20001)).encode() + b"no newline"


def test_attach_sees_new_output_and_the_exit_code(pyctr):
    assert pyctr("run", "-d", "--name", "a", "busybox", "sh", "-c", TICK).returncode == 0
    try:
        client = pyctr.popen("attach", "--no-stdin", "a", stdout=subprocess.PIPE, text=True)
        assert client.stdout.readline().startswith("tick ")
        assert pyctr("stop", "a").returncode == 0
        assert client.wait(timeout=15) == 143
        client.stdout.close()
    finally:
        pyctr("rm", "-f", "a")


def test_attach_passes_input_to_a_container_run_with_i(pyctr):
    script = "while read line; do echo got $line; done; echo stdin closed"
    assert pyctr("run", "-d", "-i", "--name", "i", "busybox", "sh", "-c", script).returncode == 0
    try:
        client = pyctr.popen("attach", "i", stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        client.stdin.write("hello\n")
        client.stdin.flush()
        assert client.stdout.readline() == "got hello\n"
        client.stdin.close()  # the end of our input ends the container's
        assert client.stdout.readline() == "stdin closed\n"
        assert client.wait(timeout=15) == 0
        client.stdout.close()
    finally:
        pyctr("rm", "-f", "i")


def test_attach_to_a_stopped_container_is_refused(pyctr):
    pyctr("run", "--name", "s", "busybox", "true")
    r = pyctr("attach", "s")
    assert r.returncode == 1 and "stopped container" in r.stderr and r.stderr.count("\n") == 1
    pyctr("rm", "s")


def test_start_attached_runs_it_again_in_the_foreground(pyctr):
    assert pyctr("run", "--name", "again", "busybox", "sh", "-c", "echo run; exit 5").stdout == "run\n"
    r = pyctr("start", "-a", "again")
    assert (r.returncode, r.stdout) == (5, "run\n")
    assert pyctr("logs", "again").stdout == "run\nrun\n"
    assert pyctr("rm", "again").returncode == 0


def test_detach_keys_leave_the_container_running(pyctr):
    master, slave = os.openpty()
    proc = pyctr.popen("run", "-t", "-i", "--name", "k", "busybox", "sh", stdin=slave, stdout=slave,
                       stderr=slave, start_new_session=True)
    try:
        assert b"# " in read_until(master, b"# ")
        os.write(master, b"\x10\x11")  # ctrl-p ctrl-q
        assert proc.wait(timeout=15) == 0
        assert "Up" in pyctr("ps").stdout
        # back in through attach, and out again by the shell's exit
        client = pyctr.popen("attach", "k", stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
        time.sleep(0.5)
        os.write(master, b"exit 6\r")
        assert client.wait(timeout=15) == 6
    finally:
        os.close(slave)
        os.close(master)
        pyctr("rm", "-f", "k")


def test_a_killed_pyctr_run_leaves_the_exit_to_the_monitor(pyctr):
    proc = pyctr.popen("run", "--rm", "--name", "orphan", "busybox", "sh", "-c", "echo ready; sleep 1; exit 4",
                       stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    record = pyctr.store().find_containers("orphan")[0]
    monitor = monitor_of(record.pid)
    proc.kill()
    proc.wait()
    proc.stdout.close()
    # the monitor records the exit and, for --rm, removes the container
    wait_for(lambda: pyctr.store().list_containers() == [])
    assert pyctr.container_dirs() == []
    wait_for(lambda: not os.path.exists(f"/proc/{monitor}"))


def test_a_killed_pyctr_run_without_rm_shows_the_real_exit_code(pyctr):
    proc = pyctr.popen("run", "--name", "o2", "busybox", "sh", "-c", "echo ready; sleep 1; exit 4",
                       stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    wait_for(exited(pyctr, "o2"))
    assert "Exited (4)" in pyctr("ps", "-a").stdout
    assert pyctr("rm", "o2").returncode == 0
