"""The typer commands: thin, each reads its flags, calls the engine and shows the result.
`run`, `exec`, `update` and the global options are built from the flag tables (flags.py),
which the lean path (fast.py) reads too."""

import inspect
import json
from typing import List, Optional

import typer

from . import flags, render

app = typer.Typer(
    name="pyctr",
    help="A container engine with Python orchestration and a C core.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # -h is help everywhere but run and create, where it is --hostname (click leaves a
    # help name a command's own option has to that option)
    context_settings={"help_option_names": ["-h", "--help"]},
)

KINDS = {"text": Optional[str], "int": Optional[int], "list": Optional[List[str]], "switch": bool}


def _parameter(item) -> inspect.Parameter:
    """A typer parameter for a table's Flag or Argument."""
    if isinstance(item, flags.Argument):
        default = typer.Argument(... if item.required else None, metavar=item.metavar, help=item.help)
        kind = List[str] if item.many and item.required else Optional[List[str]] if item.many else str
    else:
        default = typer.Option(item.default() if item.kind == "switch" else None, *item.names, help=item.help,
                               envvar=item.envvar)
        kind = KINDS[item.kind]
    return inspect.Parameter(item.field, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind)


def from_table(body, table, arguments=()):
    """`body(values)` as a typer command (or callback) whose parameters are the table's:
    typer reads a function's signature, so the function is given the table's."""
    parameters = [_parameter(item) for item in (*arguments, *table)]

    def command(**values):
        return body(values)
    command.__signature__ = inspect.Signature(parameters)
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    command.__name__, command.__doc__ = body.__name__, body.__doc__
    return command


class State:
    paths = None


def _store():
    from ..engine.store import Store
    return Store(State.paths.db)


def main_options(values):
    """Run containers: `pyctr run busybox echo hello`."""
    State.paths = flags.paths(values)


app.callback()(from_table(main_options, flags.GLOBAL))


def run(values):
    """Run a command in a new container.

    Example: pyctr run --rm -ti --cpuset-cpus 0-1 -m 64m busybox sh
    """
    from .fast import run as run_container
    raise typer.Exit(run_container(State.paths, values, values["image"], values["command"] or []))


app.command(context_settings={"allow_interspersed_args": False})(from_table(run, flags.RUN, flags.RUN_ARGUMENTS))


def exec_(values):
    """Run a command in a running container: its namespaces, cgroup and capabilities.

    Example: pyctr exec -ti web sh
    """
    from .fast import execute
    raise typer.Exit(execute(State.paths, values, values["container"], values["command"]))


app.command("exec", context_settings={"allow_interspersed_args": False})(
    from_table(exec_, flags.EXEC, flags.EXEC_ARGUMENTS))


@app.command()
def stats(
    names: Optional[List[str]] = typer.Argument(None, metavar="[CONTAINER]...", help="Containers (default: all running)."),
    no_stream: bool = typer.Option(False, "--no-stream", help="Print one sample and exit."),
    fmt: Optional[str] = typer.Option(None, "--format", help="'json' for machine-readable output (implies --no-stream)."),
):
    """Live resource usage of running containers: CPU %, memory, pids.

    Example: pyctr stats --no-stream
    """
    from ..engine import stats as usage
    store = _store()
    if fmt == "json":
        typer.echo(json.dumps([row.as_dict() for row in usage.sample(State.paths, store, names)], indent=2))
    elif no_stream:
        render.print_table(render.stats_table(usage.sample(State.paths, store, names)))
    else:
        previous: dict = {}
        render.live_stats(lambda: usage.sample(State.paths, store, names, previous=previous))


def update(values):
    """Change the resource limits of running containers.

    Example: pyctr update -m 128m --cpus 1 web
    """
    from ..engine import lifecycle
    store = _store()
    for name in values["names"]:
        lifecycle.update(State.paths, store, name, flags.resources(values))
        typer.echo(name)


app.command()(from_table(update, flags.UPDATE, flags.UPDATE_ARGUMENTS))


@app.command()
def rm(
    names: List[str] = typer.Argument(..., metavar="CONTAINER...", help="Containers to remove."),
    force: bool = typer.Option(False, "-f", "--force", help="Kill a running container first."),
    volumes: bool = typer.Option(False, "-v", "--volumes", help="Remove its anonymous volumes too."),
):
    """Remove containers: their rootfs changes, cgroup and record.

    Example: pyctr rm -f web
    """
    from ..engine import lifecycle
    failed = 0
    for name, error in lifecycle.remove_all(State.paths, _store(), names, force, volumes):
        if error is None:
            typer.echo(name)
        else:
            render.print_failure(error)
            failed = 1
    raise typer.Exit(failed)


@app.command()
def ps(
    all_: bool = typer.Option(False, "-a", "--all", help="Show all containers (default: running)."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only show ids."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not shorten ids and commands."),
    fmt: Optional[str] = typer.Option(None, "--format",
                                      help="'json' (inspect objects), or a Go template over docker's fields: "
                                           "'{{.Names}}', 'table {{.ID}}\\t{{.Status}}'."),
):
    """List containers, with their true state (pid and start time checked).

    Example: pyctr ps -a
    """
    from ..engine import views
    store = _store()
    records = [views.refresh(State.paths, store, r) for r in store.list_containers()]
    if not all_:
        records = [r for r in records if r.status == "running"]
    from ..engine.containers import is_paused
    for r in records:  # docker's state "paused": running, frozen
        if is_paused(State.paths, r):
            r.status = "paused"
    if quiet:
        for r in records:
            typer.echo(r.id if no_trunc else r.id[:12])
    elif fmt == "json":
        typer.echo(json.dumps([views.inspect(State.paths, r, store) for r in records], indent=2))
    elif fmt:
        from .template import formatted
        ports = views.published_ports(store)
        typer.echo(formatted(fmt, [render.ps_fields(r, ports.get(r.id, []), no_trunc) for r in records],
                             {"ID": "CONTAINER ID", "RunningFor": "CREATED", "CreatedAt": "CREATED AT"}), nl=False)
    else:
        render.print_table(render.ps_table(records, no_trunc, views.published_ports(store)))


@app.command()
def version(fmt: Optional[str] = typer.Option(None, "-f", "--format", help="'json', or a Go template: '{{.Version}}'.")):
    """Show pyctr's version and the platform it runs on (also: pyctr --version).

    Example: pyctr version --format '{{.Version}}'
    """
    import platform

    from .. import __version__
    from ..runtime import cgroups
    facts = {"Version": __version__, "PythonVersion": platform.python_version(), "Os": platform.system().lower(),
             "Arch": platform.machine(), "KernelVersion": platform.release(), "CgroupVersion": cgroups.mode()}
    if fmt == "json":
        typer.echo(json.dumps(facts))
    elif fmt:
        from .template import formatted
        typer.echo(formatted(fmt, [facts]), nl=False)
    else:
        width = max(len(k) for k in facts) + 1
        for key, value in facts.items():
            typer.echo(f"{(key + ':').ljust(width)} {value}")


@app.command()
def port(
    name: str = typer.Argument(..., metavar="CONTAINER", help="A container."),
    private: Optional[str] = typer.Argument(None, metavar="[PRIVATE_PORT[/PROTO]]", help="Only this port."),
):
    """List a container's published ports: 80/tcp -> 0.0.0.0:8080.

    Example: pyctr port web 80
    """
    from ..engine import containers
    from ..engine.errors import PyctrError
    from ..engine.views import port_lines
    store = _store()
    lines = port_lines(store, containers.lookup(store, name).id, private)
    if private and not lines:
        raise PyctrError(f"no public port '{private}' published for {name}")
    for line in lines:
        typer.echo(line)


@app.command("inspect")
def inspect_command(
    names: List[str] = typer.Argument(..., metavar="NAME...", help="Containers or images."),
    fmt: Optional[str] = typer.Option(None, "-f", "--format", help="A Go template per object: '{{.State.ExitCode}}'."),
):
    """Describe containers (state, pid, exit code, OOMKilled, times, config, mounts) or, for
    a name no container has, images, as JSON.

    Example: pyctr inspect web
    """
    from ..engine import containers, images, views
    from ..engine.errors import NotFound
    store = _store()
    out = []
    for name in names:
        try:
            record = containers.lookup(store, name)
        except NotFound:
            try:
                out.append(images.inspect(store, images.find(State.paths, store, name)))
            except NotFound:
                raise NotFound(f"no such object: {name}") from None
            continue
        out.append(views.inspect(State.paths, views.refresh(State.paths, store, record), store))
    if fmt:
        from .template import formatted
        typer.echo(formatted(fmt, out), nl=False)
    else:
        typer.echo(json.dumps(out, indent=2))


@app.command()
def stop(
    names: List[str] = typer.Argument(..., metavar="CONTAINER...", help="Running containers to stop."),
    time_: float = typer.Option(10, "-t", "--time", help="Seconds to wait before SIGKILL."),
    sig: Optional[str] = typer.Option(None, "-s", "--signal",
                                      help="Signal to send first (default: the image's StopSignal, else SIGTERM)."),
):
    """Stop containers: a signal, a grace period, then SIGKILL.

    Example: pyctr stop -t 2 web
    """
    from ..engine import lifecycle
    number = lifecycle.parse_signal(sig) if sig else None
    store = _store()
    for name in names:
        lifecycle.stop(State.paths, store, name, time_, number)
        typer.echo(name)


@app.command()
def kill(
    names: List[str] = typer.Argument(..., metavar="CONTAINER...", help="Running containers to signal."),
    sig: str = typer.Option("SIGKILL", "-s", "--signal", help="Signal to send."),
):
    """Send a signal to containers' first process (SIGKILL: to all of them).

    Example: pyctr kill -s HUP web
    """
    from ..engine import lifecycle
    number = lifecycle.parse_signal(sig)
    store = _store()
    for name in names:
        lifecycle.kill(State.paths, store, name, number)
        typer.echo(name)


@app.command()
def wait(names: List[str] = typer.Argument(..., metavar="CONTAINER...", help="Containers to wait for.")):
    """Block until containers stop, then print their exit codes.

    Example: pyctr wait web
    """
    from ..engine import lifecycle
    store = _store()
    for name in names:
        code = lifecycle.wait(State.paths, store, name)
        typer.echo("unknown" if code is None else code)


@app.command()
def top(name: str = typer.Argument(..., metavar="CONTAINER", help="A running container.")):
    """The processes of a container.

    Example: pyctr top web
    """
    from ..engine import lifecycle
    from .render import printable
    typer.echo(f"{'PID':>8}  {'TIME':8}  CMD")
    for pid, cpu, cmd in lifecycle.top(State.paths, _store(), name):
        typer.echo(f"{pid:>8}  {cpu:8}  {printable(cmd)}")


@app.command("_cleanup", hidden=True)
def cleanup_(container_id: str):
    """Run by pyctr-monitor when its container exits (not for people).

    Example: pyctr _cleanup ID
    """
    from ..engine.containers import cleanup_after_monitor
    cleanup_after_monitor(State.paths, container_id)


@app.command()
def logs(
    name: str = typer.Argument(..., metavar="CONTAINER", help="A container started with -d."),
    follow: bool = typer.Option(False, "-f", "--follow", help="Keep printing until the container exits."),
    tail: Optional[int] = typer.Option(None, "-n", "--tail", help="Only the last N lines."),
    timestamps: bool = typer.Option(False, "-t", "--timestamps", help="Show each line's time."),
    since: Optional[str] = typer.Option(None, "--since", help="Only lines since a time: 2026-11-28T10:00:00 or 10m."),
):
    """Print a detached container's output (stdout and stderr, as written).

    Example: pyctr logs -f --tail 3 web
    """
    import sys

    from ..engine import containers, logs as container_logs
    store = _store()
    record = containers.lookup(store, name)
    for stream, text in container_logs.entries(State.paths, store, record, follow=follow, tail=tail,
                                               timestamps=timestamps, since=since):
        out = sys.stderr if stream == "stderr" else sys.stdout
        out.write(text)
        out.flush()


@app.command()
def start(
    names: List[str] = typer.Argument(..., metavar="CONTAINER...", help="Stopped containers to start."),
    attach: bool = typer.Option(False, "-a", "--attach", help="Stay attached: output, signals, the exit code."),
    interactive: bool = typer.Option(False, "-i", "--interactive", help="With -a: our stdin to the container's."),
):
    """Start stopped containers again, with their files as they left them: in the
    background, or attached with -a (one container).

    Example: pyctr start -ai web
    """
    from ..engine import lifecycle
    from ..engine.errors import PyctrError
    if attach and len(names) > 1:
        raise PyctrError("you cannot start and attach multiple containers at once")
    store = _store()
    if attach:
        raise typer.Exit(render.report(lifecycle.start_attached(State.paths, store, names[0], interactive)))
    for name in names:
        lifecycle.start(State.paths, store, name)
        typer.echo(name)


@app.command()
def attach(
    name: str = typer.Argument(..., metavar="CONTAINER", help="A running container."),
    no_stdin: bool = typer.Option(False, "--no-stdin", help="Do not pass our stdin on."),
):
    """Attach this terminal to a running container: its output, its input (when run with
    -i) and signals, until it exits; ctrl-p ctrl-q detaches from a -t container.

    Example: pyctr attach web
    """
    from ..engine.running import attach_to
    raise typer.Exit(attach_to(State.paths, _store(), name, interactive=not no_stdin))


@app.command()
def restart(
    names: List[str] = typer.Argument(..., metavar="CONTAINER...", help="Containers to restart."),
    time_: float = typer.Option(10, "-t", "--time", help="Seconds to wait before SIGKILL."),
):
    """Stop containers (if running) and start them again.

    Example: pyctr restart -t 2 web
    """
    from ..engine import lifecycle
    store = _store()
    for name in names:
        lifecycle.restart(State.paths, store, name, time_)
        typer.echo(name)


def _register_groups() -> None:
    from . import (change_commands, container_commands, image_commands, network_commands, registry_commands,
                   system_commands, volume_commands)
    image_commands.register(app)
    change_commands.register(app)
    registry_commands.register(app)
    volume_commands.register(app)
    network_commands.register(app)
    system_commands.register(app)
    container_commands.register(app)  # last: its `container` group aliases the others
    from .usage import tidy_help
    tidy_help(app)


_register_groups()
