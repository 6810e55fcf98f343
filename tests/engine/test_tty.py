"""`run -t -i`, driven from a real pty as a person's terminal would."""

import os
import subprocess

from helpers import tty_shell_session


def test_tty_interactive_shell(pyctr):
    lines, before, after = tty_shell_session(pyctr)
    assert "/dev/pts/0" in lines  # ttyname works: the pty lives in the container's devpts
    assert "pid=1" in lines
    assert "33 101" in lines  # the host terminal's size reached the container
    assert "xterm" in lines
    assert "44 120" in lines
    assert after == before  # raw mode was undone


def test_tty_without_interactive_still_gets_a_terminal(pyctr):
    r = subprocess.run(pyctr.argv("run", "--rm", "-t", "busybox", "sh", "-c", "tty; exit 5"),
                       capture_output=True, env=pyctr.env, stdin=subprocess.DEVNULL, timeout=30)
    assert r.returncode == 5
    assert r.stdout.replace(b"\r", b"") == b"/dev/pts/0\n"


def test_tty_relay_survives_input_the_container_never_reads(pyctr):
    """Endless input to a container that does not read it, and output while input is
    pending: neither side may block the other, and pyctr must return."""
    # stdin a terminal (-ti on a pipe is refused, as docker does), fed without end by `yes`
    master, slave = os.openpty()
    yes = subprocess.Popen(["yes"], stdout=master)
    try:
        r = subprocess.run(pyctr.argv("run", "--rm", "-i", "-t", "busybox", "sh", "-c", "sleep 1; seq 100000 | tail -1"),
                           stdin=slave, capture_output=True, env=pyctr.env, timeout=30)
    finally:
        yes.kill()
        yes.wait()
        os.close(master)
        os.close(slave)
    assert r.returncode == 0
    assert r.stdout.rstrip().endswith(b"100000")


def test_tty_and_interactive_with_a_stdin_that_is_no_terminal_is_refused(pyctr):
    """`echo hi | run -ti` would wait forever for a terminal: docker refuses it, exit 1."""
    r = pyctr("run", "--rm", "-ti", "--net", "none", "busybox", "cat", input="hi\n", timeout=20)
    assert r.returncode == 1 and r.stderr.strip() == "pyctr: the input device is not a TTY"
    assert pyctr.store().list_containers() == []
