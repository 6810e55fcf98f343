"""The container verbs docker has beyond run/start/stop: create, rename, pause, unpause,
and the `container` group (prune, and docker's `container ls|rm|start|...` spellings of
the top-level verbs)."""

import sys
from typing import List, Optional

import typer

from . import flags


def _context():
    from .commands import State, _store
    return State.paths, _store()


def create(values):
    """Create a container without starting it (status Created) and print its id; `start`
    runs it.  Takes run's flags.

    Example: pyctr create --name web -e MODE=1 busybox httpd -f -p 80
    """
    from ..engine import create as making
    from ..engine.errors import ImageNotFound
    from ..engine.store import Store
    from .commands import State
    from .fast import _pull_for_run
    paths = State.paths
    opts = flags.run_options(values, values["image"], values["command"] or [])
    try:
        record = making.make(paths, Store(paths.db), opts)
    except ImageNotFound:
        _pull_for_run(paths, values["image"])  # as docker: a missing image is pulled first
        record = making.make(paths, Store(paths.db), opts)
    typer.echo(record.id)


def rename(
    old: str = typer.Argument(..., metavar="CONTAINER", help="The container, by name or id."),
    new: str = typer.Argument(..., metavar="NEW_NAME", help="Its new name."),
):
    """Rename a container, running or not.

    Example: pyctr rename web web-old
    """
    from ..engine.rename import rename as rename_container
    rename_container(*_context(), old, new)


def pause(names: List[str] = typer.Argument(..., metavar="CONTAINER...", help="Running containers to freeze.")):
    """Freeze every process of containers (the cgroup freezer) until unpause.

    Example: pyctr pause web
    """
    _each(names, "pause")


def unpause(names: List[str] = typer.Argument(..., metavar="CONTAINER...", help="Paused containers to thaw.")):
    """Thaw paused containers.

    Example: pyctr unpause web
    """
    _each(names, "unpause")


def _each(names: list[str], verb: str) -> None:
    """`verb` (pause.pause or pause.unpause) on each container: its name printed, or its
    error, and exit 1 if any failed (as docker)."""
    from ..engine import pause as freezer
    from ..engine.errors import PyctrError
    from .render import print_failure
    paths, store = _context()
    failed = 0
    for name in names:
        try:
            getattr(freezer, verb)(paths, store, name)
            typer.echo(name)
        except PyctrError as e:
            print_failure(e)
            failed = 1
    raise typer.Exit(failed)


def confirm(warning: str) -> bool:
    """docker's question before a prune: on a terminal and from a pipe alike, a line read
    from stdin; y or yes goes on, anything else (end of input too) does not."""
    sys.stdout.write(f"{warning}\nAre you sure you want to continue? [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):
        sys.stdout.write("\n")
    return answer.strip().lower() in ("y", "yes")


def show_pruned(pruned) -> None:
    """docker's report of a prune: each kind's removed ids, then the space freed."""
    from .render import human_size, print_error
    for title, items, prefix in (("Deleted Containers:", pruned.containers, ""),
                                 ("Deleted Networks:", pruned.networks, ""),
                                 ("Deleted Volumes:", pruned.volumes, ""),
                                 ("Deleted Images:", pruned.images, "deleted: sha256:")):
        if items:
            typer.echo(title)
            for item in items:
                typer.echo(prefix + item)
            typer.echo("")
    for warning in pruned.warnings:
        print_error(f"warning: {warning}")
    typer.echo(f"Total reclaimed space: {human_size(pruned.freed)}")


def container_prune(
    force: bool = typer.Option(False, "-f", "--force", help="Do not ask for confirmation."),
    filters: Optional[List[str]] = typer.Option(None, "--filter",
                                                help="until=24h (made before), label=KEY[=VALUE], label!=KEY[=VALUE]."),
):
    """Remove every stopped container (created or exited).

    Example: pyctr container prune -f --filter until=24h
    """
    from ..engine.prune import parse_filters, prune_containers
    parse_filters(filters or [])  # a bad filter fails before the question
    if not force and not confirm("WARNING! This will remove all stopped containers."):
        raise typer.Exit(0)
    show_pruned(prune_containers(*_context(), filters or []))


# docker's `container SUBCOMMAND` spellings of the top-level verbs: one table
ALIASES = {"ls": "ps", "list": "ps", "ps": "ps", "rm": "rm", "remove": "rm", "start": "start", "stop": "stop",
           "restart": "restart", "kill": "kill", "wait": "wait", "inspect": "inspect", "logs": "logs",
           "exec": "exec", "run": "run", "create": "create", "rename": "rename", "pause": "pause",
           "unpause": "unpause", "top": "top", "attach": "attach", "stats": "stats", "update": "update",
           "port": "port", "diff": "diff", "cp": "cp", "export": "export", "commit": "commit"}


def register(app: typer.Typer) -> None:
    """create, rename, pause, unpause on the main app, and the `container` group (after
    every other command is registered: it aliases them)."""
    from .commands import from_table
    app.command(context_settings={"allow_interspersed_args": False})(
        from_table(create, [f for f in flags.RUN if f.field not in flags.CLI_ONLY], flags.RUN_ARGUMENTS))
    for command in (rename, pause, unpause):
        app.command()(command)
    group = typer.Typer(name="container", no_args_is_help=True,
                        help="Manage containers: prune, and ls, rm, start, ... as the top-level verbs."
                             "\n\nExample: pyctr container ls -a")
    group.command("prune")(container_prune)
    known = {info.name or info.callback.__name__.lower().replace("_", "-"): info for info in app.registered_commands}
    for alias, name in ALIASES.items():
        info = known.get(name)
        if info is not None:
            group.command(alias, context_settings=info.context_settings)(info.callback)
    app.add_typer(group, name="container")
