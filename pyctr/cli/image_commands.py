"""The image commands: images, rmi, tag, history, `image inspect|prune|ls|rm`, `system df`,
and the ways images come and go (pull, save, load, import, export, commit)."""

import json
import sys
from typing import List, Optional

import typer

from . import render


def _context():
    from .commands import State, _store
    return State.paths, _store()


def images(
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only show image ids."),
    all_: bool = typer.Option(False, "-a", "--all", help="Show all images (pyctr keeps no intermediate ones)."),
    digests: bool = typer.Option(False, "--digests", help="Show the digests images were pulled by."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not shorten ids."),
    fmt: Optional[str] = typer.Option(None, "--format", help="'json': one object per line, docker's keys."),
):
    """List images.

    Example: pyctr images
    """
    paths, store = _context()
    records = store.list_images()
    if quiet:
        seen = []
        for image in records:
            shown = f"sha256:{image.id}" if no_trunc else image.id[:12]
            if shown not in seen:
                seen.append(shown)
        for shown in seen:
            typer.echo(shown)
        return
    rows = [_image_row(store, image, no_trunc) for image in records]
    if fmt == "json":
        for row in rows:
            typer.echo(json.dumps(row))
    elif fmt:
        raise typer.BadParameter(f"unsupported format {fmt!r}: only 'json'")
    else:
        render.print_table(render.images_table(rows, digests))


def _image_row(store, image, no_trunc: bool) -> dict:
    digests = [d for r, d in store.image_digests(image.id) if r == image.repository]
    return {"Repository": image.repository, "Tag": image.tag,
            "ID": f"sha256:{image.id}" if no_trunc else image.id[:12],
            "Digest": digests[0] if digests else "<none>",
            "CreatedAt": render.docker_time(image.created), "CreatedSince": render.human_age(image.created),
            "Size": render.human_size(image.size), "created": image.created}


def rmi(
    refs: List[str] = typer.Argument(..., metavar="IMAGE...", help="Images to remove."),
    force: bool = typer.Option(False, "-f", "--force", help="Remove an image other names or containers have."),
):
    """Remove images; a layer goes when no image has it any more.

    Example: pyctr rmi mybox:1
    """
    from ..engine import images as store_images
    from ..engine.errors import PyctrError
    paths, store = _context()
    failed = 0
    for ref in refs:
        try:
            for line in store_images.remove(paths, store, ref, force):
                typer.echo(line)
        except PyctrError as e:
            render.print_failure(e)
            failed = 1
    raise typer.Exit(failed)


def tag(source: str = typer.Argument(..., metavar="SOURCE_IMAGE[:TAG]"),
        target: str = typer.Argument(..., metavar="TARGET_IMAGE[:TAG]")):
    """Give an image another name.

    Example: pyctr tag busybox mybox:1
    """
    from ..engine import images as store_images
    paths, store = _context()
    store_images.tag(paths, store, source, target)


def history(
    ref: str = typer.Argument(..., metavar="IMAGE"),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not shorten ids and steps."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only show ids."),
    fmt: Optional[str] = typer.Option(None, "--format", help="'json': one object per line."),
):
    """The steps an image was made by, newest first.

    Example: pyctr history mybox:1
    """
    from ..engine import images as store_images
    paths, store = _context()
    rows = store_images.history(store, store_images.find(paths, store, ref))
    if quiet:
        for row in rows:
            typer.echo(row["id"] if no_trunc or row["id"] == "<missing>" else row["id"][7:19])
        return
    if fmt == "json":
        for row in rows:
            typer.echo(json.dumps(row))
        return
    render.print_table(render.history_table(rows, no_trunc))


def image_inspect(refs: List[str] = typer.Argument(..., metavar="IMAGE...")):
    """Describe images as JSON, in docker's shape.

    Example: pyctr image inspect busybox
    """
    from ..engine import images as store_images
    paths, store = _context()
    typer.echo(json.dumps([store_images.inspect(store, store_images.find(paths, store, r)) for r in refs], indent=4))


def image_prune(
    all_: bool = typer.Option(False, "-a", "--all", help="Every image no container uses, not only untagged ones."),
    force: bool = typer.Option(False, "-f", "--force", help="Do not ask."),
):
    """Remove images nothing names (with -a: that no container uses), and their layers.

    Example: pyctr image prune -af
    """
    from ..engine import images as store_images
    if not force and not _confirm("WARNING! This will remove all " + ("images without at least one container"
                                  " associated to them" if all_ else "dangling images") + "."):
        raise typer.Exit(1)
    paths, store = _context()
    deleted, freed = store_images.prune(paths, store, all_)
    if deleted:
        typer.echo("Deleted Images:")
        for image_id in deleted:
            typer.echo(f"deleted: sha256:{image_id}")
        typer.echo("")
    typer.echo(f"Total reclaimed space: {render.human_size(freed)}")


def _confirm(warning: str) -> bool:
    if not sys.stdin.isatty():
        return True  # as docker: a script that pipes nothing in is not asked
    return typer.confirm(f"{warning}\nAre you sure you want to continue?")


def system_df(verbose: bool = typer.Option(False, "-v", "--verbose", help="Per image.")):
    """Disk used by images (shared layers counted once), containers and volumes.

    Example: pyctr system df
    """
    from ..engine import images as store_images
    paths, store = _context()
    u = store_images.usage(paths, store)
    used = [i for i in u["images"] if i.id in u["in_use"]]
    unused_bytes = sum(i.size - u["shared"][i.id] for i in u["images"] if i.id not in u["in_use"])
    typer.echo(f"{'TYPE':<15}{'TOTAL':<10}{'ACTIVE':<10}{'SIZE':<12}RECLAIMABLE")
    typer.echo(f"{'Images':<15}{len(u['images']):<10}{len(used):<10}{render.human_size(u['total']):<12}"
               f"{render.human_size(unused_bytes)}")
    if verbose:
        typer.echo("\nREPOSITORY  TAG  IMAGE ID  SIZE  SHARED SIZE  UNIQUE SIZE")
        for i in u["images"]:
            typer.echo(f"{i.repository}  {i.tag}  {i.id[:12]}  {render.human_size(i.size)}  "
                       f"{render.human_size(u['shared'][i.id])}  {render.human_size(i.size - u['shared'][i.id])}")


def register(app: typer.Typer) -> None:
    """Adds the image commands to the CLI, and the `image` and `system` groups."""
    for function, name in ((images, "images"), (rmi, "rmi"), (tag, "tag"), (history, "history")):
        app.command(name)(function)
    group = typer.Typer(help="Manage images.\n\nExample: pyctr image ls", no_args_is_help=True)
    for function, name in ((images, "ls"), (rmi, "rm"), (tag, "tag"), (history, "history"),
                           (image_inspect, "inspect"), (image_prune, "prune")):
        group.command(name)(function)
    app.add_typer(group, name="image")
    system = typer.Typer(help="Manage pyctr's disk use.\n\nExample: pyctr system df", no_args_is_help=True)
    system.command("df")(system_df)
    app.add_typer(system, name="system")
