"""The command line: thin typer commands over the library."""

import json
import os
from typing import List, Optional

import typer

from .paths import Paths

app = typer.Typer(
    name="pyctr",
    help="A container engine with Python orchestration and a C core.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["--help"]},
)


# Resource flags, shared by `run` and `update` (docker's spelling, mydocker's aliases).
MEMORY = typer.Option(None, "-m", "--memory", help="Memory limit, e.g. 64m (b, k, m, g units).")
MEMORY_SWAP = typer.Option(None, "--memory-swap", help="Memory plus swap limit; -1 for unlimited swap.")
MEMORY_RESERVATION = typer.Option(None, "--memory-reservation", help="Memory soft limit.")
CPUS = typer.Option(None, "--cpus", help="Number of CPUs, e.g. 0.5 (CFS quota over a 100 ms period).")
CPU_SHARES = typer.Option(None, "-c", "--cpu-shares", "--cpushare", help="CPU shares (relative weight, 2-262144).")
CPUSET_CPUS = typer.Option(None, "--cpuset-cpus", "--cpuset", help="CPUs to run on, e.g. 0-1,3.")
CPUSET_MEMS = typer.Option(None, "--cpuset-mems", help="Memory nodes to allocate from, e.g. 0.")
PIDS_LIMIT = typer.Option(None, "--pids-limit", help="Maximum number of processes; -1 for unlimited.")


def _resources(memory, memory_swap, memory_reservation, cpus, cpu_shares, cpuset_cpus, cpuset_mems, pids_limit):
    from .resources import ResourceOptions
    return ResourceOptions(memory, memory_swap, memory_reservation, cpus, cpu_shares, cpuset_cpus,
                           cpuset_mems, pids_limit)


class State:
    paths: Paths = None  # type: ignore[assignment]


def _store():
    from .store import Store
    return Store(State.paths.db)


@app.callback()
def main_options(
    root: Optional[str] = typer.Option(None, "--root", envvar="PYCTR_ROOT", help="Persistent state (default /var/lib/pyctr)."),
    runroot: Optional[str] = typer.Option(None, "--runroot", envvar="PYCTR_RUNROOT", help="Runtime state (default /run/pyctr)."),
):
    """Run containers: `pyctr run busybox echo hello`."""
    State.paths = Paths.resolve(root, runroot)


@app.command(context_settings={"allow_interspersed_args": False})
def run(
    image: str = typer.Argument(..., help="Image to run, e.g. busybox."),
    command: Optional[List[str]] = typer.Argument(None, help="Command and arguments (default: the image's)."),
    name: Optional[str] = typer.Option(None, "--name", help="Name of the container."),
    env: Optional[List[str]] = typer.Option(None, "-e", "--env", help="Set an environment variable (K=V, or K to take the host's)."),
    env_file: Optional[List[str]] = typer.Option(None, "--env-file", help="Read environment variables from a file."),
    workdir: Optional[str] = typer.Option(None, "-w", "--workdir", help="Working directory inside the container."),
    hostname: Optional[str] = typer.Option(None, "-h", "--hostname", help="Container host name."),
    tty: bool = typer.Option(False, "-t", "--tty", help="Allocate a pseudo-TTY."),
    interactive: bool = typer.Option(False, "-i", "--interactive", help="Keep STDIN open."),
    detach: bool = typer.Option(False, "-d", "--detach", help="Run in the background and print the id."),
    init: bool = typer.Option(False, "--init", help="Run a tiny init as pid 1: forwards signals, reaps zombies."),
    rm: bool = typer.Option(False, "--rm", help="Remove the container when it exits."),
    entrypoint: Optional[str] = typer.Option(None, "--entrypoint", help="Override the image's entrypoint."),
    memory: Optional[str] = MEMORY,
    memory_swap: Optional[str] = MEMORY_SWAP,
    memory_reservation: Optional[str] = MEMORY_RESERVATION,
    cpus: Optional[str] = CPUS,
    cpu_shares: Optional[int] = CPU_SHARES,
    cpuset_cpus: Optional[str] = CPUSET_CPUS,
    cpuset_mems: Optional[str] = CPUSET_MEMS,
    pids_limit: Optional[int] = PIDS_LIMIT,
    cgroup_parent: Optional[str] = typer.Option(None, "--cgroup-parent", envvar="PYCTR_CGROUP_PARENT",
                                                help="Parent cgroup of the container's (default pyctr)."),
):
    """Run a command in a new container.

    Example: pyctr run --rm -ti --cpuset-cpus 0-1 -m 64m busybox sh
    """
    from .spec import RunOptions
    opts = RunOptions(image=image, command=command or [], name=name, env=env or [],
                      env_files=env_file or [], workdir=workdir, hostname=hostname, tty=tty,
                      interactive=interactive, remove=rm, entrypoint=entrypoint,
                      resources=_resources(memory, memory_swap, memory_reservation, cpus, cpu_shares,
                                           cpuset_cpus, cpuset_mems, pids_limit),
                      cgroup_parent=cgroup_parent, init=init)
    from . import running
    if detach:
        typer.echo(running.run_detached(State.paths, _store(), opts))
        return
    raise typer.Exit(running.run_attached(State.paths, _store(), opts))


@app.command("exec", context_settings={"allow_interspersed_args": False})
def exec_(
    name: str = typer.Argument(..., metavar="CONTAINER", help="A running container."),
    command: List[str] = typer.Argument(..., help="Command and arguments."),
    tty: bool = typer.Option(False, "-t", "--tty", help="Allocate a pseudo-TTY."),
    interactive: bool = typer.Option(False, "-i", "--interactive", help="Keep STDIN open."),
    detach: bool = typer.Option(False, "-d", "--detach", help="Run in the background."),
    env: Optional[List[str]] = typer.Option(None, "-e", "--env", help="Set an environment variable."),
    workdir: Optional[str] = typer.Option(None, "-w", "--workdir", help="Working directory inside the container."),
    user: Optional[str] = typer.Option(None, "-u", "--user", help="user[:group], names or numbers."),
):
    """Run a command in a running container: its namespaces, cgroup and capabilities.

    Example: pyctr exec -ti web sh
    """
    from .execute import ExecOptions, exec_in
    opts = ExecOptions(command=command, tty=tty, interactive=interactive, detach=detach,
                       env=env or [], workdir=workdir, user=user)
    raise typer.Exit(exec_in(State.paths, _store(), name, opts))


@app.command()
def images(
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only show image ids."),
    fmt: Optional[str] = typer.Option(None, "--format", help="'json' for machine-readable output."),
):
    """List images.

    Example: pyctr images
    """
    records = _store().list_images()
    if quiet:
        for image in records:
            typer.echo(image.id[:12])
    elif fmt == "json":
        typer.echo(json.dumps([{"repository": i.repository, "tag": i.tag, "id": i.id,
                                "created": i.created, "size": i.size} for i in records], indent=2))
    else:
        from . import render
        render.print_table(render.images_table(records))


@app.command()
def stats(
    names: Optional[List[str]] = typer.Argument(None, metavar="[CONTAINER]...", help="Containers (default: all running)."),
    no_stream: bool = typer.Option(False, "--no-stream", help="Print one sample and exit."),
    fmt: Optional[str] = typer.Option(None, "--format", help="'json' for machine-readable output (implies --no-stream)."),
):
    """Live resource usage of running containers: CPU %, memory, pids.

    Example: pyctr stats --no-stream
    """
    from . import stats as usage
    store = _store()
    if fmt == "json":
        typer.echo(json.dumps([row.as_dict() for row in usage.sample(State.paths, store, names)], indent=2))
    elif no_stream:
        from . import render
        render.print_table(render.stats_table(usage.sample(State.paths, store, names)))
    else:
        usage.live(State.paths, store, names)


@app.command()
def update(
    names: List[str] = typer.Argument(..., metavar="CONTAINER...", help="Running containers to change."),
    memory: Optional[str] = MEMORY,
    memory_swap: Optional[str] = MEMORY_SWAP,
    memory_reservation: Optional[str] = MEMORY_RESERVATION,
    cpus: Optional[str] = CPUS,
    cpu_shares: Optional[int] = CPU_SHARES,
    cpuset_cpus: Optional[str] = CPUSET_CPUS,
    cpuset_mems: Optional[str] = CPUSET_MEMS,
    pids_limit: Optional[int] = PIDS_LIMIT,
):
    """Change the resource limits of running containers.

    Example: pyctr update -m 128m --cpus 1 web
    """
    from . import containers
    options = _resources(memory, memory_swap, memory_reservation, cpus, cpu_shares, cpuset_cpus,
                         cpuset_mems, pids_limit)
    store = _store()
    for name in names:
        containers.update_resources(State.paths, store, name, options)
        typer.echo(name)


@app.command()
def rm(
    names: List[str] = typer.Argument(..., metavar="CONTAINER...", help="Containers to remove."),
    force: bool = typer.Option(False, "-f", "--force", help="Kill a running container first."),
):
    """Remove containers: their rootfs changes, cgroup and record.

    Example: pyctr rm -f web
    """
    from . import containers
    from .errors import PyctrError
    store = _store()
    failed = 0
    if force:  # kill them all first, then wait for each: their monitors end in parallel
        from . import control
        for name in names:
            try:
                control.kill_all(State.paths, control.running(State.paths, store, name))
            except Exception:  # noqa: BLE001 - not running, or no such container: rm says so below
                pass
    for name in names:
        try:
            containers.remove(State.paths, store, name, force)
            typer.echo(name)
        except PyctrError as e:
            from .render import print_error
            print_error(str(e))
            failed = 1
    raise typer.Exit(failed)


@app.command()
def ps(
    all_: bool = typer.Option(False, "-a", "--all", help="Show all containers (default: running)."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only show ids."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not shorten ids and commands."),
    fmt: Optional[str] = typer.Option(None, "--format", help="'json' for machine-readable output."),
):
    """List containers, with their true state (pid and start time checked).

    Example: pyctr ps -a
    """
    from . import views
    store = _store()
    records = [views.refresh(State.paths, store, r) for r in store.list_containers()]
    if not all_:
        records = [r for r in records if r.status == "running"]
    if quiet:
        for r in records:
            typer.echo(r.id if no_trunc else r.id[:12])
    elif fmt == "json":
        typer.echo(json.dumps([views.inspect(State.paths, r) for r in records], indent=2))
    else:
        from . import render
        render.print_table(render.ps_table([(r, views.status_text(r)) for r in records], no_trunc))


@app.command()
def inspect(names: List[str] = typer.Argument(..., metavar="CONTAINER...", help="Containers to describe.")):
    """Describe containers as JSON: state, pid, exit code, OOMKilled, times, config, mounts.

    Example: pyctr inspect web
    """
    from . import containers, views
    store = _store()
    out = [views.inspect(State.paths, views.refresh(State.paths, store, containers.lookup(store, n))) for n in names]
    typer.echo(json.dumps(out, indent=2))


@app.command()
def stop(
    names: List[str] = typer.Argument(..., metavar="CONTAINER...", help="Running containers to stop."),
    time_: float = typer.Option(10, "-t", "--time", help="Seconds to wait before SIGKILL."),
    sig: str = typer.Option("SIGTERM", "-s", "--signal", help="Signal to send first."),
):
    """Stop containers: a signal, a grace period, then SIGKILL.

    Example: pyctr stop -t 2 web
    """
    from . import control
    number = control.parse_signal(sig)
    store = _store()
    for name in names:
        control.stop(State.paths, store, name, time_, number)
        typer.echo(name)


@app.command()
def kill(
    names: List[str] = typer.Argument(..., metavar="CONTAINER...", help="Running containers to signal."),
    sig: str = typer.Option("SIGKILL", "-s", "--signal", help="Signal to send."),
):
    """Send a signal to containers' first process (SIGKILL: to all of them).

    Example: pyctr kill -s HUP web
    """
    from . import control
    number = control.parse_signal(sig)
    store = _store()
    for name in names:
        if number == 9:  # the whole cgroup: nothing inside gets to fork on
            control.kill_all(State.paths, control.running(State.paths, store, name))
        else:
            control.send(State.paths, store, name, number)
        typer.echo(name)


@app.command()
def wait(names: List[str] = typer.Argument(..., metavar="CONTAINER...", help="Containers to wait for.")):
    """Block until containers stop, then print their exit codes.

    Example: pyctr wait web
    """
    from . import control
    store = _store()
    for name in names:
        code = control.wait(State.paths, store, name)
        typer.echo("unknown" if code is None else code)


@app.command()
def top(name: str = typer.Argument(..., metavar="CONTAINER", help="A running container.")):
    """The processes of a container.

    Example: pyctr top web
    """
    from . import control
    typer.echo(f"{'PID':>8}  {'TIME':8}  CMD")
    for pid, cpu, cmd in control.top(State.paths, _store(), name):
        typer.echo(f"{pid:>8}  {cpu:8}  {cmd}")


@app.command("_cleanup", hidden=True)
def cleanup_(container_id: str):
    """Run by pyctr-monitor when its container exits (not for people).

    Example: pyctr _cleanup ID
    """
    import os
    from .monitor import cleanup
    if not os.path.isdir(State.paths.container_dir(container_id)):
        return  # removed already (rm -f): create nothing, not even a store
    cleanup(State.paths, _store(), container_id)


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
    from . import containers, logs as container_logs
    store = _store()
    record = containers.lookup(store, name)
    container_logs.show(State.paths, store, record, follow=follow, tail=tail, timestamps=timestamps, since=since)


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
    from .running import start as start_container
    if attach and len(names) > 1:
        from .errors import PyctrError
        raise PyctrError("you cannot start and attach multiple containers at once")
    store = _store()
    if attach:
        raise typer.Exit(start_container(State.paths, store, names[0], attach=True, interactive=interactive))
    for name in names:
        start_container(State.paths, store, name)
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
    from .running import attach_to
    raise typer.Exit(attach_to(State.paths, _store(), name, interactive=not no_stdin))


@app.command()
def restart(
    names: List[str] = typer.Argument(..., metavar="CONTAINER...", help="Containers to restart."),
    time_: float = typer.Option(10, "-t", "--time", help="Seconds to wait before SIGKILL."),
):
    """Stop containers (if running) and start them again.

    Example: pyctr restart -t 2 web
    """
    import signal as signals

    from . import control
    from .running import start as start_container
    store = _store()
    for name in names:
        control.stop(State.paths, store, name, time_, signals.SIGTERM)
        start_container(State.paths, store, name)  # waits for the old run's cleanup
        typer.echo(name)
