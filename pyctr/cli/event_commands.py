"""`pyctr events`: thin, over engine/events.py."""

import json
import signal
import sys
from typing import List, Optional

import typer


def events(
    since: Optional[str] = typer.Option(None, "--since", help="Show events since a time: 2026-12-02T09:40:00, "
                                                              "Unix seconds, or 10m (ago)."),
    until: Optional[str] = typer.Option(None, "--until", help="Stop at a time (same forms); without it, "
                                                              "follow until interrupted."),
    filters: Optional[List[str]] = typer.Option(None, "-f", "--filter",
                                                help="KEY=VALUE: container, event, type, image, label, network, "
                                                     "volume (repeatable: one key's values ORed, keys ANDed)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="'json' (one object per line), or a Go template: "
                                                             "'{{.Action}} {{.Actor.Attributes.name}}'."),
):
    """Show what happens to containers, images, networks and volumes (create, start, die,
    destroy, pull, ...): those since --since, then new ones as they come, until --until
    passes or ^C.

    Example: pyctr events --since 10m --filter container=web --filter event=die
    """
    from ..engine import event_stream as log
    from ..engine.store import Store
    from .commands import State
    parsed = log.parse_filters(filters or [])
    since_ns = log.parse_time(since) if since is not None else None
    until_ns = log.parse_time(until) if until is not None else None
    show = _shower(fmt)
    # SIGINT too: Python leaves it ignored when it started so (a shell's `&` without job
    # control), and ^C or a kill -INT must end a stream all the same
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)
    try:
        for event in log.stream(Store(State.paths.db), since_ns, until_ns, parsed):
            sys.stdout.write(show(event))
            sys.stdout.flush()
    except (KeyboardInterrupt, BrokenPipeError):  # ^C, kill, or a reader gone (| head): the end
        _quiet_exit()


def _shower(fmt: str | None):
    """The function that turns an event into its output line(s), as --format asks."""
    from ..engine import event_stream as log
    from ..engine.errors import PyctrError
    if fmt is None or fmt == "":  # a label or name is the container's choice: no escape reaches the terminal
        from .render import printable
        return lambda event: printable(log.line(event)) + "\n"
    if fmt == "json":
        return lambda event: json.dumps(event, separators=(",", ":")) + "\n"
    from .template import TemplateError, format_rows, parse
    try:
        parse(fmt.replace("\\t", "\t").replace("\\n", "\n"))
    except TemplateError as e:  # docker: 64 for a format it cannot parse
        raise PyctrError(f"Error parsing format: {e}", exit_code=64) from None

    headed = []

    def show(event) -> str:
        try:
            text = format_rows(fmt, [log.for_template(event)])
        except TemplateError as e:
            raise PyctrError(f"template {fmt!r}: {e}") from None
        if fmt.startswith("table"):  # a stream: the header once, each row aligned with it
            if headed:
                text = text.split("\n", 1)[1]
            headed.append(True)
        return text
    return show


def _interrupted(signum, frame):
    raise KeyboardInterrupt


def _quiet_exit():
    """Exit 0 with nothing more said, whatever state stdout is in."""
    import os
    try:
        sys.stdout.flush()
    except OSError:
        pass
    # a reader gone: the interpreter's own flush at exit must not complain
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    raise typer.Exit(0)


def register(app: typer.Typer) -> None:
    """`events` on the main app."""
    app.command("events")(events)
