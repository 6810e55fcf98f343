"""The image commands: images, rmi, tag, history, `image inspect|prune|ls|rm`, and the
ways images come and go (pull, save, load, import, export, commit)."""

import json
import sys
from typing import List, Optional

import typer

from . import render


def _context():
    from .commands import State, _store
    return State.paths, _store()


def images(
    reference: Optional[str] = typer.Argument(None, metavar="[REPOSITORY[:TAG]]", help="Only these (a pattern)."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only show image ids."),
    all_: bool = typer.Option(False, "-a", "--all", help="Show all images (pyctr keeps no intermediate ones)."),
    digests: bool = typer.Option(False, "--digests", help="Show the digests images were pulled by."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not shorten ids (sha256:...)."),
    filters: Optional[List[str]] = typer.Option(None, "-f", "--filter",
                                                help="KEY=VALUE, repeatable: dangling=true|false, label, "
                                                     "reference=GLOB, before=IMAGE, since=IMAGE."),
    fmt: Optional[str] = typer.Option(None, "--format",
                                      help="'json': one object per line, docker's keys; or a Go template: "
                                           "'{{.Repository}}:{{.Tag}}', 'table {{.ID}}\\t{{.Size}}'."),
):
    """List images.

    Example: pyctr images --filter reference='my*' --format '{{.ID}} {{.Tag}}'
    """
    from ..engine import filters as chosen
    paths, store = _context()
    records = chosen.images(paths, store, store.list_images(),
                            [*(filters or []), *((f"reference={reference}",) if reference else ())])
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
            typer.echo(render.json_line(row))
    elif fmt and fmt != "table":
        from .template import formatted
        typer.echo(formatted(fmt, rows, {"ID": "IMAGE ID", "CreatedSince": "CREATED"}), nl=False)
    else:
        render.print_table(render.images_table(rows, digests))


def _image_row(store, image, no_trunc: bool) -> dict:
    """docker's fields of an `images` row; sizes as its texts (Size: 3 digits, VirtualSize: 4)."""
    digests = [d for r, d in store.image_digests(image.id) if r == image.repository]
    return {"Containers": "N/A", "CreatedAt": render.docker_time(image.created),
            "CreatedSince": render.human_age(image.created), "Digest": digests[0] if digests else "<none>",
            "ID": f"sha256:{image.id}" if no_trunc else image.id[:12], "Repository": image.repository,
            "SharedSize": "N/A", "Size": render.human_size(image.size), "Tag": image.tag, "UniqueSize": "N/A",
            "VirtualSize": render.human_size(image.size, precision=4)}


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


def tag(source: str = typer.Argument(..., metavar="SOURCE_IMAGE[:TAG]", help="An image, by name or id."),
        target: str = typer.Argument(..., metavar="TARGET_IMAGE[:TAG]", help="The new name.")):
    """Give an image another name.

    Example: pyctr tag busybox mybox:1
    """
    from ..engine import images as store_images
    paths, store = _context()
    store_images.tag(paths, store, source, target)


def history(
    ref: str = typer.Argument(..., metavar="IMAGE", help="An image, by name or id."),
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


def image_inspect(refs: List[str] = typer.Argument(..., metavar="IMAGE...", help="Images, by name or id.")):
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


def save(
    refs: List[str] = typer.Argument(..., metavar="IMAGE...", help="Images, by name or id."),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="Write to a file, not stdout."),
    fmt: str = typer.Option("docker-archive", "--format", help="docker-archive, oci-archive or oci-dir."),
):
    """Save images into one archive (docker's format, or OCI's), with their layers.

    Example: pyctr save -o mybox.tar mybox:1
    """
    from ..engine import archives
    from ..engine.errors import PyctrError
    from ..images.archive import FORMATS
    if fmt not in FORMATS:
        raise PyctrError(f"unknown archive format {fmt!r}: {', '.join(FORMATS)}")
    from ..engine.images import Adding
    paths, store = _context()
    with Adding(paths):  # as what adds: rmi waits, so no blob goes while it is read
        chosen = archives.to_save(paths, store, refs)
        if fmt == "oci-dir":
            if not output:
                raise PyctrError("--format oci-dir needs -o DIRECTORY")
            archives.save(paths, store, chosen, output, fmt)
            return
        fd = archives.output_fd(output)
        with open(fd, "wb", closefd=fd != sys.stdout.fileno()) as out:
            archives.save(paths, store, chosen, out, fmt)


def load(
    input_: Optional[str] = typer.Option(None, "-i", "--input", help="Read from a file (or OCI directory), not stdin."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Say nothing."),
    platform: Optional[str] = typer.Option(None, "--platform", help="OS/ARCH or OS/ARCH/VARIANT, from an OCI index."),
):
    """Load images from an archive made by save (pyctr's, docker's, podman's, skopeo's).

    Example: pyctr load -i mybox.tar
    """
    from ..engine import archives
    paths, store = _context()
    say = (lambda line: None) if quiet else typer.echo
    if input_ and input_ != "-":
        archives.load(paths, store, input_, platform, say)
        return
    if sys.stdin.isatty():
        from ..engine.errors import PyctrError
        raise PyctrError("requested load from stdin, but stdin is empty (a terminal): use -i FILE")
    with _spooled_stdin(paths) as path:
        archives.load(paths, store, path, platform, say)


class _spooled_stdin:
    """stdin copied into a file on the store's filesystem (an archive is read out of
    order), removed afterwards."""

    def __init__(self, paths):
        import os
        os.makedirs(paths.under_root("tmp"), mode=0o700, exist_ok=True)
        self.path = os.path.join(paths.under_root("tmp"), f"load-{os.getpid()}-{os.urandom(6).hex()}")

    def __enter__(self) -> str:
        import shutil
        with open(self.path, "xb") as f:
            shutil.copyfileobj(sys.stdin.buffer, f, 1 << 20)
        return self.path

    def __exit__(self, *exc) -> bool:
        import os
        os.unlink(self.path)
        return False


def import_(
    source: str = typer.Argument(..., metavar="FILE|-", help="A tar of a root filesystem (gzip or not)."),
    ref: Optional[str] = typer.Argument(None, metavar="[REPOSITORY[:TAG]]", help="A name for the image."),
    change: Optional[List[str]] = typer.Option(None, "-c", "--change", help="A Dockerfile instruction: CMD, ENV, ..."),
    message: str = typer.Option("", "-m", "--message", help="A comment for the image's history."),
):
    """Make an image of one layer from a tar of a root filesystem.

    Example: pyctr import rootfs.tar myimg:1
    """
    from ..engine import archives
    paths, store = _context()
    if source == "-":
        image = archives.import_rootfs(paths, store, sys.stdin.buffer, ref, change or [], message, "from stdin")
    else:
        try:
            f = open(source, "rb")
        except OSError as e:
            from ..engine.errors import PyctrError
            raise PyctrError(f"cannot open {source}: {e.strerror}") from None
        with f:
            image = archives.import_rootfs(paths, store, f, ref, change or [], message, source)
    typer.echo(f"sha256:{image.id}")


def pull(
    ref: str = typer.Argument(..., metavar="NAME[:TAG|@DIGEST]", help="The image to pull: busybox, host:port/repo:tag."),
    platform: Optional[str] = typer.Option(None, "--platform", help="OS/ARCH or OS/ARCH/VARIANT, from a manifest list."),
    tls_verify: str = typer.Option("true", "--tls-verify", help="false: allow unverified TLS and plain HTTP."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only the image's name."),
):
    """Pull an image from a registry: layers in parallel, every digest verified.

    Example: pyctr pull localhost:5000/library/debian:bookworm
    """
    from ..engine import pull as puller
    from ..engine.errors import PyctrError
    if tls_verify.lower() not in ("true", "false", "1", "0"):
        raise PyctrError(f"--tls-verify takes true or false, not {tls_verify!r}")
    paths, store = _context()
    report = render.PullReport(quiet)
    try:
        image = puller.pull(paths, store, ref, platform, tls_verify.lower() in ("true", "1"), report)
    finally:
        report.close()
    name = f"{image.repository}:{image.tag}" if image.tag else image.repository
    if not quiet:
        typer.echo(f"Digest: {report.digest}")
        typer.echo(f"Status: Downloaded newer image for {name}" if report.fetched else
                   f"Status: Image is up to date for {name}")
    typer.echo(name)


def register(app: typer.Typer) -> None:
    """Adds the image commands to the CLI, and the `image` group."""
    for function, name in ((images, "images"), (rmi, "rmi"), (tag, "tag"), (history, "history"), (save, "save"),
                           (load, "load"), (import_, "import"), (pull, "pull")):
        app.command(name)(function)
    group = typer.Typer(help="Manage images.\n\nExample: pyctr image ls", no_args_is_help=True)
    for function, name in ((images, "ls"), (rmi, "rm"), (tag, "tag"), (history, "history"),
                           (image_inspect, "inspect"), (image_prune, "prune"), (save, "save"), (load, "load"),
                           (import_, "import"), (pull, "pull")):
        group.command(name)(function)
    app.add_typer(group, name="image")
