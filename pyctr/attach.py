"""A container in the foreground: signals forwarded, the terminal in raw mode, and the
pty relayed, until it exits."""

import os
import signal
import struct
from contextlib import contextmanager

from . import _core, runtime

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


@contextmanager
def forwarding_signals(pid: int):
    def forward(sig, _frame):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    old = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def terminal_size(fd: int) -> tuple[int, int]:
    """(rows, cols) of the terminal on fd, or (0, 0)."""
    import fcntl
    import termios
    try:
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
        return rows, cols
    except OSError:
        return 0, 0


def set_terminal_size(fd: int, rows: int, cols: int) -> None:
    import fcntl
    import termios
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


@contextmanager
def raw_mode(fd: int | None):
    """Raw mode on a host terminal; restored on every way out, exceptions included."""
    if fd is None or not os.isatty(fd):
        yield
        return
    import termios
    import tty
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextmanager
def wakeup_pipe():
    """A pipe the signal machinery writes to, so the C relay loop notices signals."""
    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    old = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    try:
        yield r
    finally:
        signal.set_wakeup_fd(old)
        os.close(r)
        os.close(w)


def drain(fd: int) -> None:
    try:
        while os.read(fd, 256):
            pass
    except BlockingIOError:
        pass


def foreground(proc: runtime.Process, tty: bool, interactive: bool) -> int:
    """Starts `proc` and stays with it until it exits: signals forwarded, the pty relayed."""
    with forwarding_signals(proc.pid):
        proc.start()
        return run_tty(proc, interactive) if tty else runtime.wait(proc.pid)


def run_tty(proc: runtime.Process, interactive: bool) -> int:
    """Relays the pty until the container closes it; the caller forwards signals."""
    master = proc.master
    in_fd = 0 if interactive else -1

    def resize(_sig, _frame):
        rows, cols = terminal_size(0)
        if rows and cols:
            set_terminal_size(master, rows, cols)

    old_winch = signal.signal(signal.SIGWINCH, resize)
    try:
        with wakeup_pipe() as wake, raw_mode(0 if interactive else None):
            relay = _core.Relay(interactive)
            while relay.run(master, in_fd, 1, wake):
                drain(wake)
            return runtime.wait(proc.pid)
    finally:
        signal.signal(signal.SIGWINCH, old_winch)
        os.close(master)
