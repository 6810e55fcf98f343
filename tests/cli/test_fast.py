"""The lean `run` path: it reads command lines exactly as the typer CLI does, hands it
everything it is unsure of, and starts a container without importing what it must not."""

import subprocess
import sys

import pytest

from pyctr.cli import fast, flags

from helpers import run_read_by_fast, run_read_by_typer

LINES = [
    ["busybox"],
    ["busybox", "echo", "-t", "--rm"],  # after the image, everything is the command
    ["-ti", "--rm", "busybox", "sh"],
    ["-dit", "--name=web", "busybox"],
    ["-e", "A=1", "-eB=2", "--env", "C=3", "--env=D=4", "--env-file", "f", "busybox", "env"],
    ["-w", "/srv", "-h", "host", "--hostname=h2", "--entrypoint", "sh", "busybox", "-c", "x"],
    ["-m", "64m", "--memory-swap", "-1", "--memory-reservation=32m", "--cpus", "0.5", "-c", "512",
     "--cpuset", "0", "--cpuset-mems", "0", "--pids-limit", "-1", "busybox"],
    ["--cpu-shares=100", "--cpushare", "200", "--cpuset-cpus", "0-1", "busybox"],
    ["--init", "--cgroup-parent", "p", "-i", "-d", "--", "busybox", "true"],
    ["--name", "-odd", "busybox"],  # a value may start with a dash
    ["-l", "a=b", "--label=c=d", "--label-file", "f", "--restart", "on-failure:3", "--stop-signal", "USR1",
     "--stop-timeout", "3", "--oom-kill-disable", "--oom-score-adj", "-5", "--group-add", "27", "--shm-size", "1m",
     "--ulimit", "nofile=1:2", "--cidfile", "c", "--pull", "never", "--sig-proxy=false", "--detach-keys", "ctrl-x,y",
     "busybox"],
]
UNSURE = [["--help", "busybox"], ["--bogus", "busybox"], ["--pids-limit", "many", "busybox"], [],
          ["-t"], ["-x", "busybox"], ["--tty=yes", "busybox"], ["--name"]]


EXEC_LINES = [
    ["web", "sh"],
    ["-ti", "web", "sh", "-c", "x"],
    ["-d", "-e", "A=1", "-eB=2", "--env=C", "-w", "/srv", "-u", "1000:1000", "web", "true"],
    ["--user=nobody", "--workdir", "/", "--interactive", "--tty", "--detach", "--", "web", "ls", "-l"],
]
EXEC_UNSURE = [["web"], [], ["--help", "web", "sh"], ["-x", "web", "sh"], ["--privileged", "web", "sh"]]


@pytest.mark.parametrize("line", LINES)
def test_both_parsers_read_a_line_alike(tmp_path, monkeypatch, line):
    monkeypatch.delenv("PYCTR_CGROUP_PARENT", raising=False)
    assert run_read_by_fast(line) == run_read_by_typer(tmp_path, monkeypatch, line)


@pytest.mark.parametrize("line", UNSURE)
def test_what_it_is_unsure_of_goes_to_typer(line):
    assert fast.dispatch(["run", *line]) is None


@pytest.mark.parametrize("line", EXEC_LINES)
def test_both_parsers_read_an_exec_line_alike(tmp_path, monkeypatch, line):
    from pyctr.cli.main import _typer_main
    from pyctr.engine import execute
    seen = {}

    def exec_in(paths, store, name, opts):
        seen.update(name=name, opts=opts)
        return 0

    monkeypatch.setattr(execute, "exec_in", exec_in)
    assert _typer_main(["--root", str(tmp_path), "exec", *line]) == 0
    values, container, command = fast.parse_exec(line)
    assert (container, flags.exec_options(values, command)) == (seen["name"], seen["opts"])


@pytest.mark.parametrize("line", EXEC_UNSURE)
def test_what_it_is_unsure_of_in_exec_goes_to_typer(line):
    assert fast.dispatch(["exec", *line]) is None


def test_other_commands_go_to_typer():
    assert fast.dispatch(["ps", "-a"]) is None
    assert fast.dispatch(["--root", "/x", "images"]) is None


# Modules `pyctr run` must not load: the CLI and rendering stack, networking (loaded only
# when a network is set up), and standard modules that cost milliseconds it does not need:
# json and re (with enum) through pyctr.fastjson and units.py, the sqlite3 package (datetime)
# and signal (enum) through their C modules, contextlib, shutil (--rm removes in C).
DENIED = {"typer", "click", "rich", "pygments", "pyroute2", "subprocess", "argparse", "asyncio",
          "pathlib", "inspect", "dataclasses", "selectors", "socket", "tempfile", "random", "typing",
          "json", "re", "enum", "signal", "contextlib", "shutil", "fnmatch", "sqlite3", "datetime",
          "tarfile", "bz2", "lzma"}


@pytest.mark.parametrize("flags", [["--rm"], ["--rm", "-m", "64m", "--cpuset-cpus", "0"], ["-d"],
                                   ["--rm", "--sig-proxy=false", "--detach-keys", "ctrl-x,y", "--pull", "never"]])
def test_run_imports_nothing_on_the_deny_list(pyctr, flags):
    pyctr("run", "--rm", "busybox", "true")  # the image is built outside the measurement
    r = subprocess.run([sys.executable, "-X", "importtime", *pyctr.cli_argv("run", *flags, "busybox", "true")],
                       capture_output=True, text=True, env=pyctr.env, timeout=60)
    assert r.returncode == 0, r.stderr
    if "-d" in flags:
        pyctr("wait", r.stdout.strip())
        pyctr("rm", r.stdout.strip())
    imported = {line.split("|")[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    assert "pyctr.cli.fast" in imported  # the measurement sees pyctr's own imports
    assert {m.split(".")[0] for m in imported} & DENIED == set()


def test_exec_imports_nothing_on_the_deny_list(pyctr):
    assert pyctr("run", "-d", "--name", "x", "busybox", "sleep", "60").returncode == 0
    try:
        r = subprocess.run([sys.executable, "-X", "importtime", *pyctr.cli_argv("exec", "x", "true")],
                           capture_output=True, text=True, env=pyctr.env, timeout=60)
        assert r.returncode == 0, r.stderr
    finally:
        pyctr("rm", "-f", "x")
    imported = {line.split("|")[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    assert "pyctr.engine.execute" in imported
    assert {m.split(".")[0] for m in imported} & DENIED == set()
