"""Entry point: runs the CLI and turns every failure into one line and docker's exit code."""

import os
import sys


def main(argv=None) -> int:
    import typer

    from .cli import app
    from .errors import ENGINE_ERROR, PyctrError
    from .render import print_error
    try:
        # Outside standalone mode typer returns the code of a `typer.Exit` instead of
        # raising it.
        rc = app(args=argv, standalone_mode=False, prog_name="pyctr")
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


if __name__ == "__main__":
    sys.exit(main())
