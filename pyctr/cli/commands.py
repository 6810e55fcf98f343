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


def each(names: list[str], act) -> None:
    """docker's way with several names: `act(name)` on each, a failure told on stderr and
    the rest still done; then exit 1 if any failed."""
    from ..engine.errors import PyctrError
    from ..runtime.errors import RuntimeFailure
    failed = False
    for name in names:
        try:
            act(name)
        except (PyctrError, RuntimeFailure) as e:
            render.print_failure(e)
            failed = True
    if failed:
        raise typer.Exit(1)


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
    all_: bool = typer.Option(False, "-a", "--all", help="Stopped containers too (their figures 0)."),
    no_stream: bool = typer.Option(False, "--no-stream", help="Print one sample and exit."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not shorten ids."),
    fmt: Optional[str] = typer.Option(None, "--format",
                                      help="'json': one object per line, docker's keys; or a Go template: "
                                           "'{{.Name}} {{.CPUPerc}}', 'table {{.ID}}\\t{{.MemUsage}}'."),
):
    """Live CPU, memory, network and block I/O, and pids of containers.

    Example: pyctr stats --no-stream --format '{{.Name}} {{.MemUsage}}'
    """
    from ..engine import stats as usage
    store = _store()
    previous: dict = {}

    def frame() -> str:
        samples = usage.sample(State.paths, store, names, previous=previous, all_=all_)
        rows = [render.stats_fields(row, no_trunc) for row in samples]
        if fmt == "json":
            return "".join(render.json_line(row) + "\n" for row in rows)
        if fmt and fmt != "table":
            from .template import formatted
            return formatted(fmt, rows, render.STATS_HEADERS)
        return render.table_text(render.stats_table(rows))
    if no_stream:
        typer.echo(frame(), nl=False)
    else:
        render.live(frame)


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
    _each_done(lifecycle.remove_all(State.paths, _store(), names, force, volumes))


def _each_done(results) -> None:
    """(name, None or its error) pairs: the names done printed, the errors told; exit 1
    if any failed."""
    failed = 0
    for name, error in results:
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
    filters: Optional[List[str]] = typer.Option(None, "-f", "--filter",
                                                help="KEY=VALUE, repeatable: id, name, label, status, exited, "
                                                     "ancestor, before, since, volume, network, publish, "
                                                     "expose."),
    last: Optional[int] = typer.Option(None, "-n", "--last", help="The N last created containers (all states)."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The last created container (all states)."),
    size: bool = typer.Option(False, "-s", "--size", help="Show sizes: the writable layer (virtual: with the image)."),
    fmt: Optional[str] = typer.Option(None, "--format",
                                      help="'json': one object per line, docker's keys; or a Go template over "
                                           "them: '{{.Names}}', 'table {{.ID}}\\t{{.Status}}'."),
):
    """List containers, their state checked (pid and start time).

    Example: pyctr ps -a --filter status=exited --format '{{.ID}} {{.Status}}'
    """
    from ..engine import filters as chosen, views
    store = _store()
    records = [views.refresh(State.paths, store, r) for r in store.list_containers()]
    records = chosen.listing(State.paths, store, chosen.with_paused(State.paths, records), filters, all_,
                             1 if latest else last)
    if quiet:
        for r in records:
            typer.echo(r.id if no_trunc else r.id[:12])
        return
    ports = views.published_ports(store)
    size = size or ".Size" in (fmt or "")  # as docker: a template that shows sizes has them
    detailed = bool(fmt) and fmt != "table" or size
    rows = [render.ps_fields(r, ports.get(r.id, []), views.listed(State.paths, store, r, size) if detailed else None,
                             no_trunc) for r in records]
    if fmt == "json":
        for row in rows:
            typer.echo(render.json_line(row))
    elif fmt and fmt != "table":
        from .template import formatted
        typer.echo(formatted(fmt, rows, render.PS_HEADERS), nl=False)
    else:
        render.print_table(render.ps_table(rows, size))


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
    names: List[str] = typer.Argument(..., metavar="NAME...", help="Containers, images, networks or volumes."),
    fmt: Optional[str] = typer.Option(None, "-f", "--format",
                                      help="'json', or a Go template per object: '{{.State.ExitCode}}'."),
    kind: Optional[str] = typer.Option(None, "--type", help="Only this kind: container, image, network or volume."),
):
    """Describe containers (state, pid, exit code, limits, config, mounts), images,
    networks or volumes, as a JSON array in docker's shape; names that are none of them
    are told on stderr, and the exit code is then 1.

    Example: pyctr inspect -f '{{.State.ExitCode}}' web
    """
    import sys

    from ..engine import views
    from ..engine.errors import NotFound
    store = _store()
    out, missing = [], False
    for name in names:
        try:
            out.append(views.inspect_object(State.paths, store, name, kind))
        except NotFound as e:
            sys.stderr.write(f"Error: {render.printable(str(e))}\n")  # docker's words
            missing = True
    if fmt and fmt != "json":
        from .template import formatted
        typer.echo(formatted(fmt, out), nl=False)
    else:  # docker's 'json' is its default: the array
        typer.echo(json.dumps(out, indent=4))
    raise typer.Exit(1 if missing else 0)


@app.command()
def stop(
    names: List[str] = typer.Argument(..., metavar="CONTAINER...", help="Running containers to stop."),
    time_: Optional[float] = typer.Option(None, "-t", "--time",
                                          help="Seconds to wait before SIGKILL (default: --stop-timeout, else 10)."),
    sig: Optional[str] = typer.Option(None, "-s", "--signal",
                                      help="Signal to send first (default: the image's StopSignal, else SIGTERM)."),
):
    """Stop containers: a signal, a grace period, then SIGKILL.

    Example: pyctr stop -t 2 web
    """
    from ..engine import lifecycle
    number = lifecycle.parse_signal(sig) if sig else None
    store = _store()
    each(names, lambda name: (lifecycle.stop(State.paths, store, name, time_, number), typer.echo(name)))


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
    each(names, lambda name: (lifecycle.kill(State.paths, store, name, number), typer.echo(name)))


@app.command()
def wait(names: List[str] = typer.Argument(..., metavar="CONTAINER...", help="Containers to wait for.")):
    """Block until containers stop, then print their exit codes.

    Example: pyctr wait web
    """
    from ..engine import lifecycle
    store = _store()
    def wait_one(name):
        code = lifecycle.wait(State.paths, store, name)
        typer.echo("unknown" if code is None else code)
    each(names, wait_one)


@app.command(context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True})
def top(
    name: str = typer.Argument(..., metavar="CONTAINER", help="A running container."),
    ps_args: Optional[List[str]] = typer.Argument(None, metavar="[PS OPTIONS]...",
                                                  help="Options for the host's ps (default: -ef)."),
):
    """The processes of a container, as the host's ps shows them (default: ps -ef's UID
    PID PPID C STIME TTY TIME CMD).

    Example: pyctr top web -o pid,comm
    """
    from ..engine import lifecycle
    titles, rows = lifecycle.top(State.paths, _store(), name, ps_args)
    typer.echo(render.top_table(titles, rows), nl=False)


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
    since: Optional[str] = typer.Option(None, "--since", help="Only lines since a time: 2026-11-28T10:00:00Z, "
                                                              "a Unix time (1733130000.5) or a duration ago (10m, 1h30m)."),
    until: Optional[str] = typer.Option(None, "--until", help="Only lines before a time (as --since); -f ends then."),
):
    """Print a container's output (stdout and stderr, as written).

    Example: pyctr logs -f --tail 3 --since 10m web
    """
    import sys

    from ..engine import containers, logs as container_logs
    store = _store()
    record = containers.lookup(store, name)
    for stream, text in container_logs.entries(State.paths, store, record, follow=follow, tail=tail,
                                               timestamps=timestamps, since=since, until=until):
        out = sys.stderr if stream == "stderr" else sys.stdout
        out.write(text)
        out.flush()


@app.command()
def start(
    names: List[str] = typer.Argument(..., metavar="CONTAINER...", help="Stopped containers to start."),
    attach: bool = typer.Option(False, "-a", "--attach", help="Stay attached: output, signals, the exit code."),
    interactive: bool = typer.Option(False, "-i", "--interactive", help="With -a: our stdin to the container's."),
    detach_keys: Optional[str] = typer.Option(None, "--detach-keys",
                                              help="With -a: the keys that detach, e.g. ctrl-x,y (default ctrl-p,ctrl-q)."),
):
    """Start stopped containers again, with their files as they left them: in the
    background, or attached with -a (one container).

    Example: pyctr start -ai web
    """
    from ..engine import lifecycle
    from ..engine.errors import PyctrError
    from ..engine.running import detach_keys as keys
    if attach and len(names) > 1:
        raise PyctrError("you cannot start and attach multiple containers at once")
    store = _store()
    if attach:
        outcome = lifecycle.start_attached(State.paths, store, names[0], interactive, keys(detach_keys))
        raise typer.Exit(render.report(outcome))
    each(names, lambda name: (lifecycle.start(State.paths, store, name), typer.echo(name)))


@app.command()
def attach(
    name: str = typer.Argument(..., metavar="CONTAINER", help="A running container."),
    no_stdin: bool = typer.Option(False, "--no-stdin", help="Do not pass our stdin on."),
    detach_keys: Optional[str] = typer.Option(None, "--detach-keys",
                                              help="The keys that detach, e.g. ctrl-x,y (default ctrl-p,ctrl-q)."),
    proxy: Optional[str] = typer.Option(None, "--sig-proxy", help="false: signals to pyctr are not passed on."),
):
    """Attach this terminal to a running container: its output, its input (when run with
    -i) and signals, until it exits; ctrl-p ctrl-q detaches from a -t container.

    Example: pyctr attach --detach-keys ctrl-x,y web
    """
    from ..engine.running import attach_to, detach_keys as keys, sig_proxy
    raise typer.Exit(attach_to(State.paths, _store(), name, not no_stdin, keys(detach_keys), sig_proxy(proxy)))


@app.command()
def restart(
    names: List[str] = typer.Argument(..., metavar="CONTAINER...", help="Containers to restart."),
    time_: Optional[float] = typer.Option(None, "-t", "--time",
                                          help="Seconds to wait before SIGKILL (default: --stop-timeout, else 10)."),
):
    """Stop containers (if running) and start them again.

    Example: pyctr restart -t 2 web
    """
    from ..engine import lifecycle
    store = _store()
    each(names, lambda name: (lifecycle.restart(State.paths, store, name, time_), typer.echo(name)))


@app.command("_restart-policy", hidden=True)
def restart_policy():
    """Start again the containers whose restart policy wants them running (always, and
    unless-stopped ones no user stopped) and that do not run: after a reboot, the
    pyctr-restart systemd unit runs this.

    Example: pyctr _restart-policy
    """
    from ..engine import restarts
    _each_done(restarts.boot(State.paths, _store()))


def _register_groups() -> None:
    from . import (change_commands, container_commands, event_commands, image_commands, network_commands,
                   registry_commands, system_commands, volume_commands)
    image_commands.register(app)
    event_commands.register(app)
    change_commands.register(app)
    registry_commands.register(app)
    volume_commands.register(app)
    network_commands.register(app)
    system_commands.register(app)
    container_commands.register(app)  # last: its `container` group aliases the others
    from .usage import tidy_help
    tidy_help(app)


_register_groups()


_click = None


def click_command():
    """The click command typer makes of `app`, made once a process: making it walks every
    command's signature (15 ms, most of a warm `pyctr ps`), and the warm process makes it
    before it forks (server.preload)."""
    global _click
    if _click is None:
        from typer.main import get_command
        _click = get_command(app)
    return _click
