"""What pyctr makes on the host and in the container has the same modes whatever the
caller's umask: its state private (configs carry -e secrets; whoever reaches an attach
socket types into the container), the container's `/` and devices as docker has them."""

import os
import socket
import stat
import subprocess
import time

import pytest

from helpers import wait_for


def _modes(pyctr, umask: int) -> dict:
    """The modes of what a detached run makes, started under `umask`."""
    name = f"u{umask:o}"
    proc = pyctr.popen("run", "-d", "--name", name, "-e", "SECRET=x", "busybox", "sleep", "60",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, umask=umask)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    cid = out.decode().strip()
    cdir = os.path.join(pyctr.root, "containers", cid)
    wait_for(lambda: os.path.exists(os.path.join(cdir, "attach")))
    found = {path: stat.S_IMODE(os.lstat(os.path.join(cdir, path)).st_mode)
             for path in ("", "config.json", "attach", "container.log", "upper")}
    found["root"] = stat.S_IMODE(os.stat(pyctr.root).st_mode)
    found["runroot"] = stat.S_IMODE(os.stat(os.path.join(pyctr.root, "run")).st_mode)
    r = pyctr("exec", name, "stat", "-c", "%a", "/", "/dev/null", "/tmp", "/dev/pts/ptmx")
    found["inside"] = r.stdout.split()
    pyctr("rm", "-f", name)
    return found


def test_umask_000_gives_the_same_modes_as_022(pyctr):
    open_ = _modes(pyctr, 0o000)
    assert open_ == _modes(pyctr, 0o022)
    assert open_["root"] == open_["runroot"] == open_[""] == 0o700
    assert open_["config.json"] == open_["attach"] == open_["container.log"] == 0o600
    assert open_["inside"] == ["755", "666", "1777", "666"]


def test_a_looser_root_is_tightened_and_said_so(pyctr):
    os.chmod(pyctr.root, 0o755)
    r = pyctr("ps")
    assert r.returncode == 0
    assert r.stderr == f"pyctr: warning: {pyctr.root} was open to other users (0755): made 0700\n"
    assert stat.S_IMODE(os.stat(pyctr.root).st_mode) == 0o700
    assert pyctr("ps").stderr == ""  # once


def test_a_non_root_user_can_run_a_shell_and_use_dev_null(pyctr):
    r = pyctr("run", "--rm", "-u", "1000", "busybox", "sh", "-c", "echo x > /dev/null && id -u")
    assert (r.returncode, r.stdout) == (0, "1000\n"), r.stderr
    r = pyctr("run", "--rm", "-u", "nobody", "busybox", "id")
    assert r.stdout == "uid=65534(nobody) gid=65534(nogroup)\n"


@pytest.mark.parametrize("user", ["1000:99999999999", "nosuchuser"])
def test_bad_run_users_are_one_line_errors(pyctr, user):
    r = pyctr("run", "--rm", "-u", user, "busybox", "true")
    assert r.returncode == 125 and r.stderr.count("\n") == 1
    assert pyctr.container_dirs() == []


def test_only_root_may_attach_even_through_an_open_socket(pyctr):
    """The socket's mode keeps other users out; the monitor also checks who connected (a
    socket can be reached by other ways than its path).  Opened up on purpose here."""
    assert pyctr("run", "-d", "-i", "--name", "a", "busybox", "sh", "-c", "read x; echo got $x").returncode == 0
    try:
        cid = pyctr.store().find_containers("a")[0].id
        cdir = os.path.join(pyctr.root, "containers", cid)
        path = os.path.join(cdir, "attach")
        wait_for(lambda: os.path.exists(path))
        os.chmod(cdir, 0o711)
        os.chmod(path, 0o666)
        dirfd = os.open(cdir, os.O_PATH | os.O_DIRECTORY)  # past the temp dirs above, which are 0700
        pid = os.fork()
        if pid == 0:  # an unprivileged user types into the container
            code = 1
            try:
                os.setgid(65534)
                os.setuid(65534)
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                # `run -d` returns before its monitor listens: the path can exist (bound)
                # a moment before it takes connections
                for _ in range(100):
                    try:
                        s.connect(f"/proc/self/fd/{dirfd}/attach")
                        break
                    except ConnectionRefusedError:
                        time.sleep(0.05)
                s.settimeout(5)
                try:
                    s.send(b"iintruder\n")
                    code = 0 if s.recv(100) == b"" else 2  # hung up on at once
                except (BrokenPipeError, ConnectionResetError):
                    code = 0
            finally:
                os._exit(code)
        os.close(dirfd)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        time.sleep(0.3)
        assert "intruder" not in pyctr("logs", "a").stdout
    finally:
        pyctr("rm", "-f", "a")
