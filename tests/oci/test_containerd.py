"""containerd 1.6 driving pyctr-runtime through its runc shim (`ctr run --runc-binary`):
the shim calls create (--pid-file, --console-socket for -t), start, exec (--process,
--detach), ps --format json, pause, resume, kill and delete, with --root, --log and
--log-format json before each.  On busybox imported by `ctr image import`."""

import os
import subprocess

import pytest

from helpers import wait_for

from .clients import RUNTIME, ok, shell_on_a_pty

IMAGE = "docker.io/library/busybox:latest"  # what `ctr image import` names the archive's busybox:latest


@pytest.fixture
def runc_root(run_scope, tmp_path) -> str:
    """The shim's --runc-root: it keeps containers under <root>/<namespace>, which the
    leak check looks in (the runtime keeps nothing of a deleted container)."""
    root = str(tmp_path / "runc-root")
    run_scope.runroots.append(os.path.join(root, "default"))
    return root


@pytest.fixture
def ctr_run(containerd, runc_root, cgroup_parent):
    """argv of `ctr run` with pyctr-runtime, the test's runtime root and a cgroup under
    the test's parent, for a container ID: ctr_run(ID, *flags) + [IMAGE, ID, cmd...]."""
    def argv(cid: str, *flags: str) -> list[str]:
        return ["ctr", "--address", containerd.address, "run", "--runc-binary", RUNTIME, "--runc-root", runc_root,
                "--fifo-dir", containerd.fifo_dir,
                "--cgroup", f"/{cgroup_parent}/{cid}", *flags, IMAGE, cid]
    return argv


def test_run_rm_output_and_exit_code(containerd, ctr_run, runc_root):
    r = subprocess.run([*ctr_run("c1", "--rm"), "sh", "-c", "echo hi from $$; exit 3"], capture_output=True, text=True,
                       timeout=60)
    assert (r.returncode, r.stdout) == (3, "hi from 1\n"), r.stderr
    assert containerd.ctr("containers", "ls", "-q").stdout == ""
    assert os.listdir(os.path.join(runc_root, "default")) == []


def test_a_missing_command_is_told_to_the_ctr_user(containerd, ctr_run):
    """runc fails `create` (the shim reads why from the runtime's --log, JSON); pyctr-runtime
    finds the command missing at start, the reason on the container's stderr and 127 its
    exit: either way the user reads the runtime's words and ctr fails."""
    r = subprocess.run([*ctr_run("f1", "--rm"), "nosuchcmd"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "executable file not found in $PATH: nosuchcmd" in r.stderr, r.stderr
    containerd.ctr("containers", "rm", "f1")  # --rm removes it only once it started
    assert containerd.ctr("containers", "ls", "-q").stdout == ""


def test_detached_task_exec_ps_pause_kill_delete(containerd, ctr_run):
    script = "trap 'exit 9' TERM; echo > /tmp/ready; while :; do sleep 0.1; done"
    ok(subprocess.run([*ctr_run("d1", "-d"), "sh", "-c", script], capture_output=True, text=True, timeout=60))
    try:
        ctr = containerd.ctr
        wait_for(lambda: containerd.task_exec("--exec-id", "probe", "d1", "test", "-e", "/tmp/ready").returncode == 0)
        [line] = ok(ctr("task", "ls")).splitlines()[1:]
        name, pid, status = line.split()
        assert (name, status) == ("d1", "RUNNING")

        # exec: in the container's pid namespace, its output and exit code the shim's
        r = containerd.task_exec("--exec-id", "e1", "d1", "sh", "-c", "echo in exec; cat /proc/1/cmdline; exit 4")
        assert r.returncode == 4, r.stderr
        assert r.stdout.startswith("in exec\nsh\0-c\0trap")

        # ps: the shim reads `ps --format json`: the init's host pid among them
        pids = [row.split()[0] for row in ok(ctr("task", "ps", "d1")).splitlines()[1:]]
        assert pid in pids

        ok(ctr("task", "pause", "d1"))
        assert ok(ctr("task", "ls")).split()[-1] == "PAUSED"
        ok(ctr("task", "resume", "d1"))
        assert ok(ctr("task", "ls")).split()[-1] == "RUNNING"

        ok(ctr("task", "kill", "d1"))  # SIGTERM: the trap's exit 9
        wait_for(lambda: ok(ctr("task", "ls")).split()[-1] == "STOPPED")
        r = ctr("task", "delete", "d1")
        assert r.returncode == 0 and "exit code 9" in r.stderr, r.stderr
    finally:
        containerd.ctr("task", "kill", "-s", "KILL", "d1")
        containerd.ctr("task", "delete", "-f", "d1")
        containerd.ctr("containers", "rm", "d1")
    assert containerd.ctr("containers", "ls", "-q").stdout == ""


def test_tty_through_the_console_socket(containerd, ctr_run):
    code, lines = shell_on_a_pty([*ctr_run("t1", "--rm", "-t"), "sh"], b"tty; echo $((6*7)); exit 5", b"42")
    assert code == 5
    assert "/dev/pts/0" in lines  # the pty the runtime made in the container's devpts
    assert "42" in lines
    assert containerd.ctr("containers", "ls", "-q").stdout == ""


def test_exec_tty_into_a_running_task(containerd, ctr_run):
    ok(subprocess.run([*ctr_run("t2", "-d"), "sleep", "100"], capture_output=True, text=True, timeout=60))
    try:
        argv = ["ctr", "--address", containerd.address, "task", "exec", "--fifo-dir", containerd.fifo_dir, "-t",
                "--exec-id", "sh", "t2", "sh"]
        code, lines = shell_on_a_pty(argv, b"tty; echo $((6*7)); exit 6", b"42")
        assert code == 6
        assert any(line.startswith("/dev/pts/") for line in lines)
        assert "42" in lines
    finally:
        containerd.ctr("task", "kill", "-s", "KILL", "t2")
        containerd.ctr("task", "delete", "-f", "t2")
        containerd.ctr("containers", "rm", "t2")
    assert containerd.ctr("containers", "ls", "-q").stdout == ""
