"""`info`, `system info`, `system prune` (the `system` group is image_commands', which
has `system df`) and `completion`."""

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


def completion(shell: str = typer.Argument(..., metavar="bash|zsh|fish", help="The shell to complete for.")):
    """Print a shell completion script: commands, flags, container, image, volume and
    network names.  Load it with: source <(pyctr completion bash).

    Example: pyctr completion bash > /etc/bash_completion.d/pyctr
    """
    from ..engine.errors import PyctrError
    from .completion import script
    if shell not in ("bash", "zsh", "fish"):
        raise PyctrError(f"unsupported shell {shell!r}: bash, zsh or fish")
    from typer.main import get_command

    from .commands import app
    typer.echo(script(shell, get_command(app)), nl=False)


def register(app: typer.Typer) -> None:
    """info and completion on the main app; info and prune in the `system` group."""
    app.command()(info)
    app.command()(completion)
    for group in app.registered_groups:
        if group.name == "system":
            group.typer_instance.command("info")(info)
            group.typer_instance.command("prune")(system_prune)
