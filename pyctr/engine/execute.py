"""`pyctr exec`: a command inside a running container, in its namespaces and cgroup."""

import os

from ..records import record
from ..runtime import terminal
from ..runtime._core import ChildError
from ..runtime.errors import NotRunning, RuntimeFailure
from . import containers
from .accounts import container_reader, resolve_user
from .environment import apply_lines, as_dict, as_list
from .errors import Conflict, PyctrError, start_error
from .paths import Paths
from .store import Store


@record
class ExecOptions:
    command: list[str]
    tty: bool = False
    interactive: bool = False
    detach: bool = False
    env: list[str] = []
    workdir: str | None = None
    user: str | None = None


def build_process(config: dict, read_accounts, opts: ExecOptions) -> dict:
    """The container's process section with exec's command, environment, cwd and user."""
    base = config["process"]
    env = apply_lines(as_dict(base.get("env", [])), opts.env, os.environ)
    if opts.tty:
        env.setdefault("TERM", "xterm")
    cwd = opts.workdir or base.get("cwd", "/")
    if not cwd.startswith("/"):
        raise PyctrError(f"the working directory {cwd!r} is invalid: it needs to be an absolute path")
    process = dict(base, args=list(opts.command), env=as_list(env), cwd=cwd, terminal=opts.tty)
    if opts.user:
        process["user"] = resolve_user(read_accounts, opts.user)
    return process


def exec_in(paths: Paths, store: Store, name: str, opts: ExecOptions) -> int:
    if not opts.command:
        raise PyctrError("no command specified")
    record = containers.lookup(store, name)
    saved = containers.runtime_state(paths, record)
    if saved is None:
        raise Conflict(f"container {record.name} is not running")
    if containers.is_paused(paths, record, saved):  # its process could never start: docker's refusal
        raise Conflict(f"Container {record.id} is paused, unpause the container before exec", exit_code=1)
    config = containers.read_config(paths, record.id)
    if config is None:
        raise PyctrError(f"container {record.name} has no config.json")
    runtime = containers.runtime_of(paths, record)
    try:
        process = build_process(config, container_reader(runtime, record.id), opts)
        if runtime.external:
            return _start_external(runtime, record.id, config, process, opts)
        return _start(runtime, record.id, config, process, opts)
    except NotRunning:
        raise Conflict(f"container {record.name} is not running") from None
    except ChildError as e:
        raise start_error(e.stage, e.errno, e.message, opts.command[0]) from None
    except RuntimeFailure as e:
        raise PyctrError(str(e)) from None


def _start(runtime, container_id: str, config: dict, process: dict, opts: ExecOptions) -> int:
    """The process started, and followed to its exit unless detached.  None of our own
    fds reaches it: without a tty its std streams are pipes we relay (a process inside
    could otherwise reopen our terminal, or the file our stdout goes to, through
    /proc/<pid>/fd, and keep writing to it after we returned); with one, the pty is made
    inside the container."""
    ours, proc = _exec_with_pipes(opts, lambda theirs: runtime.exec_process(
        container_id, config, process, theirs, terminal.terminal_size(0) if opts.tty else (0, 0)))
    if os.environ.get("PYCTR_PAUSE_AT"):  # a test looking at the process before it runs
        from .launch import CLONED, reached
        reached(CLONED)
    if opts.detach:
        proc.start()
        return 0
    if opts.tty:
        return terminal.foreground(proc, True, opts.interactive)
    return terminal.foreground_pipes(proc, *ours)  # and closes ours


def _start_external(runtime, container_id: str, config: dict, process: dict, opts: ExecOptions) -> int:
    """`RUNTIME exec`, which waits for the process and exits with its code (detached: once
    it runs).  Without a tty it gets pipes we relay, as _start's; with one, the runtime
    makes the pty inside the container and relays it to our terminal itself."""
    if opts.detach:
        runtime.exec_process(container_id, config, process, (-1, -1, -1), detach=True).wait()
        return 0
    if opts.tty:
        stdio = (0 if opts.interactive else -1, 1, 2)
        proc = runtime.exec_process(container_id, config, process, stdio)
        return _exit_code(proc, terminal.foreground(proc, False, opts.interactive))
    ours, proc = _exec_with_pipes(opts, lambda theirs: runtime.exec_process(container_id, config, process, theirs))
    return _exit_code(proc, terminal.foreground_pipes(proc, *ours))


def _exec_with_pipes(opts: ExecOptions, make):
    """(our ends, the process `make(their ends)` made): theirs closed once it has its
    copies, ours too if it failed."""
    ours, theirs = _stdio(opts)
    try:
        try:
            return ours, make(theirs)
        finally:
            for fd in set(theirs) - {-1}:  # the process has its copies
                os.close(fd)
    except BaseException:
        for fd in ours:
            if fd is not None and fd >= 0:
                os.close(fd)
        raise


def _exit_code(proc, code: int) -> int:
    """The process's code, or docker's for the runtime's failure to start it (whose
    message the runtime wrote to our stderr already)."""
    from ..runtime.external import exit_code
    failure = proc.failure()
    return exit_code(failure, 126) if code != 0 and failure else code


def _stdio(opts: ExecOptions) -> tuple[tuple, tuple]:
    """(our ends: stdin writer or None, stdout reader, stderr reader; their 0, 1, 2).
    -1 is the container's own /dev/null: ours, handed in, could be chmod'ed by container
    root for everyone on the host."""
    if opts.detach or opts.tty:  # a tty's streams are the pty, made by the child
        return (None, -1, -1), (-1, -1, -1)
    stdin_r, stdin_w = os.pipe2(os.O_CLOEXEC) if opts.interactive else (-1, None)
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    return (stdin_w, out_r, err_r), (stdin_r, out_w, err_w)
