"""The registry commands `pyctr login` and `pyctr logout`: credentials checked against the
registry and kept in the docker-compatible auth file (images/auth.py)."""

import sys
from typing import Optional

import typer


def _auth_file() -> str:
    from ..images.auth import auth_file
    from .commands import State  # the global options, read when the command runs
    return auth_file(State.paths.root)


def _domain(text: str) -> str:
    """`https://host:5000/` as docker takes it: the host alone."""
    return text.split("://", 1)[-1].split("/", 1)[0]


def login(
    server: str = typer.Argument(..., metavar="SERVER", help="The registry: host[:port]."),
    username: Optional[str] = typer.Option(None, "-u", "--username", help="User name (asked when not given)."),
    password: Optional[str] = typer.Option(None, "-p", "--password",
                                           help="Password (visible to other users: prefer --password-stdin)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    tls_verify: str = typer.Option("true", "--tls-verify", metavar="BOOL",
                                   help="false: allow unverified TLS and plain HTTP (loopback registries may "
                                        "always be plain HTTP)."),
):
    """Log in to a registry: the credentials are checked, then kept 0600 in <root>/auth.json
    (or $REGISTRY_AUTH_FILE).

    Example: echo "$PASSWORD" | pyctr login -u me --password-stdin localhost:5000
    """
    from ..engine.errors import PyctrError
    from ..images import auth
    if password is not None and password_stdin:
        raise PyctrError("--password and --password-stdin are mutually exclusive")
    if password is not None:
        from .render import print_error
        print_error("warning: a password on the command line is visible to other users: use --password-stdin")
    if password_stdin:
        if not username:
            raise PyctrError("--password-stdin needs --username")
        password = sys.stdin.readline().rstrip("\r\n")
    if not username:
        username = typer.prompt("Username")
    if password is None:
        password = typer.prompt("Password", hide_input=True)
    if tls_verify.lower() not in ("true", "false"):
        raise PyctrError(f"--tls-verify: expected true or false, not {tls_verify!r}")
    auth.login(_auth_file(), _domain(server), username, password, tls_verify=tls_verify.lower() == "true")
    typer.echo("Login Succeeded!")


def logout(server: str = typer.Argument(..., metavar="SERVER", help="The registry: host[:port].")):
    """Log out of a registry: its credentials are removed from the auth file.

    Example: pyctr logout localhost:5000
    """
    from ..images import auth
    domain = _domain(server)
    auth.logout(_auth_file(), domain)
    typer.echo(f"Removed login credentials for {domain}")


def register(app: typer.Typer) -> None:
    app.command()(login)
    app.command()(logout)
