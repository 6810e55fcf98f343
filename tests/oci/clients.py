"""What the podman and containerd tests share: where the installed executables are, a
tool that may be missing, the mounts a store leaves, commands run and checked."""

import fcntl
import glob
import os
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest

from helpers import read_until

# The installed executables, as podman and containerd are told to run them.
BIN = os.path.dirname(sys.executable)
RUNTIME = os.path.join(BIN, "pyctr-runtime")
PYCTR = os.path.join(BIN, "pyctr")
# root here cannot raise its limits past the hard ones podman would set by default
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


def need(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        pytest.skip(f"{tool} is not installed (scripts/setup.sh installs it)")
    return path


def mounts_under(base: str) -> list[str]:
    """Mount points under `base`, deepest first (the order to unmount them in)."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point == base or point.startswith(base + "/"):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def unmount_all(base: str) -> list[str]:
    """Unmounts what is left under `base` (lazily: a store's mounts may be busy a
    moment after its last container); returns what was there, for the caller to
    report as a leak."""
    left = mounts_under(base)
    for point in left:
        subprocess.run(["umount", "-l", point], capture_output=True)
    return left


def run(argv: list[str], timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)


def ok(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 0, f"{' '.join(r.args)}: exit {r.returncode}: {r.stderr}"
    return r.stdout


# podman passes the runtime no --root (its --runtime-flag root=... would not reach the
# `podman container cleanup` that conmon runs when a container exits): the default one,
# shared with whoever else runs pyctr-runtime, so only this test's containers are looked at
RUNTIME_DEFAULT_ROOT = "/run/pyctr-runtime"


def states_naming(root: str, text: str) -> list[str]:
    """The containers under a runtime root whose state names `text` (a cgroup parent)."""
    found = []
    for state in glob.glob(os.path.join(root, "*", "state.json")):
        try:
            with open(state) as f:
                if text in f.read():
                    found.append(os.path.dirname(state))
        except FileNotFoundError:  # deleted meanwhile: someone else's
            pass
    return found


def remove_cgroups(path: str) -> None:
    """rmdir of `path` in every hierarchy that has it (conmon's cgroup: podman makes it
    and never removes it)."""
    for d in glob.glob(f"/sys/fs/cgroup/{path}") + glob.glob(f"/sys/fs/cgroup/*/{path}"):
        for _ in range(60):  # conmon may take a moment to exit
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.05)


def shell_on_a_pty(argv: list[str], command: bytes, until: bytes) -> tuple[int, list[str]]:
    """`argv` (a client running `sh` with -t) with a pty of 33x101 as its terminal:
    `command` typed at the shell's prompt; returns the client's exit code and the lines
    printed up to `until`."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    try:
        assert b"# " in read_until(master, b"# ")
        os.write(master, command + b"\r")
        out = read_until(master, until)
        code = proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        os.close(master)
    return code, out.decode().replace("\r", "").splitlines()
