"""Entry point: runs the CLI and turns every failure into one line and docker's exit code.

`run` (and the monitor's `_cleanup`) take the lean path (fastcli.py) when it can read the
command line; everything else, and anything it is unsure of, goes to the typer CLI."""

import os
import sys


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    from .errors import ENGINE_ERROR, PyctrError
    from .render import print_error
    try:
        from .fastcli import dispatch
        rc = dispatch(args)
        return _typer_main(args) if rc is None else rc
    except PyctrError as e:
        print_error(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        if os.environ.get("PYCTR_DEBUG"):
            raise
        print_error(f"internal error: {type(e).__name__}: {e}")
        return ENGINE_ERROR


def _typer_main(args: list[str]) -> int:
    import typer

    from .cli import app
    from .errors import ENGINE_ERROR
    from .render import print_error
    try:
        # Outside standalone mode typer returns the code of a `typer.Exit` instead of
        # raising it.
        rc = app(args=args, standalone_mode=False, prog_name="pyctr")
        return rc if isinstance(rc, int) else 0
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:
        return 130
    except typer.TyperException as e:  # bad flags and arguments: docker says 125
        if not e.format_message():  # `pyctr` alone: help was shown, as docker does
            return 0
        print_error(e.format_message())
        return ENGINE_ERROR


if __name__ == "__main__":
    sys.exit(main())
