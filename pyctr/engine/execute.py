"""`pyctr exec`: a command inside a running container, in its namespaces and cgroup."""

import os

from ..records import record
from ..runtime import container as runtime
from ..runtime import terminal
from ..runtime._core import ChildError
from ..runtime.errors import NotRunning
from . import containers
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


def _lookup(path: str, key: str) -> list[str] | None:
    """The passwd/group line whose name or number is `key`."""
    try:
        with open(path) as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if len(fields) >= 4 and key in (fields[0], fields[2]):
                    return fields
    except OSError:
        pass
    return None


def resolve_user(root: str, user: str) -> dict:
    """`name`, `uid`, `name:group` or `uid:gid`, looked up in the container's own files."""
    name, _, group = user.partition(":")
    entry = _lookup(os.path.join(root, "etc/passwd"), name)
    if entry:
        uid, gid = int(entry[2]), int(entry[3])
    elif name.isdigit():
        uid, gid = int(name), int(name) if not group else 0
    else:
        raise PyctrError(f"unable to find user {name}: no matching entries in passwd file")
    if group:
        found = _lookup(os.path.join(root, "etc/group"), group)
        if found:
            gid = int(found[2])
        elif group.isdigit():
            gid = int(group)
        else:
            raise PyctrError(f"unable to find group {group}: no matching entries in group file")
    return {"uid": uid, "gid": gid}


def build_process(config: dict, root: str, opts: ExecOptions) -> dict:
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
        process["user"] = resolve_user(root, opts.user)
    return process


def exec_in(paths: Paths, store: Store, name: str, opts: ExecOptions) -> int:
    if not opts.command:
        raise PyctrError("no command specified")
    record = containers.lookup(store, name)
    saved = containers.runtime_state(paths, record)
    if saved is None:
        raise Conflict(f"container {record.name} is not running")
    config = containers.read_config(paths, record.id)
    if config is None:
        raise PyctrError(f"container {record.name} has no config.json")
    process = build_process(config, f"/proc/{saved.pid}/root", opts)
    if opts.detach:
        null_out = os.open("/dev/null", os.O_WRONLY | os.O_CLOEXEC)
        stdio = (os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC), null_out, null_out)
    else:
        stdin = 0 if opts.interactive else os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        stdio = (stdin, 1, 2)
    tty_size = terminal.terminal_size(0) if opts.tty else (0, 0)
    try:
        try:
            proc = runtime.exec_process(containers.runtime_root(paths, record), record.id, config, process, stdio, tty_size)
        finally:
            for fd in set(stdio) - {0, 1, 2}:  # the process has its copies
                os.close(fd)
        if os.environ.get("PYCTR_PAUSE_AT"):  # a test looking at the process before it runs
            from .launch import CLONED, reached
            reached(CLONED)
        if opts.detach:
            proc.start()
            return 0
        return terminal.foreground(proc, opts.tty, opts.interactive)
    except NotRunning:
        raise Conflict(f"container {record.name} is not running") from None
    except ChildError as e:
        raise start_error(e.stage, e.errno, e.message, opts.command[0]) from None
