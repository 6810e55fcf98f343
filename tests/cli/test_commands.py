"""Every command is documented with an example."""

import pytest
from typer.main import get_command

from pyctr.cli.commands import app

COMMANDS = sorted(get_command(app).commands)


def test_there_are_commands():
    assert {"run", "images"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_command_has_help_with_an_example(name, pyctr):
    r = pyctr(name, "--help")
    assert r.returncode == 0, r.stderr
    assert "Example:" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr


def _all_commands(command, path=()):
    for name, sub in getattr(command, "commands", {}).items():
        if not sub.hidden:
            yield (*path, name), sub
            yield from _all_commands(sub, (*path, name))


def test_every_command_of_every_group_has_an_example_and_every_flag_help():
    """Each command, in groups too (`network create`, `container ls`): an example in its
    help, and a help text on each of its options and arguments."""
    for path, command in _all_commands(get_command(app)):
        assert "Example:" in (command.help or ""), path
        for param in command.params:
            if param.name != "help" and not getattr(param, "hidden", False):
                assert getattr(param, "help", None), (path, param.name)
