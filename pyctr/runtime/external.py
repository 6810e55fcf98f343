"""A runtime reached through an OCI runtime's command line (runc, crun, or any binary that
speaks runc's argv), with the same operations and results as container.py: create (the
container held until start), status, kill, delete, exec, update, pause, processes, stats.

    RUNTIME --root R create --bundle B --pid-file F [--console-socket S] ID
    RUNTIME --root R start|state|pause|resume ID ; kill [--all] ID SIG ; delete --force ID
    RUNTIME --root R exec --process F [--detach] ID ; update --resources - ID

`root` is the runtime's own state directory (runc keeps <root>/<id>/state.json as pyctr's
runtime does, in another format): never pyctr's runtime root.  The container's cgroup
is read directly (stats, paused, processes), as container.py does: the engine names it in
linux.cgroupsPath, which runc and crun honour with their cgroupfs driver.

Two things the engine's bundle asks of every runtime that runc and crun do not know are
done here, in a private mount namespace entered by each command before it execs the
runtime (nothing changes on the host, and the namespace goes with the command):
  - the overlay rootfs (the org.pyctr.rootfs.* annotations) mounted at root.path, so
    the container's mount namespace, copied from that one, has it and nobody else does;
  - crun 1.8 refuses a hybrid cgroup host (v1 with /sys/fs/cgroup/unified): that mount is
    taken away in its namespace, as benchmarks/bench.py does.
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile

from . import cgroups
from .errors import CgroupError, NoSuchContainer, NotRunning, RuntimeFailure
from .plan import ROOTFS_OPTIONS, ROOTFS_TYPE
from .process import alive, start_time

HYBRID_V2 = "/sys/fs/cgroup/unified"
# a runtime's words for "no such container" and "its process is gone", runc's and crun's
_MISSING = ("does not exist", "/status`: No such file or directory")
_STOPPED = ("not running", "process already finished", "No such process", "is stopped",
            "container is paused")  # (paused: in this module, only `exec` hears it)


def resolve(name: str) -> str:
    """`runc`, `crun` or a path -> the binary's absolute path; RuntimeFailure if there is
    none (one line, for the CLI)."""
    found = shutil.which(name) if "/" not in name else (name if os.access(name, os.X_OK) else None)
    if found is None or not os.path.isfile(found):
        raise RuntimeFailure(f"unknown runtime {name!r}: no such executable" + (" on PATH" if "/" not in name else ""))
    return os.path.abspath(found)


def set_child_subreaper() -> None:
    """This process becomes the subreaper of what it starts: a container whose runtime
    exits after creating it (runc, crun) is reparented here, not to init.  Kept across
    execve, so pyctr-monitor reaps it."""
    from . import _core  # (not ctypes: this runs in a fork, where dlopen may deadlock)
    _core.set_child_subreaper()


def one_line(output: str) -> str:
    """The runtime's own message from its stderr or its json --log: runc's logrus
    `level=error msg="..."`, crun's `crun: ...` or a json line's "msg"; the last one wins."""
    message = ""
    for line in output.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            if isinstance(entry, dict):
                if entry.get("level") in ("error", "fatal", "panic", None) and entry.get("msg"):
                    message = str(entry["msg"])
                continue
        if "level=" in line and " msg=" in line:
            if "level=error" in line or "level=fatal" in line:
                message = _logrus_msg(line)
            continue
        message = line
    return message.split(": ", 1)[1] if message.startswith(("crun: ", "runc: ")) else message


def _logrus_msg(line: str) -> str:
    text = line.split(" msg=", 1)[1]
    if not text.startswith('"'):
        return text.split(" ", 1)[0]
    out, escaped = [], False
    for ch in text[1:]:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            break
        else:
            out.append(ch)
    return "".join(out)


def exit_code(message: str, default: int) -> int:
    """docker's exit code for a runtime's failure to start a process: 127 when the command
    is not found, 126 when it cannot be run, else `default`."""
    if "not found" in message or "no such file or directory" in message.lower():
        return 127
    if "permission denied" in message.lower():
        return 126
    return default


def classify(message: str, container_id: str, default=RuntimeFailure) -> RuntimeFailure:
    """The runtime's message as container.py's error of the same meaning."""
    if any(m in message for m in _MISSING):
        return NoSuchContainer(f"container {container_id} does not exist")
    if any(m in message for m in _STOPPED):
        return NotRunning(f"container {container_id} is not running")
    return default(message or "the runtime failed")


class ExternalState:
    """What `RUNTIME state` says of a container, as container.State offers it."""

    def __init__(self, container_id: str, found: dict):
        self.id = container_id
        self.pid = int(found.get("pid") or 0)
        self.bundle = found.get("bundle", "")
        self.annotations = found.get("annotations") or {}
        self.status = found.get("status", "stopped")
        # the pid's start time when we asked: a pid reused since is not the container
        self.pid_start = start_time(self.pid) if self.pid > 0 else None
        self._cgroups_path = None

    def current_status(self) -> str:
        """created, running (pyctr's own says so of a paused one too) or stopped."""
        if self.status == "stopped" or self.pid <= 0 or not alive(self.pid, self.pid_start):
            return "stopped"
        return "created" if self.status == "created" else "running"

    @property
    def cgroups_path(self) -> str | None:
        """The bundle's linux.cgroupsPath (the runtime's state has no common field for it)."""
        if self._cgroups_path is None:
            try:
                with open(os.path.join(self.bundle, "config.json")) as f:
                    self._cgroups_path = json.load(f).get("linux", {}).get("cgroupsPath") or ""
            except (OSError, ValueError):
                self._cgroups_path = ""
        return self._cgroups_path or None


class External:
    """An OCI runtime binary with its state root: container.py's operations by id."""

    external = True

    def __init__(self, binary: str, root: str):
        self.binary = binary
        self.root = root
        self.name = os.path.basename(binary)
        # crun checked: see the module's docstring; runc copes with the hybrid layout
        self.hide_unified = "crun" in self.name and os.path.ismount(HYBRID_V2)

    def argv(self, *args: str) -> list[str]:
        return [self.binary, "--root", self.root, *args]

    def _run(self, args: list[str], container_id: str, default=RuntimeFailure, input: bytes | None = None,
             check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(self.argv(*args), input=input, capture_output=True, stdin=None if input else
                              subprocess.DEVNULL, preexec_fn=self._namespace() if self.hide_unified else None)
        if check and done.returncode != 0:
            raise classify(one_line(done.stderr.decode(errors="replace")), container_id, default)
        return done

    def _namespace(self, rootfs: tuple | None = None):
        """The preexec of a command that needs its own mount namespace (see the docstring):
        `rootfs` (options, target) is the overlay mounted there."""
        hide = self.hide_unified

        def enter():
            from . import _core
            _core.private_mounts()
            if hide:
                try:
                    _core.detach_mount(HYBRID_V2)
                except OSError:  # not mounted after all: nothing to hide
                    pass
            if rootfs is not None:
                _core.mount_overlay(rootfs[0], rootfs[1], False)
        return enter

    # the lifecycle

    def create(self, container_id: str, config: dict, bundle: str, stdio=(0, 1, 2), tty_size=(0, 0)) -> "Created":
        """The container created and held until start(); its process is the runtime's
        child, reparented to the caller (see set_child_subreaper) once the runtime exits.
        Without a terminal the runtime hands `stdio` (-1: an empty input) to the container;
        with one (process.terminal), the pty master comes back by the console socket."""
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        work = tempfile.mkdtemp(prefix="pyctr-create-")  # short: a socket path is at most 107 bytes
        try:
            return self._create(container_id, config, bundle, stdio, tty_size, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _create(self, container_id, config, bundle, stdio, tty_size, work) -> "Created":
        pid_file, log = os.path.join(work, "pid"), os.path.join(work, "log")
        args = ["--log", log, "--log-format", "json", "create", "--bundle", bundle, "--pid-file", pid_file]
        listener = None
        tty = bool(config.get("process", {}).get("terminal"))
        if tty:
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(os.path.join(work, "console"))
            listener.listen(1)
            args += ["--console-socket", os.path.join(work, "console")]
            stdio = (-1, -1, -1)
        annotations = config.get("annotations") or {}
        rootfs = (annotations[ROOTFS_OPTIONS], config["root"]["path"]) if annotations.get(ROOTFS_TYPE) else None
        empty = None
        try:
            fds = list(stdio)
            if fds[0] < 0:  # an input that ends at once, not the host's /dev/null
                empty, w = os.pipe()
                os.close(w)
                fds[0] = empty
            fds = [fd if fd >= 0 else subprocess.DEVNULL for fd in fds]
            done = subprocess.run([self.binary, "--root", self.root, *args, container_id], stdin=fds[0],
                                  stdout=fds[1], stderr=fds[2], preexec_fn=self._namespace(rootfs))
            if done.returncode != 0:
                raise RuntimeFailure(_read_log(log) or f"{self.name} create failed (exit {done.returncode})")
            created = Created(self, container_id, int(_read(pid_file)))
            if listener is not None:
                try:
                    created.master = _receive_master(listener)
                    if tty_size[0] and tty_size[1]:
                        from .terminal import set_terminal_size
                        set_terminal_size(created.master, *tty_size)
                except BaseException:
                    created.abort()
                    raise
            return created
        finally:
            if empty is not None:
                os.close(empty)
            if listener is not None:
                listener.close()

    def status(self, container_id: str) -> ExternalState | None:
        done = self._run(["state", container_id], container_id, check=False)
        if done.returncode != 0:
            error = classify(one_line(done.stderr.decode(errors="replace")), container_id)
            if isinstance(error, NoSuchContainer):
                return None
            raise error
        return ExternalState(container_id, json.loads(done.stdout))

    def _loaded(self, container_id: str) -> ExternalState:
        saved = self.status(container_id)
        if saved is None:
            raise NoSuchContainer(f"container {container_id} does not exist")
        return saved

    def kill(self, container_id: str, sig: int, all_processes: bool = False) -> None:
        self._run(["kill", *(["--all"] if all_processes else []), container_id, str(int(sig))], container_id)

    def delete(self, container_id: str, config: dict | None = None) -> None:
        """`delete --force`: anything still running is killed, the cgroup and state go.
        Nothing to delete is no error."""
        try:
            self._run(["delete", "--force", container_id], container_id)
        except NoSuchContainer:
            pass
        for d in (self.root, os.path.dirname(self.root)):  # the last container's: nothing left behind
            try:
                os.rmdir(d)
            except OSError:  # in use by another container
                break

    def processes(self, container_id: str) -> list[int]:
        saved = self._loaded(container_id)
        cgroup = _cgroup(saved)
        if cgroup is not None and cgroup.exists():
            return cgroup.procs()
        return [saved.pid] if saved.current_status() != "stopped" else []

    def stats(self, container_id: str, only_oom: bool = False):
        saved = self.status(container_id)
        cgroup = _cgroup(saved) if saved is not None else None
        if cgroup is None or not cgroup.exists():
            return None
        return cgroups.Stats(oom_kills=cgroup.oom_kills()) if only_oom else cgroup.stats()

    def update(self, container_id: str, resources: dict) -> None:
        if self._loaded(container_id).current_status() == "stopped":
            raise NotRunning(f"container {container_id} is not running")
        self._run(["update", "--resources", "-", container_id], container_id, CgroupError,
                  input=json.dumps(resources).encode())

    def pause(self, container_id: str) -> None:
        self._live(container_id)
        self._run(["pause", container_id], container_id, CgroupError)

    def resume(self, container_id: str) -> None:
        self._live(container_id)
        self._run(["resume", container_id], container_id, CgroupError)

    def _live(self, container_id: str) -> None:
        if self._loaded(container_id).current_status() == "stopped":
            raise NotRunning(f"container {container_id} is not running")

    def paused(self, container_id: str, saved=None) -> bool:
        saved = saved or self.status(container_id)
        cgroup = _cgroup(saved) if saved is not None else None
        return cgroup is not None and cgroup.frozen()

    def read_file(self, container_id: str, path: str, limit: int) -> bytes:
        from .container import read_in_root
        saved = self._loaded(container_id)
        try:
            rootfd = os.open(f"/proc/{saved.pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except (FileNotFoundError, ProcessLookupError):
            raise NotRunning(f"container {container_id} is not running") from None
        try:
            if saved.current_status() == "stopped":  # the root we hold is the container's
                raise NotRunning(f"container {container_id} is not running")
            return read_in_root(rootfd, path, limit)
        finally:
            os.close(rootfd)

    def exec_process(self, container_id: str, config: dict, process: dict, stdio=(0, 1, 2),
                     tty_size=(0, 0), detach: bool = False) -> "Exec":
        """`RUNTIME exec` of `process` (an OCI process section), started at once: the
        runtime waits for it and exits with its code (detached: once it runs).  Without a
        terminal the runtime hands `stdio` to it; with one, the runtime relays its pty to
        `stdio` (which must hold a terminal)."""
        saved = self._loaded(container_id)
        if saved.current_status() == "stopped":
            raise NotRunning(f"container {container_id} is not running")
        if detach and process.get("terminal"):
            raise RuntimeFailure(f"exec -d -t is not supported on the {self.name} runtime")
        nulls = []
        try:
            if -1 in stdio:  # the container's own /dev/null: the host's could be fchmod'ed from inside
                nulls.append(_container_devnull(saved))
            return Exec(self, container_id, process, [fd if fd >= 0 else nulls[0] for fd in stdio], detach)
        finally:
            for fd in nulls:
                os.close(fd)


class Created:
    """A container the runtime created, held until start()."""

    def __init__(self, runtime: External, container_id: str, pid: int):
        self.runtime, self.id, self.pid = runtime, container_id, pid
        self.master = -1

    def start(self) -> int:
        """`RUNTIME start`; returns the pty master (-1 without a terminal)."""
        try:
            self.runtime._run(["start", self.id], self.id)
        except BaseException:
            self.abort()
            raise
        return self.master

    def abort(self) -> None:
        if self.master >= 0:
            os.close(self.master)
            self.master = -1
        self.runtime.delete(self.id)


class Exec:
    """A `RUNTIME exec` under way: `pid` is the runtime's, whose exit code is the process's.
    The process section and the runtime's log are memfds: no file to clean up."""

    def __init__(self, runtime: External, container_id: str, process: dict, stdio, detach: bool):
        memfd = os.memfd_create("process.json")
        self.log = os.memfd_create("log", os.MFD_CLOEXEC)
        try:
            os.write(memfd, json.dumps(process).encode())
            args = ["--log", f"/proc/{os.getpid()}/fd/{self.log}", "--log-format", "json", "exec",
                    "--process", f"/dev/fd/{memfd}", *(["--detach"] if detach else []), container_id]
            self._popen = subprocess.Popen(runtime.argv(*args), stdin=stdio[0], stdout=stdio[1], stderr=stdio[2],
                                           pass_fds=(memfd,),
                                           preexec_fn=runtime._namespace() if runtime.hide_unified else None)
        except BaseException:
            os.close(self.log)
            raise
        finally:
            os.close(memfd)
        self.pid = self._popen.pid
        self.master = -1

    def start(self) -> int:
        return -1  # the runtime started it already

    def wait(self) -> int:
        """The runtime's exit code; a failure's message raised as RuntimeFailure."""
        code = self._popen.wait()
        message = self.failure()
        if code != 0 and message:
            raise RuntimeFailure(message)
        return code

    def failure(self) -> str:
        """Once the runtime has exited: its own error, or "" when the process ran."""
        try:
            return one_line(os.pread(self.log, 65536, 0).decode(errors="replace"))
        finally:
            os.close(self.log)
            self.log = -1


def _container_devnull(saved: ExternalState) -> int:
    """The container's /dev/null, looked up inside its root (no link leads out), checked to
    be the null device."""
    import stat
    from . import _core
    rootfd = os.open(f"/proc/{saved.pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = _core.open_in_root(rootfd, "/dev/null", os.O_RDWR | os.O_CLOEXEC)
    finally:
        os.close(rootfd)
    st = os.fstat(fd)
    if not stat.S_ISCHR(st.st_mode) or os.major(st.st_rdev) != 1 or os.minor(st.st_rdev) != 3:
        os.close(fd)
        raise RuntimeFailure("the container's /dev/null is not the null device")
    return fd


def _cgroup(saved):
    """The container's cgroup, as runtime/cgroups names it: relative to the hierarchies'
    roots (the bundle's path is absolute, for the runtime)."""
    path = (saved.cgroups_path or "").strip("/")
    return cgroups.open_cgroup(path) if path else None


def _read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def _read_log(path: str) -> str:
    try:
        return one_line(_read(path))
    except OSError:
        return ""


def _receive_master(listener: socket.socket) -> int:
    """The pty master the runtime sent by the console socket (SCM_RIGHTS), before its
    create returned."""
    listener.settimeout(5)
    conn, _ = listener.accept()
    with conn:
        _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
    if not fds:
        raise RuntimeFailure("the runtime sent no terminal by its console socket")
    return fds[0]
