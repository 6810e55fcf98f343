"""The client side of a monitor's attach socket: the container's output to our stdout and
stderr, our stdin (with -i) and window size (with -t) to the container, until its exit.

The frames are SOCK_SEQPACKET messages; csrc/monitor/attach.h describes them.
"""

import _signal as signal  # as in runtime/terminal.py: without signal.py's enums and enum's import
import os
import select
import struct

from ..runtime.terminal import drain, raw_mode, terminal_size, wakeup_pipe

FRAME_MAX = 32768
DETACH_KEYS = b"\x10\x11"  # ctrl-p ctrl-q, as docker


class Detached(Exception):
    """The user typed the detach keys, or our stdout went away: the container runs on."""


def connect(path: str):
    """The monitor's socket (a socket.socket); through /proc/self/fd of its directory, since
    the path can be longer than a socket address holds."""
    import socket
    dirfd = os.open(os.path.dirname(path), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        sock.connect(f"/proc/self/fd/{dirfd}/{os.path.basename(path)}")
    except OSError:
        sock.close()
        raise
    finally:
        os.close(dirfd)
    return sock


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


class _Input:
    """Our stdin, cut into frames; with a tty, watched for the detach keys."""

    def __init__(self, fd: int, tty: bool, keys: bytes | None = None):
        self.fd = fd
        self.tty = tty
        self.keys = keys or DETACH_KEYS
        self.held = b""  # the start of the detach keys, held back until it is known

    def read(self) -> list[bytes]:
        data = os.read(self.fd, FRAME_MAX - 1)
        if not data:
            self.fd = -1
            return [b"i" + self.held] * bool(self.held) + [b"c"]
        if self.tty:
            data = self.held + data
            if self.keys in data:
                raise Detached()
            self.held = next((data[-n:] for n in range(len(self.keys) - 1, 0, -1)
                              if data.endswith(self.keys[:n])), b"")
            data = data[:len(data) - len(self.held)]
        return [b"i" + data] if data else []


def relay(sock: int, tty: bool, interactive: bool, keys: bytes | None = None) -> int:
    """Relays between our stdio and `sock` (a SOCK_SEQPACKET fd: one read, one frame)
    until the container exits; returns its exit code.  Raises Detached when the user
    detaches (`keys`, default ctrl-p ctrl-q), ConnectionError when the monitor goes away
    without a word."""
    os.set_blocking(sock, False)
    frames: list[bytes] = []
    stdin = _Input(0, tty, keys) if interactive else None
    resized = []

    def winch(_sig, _frame):
        resized.append(True)

    old_winch = signal.signal(signal.SIGWINCH, winch) if tty else None
    try:
        with wakeup_pipe() as wake, raw_mode(0 if tty and interactive else None):
            return _loop(sock, tty, stdin, frames, wake, resized)
    finally:
        if old_winch is not None:
            signal.signal(signal.SIGWINCH, old_winch)


def _loop(sock, tty, stdin, frames, wake, resized) -> int:
    while True:
        poller = select.poll()
        poller.register(sock, select.POLLIN | (select.POLLOUT if frames else 0))
        poller.register(wake, select.POLLIN)
        reading = stdin is not None and stdin.fd >= 0 and not frames  # backpressure
        if reading:
            poller.register(stdin.fd, select.POLLIN)
        try:
            ready = dict(poller.poll())
        except InterruptedError:
            ready = {}
        if ready.get(wake):
            drain(wake)
        if resized:
            resized.clear()
            rows, cols = terminal_size(0)
            if rows and cols:
                frames.append(b"w" + struct.pack("HH", rows, cols))
        if reading and ready.get(stdin.fd):
            frames.extend(stdin.read())
        if ready.get(sock):
            code = _receive(sock, tty)
            if code is not None:
                return code
        _send(sock, frames)


def _send(sock: int, frames: list[bytes]) -> None:
    while frames:
        try:
            os.write(sock, frames[0])
        except BlockingIOError:
            return
        except (BrokenPipeError, ConnectionResetError):
            frames.clear()  # the monitor is on its way out: its last frames are still to read
            return
        frames.pop(0)


def _receive(sock: int, tty: bool) -> int | None:
    """Takes what the monitor sent; returns the exit code once it came."""
    while True:
        try:
            frame = os.read(sock, FRAME_MAX + 1)
        except BlockingIOError:
            return None
        except ConnectionResetError:
            frame = b""
        if not frame:
            raise ConnectionError("the container's monitor went away")
        kind, data = frame[:1], frame[1:]
        if kind == b"x":
            return int(data)
        try:
            _write_all(1 if kind == b"o" or tty else 2, data)
        except BrokenPipeError:
            raise Detached() from None  # as docker's client: the container runs on

