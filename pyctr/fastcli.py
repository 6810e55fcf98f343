"""The lean path: `pyctr run`, `pyctr exec` (and the monitor's `pyctr _cleanup`) parsed by
hand, so that starting a container does not pay for importing typer, click and rich
(about 50 ms, more than the container itself takes).

It knows the same flags as cli.run and cli.exec_ and parses them as click does
(`--name=x`, `-ti`, `-ewhat`, options only before the first argument).  Whatever it does not know for certain (help,
an unknown flag, a value that is not a number, a missing image) it leaves to the typer
CLI, which owns every message: this path returns None and cli.py takes over.
tests/test_fastcli.py checks that both read every flag alike.
"""

import os
import sys

# option -> RunOptions / ResourceOptions field; as declared in cli.run
VALUES = {
    "--name": "name", "-e": "env", "--env": "env", "--env-file": "env_files", "-w": "workdir",
    "--workdir": "workdir", "-h": "hostname", "--hostname": "hostname", "--entrypoint": "entrypoint",
    "-m": "memory", "--memory": "memory", "--memory-swap": "memory_swap",
    "--memory-reservation": "memory_reservation", "--cpus": "cpus", "-c": "cpu_shares",
    "--cpu-shares": "cpu_shares", "--cpushare": "cpu_shares", "--cpuset-cpus": "cpuset_cpus",
    "--cpuset": "cpuset_cpus", "--cpuset-mems": "cpuset_mems", "--pids-limit": "pids_limit",
    "--cgroup-parent": "cgroup_parent",
}
SWITCHES = {"-t": "tty", "--tty": "tty", "-i": "interactive", "--interactive": "interactive",
            "-d": "detach", "--detach": "detach", "--init": "init", "--rm": "rm"}
EXEC_VALUES = {"-e": "env", "--env": "env", "-w": "workdir", "--workdir": "workdir", "-u": "user",
               "--user": "user"}
EXEC_SWITCHES = {"-t": "tty", "--tty": "tty", "-i": "interactive", "--interactive": "interactive",
                 "-d": "detach", "--detach": "detach"}
REPEATED = {"env", "env_files"}
INTEGERS = {"cpu_shares", "pids_limit"}
RESOURCES = ("memory", "memory_swap", "memory_reservation", "cpus", "cpu_shares", "cpuset_cpus",
             "cpuset_mems", "pids_limit")
GLOBALS = ("--root", "--runroot")


class _Unknown(Exception):
    """Not for this parser: the typer CLI takes the command line."""


def dispatch(args: list[str]) -> int | None:
    """Runs `run` or `_cleanup`; None for everything else (and anything unsure)."""
    try:
        options, rest = _globals(args)
        if rest[:1] == ["run"]:
            values, image, command = parse_run(rest[1:])
            return _run(options, values, image, command)
        if rest[:1] == ["exec"]:
            values, container, command = parse_exec(rest[1:])
            return _exec(options, values, container, command)
        if rest[:1] == ["_cleanup"] and len(rest) == 2 and not rest[1].startswith("-"):
            return _cleanup(options, rest[1])
    except _Unknown:
        pass
    return None


def _take_value(args: list[str], i: int) -> tuple[str, str, int]:
    """(option, value, next index) for `--opt v` and `--opt=v`."""
    arg = args[i]
    if "=" in arg:
        option, value = arg.split("=", 1)
        return option, value, i + 1
    if i + 1 >= len(args):
        raise _Unknown()
    return arg, args[i + 1], i + 2


def _globals(args: list[str]) -> tuple[dict, list[str]]:
    options, i = {}, 0
    while i < len(args) and args[i].split("=", 1)[0] in GLOBALS:
        option, value, i = _take_value(args, i)
        options[option.lstrip("-")] = value
    return options, args[i:]


def parse_run(args: list[str]) -> tuple[dict, str, list[str]]:
    """run's options, image and command, as click reads them; raises _Unknown."""
    values, rest = _parse(args, VALUES, SWITCHES)
    if not rest:
        raise _Unknown()  # no image: typer says so
    return values, rest[0], rest[1:]


def parse_exec(args: list[str]) -> tuple[dict, str, list[str]]:
    """exec's options, container and command; raises _Unknown."""
    values, rest = _parse(args, EXEC_VALUES, EXEC_SWITCHES)
    if len(rest) < 2:
        raise _Unknown()  # no container or no command: typer says so
    return values, rest[0], rest[1:]


def _parse(args: list[str], takes_value: dict, switches: dict) -> tuple[dict, list[str]]:
    """Options up to the first argument (or `--`); returns them and the arguments."""
    values: dict = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        if arg.startswith("--"):
            i = _long(args, i, values, takes_value, switches)
        else:
            i = _short(args, i, values, takes_value, switches)
    return values, args[i:]


def _long(args: list[str], i: int, values: dict, takes_value: dict, switches: dict) -> int:
    arg = args[i]
    name = arg.split("=", 1)[0]
    if name in switches and "=" not in arg:
        values[switches[name]] = True
        return i + 1
    if name not in takes_value:
        raise _Unknown()  # --help among them
    option, value, i = _take_value(args, i)
    _set(values, takes_value[option], value)
    return i


def _short(args: list[str], i: int, values: dict, takes_value: dict, switches: dict) -> int:
    """-t, -ti, -e K=V, -eK=V, -tie K=V: switches, then at most one option with a value."""
    arg = args[i]
    for at, letter in enumerate(arg[1:], start=1):
        option = "-" + letter
        if option in switches:
            values[switches[option]] = True
            continue
        if option not in takes_value:
            raise _Unknown()
        rest = arg[at + 1:]
        if rest:
            _set(values, takes_value[option], rest)
            return i + 1
        if i + 1 >= len(args):
            raise _Unknown()
        _set(values, takes_value[option], args[i + 1])
        return i + 2
    return i + 1


def _set(values: dict, field: str, value: str) -> None:
    if field in INTEGERS:
        try:
            value = int(value)
        except ValueError:
            raise _Unknown() from None
    if field in REPEATED:
        values.setdefault(field, []).append(value)
    else:
        values[field] = value


def run_options(values: dict, image: str, command: list[str]):
    """RunOptions from parsed values, as cli.run builds them."""
    from .resources import ResourceOptions
    from .spec import RunOptions
    cgroup_parent = values.get("cgroup_parent", os.environ.get("PYCTR_CGROUP_PARENT"))
    return RunOptions(image=image, command=command, name=values.get("name"), env=values.get("env", []),
                      env_files=values.get("env_files", []), workdir=values.get("workdir"),
                      hostname=values.get("hostname"), tty=values.get("tty", False),
                      interactive=values.get("interactive", False), remove=values.get("rm", False),
                      entrypoint=values.get("entrypoint"),
                      resources=ResourceOptions(*(values.get(f) for f in RESOURCES)),
                      cgroup_parent=cgroup_parent, init=values.get("init", False))


def _paths(options: dict):
    from .paths import Paths
    return Paths.resolve(options.get("root"), options.get("runroot"))


def _run(options: dict, values: dict, image: str, command: list[str]) -> int:
    from .cgroups import warm_attach
    warm_attach()  # first: the imports below take as long as the wait it starts
    from . import running
    from .store import Store
    paths = _paths(options)
    opts = run_options(values, image, command)
    if values.get("detach"):
        sys.stdout.write(running.run_detached(paths, Store(paths.db), opts) + "\n")
        return 0
    return running.run_attached(paths, Store(paths.db), opts)


def exec_options(values: dict, command: list[str]):
    """ExecOptions from parsed values, as cli.exec_ builds them."""
    from .execute import ExecOptions
    return ExecOptions(command=command, tty=values.get("tty", False), interactive=values.get("interactive", False),
                       detach=values.get("detach", False), env=values.get("env", []),
                       workdir=values.get("workdir"), user=values.get("user"))


def _exec(options: dict, values: dict, container: str, command: list[str]) -> int:
    from .cgroups import warm_attach
    warm_attach()
    from .execute import exec_in
    from .store import Store
    paths = _paths(options)
    return exec_in(paths, Store(paths.db), container, exec_options(values, command))


def _cleanup(options: dict, container_id: str) -> int:
    from .monitor import cleanup
    from .store import Store
    paths = _paths(options)
    if os.path.isdir(paths.container_dir(container_id)):  # else removed already (rm -f)
        cleanup(paths, Store(paths.db), container_id)
    return 0
