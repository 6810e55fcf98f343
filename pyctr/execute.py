"""`pyctr exec`: a command inside a running container, in its namespaces and cgroup."""

import os
from .records import record

from . import attach, containers, runtime
from .errors import CANNOT_EXECUTE, Conflict, PyctrError
from .paths import Paths
from .spec import parse_env_line
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


def build_process(spec: dict, root: str, opts: ExecOptions) -> dict:
    """The container's process section with exec's command, environment, cwd and user."""
    base = spec["process"]
    env = dict(item.split("=", 1) for item in base.get("env", []) if "=" in item)
    for line in opts.env:
        pair = parse_env_line(line, os.environ)
        if pair:
            env[pair[0]] = pair[1]
    if opts.tty:
        env.setdefault("TERM", "xterm")
    cwd = opts.workdir or base.get("cwd", "/")
    if not cwd.startswith("/"):
        raise PyctrError(f"the working directory {cwd!r} is invalid: it needs to be an absolute path")
    process = dict(base, args=list(opts.command), env=[f"{k}={v}" for k, v in env.items()], cwd=cwd,
                   terminal=opts.tty)
    if opts.user:
        process["user"] = resolve_user(root, opts.user)
    return process


def exec_in(paths: Paths, store: Store, name: str, opts: ExecOptions) -> int:
    if not opts.command:
        raise PyctrError("no command specified")
    record = containers.lookup(store, name)
    if not containers.is_running(record):
        raise Conflict(f"container {record.name} is not running")
    spec = containers.read_spec(paths, record.id)
    if spec is None:
        raise PyctrError(f"container {record.name} has no config.json")
    process = build_process(spec, f"/proc/{record.pid}/root", opts)
    if opts.detach:
        null_out = os.open("/dev/null", os.O_WRONLY | os.O_CLOEXEC)
        stdio = (os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC), null_out, null_out)
    else:
        stdin = 0 if opts.interactive else os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        stdio = (stdin, 1, 2)
    tty_size = attach.terminal_size(0) if opts.tty else (0, 0)
    try:
        proc = runtime.exec_process(spec, record.pid, record.pid_start, process, stdio, tty_size)
    except ProcessLookupError:
        raise Conflict(f"container {record.name} is not running") from None
    except runtime.ChildError as e:
        raise containers.start_error(e, opts.command[0]) from None
    finally:
        for fd in set(stdio) - {0, 1, 2}:
            os.close(fd)
    if opts.detach:
        try:
            proc.start()
        except runtime.ChildError as e:
            raise containers.start_error(e, opts.command[0]) from None
        return 0
    try:
        return attach.foreground(proc, opts.tty, opts.interactive)
    except runtime.ChildError as e:
        raise containers.start_error(e, opts.command[0]) from None
