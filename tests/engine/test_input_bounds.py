"""Input from users and from containers, bounded: what would have eaten memory, hung, or
reached a terminal raw is a one-line error (or escaped)."""

import os
import subprocess

import pytest

from helpers import Held


def test_a_huge_cpuset_is_refused_at_once(pyctr):
    r = pyctr("run", "--rm", "--cpuset-cpus", "0-99999999999", "busybox", "true", timeout=20)  # took minutes
    assert r.returncode == 125 and r.stderr.count("\n") == 1 and "no cpu or node is numbered above" in r.stderr


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return str(path)


@pytest.mark.parametrize("kind, message", [
    ("bad-utf8", "is not UTF-8 text"),
    ("/dev/zero", "is not a regular file"),
    ("fifo", "is not a regular file"),
    ("huge", "is larger than 1 MiB"),
    ("missing", "cannot read env file"),
])
def test_bad_env_files_are_one_line_errors(pyctr, tmp_path, fifo, kind, message):
    path = {"/dev/zero": "/dev/zero", "fifo": fifo, "missing": str(tmp_path / "none")}.get(kind)
    if path is None:
        path = str(tmp_path / "env")
        with open(path, "wb") as f:
            f.write(b"A=\xff\xfe\n" if kind == "bad-utf8" else b"A=" + b"x" * (1 << 20) + b"\n")
    r = pyctr("run", "--rm", "--env-file", path, "busybox", "true", timeout=20)
    assert r.returncode == 125 and r.stderr.count("\n") == 1 and message in r.stderr, r.stderr
    assert pyctr.container_dirs() == []


def test_top_escapes_what_a_container_puts_in_its_command_line(pyctr):
    held = Held(pyctr, command="echo ready; exec sh -c 'read x' \"$(printf '\\033]0;pwned\\007\\033[2J')\"")
    try:
        r = pyctr("top", held.record.name)
        assert r.returncode == 0
        assert "\x1b" not in r.stdout and "\x07" not in r.stdout
        assert "]0;pwned" in r.stdout  # ps shows each control character as ?, pyctr escapes what is left
    finally:
        held.release()


def test_ps_escapes_control_characters_in_the_command(pyctr):
    assert pyctr("run", "--name", "esc", "busybox", "echo", "\x1b[2Jx").returncode == 0
    r = pyctr("ps", "-a", "--no-trunc")
    assert "\x1b" not in r.stdout and "\\x1b[2Jx" in r.stdout
    subprocess.run(pyctr.argv("rm", "esc"), env=pyctr.env, capture_output=True)


def test_an_env_file_that_is_a_fifo_is_never_opened(pyctr, fifo):
    """Looked at before it is opened: a writer waiting on the FIFO stays waiting."""
    import threading
    opened = threading.Event()

    def writer():
        with open(fifo, "w"):  # blocks until someone opens the FIFO to read
            opened.set()
    t = threading.Thread(target=writer)
    t.start()
    try:
        r = pyctr("run", "--rm", "--env-file", fifo, "busybox", "true", timeout=20)
        assert r.returncode == 125 and "is not a regular file" in r.stderr
        assert not opened.wait(0.3)
    finally:
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))  # lets the writer go
        t.join(5)
