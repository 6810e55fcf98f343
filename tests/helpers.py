"""What several test files share: waiting, a container held running, a pty reader, how to
find a container's monitor, and a process's state."""

import os
import select
import subprocess
import time

TICK = "trap 'exit 143' TERM; n=0; while :; do echo tick $n; n=$((n+1)); sleep 0.1; done"


def _stat_fields(pid: int) -> list[bytes]:
    """/proc/<pid>/stat from the state on (the name before it may hold spaces)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    return stat[stat.rindex(b")") + 2:].split()


def parent_of(pid: int) -> int:
    return int(_stat_fields(pid)[1])


def monitor_of(pid: int) -> int:
    """The parent of a container's first process: its monitor."""
    return parent_of(pid)


def state_of(pid: int) -> str:
    """R, S, T (stopped), Z ... as /proc/<pid>/stat says."""
    return _stat_fields(pid)[0].decode()


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def exited(pyctr, name):
    """Its exit recorded, code and all (inspect makes the row true first; its ExitCode,
    an int as docker's, cannot tell a code still to come)."""
    def done():
        pyctr("inspect", name)
        return all(c.status != "running" and c.exit_code is not None for c in pyctr.store().find_containers(name))
    return done


def read_until(fd: int, needle: bytes, timeout: float = 15) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while needle not in out and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the other side closed
                break
            if not chunk:
                break
            out += chunk
    return out


class Held:
    """A foreground `pyctr run` whose container runs until the test lets it go (closes its
    stdin), or is stopped."""

    def __init__(self, pyctr, *flags: str, command: str = "echo ready; read x"):
        self.proc = pyctr.popen("run", "-i", "--rm", *flags, "busybox", "sh", "-c", command,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline() == "ready\n"
        [self.record] = [c for c in pyctr.store().list_containers() if c.status == "running"]

    def release(self) -> int:
        self.proc.stdin.close()
        code = self.proc.wait(timeout=30)
        self.proc.stdout.close()
        return code


def run_read_by_fast(line: list[str]):
    """(RunOptions, detach) as the lean parser reads `pyctr run <line>`."""
    from pyctr.cli import fast, flags
    values, image, command = fast.parse_run(line)
    return flags.run_options(values, image, command), bool(values.get("detach"))


def run_read_by_typer(tmp_path, monkeypatch, line: list[str]):
    """(RunOptions, detach) as the typer command reads `pyctr run <line>`, with the start
    itself replaced."""
    from pyctr.cli.main import _typer_main
    from pyctr.engine import running
    seen = {}

    def attached(paths, store, opts):
        seen.update(opts=opts, detach=False)
        return running.Outcome("c" * 64, 0)

    def detached(paths, store, opts):
        seen.update(opts=opts, detach=True)
        return "id"

    monkeypatch.setattr(running, "run_attached", attached)
    monkeypatch.setattr(running, "run_detached", detached)
    assert _typer_main(["--root", str(tmp_path), "run", *line]) == 0
    return seen["opts"], seen["detach"]


def runtime_entries(root: str) -> list[str]:
    """What the runtime keeps under its root, but for what it keeps by design
    (leaks.KEPT_IN_RUNROOT): its state of containers."""
    from leaks import KEPT_IN_RUNROOT
    return [e for e in os.listdir(root) if e not in KEPT_IN_RUNROOT]


def tty_shell_session(pyctr, env=None, started=None) -> tuple[list[str], list, list]:
    """`run --rm -ti busybox sh` from a real pty, as a person's terminal: tty, pid, the
    window's size before and after a resize (SIGWINCH to pyctr), $TERM; exit 7.  Returns
    the output's lines and the terminal's modes before and after; `started(proc)` is
    called once the shell prompts."""
    import fcntl
    import signal
    import struct
    import termios
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    before = termios.tcgetattr(slave)
    proc = pyctr.popen("run", "--rm", "-t", "-i", "busybox", "sh", stdin=slave, stdout=slave,
                       stderr=slave, start_new_session=True, env=env)
    try:
        assert b"# " in read_until(master, b"# ")
        if started:
            started(proc)
        os.write(master, b"tty; echo pid=$$; stty size; echo $TERM\r")
        out = read_until(master, b"xterm")
        # a resized window reaches the container through SIGWINCH
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 44, 120, 0, 0))
        proc.send_signal(signal.SIGWINCH)
        time.sleep(0.3)
        os.write(master, b"stty size; exit 7\r")
        out += read_until(master, b"44 120")
        assert proc.wait(timeout=15) == 7
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        after = termios.tcgetattr(slave)
        os.close(slave)
        os.close(master)
    return out.decode().replace("\r", "").splitlines(), before, after
