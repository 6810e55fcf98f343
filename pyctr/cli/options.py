"""What a parser read (flag table field -> value) -> the engine's options records, the same
for the lean parser and the typer commands.  Flags left off take their environment
variable's value, else their kind's default."""

import os

from . import flags

RESOURCE_FIELDS = tuple(f.field for f in flags.RESOURCES)
CLI_ONLY = {"detach"}  # run's flags that the CLI acts on, not the engine


def complete(table, values: dict, environ=os.environ) -> dict:
    """Every field of `table`: as read, else from its environment variable, else its default."""
    done = {}
    for flag in table:
        value = values.get(flag.field)
        if value in (None, [], ()):
            value = environ.get(flag.envvar) if flag.envvar else None  # text flags only
        done[flag.field] = flag.default() if value is None else list(value) if flag.kind == "list" else value
    return done


def paths(values: dict):
    from ..engine.paths import Paths
    values = complete(flags.GLOBAL, values)
    return Paths.resolve(values["root"], values["runroot"])


def resources(values: dict):
    from ..engine.resources import ResourceOptions
    values = complete(flags.RESOURCES, values)
    return ResourceOptions(**{f: values[f] for f in RESOURCE_FIELDS})


def run_options(values: dict, image: str, command: list[str]):
    from ..engine.spec import RunOptions
    values = complete(flags.RUN, values)
    fields = {f.field: values[f.field] for f in flags.RUN if f.field not in RESOURCE_FIELDS and f.field not in CLI_ONLY}
    return RunOptions(image=image, command=list(command), resources=resources(values), **fields)


def exec_options(values: dict, command: list[str]):
    from ..engine.execute import ExecOptions
    return ExecOptions(command=list(command), **complete(flags.EXEC, values))
