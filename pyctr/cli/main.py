"""The `pyctr` command's entry: the lean path when it can read the command line, else the
typer CLI; every failure becomes one line on stderr and docker's exit code."""

import os
import sys


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    # pyctr's own, not the caller's: the modes of what it makes must not depend on it
    # (state it keeps private is made 0600/0700 explicitly; shared files get 0644/0755)
    os.umask(0o022)
    if sys.stdin is None or sys.stdout is None or sys.stderr is None:
        _reopen_std_fds()
    if args in (["--version"], ["-v"]):  # docker's one line
        from .. import __version__
        print(f"pyctr version {__version__}")
        return 0
    if args[:1] == ["runtime"]:  # pyctr-runtime's command line (runc's), no typer
        from ..runtime.oci.main import main as runtime_main
        return runtime_main(args[1:])
    if _on_demand_server(args):  # started by a client: no typer before the lock says it is wanted
        from . import fast, flags, server
        return server.serve(flags.paths(fast.parse_globals(args)[0]), on_demand=True)
    if args[:1] == ["__complete"]:  # a shell's TAB: no typer (completion.py)
        from .completion import main as complete
        return complete(args[1:])
    from ..engine.errors import ENGINE_ERROR, PyctrError, verb_exit_code
    from ..runtime.errors import RuntimeFailure
    try:
        from .fast import dispatch
        rc = dispatch(args)
        return _typer_main(args) if rc is None else rc
    except PyctrError as e:
        from .render import print_failure  # render: only where there is something to say
        print_failure(e)
        return verb_exit_code(_verb(args), e.exit_code, e.usage)
    except RuntimeFailure as e:  # what the runtime refused
        from .render import print_failure
        print_failure(e)
        return verb_exit_code(_verb(args), ENGINE_ERROR)
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        from ..images.image import ImageError  # loaded here: most commands need no image
        from ..network.errors import NetworkError
        from .render import print_error, print_failure
        if isinstance(e, (ImageError, NetworkError)):  # what the images or networks refused
            print_failure(e)
        elif os.environ.get("PYCTR_DEBUG"):
            raise
        else:
            print_error(f"internal error: {type(e).__name__}: {e}")
        return verb_exit_code(_verb(args), ENGINE_ERROR)


def _on_demand_server(args: list[str]) -> bool:
    """`[globals] system server --on-demand`, as the C client starts the warm process."""
    return args[-3:] == ["system", "server", "--on-demand"] and _verb(args[:-2]) == "system"


def _reopen_std_fds() -> None:
    """/dev/null for each of fds 0-2 the caller closed (`<&-`, `>&-`: Python then sets
    sys.stdin ... to None).  Else the first file pyctr opens takes the number: `run -i`
    read its own pipe as its stdin and hung, and output could land in the store's database."""
    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        if getattr(sys, name) is None:
            opened = os.open(os.devnull, os.O_RDWR)
            if opened != fd:
                os.dup2(opened, fd)
                os.close(opened)
            setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False))


def _verb(args: list[str]) -> str | None:
    """The command a command line names, after the global options (`container run` is
    `run`); None when there is none."""
    from .fast import GLOBAL
    i = 0
    while i < len(args) and args[i].split("=", 1)[0] in GLOBAL:
        i += 1 if "=" in args[i] else 2
    rest = args[i:]
    if rest[:1] == ["container"]:
        rest = rest[1:]
    return rest[0] if rest else None


def _typer_main(args: list[str]) -> int:
    import typer

    from ..engine.errors import ENGINE_ERROR
    from .commands import click_command
    from .render import print_error
    try:
        # Outside standalone mode typer returns the code of a `typer.Exit` instead of
        # raising it.
        rc = click_command()(args=args, standalone_mode=False, prog_name="pyctr")
        return rc if isinstance(rc, int) else 0
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:
        return 130
    except typer.TyperException as e:  # bad flags and arguments: docker says 125
        if not e.format_message():  # `pyctr` alone: help was shown, as docker does
            return 0
        from .usage import reworded
        print_error(reworded(e))
        return ENGINE_ERROR
