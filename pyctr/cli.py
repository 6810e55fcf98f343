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
    rm: bool = typer.Option(False, "--rm", help="Remove the container when it exits."),
    entrypoint: Optional[str] = typer.Option(None, "--entrypoint", help="Override the image's entrypoint."),
):
    """Run a command in a new container.

    Example: pyctr run --rm -ti busybox sh
    """
    from . import containers
    from .spec import RunOptions
    opts = RunOptions(image=image, command=command or [], name=name, env=env or [],
                      env_files=env_file or [], workdir=workdir, hostname=hostname, tty=tty,
                      interactive=interactive, remove=rm, entrypoint=entrypoint)
    raise typer.Exit(containers.run(State.paths, _store(), opts))


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
