"""The terminal side of a process in the foreground: signals forwarded, the host terminal
in raw mode, window sizes, and the pty relayed until the process exits."""

import _signal as signal  # signal's C module: signal.py adds enums, and imports enum (5 ms)
import os
import struct

from . import _core
from .process import Process, wait

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)

# The context managers here are classes, not @contextlib.contextmanager: contextlib imports
# collections and functools, a few ms of every foreground `run`.


class forwarding_signals:
    """`with forwarding_signals(pid):` FORWARDED signals that reach us go on to pid (None:
    none are, and they keep their default actions: docker's --sig-proxy=false)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.old: dict = {}

    def forward(self, sig, _frame) -> None:
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def __enter__(self) -> None:
        if self.pid is not None:
            self.old = {sig: signal.signal(sig, self.forward) for sig in FORWARDED}

    def __exit__(self, *_exc) -> None:
        for sig, handler in self.old.items():
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


class raw_mode:
    """`with raw_mode(fd):` raw mode on a host terminal (nothing for None or a non-tty);
    restored on every way out, exceptions included."""

    def __init__(self, fd: int | None):
        self.fd = fd if fd is not None and os.isatty(fd) else None
        self.saved = None

    def __enter__(self) -> None:
        if self.fd is None:
            return
        import termios
        import tty
        self.saved = termios.tcgetattr(self.fd)
        tty.setraw(self.fd)

    def __exit__(self, *_exc) -> None:
        if self.saved is not None:
            import termios
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)


class wakeup_pipe:
    """`with wakeup_pipe() as r:` a pipe the signal machinery writes to, so that a loop
    in C (the relay) or poll() notices signals."""

    def __enter__(self) -> int:
        self.r, self.w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.old = signal.set_wakeup_fd(self.w, warn_on_full_buffer=False)
        return self.r

    def __exit__(self, *_exc) -> None:
        signal.set_wakeup_fd(self.old)
        os.close(self.r)
        os.close(self.w)


def drain(fd: int) -> None:
    try:
        while os.read(fd, 256):
            pass
    except BlockingIOError:
        pass


def foreground(proc: Process, tty: bool, interactive: bool) -> int:
    """Starts `proc` and stays with it until it exits: signals forwarded, the pty relayed."""
    with forwarding_signals(proc.pid):
        proc.start()
        return run_tty(proc, interactive) if tty else wait(proc.pid)


def foreground_pipes(proc: Process, stdin_w: int | None, out_r: int, err_r: int) -> int:
    """Starts `proc` and relays our stdin to `stdin_w` (None: no input), and `out_r`,
    `err_r` to our stdout and stderr, until it exits; returns its exit code.  Closes the
    three.  All the process wrote before its exit is passed on; a process it left
    behind holding the pipes is not waited for (its writes fail once we are gone)."""
    relay = _PipeRelay(stdin_w, {out_r: 1, err_r: 2})
    try:
        with forwarding_signals(proc.pid):
            proc.start()
            relay.pidfd = os.pidfd_open(proc.pid)
            relay.run()
            return wait(proc.pid)
    finally:
        relay.close()


class _PipeRelay:
    """The state of foreground_pipes' relay: which fds are still open, input not yet taken."""

    # What an exited process left is at most a pipe's worth (64 KiB); reads of up to 64 KiB
    DRAIN_READS = 16

    def __init__(self, stdin_w: int | None, outputs: dict):
        self.stdin_w = stdin_w
        self.outputs = outputs  # our read end -> our fd it goes to
        self.pidfd = -1
        self.pending = b""

    def run(self) -> None:
        """Until the process exits (not until its outputs close: it may still want input)."""
        import select
        while True:
            poller = select.poll()
            poller.register(self.pidfd, select.POLLIN)
            for fd in self.outputs:
                poller.register(fd, select.POLLIN)
            if self.stdin_w is not None:
                poller.register(self.stdin_w, select.POLLOUT) if self.pending else poller.register(0, select.POLLIN)
            ready = dict(poller.poll())
            for fd in [fd for fd in self.outputs if ready.get(fd)]:
                if not _pass_on(fd, self.outputs[fd]):
                    self.close_output(fd)
            if ready.get(self.pidfd):
                self.drain()
                return
            if self.stdin_w is not None and (ready.get(self.stdin_w) or ready.get(0)):
                self.feed()

    def feed(self) -> None:
        """Our stdin to the process, one read at a time; its end closed when ours ends."""
        try:
            if self.pending:
                self.pending = self.pending[os.write(self.stdin_w, self.pending):]
                return
            self.pending = os.read(0, 65536)
            if self.pending:
                return
        except BrokenPipeError:  # it closed its stdin: no more input for it
            pass
        os.close(self.stdin_w)
        self.stdin_w = None

    def drain(self) -> None:
        """What the process wrote before it exited is in the pipes: pass it on, without
        waiting for writers it left behind, and without letting one that keeps the pipe
        full keep us here (bounded)."""
        for fd, to in list(self.outputs.items()):
            os.set_blocking(fd, False)
            for _ in range(self.DRAIN_READS):
                if not _pass_on(fd, to):
                    break

    def close_output(self, fd: int) -> None:
        os.close(fd)
        del self.outputs[fd]

    def close(self) -> None:
        for fd in (self.pidfd, self.stdin_w, *self.outputs):
            if fd is not None and fd >= 0:
                os.close(fd)
        self.outputs = {}
        self.stdin_w = None
        self.pidfd = -1


def _pass_on(fd: int, to: int) -> bool:
    """One read from fd, written whole to `to`; False at its end, when nothing is there
    yet, or when `to` is gone (our reader left: as docker, the output ends there)."""
    try:
        data = os.read(fd, 65536)
    except BlockingIOError:
        return False
    if not data:
        return False
    try:
        while data:
            data = data[os.write(to, data):]
    except BrokenPipeError:
        return False
    return True


def run_tty(proc: Process, interactive: bool) -> int:
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
            return wait(proc.pid)
    finally:
        signal.signal(signal.SIGWINCH, old_winch)
        os.close(master)
