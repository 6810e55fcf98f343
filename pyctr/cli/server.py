"""The warm pyctr process (`pyctr system server`): a cache of an interpreter with every
module a command needs imported, which forks a worker per command.

The `pyctr` command is a small C client (csrc/client/).  It hands this process its argv,
environment, working directory, umask, resource limits and stdin/stdout/stderr; the
worker forked for it takes them all on and runs the Python CLI (main.py) exactly as the
client would have run it cold, while the client forwards its signals and ends with the
worker's exit code.  This process holds no state (everything is in the store, as always):
anyone may kill it, and a client that finds none runs the command cold and starts one.

One per runroot (<runroot>/server/: the socket, 0600, and the lock that makes it one, in a
0700 directory).  Only root or the socket's owner may connect (SO_PEERCRED).  Workers are
forked ahead (spares) and take a command off a socketpair.  It exits after `idle` seconds
without a command, when its socket is removed, and, draining the commands it runs, when
the installed pyctr or pyctr.toml change (checked per request) or on `pyctr system server
--stop`.  A client that runs elsewhere or with other privileges (namespaces, root
directory, cgroups, capabilities, no_new_privs, seccomp, LSM label, CPUs, nice, OOM score:
_place) is sent back to run cold: a worker is this process's child, and would have its.
The wire format is csrc/client/protocol.h, read through _core.
"""

import errno
import fcntl
import gc
import io
import os
import resource
import selectors
import signal
import socket
import stat
import struct
import sys
import time

from ..runtime._core import SERVER_PROTOCOL as P

HEADER = struct.Struct(f"=8I2Q{2 * P['RLIMITS']}Q")
MESSAGE = struct.Struct("=Ii")
PEERCRED = struct.Struct("3i")
MAX_FDS = 8  # a request brings at most 4 (cwd, stdin, stdout, stderr); a spare gets the connection too
DEFAULT_IDLE = 60.0  # seconds without a command before the warm process leaves
# workers forked ahead, one per CPU (up to 4): commands that come together each find one
SPARES = min(4, max(1, os.cpu_count() or 1))
CHECK_EVERY = 2.0  # seconds between looks at its own socket while idle
NAMESPACES = ("mnt", "net", "pid", "ipc", "uts", "user", "cgroup")
# Modules commands import inside functions: the warm process takes them too.  Not pyroute2
# (network create/rm and a first bridge only) nor ssl/http/urllib (pull, login): every
# worker is a fork of this process, and a fork costs by the memory it copies the mapping
# of (measured: fork and exit of this process 2.5 ms at 44 MiB, pyroute2 16 MiB of it);
# the commands that need them import them as they did cold.
LAZY_IMPORTS = ("sqlite3", "tomllib", "zstandard", "ctypes", "tarfile", "hashlib", "urllib.parse", "shlex",
                "uuid", "datetime", "json", "subprocess", "tempfile", "shutil", "typer.main", "click",
                "rich.console", "rich.table", "rich.text", "rich.markup", "rich.progress", "rich.live",
                "concurrent.futures", "base64", "locale", "pwd", "grp", "ipaddress", "fnmatch", "glob", "_sha256",
                "pickle")


def server_dir(paths) -> str:
    return os.path.join(paths.runroot, P["DIR"])


def serve(paths, idle: float | None = None, on_demand: bool = False) -> int:
    """Runs the warm process until it has reason to leave.  `on_demand`: started by a
    client (quietly, at idle priority while importing); else in the foreground, or under
    systemd's socket activation (LISTEN_FDS)."""
    os.chdir("/")  # hold no test's or user's directory (fds 0-2: main() reopened any closed)
    directory = server_dir(paths)
    lock = _handed_lock(directory) if on_demand else None
    if lock is None:
        lock = _take_lock(directory)
    if lock is None:
        if not on_demand:
            sys.stderr.write(f"pyctr: a warm pyctr process already serves {paths.runroot}\n")
        return 0 if on_demand else 1
    settings = config(paths)
    if on_demand and settings.get("server", True) is False:  # the client read it otherwise: tomllib decides
        return 0
    idle = _idle_setting(settings) if idle is None else idle
    preload()
    from ..engine.settings import CONFIG_FILE
    server = Server(directory, lock, idle, os.path.join(paths.root, CONFIG_FILE))
    if os.sched_getscheduler(0) == os.SCHED_IDLE:  # imports done: commands run at normal priority
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    gc.collect()
    gc.freeze()  # what is imported stays: workers neither scan nor copy it
    return server.run()


def preload() -> None:
    """Imports every pyctr module (but `python -m pyctr`'s) and what commands import late."""
    import importlib
    import pkgutil

    import pyctr
    for found in pkgutil.walk_packages(pyctr.__path__, "pyctr."):
        if found.name != "pyctr.__main__":
            importlib.import_module(found.name)
    for name in LAZY_IMPORTS:
        try:
            importlib.import_module(name)
        except ImportError:  # an optional one this machine lacks: commands say so when they need it
            pass
    from .commands import click_command
    click_command()  # typer's click command, made once for every worker


def _handed_lock(directory: str) -> int | None:
    """fd 3, when it is this directory's lock: the client that started this process took
    it (and holds no copy now)."""
    try:
        held, named = os.fstat(P["LOCK_FD"]), os.stat(os.path.join(directory, P["LOCK"]), follow_symlinks=False)
    except OSError:
        return None
    if (held.st_dev, held.st_ino) != (named.st_dev, named.st_ino):
        return None
    os.set_inheritable(P["LOCK_FD"], False)
    return P["LOCK_FD"]


def _take_lock(directory: str) -> int | None:
    """The lock that makes this the one warm process of the runroot, or None if another
    holds it.  The directory is made 0700 and must be this user's (the runroot above it
    was made private by the command line's paths)."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    info = os.lstat(directory)
    if info.st_uid != os.geteuid() or not stat.S_ISDIR(info.st_mode):  # lstat: a symlink is no directory
        raise OSError(errno.EPERM, f"{directory} is not a directory of this user's")
    os.chmod(directory, 0o700)
    fd = os.open(os.path.join(directory, P["LOCK"]), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)  # the holder, for stop()
    return fd


def _idle_setting(settings: dict) -> float:
    """pyctr.toml's server_idle (seconds), else DEFAULT_IDLE."""
    value = settings.get("server_idle", DEFAULT_IDLE)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else DEFAULT_IDLE


def config(paths) -> dict:
    """<root>/pyctr.toml's settings (engine/settings.py; the C client reads `server =
    false` from it too); {} if it is unreadable: the commands that use it say what is
    wrong."""
    from ..engine import settings
    from ..engine.errors import PyctrError
    try:
        return settings.read(paths)
    except (OSError, PyctrError):
        return {}


def installed_files(config_file: str | None = None) -> list[str]:
    """What says which pyctr is installed: the package's directories (pip's install and
    uninstall add, rename and remove entries in each), its extensions and programs, and
    the Python CLI a client execs.  Their identities are compared before each command: a
    few stats."""
    import pyctr
    base = os.path.dirname(os.path.abspath(pyctr.__file__))
    watched = [base, os.path.join(base, "libexec")]
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) or ""
        if name.startswith("pyctr.") and (path.endswith("__init__.py") or path.endswith(".so")):
            watched.append(os.path.dirname(path) if path.endswith("__init__.py") else path)
    watched.append(os.path.join(os.path.dirname(sys.executable), "pyctr-cli"))
    if config_file:  # a changed pyctr.toml (server = false, server_idle) too: the next server reads it
        watched.append(config_file)
    return sorted(set(watched))


def identities(paths: list[str]) -> tuple:
    return tuple(_identity(path) for path in paths)


def _identity(path: str) -> tuple:
    try:
        st = os.stat(path)
    except OSError:
        return (path, None)
    return (path, st.st_ino, st.st_mtime_ns, st.st_size)


class Request:
    """One command line, as the client sent it (protocol.h)."""

    __slots__ = ("kind", "umask", "stdio", "ignored", "sigmask", "rlimits", "argv", "env", "fds")

    @classmethod
    def read(cls, conn: socket.socket) -> "Request":
        fds: list[int] = []
        try:
            head = _recv_exactly(conn, HEADER.size, fds)
            magic, version, kind, body, argc, envc, umask, stdio, ignored, sigmask, *limits = HEADER.unpack(head)
            if magic != P["MAGIC"] or version != P["VERSION"] or body > P["MAX_BODY"]:
                raise ValueError("not a request of this version")
            strings = _recv_exactly(conn, body, fds).split(b"\0")[:-1] if body else []
            if len(strings) != argc + envc or len(fds) != (1 + bin(stdio & 7).count("1") if kind == P["RUN"] else 0):
                raise ValueError("strings or fds not as announced")
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        request = cls()
        request.kind, request.umask, request.stdio, request.fds = kind, umask, stdio, fds
        request.ignored, request.sigmask = ignored, sigmask
        request.rlimits = [(limits[2 * i], limits[2 * i + 1]) for i in range(P["RLIMITS"])]
        request.argv = [os.fsdecode(s) for s in strings[:argc]]
        request.env = [os.fsdecode(s) for s in strings[argc:]]
        return request

    def close_fds(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []


def _recv_exactly(conn: socket.socket, size: int, fds: list[int]) -> bytes:
    """`size` bytes, and the fds that came with them."""
    data = b""
    while len(data) < size:
        chunk, ancillary, _flags, _addr = conn.recvmsg(size - len(data), socket.CMSG_SPACE(4 * MAX_FDS))
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                for fd in struct.unpack(f"{len(payload) // 4}i", payload[:len(payload) - len(payload) % 4]):
                    os.set_inheritable(fd, False)  # nothing a worker runs may inherit them
                    fds.append(fd)
        if not chunk:
            raise EOFError("the client left")
        data += chunk
    return data


def send(conn: socket.socket, kind: str, value: int = 0) -> None:
    try:
        conn.send(MESSAGE.pack(P[kind], value), socket.MSG_NOSIGNAL)
    except OSError:  # the client is gone: nothing to tell it
        pass


class Server:
    """The accept loop: one worker per command, their exits relayed to their clients."""

    def __init__(self, directory: str, lock: int, idle: float, config_file: str | None = None):
        self.directory, self.lock, self.idle = directory, lock, idle
        self.dirfd = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self.listener = _listener(self.dirfd)
        self.socket_id = _socket_id(self.dirfd)
        self.selector = selectors.DefaultSelector()
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.workers: dict[int, socket.socket] = {}  # pid -> its client's connection
        self.clients: dict[socket.socket, int] = {}
        self.watched = installed_files(config_file)
        self.installed = identities(self.watched)
        self.here = _place(os.getpid())
        self.last = time.monotonic()
        self.draining = False
        self.spares: list[tuple[int, socket.socket]] = []  # (pid, channel) of workers forked ahead

    def run(self) -> int:
        signal.set_wakeup_fd(self.wake_w)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        self.selector.register(self.listener, selectors.EVENT_READ, self._accept)
        self.selector.register(self.wake_r, selectors.EVENT_READ, self._woken)
        while not (self.draining and not self.workers):
            for key, _ in self.selector.select(self._timeout()):
                try:
                    key.data(key.fileobj)
                except Exception:  # one connection's trouble: the others' commands must go on
                    import traceback
                    traceback.print_exc()
            self._look_around()
            while len(self.spares) < SPARES and not self.draining:
                self._fork_spare()
        return 0

    # -- the loop's events

    def _on_signal(self, sig, frame) -> None:
        if sig != signal.SIGCHLD:
            self.drain()  # TERM, INT, HUP: leave once the running commands are done

    def _woken(self, fd) -> None:
        try:
            os.read(fd, 512)
        except BlockingIOError:
            pass
        self._reap()

    def _accept(self, listener) -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        conn.settimeout(2)  # a client sends its request at once; a stuck one must not hold the loop long
        try:
            self._handle(conn)
        except (OSError, ValueError, EOFError, struct.error):
            send(conn, "FALLBACK", P["BAD"])
            conn.close()

    def _handle(self, conn: socket.socket) -> None:
        pid, uid, _gid = PEERCRED.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, PEERCRED.size))
        if uid not in (0, os.geteuid()):
            send(conn, "REFUSED")
            conn.close()
            return
        request = Request.read(conn)
        if request.kind == P["STOP"]:
            send(conn, "STOPPING", os.getpid())
            conn.close()
            self.drain()
            return
        reason = self._decline(pid)
        if reason:
            request.close_fds()
            if reason == "CHANGED":
                self.drain()  # first: the client that is told starts the next one
            send(conn, "FALLBACK", P[reason])
            conn.close()
            return
        self._fork(conn, request)

    def _decline(self, client_pid: int) -> str | None:
        """Why this command must run cold, if it must."""
        if self.draining:
            return "CLOSING"
        if identities(self.watched) != self.installed:
            return "CHANGED"
        if _place(client_pid) != self.here:
            return "ELSEWHERE"
        return None

    def _fork(self, conn: socket.socket, request: Request) -> None:
        """The command to the spare worker, else to one forked now."""
        pid = self._hand_to_spare(conn, request)
        if pid is None:
            server = os.getpid()
            pid = os.fork()
            if pid == 0:
                try:
                    _die_with(server)
                    self._leave_server()
                    _work(conn, request)
                finally:  # nothing of the command ran: the client falls back
                    os._exit(125)
        request.close_fds()
        conn.setblocking(False)
        self.workers[pid] = conn
        self.clients[conn] = pid
        self.selector.register(conn, selectors.EVENT_READ, self._from_client)
        self.last = time.monotonic()

    def _from_client(self, conn: socket.socket) -> None:
        """A signal to forward, or the client gone (killed: its worker goes the same way,
        as a killed `pyctr` went)."""
        if conn.fileno() < 0:  # its worker ended earlier in this round: closed by _reap
            return
        pid = self.clients.get(conn)
        try:
            data = conn.recv(MESSAGE.size * 64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.selector.unregister(conn)
            if pid is not None:
                _kill(pid, signal.SIGKILL)
            return
        for offset in range(0, len(data) - len(data) % MESSAGE.size, MESSAGE.size):
            kind, value = MESSAGE.unpack_from(data, offset)
            if pid is None:
                continue
            if kind == P["SIGNAL"] and 0 < value < signal.NSIG:
                _kill(pid, value)
            elif kind == P["CONT"]:
                _kill(pid, signal.SIGCONT)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG | os.WUNTRACED)
            except ChildProcessError:
                return
            if pid == 0:
                return
            spare = [s for s in self.spares if s[0] == pid]
            if spare and not os.WIFSTOPPED(status):
                spare[0][1].close()
                self.spares.remove(spare[0])  # died waiting: the loop forks another
                continue
            conn = self.workers.get(pid)
            if conn is None:
                continue
            if os.WIFSTOPPED(status):
                send(conn, "STOPPED", os.WSTOPSIG(status))
                continue
            del self.workers[pid]
            del self.clients[conn]
            if os.WIFSIGNALED(status):
                send(conn, "SIGNALED", os.WTERMSIG(status))
            else:
                send(conn, "EXIT", os.waitstatus_to_exitcode(status))
            try:
                self.selector.unregister(conn)
            except KeyError:  # unregistered when the client left
                pass
            conn.close()
            self.last = time.monotonic()

    # -- leaving

    def _timeout(self) -> float:
        if self.draining or self.workers:
            return CHECK_EVERY
        return max(0.0, min(CHECK_EVERY, self.last + self.idle - time.monotonic()))

    def _look_around(self) -> None:
        """Leaves when idle long enough, or when its socket is no longer there (the runroot
        removed, or another one in its place)."""
        if self.draining:
            return
        if not self.workers and time.monotonic() - self.last >= self.idle:
            self.drain()
        elif _socket_id(self.dirfd) != self.socket_id:
            self.drain()

    def drain(self) -> None:
        """No more commands: the socket and the lock go (a new warm process may start at
        once); those running are seen to the end."""
        if self.draining:
            return
        self.draining = True
        if _socket_id(self.dirfd) == self.socket_id:
            try:
                os.unlink(P["SOCKET"], dir_fd=self.dirfd)
            except OSError:
                pass
        self.selector.unregister(self.listener)
        self.listener.close()
        os.close(self.lock)
        for pid, channel in self.spares:
            _kill(pid, signal.SIGKILL)
            channel.close()
        self.spares = []

    # -- the worker

    def _fork_spare(self) -> None:
        """A worker forked ahead of its command, off the command's path (a fork of this
        process is most of what a warm command waits for otherwise): it leaves the server
        behind and waits on a channel for a command, the client's connection and fds."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        ours.settimeout(2)  # a stopped spare must not hold the loop
        server = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                ours.close()
                _die_with(server)
                self._leave_server()
                conn, request = _receive_command(theirs)
                theirs.close()
                _work(conn, request)
            finally:  # the server gone, or the command unreadable: nothing of it ran
                os._exit(125)
        theirs.close()
        self.spares.append((pid, ours))

    def _hand_to_spare(self, conn: socket.socket, request: Request) -> int | None:
        """A spare's pid once it has the command; None if there is none (or it is gone)."""
        if not self.spares:
            return None
        pid, channel = self.spares.pop(0)
        try:
            _send_command(channel, conn, request)
            return pid
        except OSError:
            _kill(pid, signal.SIGKILL)  # reaped as any child
            return None
        finally:
            channel.close()

    def _leave_server(self) -> None:
        """In a forked child: the server's fds and signal handlers dropped."""
        os.setpgid(0, 0)  # its own group, not the server's (it is no session leader: it takes no tty)
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as at any Python start
        self.selector.close()
        for fd in (self.wake_r, self.wake_w, self.dirfd):
            os.close(fd)
        if not self.draining:
            self.listener.close()
            os.close(self.lock)
        for other in self.clients:
            other.close()
        for _pid, channel in self.spares:
            channel.close()


def _die_with(server: int) -> None:
    """A worker is killed with its server (PR_SET_PDEATHSIG): without the server nobody
    forwards its client's signals or reports its end, and a killed server leaves its
    commands as killed cold commands are left."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != server:  # it died before the prctl
        os._exit(125)


def _work(conn: socket.socket, request: Request) -> None:
    """A worker's command: the client's place taken on, RUNNING said, the CLI run; never
    returns."""
    _take_on(request)
    send(conn, "RUNNING")
    _run_cli(request.argv, conn)


def _send_command(channel: socket.socket, conn: socket.socket, request: Request) -> None:
    """The request (pickled: argv and environment may hold any bytes) and its fds, the
    client's connection first, to a spare worker."""
    import pickle
    data = pickle.dumps((request.kind, request.umask, request.stdio, request.ignored, request.sigmask, request.rlimits,
                         request.argv, request.env))
    fds = [conn.fileno(), *request.fds]
    channel.sendmsg([struct.pack("=I", len(data))], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack(f"{len(fds)}i", *fds))])
    channel.sendall(data)


def _receive_command(channel: socket.socket) -> tuple[socket.socket, Request]:
    import pickle
    fds: list[int] = []
    size, = struct.unpack("=I", _recv_exactly(channel, 4, fds))
    request = Request()
    (request.kind, request.umask, request.stdio, request.ignored, request.sigmask, request.rlimits, request.argv,
     request.env) = pickle.loads(_recv_exactly(channel, size, fds))
    conn = socket.socket(fileno=fds[0])
    request.fds = fds[1:]
    return conn, request


def _take_on(request: Request) -> None:
    """The client's working directory, limits, umask, environment and stdio."""
    cwd, *std = request.fds
    os.fchdir(cwd)
    os.close(cwd)
    for which, (soft, hard) in enumerate(request.rlimits):
        wanted = (_rlim(soft), _rlim(hard))
        if resource.getrlimit(which) != wanted:
            resource.setrlimit(which, wanted)  # EPERM (a higher hard limit): the client runs it cold
    os.umask(request.umask)
    os.environ.clear()
    for entry in request.env:
        key, sep, value = entry.partition("=")
        if sep and key:
            os.environ[key] = value
    import tempfile
    tempfile.tempdir = None  # TMPDIR is the client's now
    time.tzset()
    for fd in range(3):
        if request.stdio & (1 << fd):
            source = std.pop(0)
            os.dup2(source, fd)
            os.close(source)
        else:
            os.close(fd)
    for fd in std:
        os.close(fd)
    _new_stdio(request.stdio)
    _take_signals(request)


def _take_signals(request: Request) -> None:
    """The client's ignored signals (nohup, a script's `&`) and blocked ones: what its cold
    CLI would have started with.  SIGINT not ignored raises KeyboardInterrupt, as Python
    sets it up at start."""
    for sig in range(1, 64):
        if request.ignored & (1 << sig) and sig not in (signal.SIGKILL, signal.SIGSTOP):
            try:
                signal.signal(sig, signal.SIG_IGN)
            except (OSError, ValueError):  # not a signal Python may set
                pass
    signal.pthread_sigmask(signal.SIG_SETMASK, {sig for sig in range(1, 64) if request.sigmask & (1 << sig)
                                                and sig not in (signal.SIGKILL, signal.SIGSTOP)})


def _rlim(value: int) -> int:
    return resource.RLIM_INFINITY if value >= 1 << 63 else value


def _new_stdio(opened: int) -> None:
    """sys.stdin/stdout/stderr over the client's fds, made as Python makes them at start
    (line-buffered output to a terminal, stderr always); None for one the client had closed
    (main.py gives it /dev/null, as for a cold start)."""
    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        template = getattr(sys, f"__{name}__")
        stream = None
        if opened & (1 << fd):
            raw = io.FileIO(fd, "rb" if fd == 0 else "wb", closefd=False)
            tty = raw.isatty()
            buffered = io.BufferedReader(raw) if fd == 0 else io.BufferedWriter(raw)
            stream = io.TextIOWrapper(buffered, encoding=template.encoding if template else "utf-8",
                                      errors=template.errors if template else "strict",
                                      line_buffering=fd == 2 or (fd == 1 and tty), write_through=fd == 2)
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _run_cli(argv: list[str], conn: socket.socket) -> None:
    """What bin/pyctr-cli does, in the worker; the exit code is sent before the exit
    itself, which unmaps an interpreter's worth of memory (about a millisecond the client
    need not wait; its leaving then makes the server kill what is left of the worker)."""
    from .main import main
    sys.argv = ["pyctr", *argv[1:]]
    try:
        code = main(argv[1:])
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream:
                stream.flush()
        except OSError:
            pass
    send(conn, "EXIT", code)
    os._exit(code)


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


# /proc/PID/status lines a worker would inherit from the server, not take from its client
CONFINEMENT = (b"CapInh:", b"CapPrm:", b"CapEff:", b"CapBnd:", b"CapAmb:", b"NoNewPrivs:", b"Seccomp:",
               b"Cpus_allowed_list:", b"Mems_allowed_list:")


def _place(pid: int) -> tuple:
    """Where a process runs and with what: its namespaces, root directory and cgroups, its
    capabilities, no_new_privs, seccomp, LSM label, CPUs, nice and OOM score: a worker has
    the server's, so a client with others runs cold (a capsh-dropped or confined client
    must not get a server's more)."""
    ns = tuple(os.stat(f"/proc/{pid}/ns/{name}").st_ino for name in NAMESPACES)
    root = os.stat(f"/proc/{pid}/root")
    with open(f"/proc/{pid}/cgroup", "rb") as f:
        cgroups = f.read()
    with open(f"/proc/{pid}/status", "rb") as f:
        status = tuple(line for line in f if line.startswith(CONFINEMENT))
    with open(f"/proc/{pid}/oom_score_adj", "rb") as f:
        oom = f.read()
    return ns, (root.st_dev, root.st_ino), cgroups, status, _label(pid), oom, os.getpriority(os.PRIO_PROCESS, pid)


def _label(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/attr/current", "rb") as f:
            return f.read()
    except OSError:  # no LSM
        return b""


def _listener(dirfd: int) -> socket.socket:
    """systemd's socket (LISTEN_FDS), else one bound at <dir>/sock, 0600."""
    if os.environ.get("LISTEN_PID") == str(os.getpid()) and os.environ.get("LISTEN_FDS", "0") != "0":
        listener = socket.socket(fileno=3)
        os.set_inheritable(3, False)
        return listener
    try:
        os.unlink(P["SOCKET"], dir_fd=dirfd)  # one a dead server left: the lock is ours
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    old = os.umask(0o177)
    try:
        listener.bind(f"/proc/self/fd/{dirfd}/{P['SOCKET']}")  # a runroot's path may not fit sun_path
    finally:
        os.umask(old)
    listener.listen(1024)
    return listener


def _socket_id(dirfd: int):
    try:
        st = os.stat(P["SOCKET"], dir_fd=dirfd, follow_symlinks=False)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def stop(paths, timeout: float = 10.0) -> bool:
    """Asks the warm process of these paths to leave, and waits until it has; one still
    importing (its lock held, no socket yet) is sent SIGTERM, which ends it there.  False
    if none was there."""
    try:
        dirfd = os.open(server_dir(paths), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        pid = _ask_to_stop(dirfd, timeout) or _terminate_starting(dirfd)
    finally:
        os.close(dirfd)
    if pid:
        _wait_gone(pid, timeout)
    return pid is not None


def _terminate_starting(dirfd: int) -> int | None:
    """The lock's holder (it writes its pid there), if the lock is held, sent SIGTERM."""
    try:
        fd = os.open(P["LOCK"], os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW, dir_fd=dirfd)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return None  # nobody holds it: none runs
    except BlockingIOError:
        text = os.pread(fd, 32, 0)
    finally:
        os.close(fd)
    pid = int(text) if text.strip().isdigit() else None
    if pid is None or not is_server(pid):  # the pid of one before it (not yet rewritten)
        return None
    _kill(pid, signal.SIGTERM)  # importing, its handlers not set: it ends at once
    return pid


def is_server(pid: int) -> bool:
    """A warm process, or the client's child about to become one (its name set so)."""
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            if f.read().strip() == P["STARTING"]:
                return True
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    return any(argv[i:i + 2] == [b"system", b"server"] for i in range(len(argv) - 1))


def _ask_to_stop(dirfd: int, timeout: float) -> int | None:
    """The server's pid, once it has said it leaves; None if none listens."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        conn.settimeout(timeout)
        conn.connect(f"/proc/self/fd/{dirfd}/{P['SOCKET']}")
        conn.sendall(HEADER.pack(P["MAGIC"], P["VERSION"], P["STOP"], 0, 0, 0, 0, 0, 0, 0, *([0] * 2 * P["RLIMITS"])))
        reply = conn.recv(MESSAGE.size, socket.MSG_WAITALL)
    except OSError:
        return None
    finally:
        conn.close()
    kind, pid = MESSAGE.unpack(reply) if len(reply) == MESSAGE.size else (0, 0)
    return pid if kind == P["STOPPING"] else None


def _wait_gone(pid: int, timeout: float) -> None:
    import select
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        select.select([pidfd], [], [], timeout)
    finally:
        os.close(pidfd)
