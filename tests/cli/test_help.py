"""Help that reads well at 80 columns: each command's line in its group's list is one
paragraph, wrapped by rich (not broken where its docstring's lines break), and no help
page is wider than the terminal."""

import re
import subprocess

import pytest
from typer.main import get_command

from pyctr.cli.commands import app


def _commands(command, path=()):
    for name, sub in getattr(command, "commands", {}).items():
        yield (*path, name), sub
        yield from _commands(sub, (*path, name))


def test_each_commands_line_is_one_paragraph():
    for path, command in _commands(get_command(app)):
        if not command.hidden:  # (a group's line is its help's first paragraph)
            line = command.short_help or (command.help or "").split("\n\n")[0]
            assert line and "\n" not in line, path


@pytest.mark.parametrize("line", [[], ["run"], ["create"], ["container"], ["system"], ["system", "prune"], ["ps"]])
def test_help_fits_80_columns(pyctr, line):
    r = subprocess.run(pyctr.argv(*line, "--help"), capture_output=True, text=True, env={**pyctr.env, "COLUMNS": "80"})
    assert r.returncode == 0
    assert max(len(text) for text in r.stdout.splitlines()) <= 80


def test_no_sentence_breaks_early_in_the_command_list(pyctr):
    r = subprocess.run(pyctr.argv("--help"), capture_output=True, text=True, env={**pyctr.env, "COLUMNS": "80"})
    panel = r.stdout.split("Commands", 1)[1]
    entries: list[list[str]] = []
    for row in panel.splitlines()[1:-1]:
        m = re.match(r"│ (\S*)\s+(.*?)\s*│$", row)
        if m and m.group(1):
            entries.append([m.group(2)])
        elif m and entries:
            entries[-1].append(m.group(2))
    assert len(entries) > 20
    for entry in entries:  # every line but an entry's last is filled to rich's wrap
        assert all(len(text) >= 45 for text in entry[:-1]), entry
