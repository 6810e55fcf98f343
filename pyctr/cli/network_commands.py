"""`pyctr network create|ls|inspect|rm|prune|connect|disconnect`: thin, over
engine/networks.py and engine/endpoints.py."""

import json
from typing import List, Optional

import typer

from . import render


def _context():
    from ..engine.store import Store
    from .commands import State
    return State.paths, Store(State.paths.db)


def _pairs(items: list[str], what: str) -> dict:
    from ..engine.errors import PyctrError
    pairs = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key or not eq:
            raise PyctrError(f"invalid {what} {item!r}: expected KEY=VALUE")
        pairs[key] = value
    return pairs


def create(
    name: str = typer.Argument(..., metavar="NETWORK", help="Its name."),
    subnet: Optional[str] = typer.Option(None, "--subnet", help="IPv4 subnet in CIDR form, e.g. 10.88.7.0/24."),
    gateway: Optional[str] = typer.Option(None, "--gateway", help="The bridge's address (default: the first)."),
    driver: str = typer.Option("bridge", "-d", "--driver", help="Network driver: only bridge."),
    labels: Optional[List[str]] = typer.Option(None, "--label", help="KEY=VALUE metadata (repeatable)."),
    options: Optional[List[str]] = typer.Option(None, "-o", "--opt",
                                                help="Driver option: mtu=N, com.docker.network.bridge.name=NAME."),
):
    """Create a bridge network: a Linux bridge, its gateway address and masquerading.

    Example: pyctr network create --subnet 10.88.7.0/24 appnet
    """
    from ..engine import networks
    paths, store = _context()
    network = networks.create(paths, store, name, subnet, gateway, driver, _pairs(labels or [], "label"),
                              _pairs(options or [], "option"))
    typer.echo(network.id)


def ls(
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only show network ids."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not shorten ids."),
    fmt: Optional[str] = typer.Option(None, "--format",
                                      help="'json' (inspect objects), or a Go template: '{{.Name}} {{.Subnet}}'."),
):
    """List networks: id, name, driver, subnet, gateway and how many containers are on each.

    Example: pyctr network ls
    """
    from ..engine import networks
    paths, store = _context()
    rows = networks.summary(store)
    if quiet:
        for network, _ in rows:
            typer.echo(network.id if no_trunc else network.id[:12])
    elif fmt == "json":
        typer.echo(json.dumps([networks.inspect(store, n) for n, _ in rows], indent=2))
    elif fmt:
        from .template import formatted
        typer.echo(formatted(fmt, [{"ID": n.id if no_trunc else n.id[:12], "Name": n.name, "Driver": n.driver,
                                    "Scope": "local", "Subnet": n.subnet, "Gateway": n.gateway,
                                    "Containers": users, "Labels": n.labels} for n, users in rows],
                             {"ID": "NETWORK ID"}), nl=False)
    else:
        from rich.table import Table
        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in ("NETWORK ID", "NAME", "DRIVER", "SUBNET", "GATEWAY", "CONTAINERS"):
            table.add_column(column, no_wrap=True)
        for network, users in rows:
            table.add_row(network.id if no_trunc else network.id[:12], render.printable(network.name), network.driver,
                          network.subnet, network.gateway, str(users))
        render.print_table(table)


def inspect(names: List[str] = typer.Argument(..., metavar="NETWORK...", help="Networks to describe.")):
    """Describe networks as JSON, in docker's shape: IPAM, Containers, Options.

    Example: pyctr network inspect appnet
    """
    from ..engine import networks
    _, store = _context()
    typer.echo(json.dumps([networks.inspect(store, networks.lookup(store, n)) for n in names], indent=2))


def rm(names: List[str] = typer.Argument(..., metavar="NETWORK...", help="Networks to remove.")):
    """Remove networks no container is on: the bridge, its rules, the row.

    Example: pyctr network rm appnet
    """
    from ..engine import networks
    from ..engine.errors import PyctrError
    paths, store = _context()
    failed = 0
    for name in names:
        try:
            networks.remove(paths, store, name)
            typer.echo(name)
        except PyctrError as e:
            render.print_failure(e)
            failed = 1
    raise typer.Exit(failed)


def prune(force: bool = typer.Option(False, "-f", "--force", help="Do not ask for confirmation.")):
    """Remove every network no container is on (not pyctr0), and what a killed pyctr left.

    Example: pyctr network prune -f
    """
    from ..engine import networks
    if not force and not typer.confirm("WARNING! This will remove all networks not used by at least one "
                                       "container.\nAre you sure you want to continue?"):
        raise typer.Exit(0)
    removed = networks.prune(*_context())
    if removed:
        typer.echo("Deleted Networks:")
        for name in removed:
            typer.echo(name)


def connect(
    network: str = typer.Argument(..., metavar="NETWORK", help="A network, by name or id."),
    container: str = typer.Argument(..., metavar="CONTAINER", help="A container, by name or id."),
    ip: Optional[str] = typer.Option(None, "--ip", help="Its IPv4 address on the network."),
    aliases: Optional[List[str]] = typer.Option(None, "--alias", help="Another name on the network (repeatable)."),
):
    """Connect a container to a network (a running one at once, as eth1, eth2, ...).

    Example: pyctr network connect appnet web
    """
    from ..engine import containers, endpoints, networks
    paths, store = _context()
    endpoints.connect(paths, store, networks.lookup(store, network), containers.lookup(store, container), ip,
                      aliases or [])


def disconnect(
    network: str = typer.Argument(..., metavar="NETWORK", help="A network, by name or id."),
    container: str = typer.Argument(..., metavar="CONTAINER", help="A container, by name or id."),
    force: bool = typer.Option(False, "-f", "--force", help="Accepted for docker's sake."),
):
    """Disconnect a container from a network.

    Example: pyctr network disconnect appnet web
    """
    from ..engine import containers, endpoints, networks
    paths, store = _context()
    endpoints.disconnect(paths, store, networks.lookup(store, network), containers.lookup(store, container))


def register(app: typer.Typer) -> None:
    """The `network` group on the main app."""
    group = typer.Typer(name="network", no_args_is_help=True,
                        help="Manage networks: bridges with IPAM, NAT and published ports.\n\nExample: pyctr network ls")
    for command in (create, ls, inspect, rm, prune, connect, disconnect):
        group.command(command.__name__)(command)
    app.add_typer(group, name="network")
