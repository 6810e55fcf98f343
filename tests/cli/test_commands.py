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
