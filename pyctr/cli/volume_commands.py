"""`pyctr volume create|ls|inspect|rm|prune`: thin, over engine/volumes.py."""

import json
from typing import List, Optional

import typer

from . import render


def _context():
    from ..engine.store import Store
    from .commands import State
    return State.paths, Store(State.paths.db)


def create(
    name: Optional[str] = typer.Argument(None, metavar="[VOLUME]", help="Its name (default: a random one)."),
    labels: Optional[List[str]] = typer.Option(None, "--label", "-l", help="KEY=VALUE metadata (repeatable)."),
    driver: str = typer.Option("local", "-d", "--driver", help="Volume driver: only local."),
):
    """Create a volume (an existing one of that name is kept).

    Example: pyctr volume create --label team=web cache
    """
    from ..engine import volumes
    typer.echo(volumes.create(*_context(), name, labels or [], driver))


def _dangling(filters: list[str]) -> bool | None:
    from ..engine.errors import PyctrError
    dangling = None
    for text in filters:
        key, _, value = text.partition("=")
        if key != "dangling" or value.lower() not in ("true", "false", "1", "0"):
            raise PyctrError(f"invalid filter '{text}': only dangling=true|false is supported")
        dangling = value.lower() in ("true", "1")
    return dangling


def ls(
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only show volume names."),
    fmt: Optional[str] = typer.Option(None, "--format",
                                      help="'json' (inspect objects), or a Go template: '{{.Name}}'."),
    filters: Optional[List[str]] = typer.Option(None, "-f", "--filter", help="dangling=true: only unused volumes."),
):
    """List volumes.

    Example: pyctr volume ls --filter dangling=true
    """
    from ..engine import volumes
    paths, store = _context()
    records = volumes.listing(store, _dangling(filters or []))
    if quiet:
        for volume in records:
            typer.echo(volume.name)
    elif fmt == "json":
        typer.echo(json.dumps([volumes.inspect(paths, store, v.name) for v in records], indent=2))
    elif fmt:
        from .template import formatted
        typer.echo(formatted(fmt, [volumes.inspect(paths, store, v.name) for v in records],
                             {"Name": "VOLUME NAME"}), nl=False)
    else:
        from rich.table import Table
        table = Table(box=None, header_style="bold", pad_edge=False)
        table.add_column("DRIVER")
        table.add_column("VOLUME NAME")
        for volume in records:
            table.add_row(volume.driver, render.printable(volume.name))
        render.print_table(table)


def inspect(names: List[str] = typer.Argument(..., metavar="VOLUME...", help="Volumes to describe.")):
    """Describe volumes as JSON: Name, Driver, Mountpoint, CreatedAt, Labels, Scope.

    Example: pyctr volume inspect cache
    """
    from ..engine import volumes
    paths, store = _context()
    typer.echo(json.dumps([volumes.inspect(paths, store, n) for n in names], indent=2))


def rm(
    names: List[str] = typer.Argument(..., metavar="VOLUME...", help="Volumes to remove."),
    force: bool = typer.Option(False, "-f", "--force", help="No error for a volume that does not exist."),
):
    """Remove volumes no container uses (a stopped container still uses its volumes).

    Example: pyctr volume rm cache
    """
    from ..engine import volumes
    from ..engine.errors import PyctrError
    paths, store = _context()
    failed = 0
    for name in names:
        try:
            volumes.remove(paths, store, name, force)
            typer.echo(name)
        except PyctrError as e:
            render.print_failure(e)
            failed = 1
    raise typer.Exit(failed)


def prune(
    force: bool = typer.Option(False, "-f", "--force", help="Do not ask for confirmation."),
    all_: bool = typer.Option(False, "-a", "--all", help="Named volumes too, not only anonymous ones."),
):
    """Remove the volumes no container uses: anonymous ones (with -a, named ones too).

    Example: pyctr volume prune -f
    """
    from ..engine import volumes
    if not force and not typer.confirm("WARNING! This will remove anonymous local volumes not used by at least "
                                       "one container.\nAre you sure you want to continue?"):
        raise typer.Exit(0)
    removed, freed = volumes.prune(*_context(), all_)
    if removed:
        typer.echo("Deleted Volumes:")
        for name in removed:
            typer.echo(name)
        typer.echo("")
    typer.echo(f"Total reclaimed space: {render.human_size(freed)}")


def register(app: typer.Typer) -> None:
    """The `volume` group on the main app."""
    group = typer.Typer(name="volume", no_args_is_help=True,
                        help="Manage volumes: kept at <root>/volumes/NAME/_data.\n\nExample: pyctr volume ls")
    for command in (create, ls, inspect, rm, prune):
        group.command(command.__name__)(command)
    app.add_typer(group, name="volume")
