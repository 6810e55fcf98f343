"""The flag tables against the two parsers built from them: for every flag of `run`, `exec`
and the global options, the typer command declares it, its help shows it (with its
environment variable), and the lean parser and typer read it, and its environment
default, to the same options."""

import os
import re
import subprocess
import sys

import pytest
from typer.main import get_command

from pyctr.cli import fast, flags
from pyctr.cli.commands import app
from pyctr.cli.main import _typer_main
from pyctr.engine import execute

from helpers import run_read_by_fast, run_read_by_typer

SAMPLE = {"text": "7", "int": "7", "list": "7"}  # a value every kind takes (cpus, names, sizes alike)
OWN_SAMPLE = {"--pull": "never"}  # checked by the CLI before the engine is called
TABLES = {"run": flags.RUN, "exec": flags.EXEC}


def _typer_options(command: str) -> dict:
    return {opt: p for p in get_command(app).commands[command].params if p.param_type_name == "option"
            for opt in p.opts}


@pytest.mark.parametrize("command", sorted(TABLES))
def test_typer_declares_exactly_the_tables_flags(command):
    assert set(_typer_options(command)) == {name for flag in TABLES[command] for name in flag.names}


def test_the_global_options_are_the_tables():
    declared = {opt for p in get_command(app).params if p.param_type_name == "option" for opt in p.opts}
    assert declared == {name for flag in flags.GLOBAL for name in flag.names}


def test_only_text_flags_take_an_environment_default():
    """flags.complete hands an environment value on as text."""
    for table in (flags.GLOBAL, flags.RUN, flags.EXEC, flags.UPDATE):
        assert all(f.kind == "text" for f in table if f.envvar)


@pytest.mark.parametrize("command", sorted(TABLES))
def test_help_shows_every_flag_and_its_environment_variable(command):
    r = subprocess.run([sys.executable, "-m", "pyctr", command, "--help"], capture_output=True, text=True,
                       env={"PATH": os.environ["PATH"], "COLUMNS": "200"}, timeout=60)
    assert r.returncode == 0, r.stderr
    for flag in TABLES[command]:
        for name in flag.names:
            assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", r.stdout), name
        if flag.envvar:
            assert f"env var: {flag.envvar}" in r.stdout


def _flag_lines(table) -> list[tuple[str, list[str]]]:
    """One command line per flag name: the flag alone (a switch) or with a value."""
    return [(name, [name] if flag.kind == "switch" else [name, OWN_SAMPLE.get(name, SAMPLE[flag.kind])])
            for flag in table for name in flag.names]


@pytest.mark.parametrize("name,line", _flag_lines(flags.RUN))
def test_every_run_flag_is_read_alike(tmp_path, monkeypatch, name, line):
    monkeypatch.delenv("PYCTR_CGROUP_PARENT", raising=False)
    line = [*line, "busybox", "true"]
    by_fast = run_read_by_fast(line)
    assert by_fast == run_read_by_typer(tmp_path, monkeypatch, line)
    assert by_fast != run_read_by_fast(["busybox", "true"])  # the flag made a difference


@pytest.mark.parametrize("name,line", _flag_lines(flags.EXEC))
def test_every_exec_flag_is_read_alike(tmp_path, monkeypatch, name, line):
    seen = {}
    monkeypatch.setattr(execute, "exec_in", lambda paths, store, container, opts: seen.update(opts=opts) or 0)
    line = [*line, "web", "true"]
    assert _typer_main(["--root", str(tmp_path), "exec", *line]) == 0
    values, _, command = fast.parse_exec(line)
    assert flags.exec_options(values, command) == seen["opts"]
    assert seen["opts"] != flags.exec_options({}, ["true"])


@pytest.mark.parametrize("flag", [f for f in flags.RUN if f.envvar], ids=lambda f: f.envvar)
def test_an_environment_default_is_read_alike_and_a_flag_wins_over_it(tmp_path, monkeypatch, flag):
    monkeypatch.setenv(flag.envvar, "from-env")
    line = ["busybox", "true"]
    by_fast = run_read_by_fast(line)
    assert by_fast == run_read_by_typer(tmp_path, monkeypatch, line)
    assert getattr(by_fast[0], flag.field) == "from-env"
    for given in ("from-flag", ""):  # a value given beats the environment, an empty one too (click's way)
        line = [flag.names[-1], given, "busybox", "true"]
        by_fast = run_read_by_fast(line)
        assert by_fast == run_read_by_typer(tmp_path, monkeypatch, line)
        assert getattr(by_fast[0], flag.field) == given


@pytest.mark.parametrize("flag", flags.GLOBAL, ids=lambda f: f.envvar)
def test_the_global_options_and_their_environment_are_read_alike(tmp_path, monkeypatch, flag):
    """--root and --runroot (and PYCTR_ROOT, PYCTR_RUNROOT) give the same paths both ways."""
    from pyctr.cli import commands
    other = {f.envvar for f in flags.GLOBAL} - {flag.envvar}
    for name in other:
        monkeypatch.delenv(name, raising=False)
    base = [] if flag.field == "root" else ["--root", str(tmp_path / "root")]  # never the host's root
    # given, absent, and given empty (as good as absent, as Paths took it before)
    for line, env in (([*base, flag.names[0], str(tmp_path / "flag")], None), (base, str(tmp_path / "env")),
                      ([*base, flag.names[0], ""], str(tmp_path / "env"))):
        if env:
            monkeypatch.setenv(flag.envvar, env)
        values, rest = fast.parse_globals([*line, "images"])
        assert rest == ["images"]
        assert _typer_main([*line, "images", "-q"]) == 0
        assert flags.paths(values) == commands.State.paths
        assert getattr(flags.paths(values), flag.field) == (env or str(tmp_path / "flag"))
