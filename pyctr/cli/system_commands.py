"""`info`, the `system` group (df, info, prune, server) and `completion`."""

import json
from typing import List, Optional

import typer

from .container_commands import confirm, show_pruned


def _context():
    from .commands import State, _store
    return State.paths, _store()


def info(fmt: Optional[str] = typer.Option(None, "-f", "--format", help="'json', or a Go template: '{{.Containers}}'.")):
    """Show what this engine holds and the host it runs on: containers by state, images,
    storage, cgroups, kernel, CPUs, memory.

    Example: pyctr info --format '{{.ContainersRunning}}'
    """
    from ..engine.info import facts
    from .render import human_size
    found = facts(*_context())
    if fmt == "json":
        typer.echo(json.dumps(found))
        return
    if fmt:
        from .template import formatted
        typer.echo(formatted(fmt, [found]), nl=False)
        return
    lines = [
        f"Containers: {found['Containers']}", f" Running: {found['ContainersRunning']}",
        f" Paused: {found['ContainersPaused']}", f" Stopped: {found['ContainersStopped']}",
        f"Images: {found['Images']}", f"Server Version: {found['ServerVersion']}",
        f"Storage Driver: {found['Driver']}",
        *(f" {key}: {value}" for key, value in found["DriverStatus"]),
        f"Logging Driver: {found['LoggingDriver']}", f"Cgroup Driver: {found['CgroupDriver']}",
        f"Cgroup Version: {found['CgroupVersion']}", "Security Options:",
        *(f" {option}" for option in found["SecurityOptions"]),
        f"Kernel Version: {found['KernelVersion']}", f"Operating System: {found['OperatingSystem']}",
        f"OSType: {found['OSType']}", f"Architecture: {found['Architecture']}", f"CPUs: {found['NCPU']}",
        f"Total Memory: {human_size(found['MemTotal'], binary=True)}", f"Name: {found['Name']}",
        f"Root Dir: {found['DockerRootDir']}",
    ]
    typer.echo("\n".join(lines))


def system_prune(
    all_: bool = typer.Option(False, "-a", "--all", help="Every image no container uses, not only dangling ones."),
    force: bool = typer.Option(False, "-f", "--force", help="Do not ask for confirmation."),
    volumes: bool = typer.Option(False, "--volumes", help="Anonymous volumes no container uses too."),
    filters: Optional[List[str]] = typer.Option(None, "--filter", help="until=24h, label=KEY[=VALUE] (containers)."),
):
    """Remove stopped containers, unused networks, dangling images (with -a: every unused
    one) and, with --volumes, unused anonymous volumes.

    Example: pyctr system prune -af --volumes
    """
    from ..engine.prune import parse_filters, prune_system
    parse_filters(filters or [])
    items = ["all stopped containers", "all networks not used by at least one container",
             *(["all anonymous volumes not used by at least one container"] if volumes else []),
             "all images without at least one container associated to them" if all_ else "all dangling images"]
    if not force and not confirm("WARNING! This will remove:\n" + "\n".join(f"  - {i}" for i in items) + "\n"):
        raise typer.Exit(0)
    show_pruned(prune_system(*_context(), all_, volumes, filters or []))


DF_FORMAT = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
DF_HEADERS = {"TotalCount": "TOTAL", "CreatedSince": "CREATED", "RunningFor": "CREATED", "SharedSize": "SHARED SIZE",
              "UniqueSize": "UNIQUE SIZE", "LocalVolumes": "LOCAL VOLUMES", "Name": "VOLUME NAME"}
DF_IDS = {"images": {"ID": "IMAGE ID"}, "containers": {"ID": "CONTAINER ID"}, "volumes": {}}
DF_VERBOSE = (
    ("Images space usage:", "images", "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
                                      "\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}"),
    ("Containers space usage:", "containers", "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}"
                                              "\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}"),
    ("Local Volumes space usage:", "volumes", "table {{.Name}}\t{{.Links}}\t{{.Size}}"),
)


def system_df(
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Each image, container and volume too."),
    fmt: Optional[str] = typer.Option(None, "--format", help="'json' (one object a line), or a Go template: "
                                                             "'{{.Type}} {{.Size}}'."),
):
    """Disk used by images (shared layers counted once), containers and volumes, and how
    much a prune would free.

    Example: pyctr system df -v
    """
    from ..engine.disk import usage
    from .template import formatted
    found = usage(*_context())
    summary = [_df_row(kind, *found["totals"][kind]) for kind in ("Images", "Containers", "Local Volumes")]
    if fmt == "json":
        for row in summary:
            typer.echo(json.dumps(row))
        return
    if fmt or not verbose:
        typer.echo(formatted(fmt or DF_FORMAT, summary, DF_HEADERS), nl=False)
        return
    for i, (title, kind, table) in enumerate(DF_VERBOSE):
        typer.echo(("\n" if i else "") + title + "\n")
        typer.echo(formatted(table, _verbose_rows(kind, found[kind]), {**DF_HEADERS, **DF_IDS[kind]}), nl=False)


def _df_row(kind: str, total: int, active: int, size: int, reclaimable: int) -> dict:
    """docker's system df row: strings, RECLAIMABLE with its share (1.98MB (100%))."""
    from .render import human_size
    freed = human_size(reclaimable) + (f" ({100 * reclaimable // size}%)" if size else "")
    return {"Type": kind, "TotalCount": str(total), "Active": str(active), "Size": human_size(size),
            "Reclaimable": freed}


def _verbose_rows(kind: str, items: list) -> list[dict]:
    from .render import human_age, human_size, ps_fields
    if kind == "images":
        return [{"Repository": i.image.repository, "Tag": i.image.tag, "ID": i.image.id[:12],
                 "CreatedSince": human_age(i.image.created), "Size": human_size(i.image.size),
                 "SharedSize": human_size(i.shared), "UniqueSize": human_size(i.image.size - i.shared),
                 "Containers": str(i.containers)} for i in items]
    if kind == "containers":
        return [{**ps_fields(c.record, []), "LocalVolumes": str(c.volumes), "Size": human_size(c.size)}
                for c in items]
    return [{"Name": v.name, "Links": str(v.links), "Size": human_size(v.size)} for v in items]


def completion(shell: str = typer.Argument(..., metavar="bash|zsh|fish", help="The shell to complete for.")):
    """Print a shell completion script: commands, flags, container, image, volume and
    network names.  Load it with: source <(pyctr completion bash).

    Example: pyctr completion bash > /etc/bash_completion.d/pyctr
    """
    from ..engine.errors import UsageError
    from .completion import script
    if shell not in ("bash", "zsh", "fish"):
        raise UsageError(f"unsupported shell {shell!r}: bash, zsh or fish")
    from .commands import click_command
    typer.echo(script(shell, click_command()), nl=False)


def system_server(
    idle: Optional[float] = typer.Option(None, "--idle", help="Seconds without a command before it leaves "
                                                             "(default: <root>/pyctr.toml's server_idle, else 60)."),
    stop: bool = typer.Option(False, "--stop", help="Ask the running one to leave, and wait until it has."),
    on_demand: bool = typer.Option(False, "--on-demand", hidden=True, help="Started by a client (quietly)."),
):
    """Run the warm pyctr process in the foreground: an interpreter with every module
    imported that forks a worker per `pyctr` command, so commands skip Python's start-up.
    The `pyctr` command starts one on its own when none runs (PYCTR_NO_SERVER=1, or
    `server = false` in <root>/pyctr.toml, turn that off); it holds no state and leaves
    after --idle seconds.  Takes systemd's socket (LISTEN_FDS) when socket-activated.

    Example: pyctr system server --stop
    """
    from . import server
    from .commands import State
    if stop:
        if not server.stop(State.paths):
            typer.echo("pyctr: no warm pyctr process was running", err=True)
        return
    raise typer.Exit(server.serve(State.paths, idle, on_demand))


def register(app: typer.Typer) -> None:
    """info and completion on the main app, and the `system` group."""
    app.command()(info)
    app.command()(completion)
    system = typer.Typer(help="Manage pyctr: disk use, facts, prune.\n\nExample: pyctr system df",
                         no_args_is_help=True)
    system.command("df")(system_df)
    system.command("info")(info)
    system.command("prune")(system_prune)
    system.command("server")(system_server)
    app.add_typer(system, name="system")
