"""The command line of `pyctr-runtime`, as runc reads its own: global options, a command,
its options (`--flag value`, `--flag=value`, one dash or two), its arguments.  Read by
hand from one table (COMMANDS): it runs for every step of every container podman or
containerd starts, and typer alone costs more than the whole of a `create`.

Failures are one line on stderr, and in the --log file (as JSON with --log-format json,
where containerd's shim and conmon look for them), exit 1, as runc's."""

import os
import sys

from ... import __version__
from ..plan import OCI_VERSION

DEFAULT_ROOT = "/run/pyctr-runtime"

# global option -> takes a value
GLOBAL = {"root": True, "log": True, "log-format": True, "debug": False, "systemd-cgroup": False,
          "criu": True, "rootless": True, "help": False, "version": False}
ALIASES = {"h": "help", "v": "version"}

# command -> {option: takes a value}, short aliases; "*" marks options that may repeat
COMMANDS = {
    "create": {"bundle": True, "console-socket": True, "pid-file": True, "no-pivot": False,
               "no-new-keyring": False, "preserve-fds": True, "pidfd-socket": True},
    "run": {"bundle": True, "console-socket": True, "pid-file": True, "no-pivot": False,
            "no-new-keyring": False, "preserve-fds": True, "detach": False, "keep": False,
            "no-subreaper": False, "pidfd-socket": True},
    "start": {},
    "state": {},
    "kill": {"all": False},
    "delete": {"force": False},
    "exec": {"console-socket": True, "cwd": True, "env": "*", "tty": False, "user": True,
             "additional-gids": "*", "process": True, "detach": False, "pid-file": True,
             "process-label": True, "apparmor": True, "no-new-privs": False, "cap": "*",
             "preserve-fds": True, "ignore-paused": False, "cgroup": "*", "pidfd-socket": True},
    "list": {"format": True, "quiet": False},
    "ps": {"format": True},
    "pause": {},
    "resume": {},
    "update": {"resources": True, "memory": True, "memory-swap": True, "memory-reservation": True,
               "kernel-memory": True, "kernel-memory-tcp": True, "cpu-shares": True, "cpu-quota": True,
               "cpu-period": True, "cpu-rt-period": True, "cpu-rt-runtime": True, "cpuset-cpus": True,
               "cpuset-mems": True, "pids-limit": True, "blkio-weight": True, "l3-cache-schema": True,
               "mem-bw-schema": True},
    "spec": {"bundle": True, "rootless": False},
    "features": {},
    "events": {"stats": False, "interval": True},
}
SHORT = {
    "create": {"b": "bundle"}, "run": {"b": "bundle", "d": "detach"}, "kill": {"a": "all"},
    "delete": {"f": "force"}, "list": {"f": "format", "q": "quiet"}, "ps": {"f": "format"},
    "exec": {"e": "env", "t": "tty", "u": "user", "g": "additional-gids", "p": "process", "d": "detach",
             "c": "cap"},
    "update": {"r": "resources", "m": "memory"}, "spec": {"b": "bundle"},
}
USAGE = {
    "create": "<container-id>", "run": "<container-id>", "start": "<container-id>", "state": "<container-id>",
    "kill": "<container-id> [signal]", "delete": "<container-id>", "exec": "<container-id> <command> [args...]",
    "list": "", "ps": "<container-id> [ps options]", "pause": "<container-id>", "resume": "<container-id>",
    "update": "<container-id>", "spec": "", "features": "", "events": "<container-id>",
}


class UsageError(Exception):
    """A command line runc would refuse: one line, exit 1."""


class Invocation:
    """A parsed command line: global options, the command, its options and arguments."""

    def __init__(self):
        self.globals: dict = {}
        self.command: str | None = None
        self.options: dict = {}
        self.args: list[str] = []

    @property
    def root(self) -> str:
        """--root, made absolute (as runc makes it): hooks and later commands may run
        elsewhere."""
        return os.path.abspath(self.globals.get("root") or DEFAULT_ROOT)


def _split(arg: str, table: dict, short: dict) -> tuple[str, str | None] | None:
    """'--name=v' / '-name' / '-n' -> (name, inline value or None); None if not an option
    of `table`."""
    if not arg.startswith("-") or arg in ("-", "--"):
        return None
    body = arg.lstrip("-")
    name, eq, value = body.partition("=")
    name = short.get(name, name)
    if name not in table:
        return None
    return name, value if eq else None


def _take(argv: list[str], i: int, table: dict, short: dict, into: dict, where: str) -> int:
    """Reads the option at argv[i] into `into`; returns the index after it."""
    found = _split(argv[i], table, short)
    if found is None:
        raise UsageError(f"flag provided but not defined: {argv[i]}" + (f" ({where})" if where else ""))
    name, value = found
    kind = table[name]
    if kind is False:
        if value is not None and value.lower() not in ("true", "false", "1", "0"):
            raise UsageError(f"invalid boolean value {value!r} for --{name}")
        into[name] = value is None or value.lower() in ("true", "1")
        return i + 1
    if value is None:
        if i + 1 >= len(argv):
            raise UsageError(f"flag needs an argument: --{name}")
        value, i = argv[i + 1], i + 1
    if kind == "*":
        into.setdefault(name, []).append(value)
    else:
        into[name] = value
    return i + 1


def parse(argv: list[str]) -> Invocation:
    inv = Invocation()
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "-":
        i = _take(argv, i, GLOBAL, ALIASES, inv.globals, "")
    if i >= len(argv):
        return inv
    inv.command = argv[i]
    if inv.command not in COMMANDS:
        raise UsageError(f"no such command: {inv.command}")
    table, short = COMMANDS[inv.command], SHORT.get(inv.command, {})
    i += 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            inv.args.extend(argv[i + 1:])
            break
        # exec and ps take the command's own options after the id: those are arguments
        if inv.args and inv.command in ("exec", "ps"):
            inv.args.extend(argv[i:])
            break
        if arg in ("-h", "--help"):
            inv.options["help"] = True
            i += 1
        elif arg.startswith("-") and arg != "-" and not (inv.command == "kill" and inv.args):
            i = _take(argv, i, table, short, inv.options, inv.command)
        else:
            inv.args.append(arg)
            i += 1
    return inv


def version_text() -> str:
    return f"pyctr-runtime version {__version__}\nspec: {OCI_VERSION}\n"


def help_text(command: str | None = None) -> str:
    if command:
        flags = " ".join(f"[--{name}{' VALUE' if kind else ''}]" for name, kind in COMMANDS[command].items())
        return f"usage: pyctr-runtime [global options] {command} {flags} {USAGE[command]}\n"
    return ("usage: pyctr-runtime [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND ...\n"
            "pyctr's container runtime, with runc's command line (OCI runtime spec " + OCI_VERSION + ").\n"
            "commands: " + ", ".join(COMMANDS) + "\n")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    os.umask(0o022)
    try:
        inv = parse(argv)
    except UsageError as e:
        return _fail(None, str(e))
    if inv.globals.get("version"):
        sys.stdout.write(version_text())
        return 0
    if inv.globals.get("help") or inv.command is None or inv.options.get("help"):
        sys.stdout.write(help_text(inv.command))
        return 0 if inv.command or inv.globals.get("help") else 1
    from . import commands
    try:
        return commands.run(inv)
    except UsageError as e:
        return _fail(inv, str(e))
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001 - every failure is a line, as runc's
        if os.environ.get("PYCTR_DEBUG"):
            raise
        return _fail(inv, commands.describe(e))


def _fail(inv: Invocation | None, message: str) -> int:
    """The error on stderr and, with --log, in the log file (JSON with --log-format json,
    as runc's logrus writes it: the shim and conmon read the last one from there)."""
    sys.stderr.write(message + "\n")
    if inv is not None:
        log(inv, "error", message)
    return 1


def log(inv: Invocation, level: str, message: str) -> None:
    """One record in the --log file, if there is one; a log that cannot be written is not
    our failure."""
    if not inv.globals.get("log"):
        return
    from ...timestamps import rfc3339
    import time
    if inv.globals.get("log-format") == "json":
        from ... import fastjson
        line = fastjson.dumps({"level": level, "msg": message, "time": rfc3339(time.time())})
    else:
        line = f'time="{rfc3339(time.time())}" level={level} msg="{message}"'
    try:
        fd = os.open(inv.globals["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)
    except OSError:
        pass
