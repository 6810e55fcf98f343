"""A container's files: diff, cp, export, and commit (its changes as a new image)."""

from typing import List, Optional

import typer


def _context():
    from .commands import State, _store
    return State.paths, _store()


def diff(name: str = typer.Argument(..., metavar="CONTAINER", help="A container, running or not.")):
    """The files a container added (A), changed (C) or deleted (D) against its image.

    Example: pyctr diff c1
    """
    from ..engine import commit as changes
    from .render import printable
    paths, store = _context()
    for kind, path in changes.diff(paths, store, name):
        typer.echo(f"{kind} {printable(path)}")


def commit(
    name: str = typer.Argument(..., metavar="CONTAINER", help="The container whose files make the image."),
    ref: Optional[str] = typer.Argument(None, metavar="[REPOSITORY[:TAG]]", help="A name for the new image."),
    change: Optional[List[str]] = typer.Option(None, "-c", "--change", help="A Dockerfile instruction: CMD, ENV, ..."),
    message: str = typer.Option("", "-m", "--message", help="A comment for the image's history."),
    author: str = typer.Option("", "-a", "--author", help='The author, e.g. "Jane <jane@example.org>".'),
    pause: bool = typer.Option(True, "-p/--pause", " /--no-pause", help="Freeze the container while it is read."),
):
    """Make a new image of a container's changes: one layer over its image's.

    Example: pyctr commit -c 'CMD ["cat","/etc/motd"]' c1 mybox:1
    """
    from ..engine import commit as changes
    paths, store = _context()
    image = changes.commit(paths, store, name, ref, change or [], message, author, pause)
    typer.echo(f"sha256:{image.id}")


def cp(
    source: str = typer.Argument(..., metavar="SRC", help="CONTAINER:PATH, a host path, or - (a tar on stdin)."),
    dest: str = typer.Argument(..., metavar="DEST", help="CONTAINER:PATH, a host path, or - (a tar on stdout)."),
):
    """Copy files between a container and the host.

    Example: pyctr cp c1:/etc/motd .
    """
    from ..engine import copy
    from ..engine.errors import PyctrError
    paths, store = _context()
    (src_ctr, src_path), (dst_ctr, dst_path) = copy.split(source), copy.split(dest)
    if bool(src_ctr) == bool(dst_ctr):
        raise PyctrError("copying between containers or host paths is not supported: one of SRC and DEST must be"
                         " CONTAINER:PATH")
    if src_ctr:
        copy.copy_out(paths, store, src_ctr, src_path, dst_path)
    else:
        copy.copy_in(paths, store, src_path, dst_ctr, dst_path)


def export(
    name: str = typer.Argument(..., metavar="CONTAINER", help="The container whose filesystem to export."),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="Write to a file, not stdout."),
):
    """A container's files as a tar (its mounts left out).

    Example: pyctr export c1 > c1.tar
    """
    import sys

    from ..engine import archives
    paths, store = _context()
    fd = archives.output_fd(output)
    try:
        archives.export(paths, store, name, fd)
    finally:
        if fd != sys.stdout.fileno():
            import os
            os.close(fd)


def register(app: typer.Typer) -> None:
    for function in (diff, commit, cp, export):
        app.command(function.__name__)(function)
