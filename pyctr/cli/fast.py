"""The lean path: `pyctr run`, `pyctr exec` (and the monitor's `pyctr _cleanup`) parsed by
hand, so that starting a container does not pay for importing typer, click and rich
(about 50 ms, more than the container itself takes).

It reads the flag tables (flags.py) the typer commands are built from, as click does
(`--name=x`, `-ti`, `-ewhat`, options only before the first argument).  Whatever it does
not know for certain (help, an unknown flag, a value that is not a number, a missing
image) it leaves to the typer CLI, which owns every message: this path returns None and
commands.py takes over.  tests/cli/test_flags.py checks that both read every flag alike.
"""

import sys

from . import flags


class _Unknown(Exception):
    """Not for this parser: the typer CLI takes the command line."""


def _by_name(table) -> dict:
    return {name: flag for flag in table for name in flag.names}


GLOBAL, RUN, EXEC = _by_name(flags.GLOBAL), _by_name(flags.RUN), _by_name(flags.EXEC)


def dispatch(args: list[str]) -> int | None:
    """Runs `run`, `exec` or `_cleanup`; None for everything else (and anything unsure)."""
    try:
        options, rest = parse_globals(args)
        if rest[:1] == ["run"]:
            values, image, command = parse_run(rest[1:])
            return _run(options, values, image, command)
        if rest[:1] == ["exec"]:
            values, container, command = parse_exec(rest[1:])
            return _exec(options, values, container, command)
        if rest[:1] == ["_cleanup"] and len(rest) == 2 and not rest[1].startswith("-"):
            return _cleanup(options, rest[1])
        if rest[:1] == ["_restart"] and len(rest) == 2 and not rest[1].startswith("-"):
            return _restart(options, rest[1])
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


def parse_globals(args: list[str]) -> tuple[dict, list[str]]:
    """The global options before the command, and the rest."""
    values: dict = {}
    i = 0
    while i < len(args) and args[i].split("=", 1)[0] in GLOBAL:
        option, value, i = _take_value(args, i)
        _set(values, GLOBAL[option], value)
    return values, args[i:]


def parse_run(args: list[str]) -> tuple[dict, str, list[str]]:
    """run's options, image and command, as click reads them; raises _Unknown."""
    values, rest = _parse(args, RUN)
    if not rest:
        raise _Unknown()  # no image: typer says so
    return values, rest[0], rest[1:]


def parse_exec(args: list[str]) -> tuple[dict, str, list[str]]:
    """exec's options, container and command; raises _Unknown."""
    values, rest = _parse(args, EXEC)
    if len(rest) < 2:
        raise _Unknown()  # no container or no command: typer says so
    return values, rest[0], rest[1:]


def _parse(args: list[str], table: dict) -> tuple[dict, list[str]]:
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
        i = _long(args, i, values, table) if arg.startswith("--") else _short(args, i, values, table)
    return values, args[i:]


def _long(args: list[str], i: int, values: dict, table: dict) -> int:
    name = args[i].split("=", 1)[0]
    flag = table.get(name)
    if flag is None:
        raise _Unknown()  # --help among them
    if flag.kind == "switch":
        if "=" in args[i]:
            raise _Unknown()  # click refuses a value for a switch
        values[flag.field] = True
        return i + 1
    _, value, i = _take_value(args, i)
    _set(values, flag, value)
    return i


def _short(args: list[str], i: int, values: dict, table: dict) -> int:
    """-t, -ti, -e K=V, -eK=V, -tie K=V: switches, then at most one option with a value."""
    arg = args[i]
    for at, letter in enumerate(arg[1:], start=1):
        flag = table.get("-" + letter)
        if flag is None:
            raise _Unknown()
        if flag.kind == "switch":
            values[flag.field] = True
            continue
        rest = arg[at + 1:]
        if rest:
            _set(values, flag, rest)
            return i + 1
        if i + 1 >= len(args):
            raise _Unknown()
        _set(values, flag, args[i + 1])
        return i + 2
    return i + 1


def _set(values: dict, flag, value: str) -> None:
    if flag.kind == "int":
        try:
            value = int(value)
        except ValueError:
            raise _Unknown() from None
    if flag.kind == "list":
        values.setdefault(flag.field, []).append(value)
    else:
        values[flag.field] = value


def _run(options: dict, values: dict, image: str, command: list[str]) -> int:
    from ..runtime.cgroups import warm_attach
    warm_attach()  # first: the imports below take as long as the wait it starts
    from .flags import paths
    return run(paths(options), values, image, command)


def run(where, values: dict, image: str, command: list[str]) -> int:
    """`run` with what a parser read, for this path and the typer command alike: the id
    printed (-d), or the container followed to its exit code."""
    from ..engine import running
    from ..engine.errors import ImageNotFound
    from ..engine.store import Store
    from .flags import run_options
    opts = run_options(values, image, command)
    policy = opts.pull or "missing"
    if policy not in ("always", "missing", "never"):
        from ..engine.errors import PyctrError
        raise PyctrError(f'invalid pull option: {policy!r}: must be one of "always", "missing" or "never"')
    if opts.oom_kill_disable:
        _oom_kill_disable_warnings(opts)
    if policy == "always" and _pullable(image):  # docker: pulled even when present
        _pull_for_run(where, image, missing=False)
    try:
        return _run_with(where, Store(where.db), opts, values, running)
    except ImageNotFound:
        if policy == "never":
            raise ImageNotFound(f"No such image: {image}") from None
        _pull_for_run(where, image)  # as docker: an image the store lacks is pulled, then run
    return _run_with(where, Store(where.db), opts, values, running)


def _pullable(image: str) -> bool:
    """A name with a registry (its own, or the default one): `busybox` alone, with none
    set, is the store's (or the built-in), and there is nowhere to pull it from."""
    from ..images.reference import default_registry, is_short
    return not is_short(image) or bool(default_registry())


def _oom_kill_disable_warnings(opts) -> None:
    """docker's two warnings: --oom-kill-disable is dropped on cgroup v2 (which has no such
    switch), and is risky without a memory limit."""
    from ..runtime import cgroups
    if cgroups.mode() == "v2":
        sys.stderr.write("WARNING: Your kernel does not support OOM kill disable. OOM kill disable discarded.\n")
        opts.oom_kill_disable = False
    elif not opts.resources.memory:
        sys.stderr.write("WARNING: Disabling the OOM killer on containers without setting a '-m/--memory' limit "
                         "may be dangerous.\n")


def _pull_for_run(where, image: str, missing: bool = True) -> None:
    """docker's `run` of a missing image (or any, with --pull always): pulled first, its
    progress on stderr.  A name that names no registry (and no default registry is set)
    says so instead."""
    from ..engine import pull
    from ..engine.errors import ImageNotFound
    from ..engine.store import Store
    from .render import PullReport
    if not _pullable(image):
        raise ImageNotFound(f"image not found: {image} (to pull it, give its registry: localhost:5000/{image},"
                            " or set PYCTR_DEFAULT_REGISTRY)")
    ref = pull.reference(image)
    if missing:
        sys.stderr.write(f"Unable to find image '{ref}' locally\n")
    report = PullReport(stream=sys.stderr)
    try:
        pull.pull(where, Store(where.db), image, progress=report)
    finally:
        report.close()
    sys.stderr.write(f"Digest: {report.digest}\nStatus: Downloaded newer image for {ref}\n")


def _run_with(where, store, opts, values: dict, running) -> int:
    if values.get("detach"):
        sys.stdout.write(running.run_detached(where, store, opts) + "\n")
        return 0
    outcome = running.run_attached(where, store, opts)
    if outcome.oom_killed or outcome.warnings:  # render: only when there is something to say
        from .render import report
        return report(outcome)
    return outcome.code


def _exec(options: dict, values: dict, container: str, command: list[str]) -> int:
    from ..runtime.cgroups import warm_attach
    warm_attach()
    from .flags import paths
    return execute(paths(options), values, container, command)


def execute(where, values: dict, container: str, command: list[str]) -> int:
    """`exec` with what a parser read, for this path and the typer command alike."""
    from ..engine.execute import exec_in
    from ..engine.store import Store
    from .flags import exec_options
    return exec_in(where, Store(where.db), container, exec_options(values, command))


def _restart(options: dict, container_id: str) -> int:
    """`pyctr _restart ID`, which a restart policy leaves behind (engine/restarts.py)."""
    from ..engine.restarts import wait_and_start
    from ..engine.store import Store
    from .flags import paths
    where = paths(options)
    wait_and_start(where, Store(where.db), container_id)
    return 0


def _cleanup(options: dict, container_id: str) -> int:
    from ..engine.containers import cleanup_after_monitor
    from .flags import paths
    cleanup_after_monitor(paths(options), container_id)
    return 0
